"""New character from drawings: choose the drawings and where the character goes, and fit.

The fit (``fit.run.fit_folder``: mediapipe landmarks, then the proxy's shape and each view's
camera and pose, 10 to 60 s on a laptop CPU) runs off the UI thread; its notes scroll by and
Cancel stops it between two silhouettes. The fitter writes the folder in one move at the
end, so a cancelled or failed fit leaves nothing behind. When it worked, `characterMade`
hands the folder to the window, which opens it.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import QStandardPaths, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from avatar_app.gui.sheet_panel import INFO_STYLE
from avatar_app.gui.task_log import TaskLog, describe_error
from avatar_app.io.character_folder import is_character_folder

# (what the list shows, the yaw fit --facing takes); the first is the question itself
FACING_CHOICES = (
    ("choose…", None),
    ("the front", 0.0),
    ("the back", 180.0),
    ("to the picture's left", 90.0),
    ("to the picture's right", -90.0),
)


def characters_home() -> Path:
    """Where new characters go unless the user says otherwise (the user data folder)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
    return Path(base or Path.home()) / "avatar_app" / "characters"


class NewCharacterDialog(QDialog):
    characterMade = pyqtSignal(object)  # Path of the character folder the fit wrote

    def __init__(self, parent=None, *, drawings: Path | None = None, out: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("New character from drawings")
        self.result_path: Path | None = None  # the folder written, once the fit worked
        self._started = 0.0
        self._out_chosen = out is not None  # else it follows the drawings' name
        self.drawings_edit = QLineEdit(str(drawings) if drawings else "")
        self.drawings_edit.setPlaceholderText("a folder of PNG/WebP drawings of one character (transparent background)")
        self.out_edit = QLineEdit(str(out) if out else "")
        self.out_edit.setPlaceholderText(f"e.g. {characters_home() / 'NAME'}")
        self.plan = QLabel("")  # what the fit will take as views and as expressions
        self.plan.setWordWrap(True)
        self.plan.setStyleSheet(INFO_STYLE)
        # which way a view faces, asked when the fit cannot tell (fit.facing.FacingUnknown)
        self.facings: dict[str, float] = {}
        self.facing_label = QLabel("")
        self.facing_combo = QComboBox()
        for text, yaw in FACING_CHOICES:
            self.facing_combo.addItem(text, yaw)
        self.facing_combo.currentIndexChanged.connect(self._facing_chosen)
        self._asked_view = ""
        self.out_hint = QLabel("")
        self.out_hint.setWordWrap(True)
        self.out_hint.setStyleSheet(INFO_STYLE)
        drawings_button = QPushButton("Browse…")
        drawings_button.clicked.connect(self._browse_drawings)
        out_button = QPushButton("Browse…")
        out_button.clicked.connect(self._browse_out)
        self.drawings_edit.textChanged.connect(self._drawings_changed)
        self.out_edit.textChanged.connect(self._update_hint)
        self.out_edit.textEdited.connect(self._out_typed)
        self.task_log = TaskLog()
        self.task_log.finished.connect(self._finished)
        self.start_button = QPushButton("Make character")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self.reject)

        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        grid.addWidget(QLabel("Drawings"), 0, 0)
        grid.addWidget(self.drawings_edit, 0, 1)
        grid.addWidget(drawings_button, 0, 2)
        grid.addWidget(self.plan, 1, 1, 1, 2)
        grid.addWidget(QLabel("Character folder"), 2, 0)
        grid.addWidget(self.out_edit, 2, 1)
        grid.addWidget(out_button, 2, 2)
        grid.addWidget(self.out_hint, 3, 1, 1, 2)
        grid.addWidget(self.facing_label, 4, 0, 1, 2)
        grid.addWidget(self.facing_combo, 4, 2)
        self._show_facing_question(False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.task_log, 1)
        layout.addLayout(buttons)
        self.resize(620, 380)
        self._drawings_changed()

    # ---- the two folders ----

    @property
    def drawings(self) -> Path | None:
        text = self.drawings_edit.text().strip()
        return Path(text).expanduser() if text else None

    @property
    def out(self) -> Path | None:
        text = self.out_edit.text().strip()
        return Path(text).expanduser() if text else None

    def _browse_drawings(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of drawings", self.drawings_edit.text())
        if folder:
            self.drawings_edit.setText(folder)

    def _browse_out(self) -> None:
        start = str(self.out.parent) if self.out else str(characters_home())
        folder = QFileDialog.getExistingDirectory(self, "Where the character folder goes", start)
        if folder and self.drawings is not None:
            folder = str(Path(folder) / self.drawings.name)  # a new folder inside the chosen one
        if folder:
            self._out_chosen = True
            self.out_edit.setText(folder)

    def _out_typed(self, text: str) -> None:
        self._out_chosen = bool(text.strip())

    def _drawings_changed(self) -> None:
        drawings = self.drawings
        if drawings is not None and not self._out_chosen:
            self.out_edit.setText(str(characters_home() / drawings.name))
        self.facings.clear()  # answers were about the other folder's views
        self._show_facing_question(False)
        self._update_plan()
        self._update_hint()

    def _update_plan(self) -> None:
        """Say which files are views and which are a view's expressions (``fit.variants``)."""
        drawings = self.drawings
        if drawings is None or not drawings.is_dir():
            self.plan.setText("")
            return
        from avatar_app.core.errors import AvatarAppError
        from avatar_app.fit.drawing import load_drawings
        from avatar_app.fit.run import FIT_SIZE
        from avatar_app.fit.variants import split_variants

        try:
            views, variants, decisions = split_variants(load_drawings(drawings, FIT_SIZE))
        except AvatarAppError as exc:
            self.plan.setText(describe_error(exc))
            return
        head = f"{len(views)} view{'s' if len(views) != 1 else ''}, {len(variants)} expression"
        head += "s" if len(variants) != 1 else ""
        lines = [f"{head}: fits {', '.join(v.path.name for v in views)}"] + decisions
        self.plan.setText("\n".join(lines))

    def _update_hint(self) -> None:
        out = self.out
        if out is None:
            text = ""
        elif is_character_folder(out):
            text = f"{out} is a character already: the fit replaces it (its weights/ are kept)."
        elif out.exists():
            text = f"{out} exists: it must be empty (or a character folder) to be written."
        else:
            text = f"The fit makes {out}."
        self.out_hint.setText(text)

    # ---- the fit ----

    def start(self) -> bool:
        """Start the fit (False, with the reason shown, when a folder is missing)."""
        drawings, out = self.drawings, self.out
        if drawings is None or not drawings.is_dir():
            self.task_log.show_status(
                "Choose the folder of drawings first" + (f" ({drawings} is not a folder)." if drawings else "."),
                error=True,
            )
            return False
        if out is None:
            self.task_log.show_status("Choose where the character folder goes.", error=True)
            return False

        facings = dict(self.facings)

        def work(cancel, note, progress):
            from avatar_app.fit import run  # heavy (mediapipe, scipy): only when a fit is asked for

            return run.fit_folder(drawings, out, facing=facings, cancel=cancel, note=note, progress=progress)

        self.result_path = None
        self._started = time.monotonic()
        self.task_log.start("fit", work, measured=True)
        self._set_running(True)
        return True

    @property
    def running(self) -> bool:
        return self.task_log.running

    def _set_running(self, running: bool) -> None:
        for widget in (self.start_button, self.drawings_edit, self.out_edit):
            widget.setEnabled(not running)
        self.cancel_button.setText("Cancel" if running else "Close")

    def _show_facing_question(self, shown: bool) -> None:
        self.facing_label.setVisible(shown)
        self.facing_combo.setVisible(shown)

    def _facing_chosen(self) -> None:
        yaw = self.facing_combo.currentData()
        if self._asked_view and yaw is not None:
            self.facings[self._asked_view] = float(yaw)

    def _finished(self, task) -> None:
        from avatar_app.fit.facing import FacingUnknown

        self._set_running(False)
        out = self.out
        if isinstance(task.error, FacingUnknown):
            self._asked_view = Path(task.error.source).stem
            self.facing_label.setText(f"Which way does {Path(task.error.source).name} face? (no face or person found)")
            blocked = self.facing_combo.blockSignals(True)
            self.facing_combo.setCurrentIndex(0)
            self.facing_combo.blockSignals(blocked)
            self._show_facing_question(True)
            self.task_log.show_status(
                f"The fit cannot tell which way {Path(task.error.source).name} faces: choose it below, "
                "then Make character again.",
                error=True,
            )
            return
        if task.error is not None:
            if task.cancelled.is_set():
                self.task_log.show_status(f"Cancelled: nothing was written to {out}.", error=False)
            else:
                self.task_log.show_status(f"The fit did not work: {describe_error(task.error)}", error=True)
            return
        self.result_path = out
        seconds = time.monotonic() - self._started
        iou = getattr(task.result, "mean_iou", None)
        quality = f", silhouettes overlap the drawings by {iou:.0%} (IoU)" if iou is not None else ""
        self.task_log.show_status(
            f"Made {out} in {seconds:.0f} s{quality}. It is open in the window now; "
            "Edit fit… (in the Character panel) changes its shape and framing.",
            error=False,
        )
        self.start_button.setText("Fit again")
        self.characterMade.emit(out)

    def reject(self) -> None:
        """Cancel (or Esc) stops a running fit first; the next press closes."""
        if self.running:
            self.task_log.cancel()
            return
        super().reject()

    def join(self, timeout: float = 10.0) -> None:
        self.task_log.join(timeout)
