"""The character sheet: load a folder (button or drag & drop), see its views, read what is wrong.

Loading (decoding, validating, cropping every view) runs off the UI thread. A sheet that
fails validation leaves the previous character in place; the error, which names the file
and the fix, is shown inline.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QFileDialog, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from avatar_app.core.tasks import BackgroundTask
from avatar_app.gui.preview_view import ImageLabel
from avatar_app.pipeline import pictures

VALIDATION_SIZE = 256  # the sheet is re-read at the model size when a CoNR pipeline starts
MAX_THUMBNAILS = 8
ERROR_STYLE = "color: #d93025;"
INFO_STYLE = "color: palette(mid);"
SHEET_PURPOSE = "The pictures the renderer draws from. A new character: New from drawings… above."


def show_text(label: QLabel, text: str, *, error: bool) -> None:
    """``label`` says ``text``, in red when it is an error."""
    label.setText(text)
    label.setStyleSheet(ERROR_STYLE if error else INFO_STYLE)


def shows_error(label: QLabel) -> bool:
    return label.styleSheet() == ERROR_STYLE


class StatusText:
    """Mixin: a widget's ``status`` label says how things stand (:func:`show_text`)."""

    status: QLabel

    def show_status(self, text: str, *, error: bool) -> None:
        show_text(self.status, text, error=error)

    @property
    def status_is_error(self) -> bool:
        return shows_error(self.status)


class SheetPanel(QGroupBox):
    """Shows the current sheet's views; `load(path)` validates another and switches to it if it is good."""

    sheetLoaded = pyqtSignal(object)  # Path of the sheet now in use
    sheetFailed = pyqtSignal(str)  # the error; the previous sheet stays

    def __init__(self, parent=None):
        super().__init__("Character sheet", parent)
        self.setAcceptDrops(True)
        self.sheet = None  # CharacterSheet in use (at VALIDATION_SIZE)
        self.sheet_path: Path | None = None
        self.error = ""  # the last load's error, "" when it worked
        self._task: BackgroundTask | None = None
        self._pending: Path | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._poll)

        self.path_label = QLabel("no sheet")
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.load_button = QPushButton("Load sheet folder…")
        self.load_button.setToolTip(
            "Swap only the pictures the renderer draws from: a folder of PNG/WebP views with transparent "
            "backgrounds (or drop one here); the body and framing stay. For a character of your own, "
            "use New from drawings… under Character instead."
        )
        self.purpose = QLabel(SHEET_PURPOSE)
        self.purpose.setWordWrap(True)
        self.purpose.setStyleSheet(INFO_STYLE)
        self.load_button.clicked.connect(self.choose_folder)
        self.thumbnail_row = QHBoxLayout()
        self.thumbnail_row.setSpacing(4)
        self.thumbnail_row.addStretch(1)
        self.message = QLabel("Drop a sheet folder here")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setStyleSheet(INFO_STYLE)

        top = QHBoxLayout()
        top.addWidget(self.path_label, 1)
        top.addWidget(self.load_button)
        thumbs = QWidget()
        thumbs.setLayout(self.thumbnail_row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.purpose)
        layout.addLayout(top)
        layout.addWidget(thumbs)
        layout.addWidget(self.message)
        self.thumbnails: list[ImageLabel] = []

    # ---- loading ----

    def load(self, path: str | Path) -> None:
        """Validate ``path`` off the UI thread; `sheetLoaded` fires if it is usable."""
        from avatar_app.io.sheet import load_sheet

        path = Path(path)
        if self._task is not None:
            self._task.cancel()  # its result is ignored: the newest request wins
        self._pending = path
        self._task = BackgroundTask("load-sheet").start(lambda: load_sheet(path, size=VALIDATION_SIZE))
        self._show_message(f"checking {path} …", error=False)
        self._timer.start()

    @property
    def loading(self) -> bool:
        return self._task is not None

    def _poll(self) -> None:
        task = self._task
        if task is None or not task.done:
            return
        self._task, path = None, self._pending
        self._timer.stop()
        if task.error is not None:
            self.error = str(task.error)
            kept = f"\nStill using {self.sheet_path}." if self.sheet_path is not None else ""
            self._show_message(f"Could not use {path}: {self.error}{kept}", error=True)
            self.sheetFailed.emit(self.error)
            return
        self.error = ""
        self.sheet, self.sheet_path = task.result, path
        self._show_sheet()
        self.sheetLoaded.emit(path)

    def join(self, timeout: float = 5.0) -> None:
        if self._task is not None:
            self._task.join(timeout)

    # ---- showing ----

    def _show_sheet(self) -> None:
        sheet = self.sheet
        self.path_label.setText("/".join(self.sheet_path.parts[-2:]) if self.sheet_path else "")
        self.path_label.setToolTip(str(self.sheet_path))
        for label in self.thumbnails:
            self.thumbnail_row.removeWidget(label)
            label.deleteLater()
        self.thumbnails = []
        names = sheet.names or tuple(f"view {i}" for i in range(sheet.num_views))
        for i, picture in enumerate(pictures.sheet_thumbnails(sheet)[:MAX_THUMBNAILS]):
            label = ImageLabel("", QSize(56, 56))
            label.setFixedSize(QSize(64, 64))
            label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            label.setToolTip(names[i])
            label.set_picture(picture)
            self.thumbnail_row.insertWidget(i, label)
            self.thumbnails.append(label)
        more = f" (first {MAX_THUMBNAILS} shown)" if sheet.num_views > MAX_THUMBNAILS else ""
        self._show_message(f"{sheet.num_views} view(s): {', '.join(names)}{more}", error=False)

    def _show_message(self, text: str, *, error: bool) -> None:
        show_text(self.message, text, error=error)

    @property
    def message_is_error(self) -> bool:
        return shows_error(self.message)

    def choose_folder(self) -> None:
        start = str(self.sheet_path.parent) if self.sheet_path else ""
        folder = QFileDialog.getExistingDirectory(self, "Character sheet folder", start)
        if folder:
            self.load(folder)

    # ---- drag & drop ----

    @staticmethod
    def _dropped_path(mime) -> Path | None:
        urls = [u for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        return Path(urls[0].toLocalFile()) if len(urls) == 1 else None

    def dragEnterEvent(self, event) -> None:
        if self._dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = self._dropped_path(event.mimeData())
        if path is None:
            self._show_message("Drop one sheet folder (or one image).", error=True)
            event.ignore()
            return
        event.acceptProposedAction()
        self.load(path)
