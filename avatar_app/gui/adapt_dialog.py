"""Adapt…: fine-tune the renderer to the open character, in its own process, with progress and a preview.

The dialog runs ``avatar-app adapt --progress lines`` as a `QProcess` rather than training in
the window: torch training holds the CPU for minutes and its memory for good, and a process
of its own can be stopped (SIGINT: the CLI finishes the step and writes the best weights
so far) or, as a last resort, killed without taking the window with it. The CLI's stdout
lines (``preparing ...`` then ``progress ...``, read by ``adapt_readout``) drive the bar, the
times and the held-out error; its stderr (notes, and on exit 2 the error with its fix) goes
to the log as it is.
``CHAR/.adapt/preview.png`` is shown again whenever the run rewrites it. When a run leaves
new weights in ``CHAR/weights/`` (done, or cancelled after training began), `weightsChanged`
hands the folder to the character panel, which reopens it so the live view uses them.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
import time
from pathlib import Path

from PyQt6.QtCore import QProcess, QProcessEnvironment, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
)

from avatar_app.gui.adapt_readout import (
    AdaptLine,
    HeldOutTrend,
    PrepareLine,
    ended_times,
    parse_preparing,
    parse_progress,
    preparing_times,
    progress_fraction,
    training_times,
)
from avatar_app.gui.sheet_panel import StatusText

__all__ = ["AdaptDialog", "parse_progress"]

PREVIEW_POLL_MS = 500
LOG_LINES = 400
SIZES = (128, 256, 512)
DEFAULT_MINUTES = 15.0
KILL_AFTER_MS = 2000  # after a SIGINT that was not obeyed within join's timeout
CLI_ERROR = "avatar-app: "  # how cli.main prefixes what it says before exiting


def error_text(stderr_lines: list[str]) -> str:
    """What the CLI said when it gave up, verbatim: its ``avatar-app: ...`` lines, else the last lines (a traceback)."""
    said = [line for line in stderr_lines if line.startswith(CLI_ERROR)]
    lines = said or [line for line in stderr_lines if line.strip()][-8:]
    return "\n".join(lines) or "(it wrote nothing on stderr)"


def weights_stamp(root: Path) -> tuple | None:
    """Identifies ``root/weights/adapt.json``: adapt replaces weights/ as a whole, so a new run gives a new stamp."""
    try:
        stat = (root / "weights" / "adapt.json").stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def adapt_command(root: Path, minutes: float, size: int, device: str, restart: bool) -> list[str]:
    """The CLI the dialog runs: this interpreter, so the same install (and venv) trains."""
    args = [sys.executable, "-m", "avatar_app.cli.main", "adapt", "--character", str(root)]
    args += ["--minutes", f"{minutes:g}", "--size", str(size), "--device", device, "--progress", "lines"]
    return args + (["--restart"] if restart else [])


class AdaptDialog(StatusText, QDialog):
    """One character folder (``root``, with sheet_udp/): choose the minutes, start, watch, cancel."""

    weightsChanged = pyqtSignal(object)  # Path: the character folder whose weights/ the run rewrote
    runFinished = pyqtSignal(str)  # "done", "cancelled" or "failed"

    def __init__(self, root: str | Path, parent=None, *, clock=time.monotonic):
        super().__init__(parent)
        self.root = Path(root)
        self.setWindowTitle(f"Adapt the renderer to {self.root.name}")
        self.process: QProcess | None = None
        self.outcome = ""  # "", "running", then "done", "cancelled" or "failed"
        self.exit_code: int | None = None
        self.last: AdaptLine | None = None
        self.preparing: PrepareLine | None = None
        self.held_out = HeldOutTrend()
        self._clock = clock
        self._started_at = clock()
        self._line_at = 0.0  # when the last preparing line came (its estimate counts down from there)
        self._stderr: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self._stamp_before: tuple | None = None
        self._cancel_requested = False
        self._close_when_done = False
        self._quiet = False  # the window is closing: no reopening of the character
        self._preview_stamp: tuple | None = None
        self._preview = QPixmap()

        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0.1, 24 * 60)
        self.minutes.setDecimals(1)
        self.minutes.setSingleStep(5.0)
        self.minutes.setValue(DEFAULT_MINUTES)
        self.minutes.setSuffix(" min")
        self.minutes.setToolTip("Total training time; an interrupted run resumes and counts its earlier minutes")
        self.size = QComboBox()
        for size in SIZES:
            self.size.addItem(f"{size} × {size}", size)
        self.size.setCurrentIndex(SIZES.index(256))
        self.size.setToolTip("The resolution the renderer is adapted at (the size you render at is best)")
        self.device = QComboBox()
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA GPU", "cuda")
        # not checked here (that would load torch into the window): without a GPU the run says so and stops
        self.device.setToolTip("CUDA adapts many times faster; it needs an NVIDIA GPU and a CUDA build of PyTorch")
        self.restart = QCheckBox("Start over (forget the interrupted run)")
        self.restart.setToolTip("Without it, a run that was stopped goes on where it stopped")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.bar.setFormat("%p%")
        self.times = QLabel("")
        self.numbers = QLabel("")
        self.numbers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview = QLabel("No preview yet: the run writes one every few minutes and at the end.")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(240, 160)
        self.preview.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.preview.setToolTip("Top: the drawing and its render now. Below, held-out poses: target · before · now")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setMaximumHeight(110)
        self.log.setPlaceholderText("What avatar-app adapt says shows here.")
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        self._timer = QTimer(self)
        self._timer.setInterval(PREVIEW_POLL_MS)
        self._timer.timeout.connect(self._show_preview)
        self._timer.timeout.connect(self._show_times)

        form = QFormLayout()
        form.addRow("Training time", self.minutes)
        form.addRow("Size", self.size)
        form.addRow("Device", self.device)
        form.addRow("", self.restart)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.bar)
        layout.addWidget(self.times)
        layout.addWidget(self.numbers)
        layout.addWidget(self.status)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.log)
        layout.addLayout(buttons)
        self.resize(560, 620)
        self.show_status(self._opening_text(), error=False)
        self._show_preview()

    def _opening_text(self) -> str:
        name = self.root.name
        if not (self.root / ".adapt" / "state.pt").is_file():
            return f"Adapting teaches the renderer {name}'s drawings; the live view keeps running meanwhile."
        try:
            trained = float(json.loads((self.root / "weights" / "adapt.json").read_text())["train_seconds"]) / 60
        except (OSError, ValueError, KeyError, TypeError):
            trained = None
        so_far = f" for {trained:.1f} min" if trained is not None else ""
        return (
            f"{name} has been adapted{so_far} already: Start goes on until the training time set here "
            "(earlier minutes included); Start over begins again from the shipped weights."
        )

    # ---- the run ----

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def start(self) -> bool:
        """Start ``avatar-app adapt`` (False if one is running already)."""
        if self.running:
            return False
        self.last, self.preparing, self.exit_code = None, None, None
        self.held_out = HeldOutTrend()
        self._started_at = self._line_at = self._clock()
        self._stderr.clear()
        self._cancel_requested = False
        self._stamp_before = weights_stamp(self.root)
        size, device = self.size.currentData(), self.device.currentData()
        command = adapt_command(self.root, self.minutes.value(), size, device, self.restart.isChecked())
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(env)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self.process = process
        self.outcome = "running"
        self.bar.setValue(0)
        self.bar.setFormat("Preparing %p%")
        self.numbers.setText("")
        self.log.appendPlainText("$ avatar-app " + " ".join(command[3:]))
        self.show_status("Preparing: starting avatar-app adapt and loading the character …", error=False)
        self._show_times()
        self._set_running(True)
        process.start(command[0], command[1:])
        self._timer.start()
        return True

    def cancel(self) -> None:
        """Ask the run to stop after its current step (SIGINT, as Ctrl-C); it writes the best weights first."""
        if not self.running or self._cancel_requested:
            return
        self._cancel_requested = True
        pid = self.process.processId()
        if pid > 0:
            os.kill(pid, signal.SIGINT)
        else:  # not started yet: nothing to keep
            self.process.kill()
        self.close_button.setEnabled(False)
        self.close_button.setText("Stopping …")
        self.show_status("Stopping after this step, keeping the best weights …", error=False)

    def join(self, timeout: float = 10.0) -> None:
        """The window is closing: stop the run (SIGINT, then kill after ``timeout`` s) and wait for it."""
        if not self.running:
            return
        self._quiet = True
        self.cancel()
        if not self.process.waitForFinished(int(timeout * 1000)):
            self.process.kill()
            self.process.waitForFinished(KILL_AFTER_MS)

    def _read_stdout(self) -> None:
        process = self.process
        while process.canReadLine():
            line = bytes(process.readLine()).decode("utf-8", "replace").rstrip("\r\n")
            self.read_line(line)

    def read_line(self, line: str) -> None:
        """One stdout line of the run: preparation, a training step, or anything else (to the log)."""
        progress = parse_progress(line)
        if progress is not None:
            self._show_progress(progress)
            return
        preparing = parse_preparing(line)
        if preparing is not None:
            self._show_preparing(preparing)
        elif line.strip():
            self.log.appendPlainText(line)

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        for line in text.splitlines():
            self._stderr.append(line)
            self.log.appendPlainText(line)

    def _show_preparing(self, p: PrepareLine) -> None:
        self.preparing, self._line_at = p, self._clock()
        self.bar.setFormat("Preparing %p%")
        if p.left_s is not None:
            self.bar.setValue(round(1000 * p.elapsed_s / max(1e-6, p.elapsed_s + p.left_s)))
        if not self._cancel_requested:
            self.show_status(f"Preparing: {p.stage} ({p.done} of {p.total}) …", error=False)
        self._show_times()

    def _show_progress(self, p: AdaptLine) -> None:
        if self.last is None:
            self.bar.setFormat("Training %p%")
        self.last = p
        self.held_out.add(p.holdout)
        self.bar.setValue(round(1000 * progress_fraction(p)))
        self.numbers.setText(self.held_out.text())
        self.numbers.setToolTip(
            "The error on poses the training never sees, checked about once a minute and smoothed; "
            f"lower is better, and the best weights by it are kept (best so far {p.best:.4f}). "
            f"Step {p.step}, training loss {p.loss:.4f} (it swings from batch to batch)."
        )
        if not self._cancel_requested:
            self.show_status("Training: the error on held-out poses picks the best weights.", error=False)
        self._show_times()

    def _show_times(self) -> None:
        """Time since Start and time left; the preview timer calls it too, so the clock moves between lines."""
        now = self._clock()
        wall = now - self._started_at
        if self.last is not None:
            self.times.setText(training_times(wall, self.last))
            return
        p = self.preparing
        left = None if p is None or p.left_s is None else max(0.0, p.left_s - (now - self._line_at))
        self.times.setText(preparing_times(wall, left, 60.0 * self.minutes.value()))

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._stderr.append(f"could not start {sys.executable}: {self.process.errorString()}")
            self._finished(-1, QProcess.ExitStatus.CrashExit)

    def _finished(self, exit_code: int, exit_status) -> None:
        if self.outcome != "running":  # FailedToStart, then finished: handled once
            return
        self._read_stdout()
        self._read_stderr()
        self._timer.stop()
        self._show_preview()
        self._set_running(False)
        self.times.setText(ended_times(self._clock() - self._started_at, self.last))
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        self.exit_code = None if crashed else exit_code
        new_weights = weights_stamp(self.root) not in (None, self._stamp_before)
        weights, name = self.root / "weights", self.root.name
        if not crashed and exit_code == 0:
            self.outcome = "done"
            self.bar.setValue(1000)
            done = f"Done: the adapted weights are in {weights}; the window uses them for {name}."
            self.show_status(done, error=False)
        elif self._cancel_requested and (crashed or exit_code == 130):
            self.outcome = "cancelled"
            self.show_status(
                f"Cancelled: the best weights so far are kept in {weights} and the window uses them for {name}; "
                "Start goes on from there."
                if new_weights
                else "Cancelled before training began: nothing was written.",
                error=False,
            )
        else:
            self.outcome = "failed"
            how = "crashed" if crashed else f"stopped with exit code {exit_code}"
            self.show_status(f"avatar-app adapt {how}:\n{error_text(list(self._stderr))}", error=True)
        self.start_button.setText("Adapt again" if self.outcome == "done" else "Start")
        if new_weights and not self._quiet:
            self.weightsChanged.emit(self.root)
        self.runFinished.emit(self.outcome)
        if self._close_when_done:
            self.accept()

    def _set_running(self, running: bool) -> None:
        for widget in (self.start_button, self.minutes, self.size, self.device, self.restart):
            widget.setEnabled(not running)
        self.close_button.setEnabled(True)
        self.close_button.setText("Cancel" if running else "Close")

    # ---- showing ----

    def _show_preview(self) -> None:
        """Load ``.adapt/preview.png`` again when the run has replaced it (it is written by rename: whole or old)."""
        path = self.root / ".adapt" / "preview.png"
        try:
            stat = path.stat()
        except OSError:
            return
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self._preview_stamp:
            return
        picture = QPixmap(str(path))
        if picture.isNull():
            return
        self._preview_stamp = stamp
        self._preview = picture
        self._fit_preview()

    def _fit_preview(self) -> None:
        if not self._preview.isNull():
            self.preview.setPixmap(
                self._preview.scaled(
                    self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )

    @property
    def preview_shown(self) -> bool:
        return self._preview_stamp is not None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_preview()

    # ---- closing ----

    def reject(self) -> None:
        """Cancel (or Esc) while running stops the run, keeping the best weights; otherwise it closes."""
        if self.running:
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event) -> None:
        """Closing while running stops the run first (no process is left behind); the dialog closes when it ends."""
        if self.running:
            self._close_when_done = True
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)
