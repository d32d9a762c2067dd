"""One-off work off the UI thread (loading a sheet, listing cameras, building an engine).

The UI never waits on a task: it starts one and polls ``done`` from its timer, so no Qt
object is touched from the worker thread. ``report`` lets the work publish progress that
the UI reads the same way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundTask(Generic[T]):
    """Runs ``fn()`` once on a named daemon thread ``gui-<name>``; result or error kept for the UI."""

    def __init__(self, name: str):
        self.name = f"gui-{name}"
        self.result: T | None = None
        self.error: BaseException | None = None
        self.cancelled = threading.Event()  # the work may check it and return early
        self._progress: tuple[float, str] = (0.0, "")
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, fn: Callable[[], T]) -> BackgroundTask[T]:
        def work() -> None:
            try:
                self.result = fn()
            except Exception as exc:  # handed to the UI, which shows it; a task never kills the app
                log.debug("%s failed", self.name, exc_info=exc)
                self.error = exc
            finally:
                self._done.set()

        self._thread = threading.Thread(target=work, name=self.name, daemon=True)
        self._thread.start()
        return self

    def report(self, fraction: float, text: str = "") -> None:
        """Called by the work (any thread): progress 0..1 and what it is doing."""
        with self._lock:
            self._progress = (min(max(float(fraction), 0.0), 1.0), text)

    @property
    def progress(self) -> tuple[float, str]:
        with self._lock:
            return self._progress

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        self.cancelled.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the work to finish (window close only); True when it did."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._done.is_set() or self._thread is None
