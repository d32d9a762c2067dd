"""A long piece of work (a fit: tens of seconds) off the UI thread, with its notes shown as they come.

The work runs on a `BackgroundTask` as ``work(cancel, note)``: ``cancel`` is the task's event
(the fitter checks it between silhouettes), ``note(text)`` may be called from the worker; the
notes wait in a queue until the widget's timer moves them into the log, so no Qt object is
touched off the UI thread.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import QLabel, QPlainTextEdit, QProgressBar, QVBoxLayout, QWidget

from avatar_app.core.errors import AvatarAppError
from avatar_app.core.tasks import BackgroundTask
from avatar_app.gui.sheet_panel import INFO_STYLE, StatusText

POLL_MS = 100
LOG_LINES = 400
PROGRESS_STEPS = 1000


def describe_error(exc: BaseException) -> str:
    """Our errors say what to do, as they are; anything else gets its type for the bug report."""
    return str(exc) if isinstance(exc, AvatarAppError) else f"{type(exc).__name__}: {exc}"


class TaskLog(StatusText, QWidget):
    """One task at a time: a busy bar, the newest note, and every note in a log below."""

    finished = pyqtSignal(object)  # the BackgroundTask, done (result or error set)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.task: BackgroundTask | None = None
        self._notes: collections.deque[str] = collections.deque()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # busy, no fraction: until a measured task starts
        self._started = 0.0
        self.busy.setMaximumHeight(10)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet(INFO_STYLE)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("What the fit does shows here.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.busy)
        layout.addWidget(self.status)
        layout.addWidget(self.log, 1)

    @property
    def running(self) -> bool:
        """From `start` until `finished` was emitted (the work may be done a poll earlier)."""
        return self._timer.isActive()

    def start(self, name: str, work: Callable[..., object], *, measured: bool = False) -> BackgroundTask:
        """Run ``work(cancel, note)`` (``measured``: ``work(cancel, note, progress)``, progress taking
        the share done 0..1: the bar then fills and says the time left)."""
        if self.running:
            raise RuntimeError(f"{self.task.name} is still running")
        task = BackgroundTask(name)
        self.task = task
        self.show_status(f"{name} …", error=False)
        self.busy.setRange(0, PROGRESS_STEPS if measured else 0)
        self.busy.setValue(0)
        self.busy.setTextVisible(measured)
        self.busy.setMaximumHeight(16 if measured else 10)
        self.busy.show()
        self._started = time.monotonic()
        if measured:
            task.start(lambda: work(task.cancelled, self._notes.append, task.report))
        else:
            task.start(lambda: work(task.cancelled, self._notes.append))
        self._timer.start()
        return task

    def _show_progress(self, task: BackgroundTask) -> None:
        if self.busy.maximum() == 0:
            return
        fraction, _ = task.progress
        self.busy.setValue(int(PROGRESS_STEPS * min(max(fraction, 0.0), 1.0)))
        elapsed = time.monotonic() - self._started
        if fraction >= 0.05:
            left = elapsed * (1.0 - fraction) / fraction
            self.busy.setFormat(f"%p%  about {left:.0f} s left")
        else:
            self.busy.setFormat("%p%")

    def cancel(self) -> None:
        if self.task is not None and not self.task.done:
            self.task.cancel()
            self.show_status("stopping …", error=False)

    def join(self, timeout: float = 10.0) -> None:
        """Cancel and wait (the window is closing)."""
        if self.task is not None:
            self.task.cancel()
            self.task.join(timeout)

    def _poll(self) -> None:
        last = None
        while self._notes:
            last = self._notes.popleft()
            self.log.appendPlainText(last)
        task = self.task
        if last is not None and task is not None and not task.cancelled.is_set():
            self.show_status(last, error=False)
        if task is not None:
            self._show_progress(task)
        if task is None or not task.done:
            return
        while self._notes:  # notes written just before the end
            self.log.appendPlainText(self._notes.popleft())
        self._timer.stop()
        self.busy.hide()
        if task.error is not None:
            self.log.appendPlainText(describe_error(task.error))
        self.finished.emit(task)
