"""Building an inference engine (TensorRT: minutes) in a worker, behind a progress dialog."""

from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import QProgressDialog

from avatar_app.core.tasks import BackgroundTask


class EngineBuildDialog(QProgressDialog):
    """Runs ``builder(progress=report, cancelled=event)`` off the UI thread and shows its progress.

    The builder reports ``report(fraction, text)`` and should return early once
    ``cancelled`` is set; its return value (e.g. the engine path) is shown at the end.
    """

    def __init__(self, builder, parent=None, **build_args):
        super().__init__("Preparing the engine build…", "Cancel", 0, 1000, parent)
        self.setWindowTitle("Build engine")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.outcome = ""  # what happened, once finished
        self.task = BackgroundTask("build-engine")
        self.task.start(lambda: builder(progress=self.task.report, cancelled=self.task.cancelled, **build_args))
        self.canceled.connect(self.task.cancel)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    @property
    def finished_building(self) -> bool:
        return self.task.done and not self._timer.isActive()

    def _poll(self) -> None:
        fraction, text = self.task.progress
        self.setValue(int(fraction * 1000))
        if text:
            self.setLabelText(text)
        if not self.task.done:
            return
        self._timer.stop()
        if self.task.cancelled.is_set():  # a builder may stop by raising (deploy.BuildCancelled) or by returning
            self.outcome = "Engine build cancelled"
        elif self.task.error is not None:
            self.outcome = f"Engine build failed: {self.task.error}"
        else:
            self.outcome = f"Engine built: {self.task.result}"
        self.setLabelText(self.outcome)
        self.setValue(1000)
        self.setCancelButtonText("Close")
        self.canceled.disconnect()
        self.canceled.connect(self.close)
