"""Latest-value slots: how live stages hand data on without queues.

A producer overwrites; a consumer takes the newest value. A slow consumer
therefore sees fresh data and never a backlog (stale values are counted as
dropped, so the GUI and bench can show it).
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    def __init__(self):
        self._cond = threading.Condition()
        self._value: T | None = None
        self._version = 0
        self._closed = False
        self._waiting = 0
        self.dropped = 0  # values overwritten before anyone took them

    def put(self, value: T) -> None:
        with self._cond:
            if self._value is not None:
                self.dropped += 1
            self._value = value
            self._version += 1
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> T | None:
        """The newest value not taken yet; waits up to ``timeout`` s. None on timeout or close."""
        with self._cond:
            if self._value is None and not self._closed:
                self._waiting += 1
                try:
                    self._cond.wait_for(lambda: self._value is not None or self._closed, timeout)
                finally:
                    self._waiting -= 1
            value, self._value = self._value, None
            return value

    def peek(self) -> T | None:
        with self._cond:
            return self._value

    @property
    def waiting(self) -> int:
        """Consumers blocked in take() right now (a test waits for one before it puts or closes)."""
        return self._waiting

    @property
    def version(self) -> int:
        return self._version

    def close(self) -> None:
        """Wake every waiting consumer; later take() calls return what is left, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
