"""The fit as an editable step: look at the overlay, correct the shape or a view's framing, re-fit, save.

The dialog holds a `character_edit.CharacterEdit` and shows it: the overlay (``fit.png``, or
the last re-fit's picture), a control per shape parameter the fitter varies (spin boxes for
``SHAPE_CONTINUOUS``, lists for ``SHAPE_CHOICES``), each view's IoU and framing, and the live
framing. Every change redraws the overlay and the views' IoU a moment later (``character_edit.preview``
on a background task: the proxy as edited, each view as fitted, nothing searched). Re-fit and Save
run on a background task with the edit as it was when pressed (the
controls are locked meanwhile); Save rewrites the folder and `characterSaved` tells the window,
which reopens the character and restarts the live avatar with its new body.
"""

from __future__ import annotations

from dataclasses import replace

from PyQt6.QtCore import QSize, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from avatar_app.core.errors import AvatarAppError
from avatar_app.core.tasks import BackgroundTask
from avatar_app.gui import character_edit
from avatar_app.gui.character_edit import CharacterEdit
from avatar_app.gui.preview_view import ImageLabel
from avatar_app.gui.sheet_panel import INFO_STYLE
from avatar_app.gui.task_log import TaskLog, describe_error
from avatar_app.io.character_folder import CharacterFolder
from avatar_app.pipeline.defaults import FRAMINGS

FRAMING_LABELS = {"full": "Full body", "knee": "Knee up", "waist": "Waist up", "bust": "Bust"}
SPIN_STEPS = 40  # a shape factor's range in this many arrow presses
SHAPE_COLUMNS = 2
PREVIEW_POLL_MS = 40  # how often a running preview is checked for its picture


def label_for(name: str) -> str:
    return name.replace("_", " ").capitalize()


def option_label(option) -> str:
    return {True: "yes", False: "no"}.get(option, str(option)) if isinstance(option, bool) else str(option)


def framing_combo(current: str) -> QComboBox:
    combo = QComboBox()
    for name in FRAMINGS:
        combo.addItem(FRAMING_LABELS[name], name)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


