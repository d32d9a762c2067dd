"""Helpers every test folder shares (tests/ is on sys.path: ``from helpers import wait_until``)."""

from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` s pass (False): a guard against a
    hang, never a speed check."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
