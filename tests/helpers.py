"""Helpers every test folder shares (tests/ is on sys.path: ``from helpers import wait_until``)."""

from __future__ import annotations

import threading
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


class ManualClock:
    """A clock for code that takes ``clock: Callable[[], float]``: time moves only when the test
    calls ``advance``, so a test states "after 2 s of silence" without waiting 2 s (thread-safe:
    a worker may read it while the test advances it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: seconds must be >= 0, got {seconds}")
        with self._lock:
            self._now += seconds
            return self._now


def new_threads(before: set[threading.Thread]) -> list[str]:
    """Names of the threads alive now that were not in ``before`` (but the process's torch thread,
    which the first CoNR renderer starts and nothing stops: ``infer.torch_thread``)."""
    from avatar_app.infer.torch_thread import THREAD_NAME

    alive = (t for t in set(threading.enumerate()) - before if t.is_alive())
    return sorted(t.name for t in alive if not t.name.startswith(THREAD_NAME))