class FitEditorDialog(QDialog):
    characterSaved = pyqtSignal(object)  # the CharacterFolder as saved

    def __init__(self, folder: CharacterFolder, parent=None):
        super().__init__(parent)
        self.edit = CharacterEdit.open(folder)  # a CharacterFolderError for a folder without a fit
        self.setWindowTitle(f"Fit of {folder.name}")
        self._job = ""  # "refit" | "save" while one runs
        self.changed = False  # edits not saved yet
        self.picture = ImageLabel("no fit.png in the folder", QSize(600, 220))
        self.preview_task: BackgroundTask | None = None  # the redraw running now
        self._preview_of: CharacterEdit | None = None  # the edit that redraw is of
        self._preview_wanted = False  # an edit came after it: draw again when it ends
        self._preview_timer = QTimer(self)
        self._preview_timer.setInterval(PREVIEW_POLL_MS)
        self._preview_timer.timeout.connect(self._poll_preview)

        continuous, choices = character_edit.shape_tables()
        self.shape_controls: dict[str, QDoubleSpinBox | QComboBox] = {}
        for name, (low, high) in continuous.items():
            spin = QDoubleSpinBox()
            spin.setRange(float(low), float(high))
            spin.setDecimals(3)
            spin.setSingleStep((float(high) - float(low)) / SPIN_STEPS)
            spin.setToolTip(f"{label_for(name)}: {low:g} to {high:g} (1 is the default character)")
            spin.valueChanged.connect(lambda value, name=name: self._shape_changed(name, float(value)))
            self.shape_controls[name] = spin
        for name, options in choices.items():
            combo = QComboBox()
            for option in options:
                combo.addItem(option_label(option), option)
            combo.currentIndexChanged.connect(lambda _, name=name, c=combo: self._shape_changed(name, c.currentData()))
            self.shape_controls[name] = combo
        shape_grid = QGridLayout()  # two columns of label + control: twenty rows would not fit a laptop
        for i, (name, control) in enumerate(self.shape_controls.items()):
            shape_grid.addWidget(QLabel(label_for(name)), i // SHAPE_COLUMNS, 2 * (i % SHAPE_COLUMNS))
            shape_grid.addWidget(control, i // SHAPE_COLUMNS, 2 * (i % SHAPE_COLUMNS) + 1)
        if not self.shape_controls:
            shape_grid.addWidget(QLabel("This app's proxy has no shape parameters to edit."), 0, 0)
        shape_box = QGroupBox("Proxy shape")
        shape_box.setLayout(shape_grid)

        views_grid = QGridLayout()
        for column, title in enumerate(("View", "IoU", "Framing")):
            views_grid.addWidget(QLabel(f"<b>{title}</b>"), 0, column)
        self.view_ious: list[QLabel] = []
        self.view_framings: list[QComboBox] = []
        for i, view in enumerate(self.edit.views):
            iou = QLabel("")
            iou.setToolTip("How much of the drawing the proxy's silhouette covers (intersection over union)")
            combo = framing_combo(view.framing)
            combo.setToolTip(f"Where {view.name} is cut off: what part of the body it shows")
            combo.currentIndexChanged.connect(lambda _, i=i, c=combo: self._view_framing_changed(i, c.currentData()))
            views_grid.addWidget(QLabel(view.name), i + 1, 0)
            views_grid.addWidget(iou, i + 1, 1)
            views_grid.addWidget(combo, i + 1, 2)
            self.view_ious.append(iou)
            self.view_framings.append(combo)
        self.framing = framing_combo(self.edit.framing)
        self.framing.setToolTip("How the live avatar is framed (a hand-picked framing replaces the measured cut)")
        self.framing.currentIndexChanged.connect(lambda _: self._framing_changed(self.framing.currentData()))
        views_grid.addWidget(QLabel("<b>Live framing</b>"), len(self.edit.views) + 1, 0, 1, 2)
        views_grid.addWidget(self.framing, len(self.edit.views) + 1, 2)
        views_grid.setRowStretch(len(self.edit.views) + 2, 1)
        views_box = QGroupBox("Views")
        views_box.setLayout(views_grid)

        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet(INFO_STYLE)
        self.task_log = TaskLog()
        self.task_log.log.setMaximumHeight(90)
        self.task_log.finished.connect(self._finished)
        self.refit_button = QPushButton("Re-fit")
        self.refit_button.setToolTip("Fit again, starting from the shape and views as edited here (nothing is saved)")
        self.refit_button.clicked.connect(self.refit)
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Rewrite the character folder with this shape and these framings (weights/ stay)")
        self.save_button.clicked.connect(self.save)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)

        middle = QHBoxLayout()
        middle.addWidget(shape_box, 3)
        middle.addWidget(views_box, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.note, 1)
        for button in (self.refit_button, self.save_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 3)
        layout.addLayout(middle)
        layout.addWidget(self.task_log, 1)
        layout.addLayout(buttons)
        self.resize(1000, 720)
        self._show_edit()

    # ---- showing the edit ----

    def _show_edit(self) -> None:
        edit = self.edit
        for name, control in self.shape_controls.items():
            blocked = control.blockSignals(True)
            value = getattr(edit.style, name)
            if isinstance(control, QDoubleSpinBox):
                control.setValue(float(value))
            else:
                control.setCurrentIndex(max(0, control.findData(value)))
            control.blockSignals(blocked)
        for label, combo, view in zip(self.view_ious, self.view_framings, edit.views):
            label.setText(f"{view.iou:.3f}")
            blocked = combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(view.framing)))
            combo.blockSignals(blocked)
        blocked = self.framing.blockSignals(True)
        self.framing.setCurrentIndex(max(0, self.framing.findData(edit.framing)))
        self.framing.blockSignals(blocked)
        picture = edit.picture()
        if picture is not None:
            self.picture.set_picture(picture)
        else:
            self.picture.clear_picture()
        self._update_note()

    def _update_note(self) -> None:
        if self._job:
            text = "Re-fitting …" if self._job == "refit" else "Saving …"
        elif self.changed:
            text = "Changed, not saved yet." + (" The picture shows the edit." if self.edit.overlay is not None else "")
        else:
            text = f"Saved in {self.edit.folder.root}."
        self.note.setText(text)

    # ---- edits ----

    def _changed_to(self, make) -> None:
        try:
            self.edit = make()
        except AvatarAppError as exc:
            self.task_log.show_status(str(exc), error=True)
            self._show_edit()  # back to the value the edit still has
            return
        self.changed = True
        self._update_note()
        self._preview_wanted = True
        self._poll_preview()

    # ---- the live overlay ----

    def _poll_preview(self) -> None:
        """Take a finished redraw (if it is of the edit still shown) and start the next one wanted."""
        task = self.preview_task
        if task is not None and not task.done:
            self._preview_timer.start()
            return
        if task is not None:
            self.preview_task = None
            if task.error is not None:
                self.task_log.show_status(f"The overlay could not be redrawn: {describe_error(task.error)}", error=True)
            elif self._preview_of is self.edit and not self._job:
                overlay, ious = task.result
                views = tuple(replace(v, iou=iou) for v, iou in zip(self.edit.views, ious))
                self.edit = replace(self.edit, views=views, overlay=overlay)
                self._show_edit()
            else:
                self._preview_wanted = True  # the edit moved on while this one was drawn
        if self._preview_wanted and not self._job:
            self._preview_wanted = False
            self._preview_of = edit = self.edit
            self.preview_task = BackgroundTask("fit-preview").start(lambda: character_edit.preview(edit))
            self._preview_timer.start()
        else:
            self._preview_timer.stop()

    def _shape_changed(self, name: str, value) -> None:
        self._changed_to(lambda: self.edit.with_shape(name, value))

    def _view_framing_changed(self, index: int, framing: str) -> None:
        self._changed_to(lambda: self.edit.with_view_framing(index, framing))

    def _framing_changed(self, framing: str) -> None:
        self._changed_to(lambda: self.edit.with_framing(framing))

    # ---- re-fit and save, off the UI thread ----

    def refit(self) -> None:
        edit = self.edit
        self._run("refit", lambda cancel, note: character_edit.refit(edit, cancel=cancel, note=note))

    def save(self) -> None:
        edit = self.edit
        self._run("save", lambda cancel, note: character_edit.save(edit, note))

    @property
    def running(self) -> bool:
        return self.task_log.running

    def _run(self, job: str, work) -> None:
        if self.running:
            return
        self._job = job
        self._lock(True)
        self.task_log.start("re-fit" if job == "refit" else "save-character", work)
        self._update_note()

    def _lock(self, locked: bool) -> None:
        for widget in (*self.shape_controls.values(), *self.view_framings, self.framing, self.save_button):
            widget.setEnabled(not locked)
        self.refit_button.setEnabled(not locked)
        self.close_button.setText("Cancel re-fit" if locked and self._job == "refit" else "Close")
        self.close_button.setEnabled(not (locked and self._job == "save"))  # a save takes seconds; let it end

    def _finished(self, task) -> None:
        job, self._job = self._job, ""
        self._lock(False)
        if task.error is not None:
            if job == "refit" and task.cancelled.is_set():
                self.task_log.show_status("Re-fit cancelled: the edits are as they were.", error=False)
            else:
                what = "Re-fit" if job == "refit" else "Saving"
                self.task_log.show_status(f"{what} did not work: {describe_error(task.error)}", error=True)
            self._update_note()
            return
        self.edit = task.result
        self.changed = job == "refit"
        self._show_edit()
        if job == "refit":
            mean = sum(v.iou for v in self.edit.views) / len(self.edit.views)
            self.task_log.show_status(f"Re-fitted: mean IoU {mean:.3f}. Save keeps it.", error=False)
        else:
            self.task_log.show_status(f"Saved {self.edit.folder.root}.", error=False)
            self.characterSaved.emit(self.edit.folder)

    def reject(self) -> None:
        if self.running:
            if self._job == "refit":
                self.task_log.cancel()  # a save (seconds) is left to finish: it replaces the folder in one move
            return
        super().reject()

    def join(self, timeout: float = 10.0) -> None:
        self.task_log.join(timeout)
        if self.preview_task is not None:
            self.preview_task.join(timeout)
