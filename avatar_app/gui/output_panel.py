"""Outputs: the virtual camera (with its status and the fix when it cannot open), recording to a
file, and the browser-source URL for OBS with a copy button."""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
)

from avatar_app.gui.sheet_panel import ERROR_STYLE, INFO_STYLE
from avatar_app.pipeline.output_hub import OutputRequest, OutputState
from avatar_app.pipeline.specs import DEFAULT_BROWSER_PORT


def default_record_dir() -> Path:
    videos = Path.home() / "Videos"
    return videos if videos.is_dir() else Path.home()


def _status_text(state: OutputState) -> str:
    if state.state == "on":
        return f"on — {state.detail}"
    if state.state == "waiting":
        return "waiting — starts with the pipeline"
    if state.state == "failed":
        return "failed"
    return f"off — {state.detail}" if state.detail else "off"


class OutputPanel(QGroupBox):
    outputsChanged = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__("Output", parent)
        self.record_dir = default_record_dir()
        self.record_path: Path | None = None  # the file of the recording asked for now

        self.virtual_camera = QCheckBox("Virtual camera")
        self.virtual_camera.setToolTip(
            "Send the avatar to a virtual webcam (over the key colour: cameras have no alpha)"
        )
        self.virtual_camera.toggled.connect(lambda _: self.outputsChanged.emit())
        self.virtual_camera_status = QLabel("off")
        self.virtual_camera_hint = QLabel("")
        self.virtual_camera_hint.setWordWrap(True)
        self.virtual_camera_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.virtual_camera_hint.setStyleSheet(ERROR_STYLE)
        self.virtual_camera_hint.hide()

        self.record_button = QPushButton("● Record")
        self.record_button.setCheckable(True)
        self.record_button.toggled.connect(self._record_toggled)
        self.record_folder = QLineEdit(str(self.record_dir))
        self.record_folder.setPlaceholderText(str(default_record_dir()))
        self.record_folder.setToolTip("Folder for recordings: type a path or choose one with …")
        self.record_folder.textChanged.connect(self._record_dir_typed)
        self.record_folder_button = QToolButton()
        self.record_folder_button.setText("…")
        self.record_folder_button.setToolTip("Folder for recordings")
        self.record_folder_button.clicked.connect(self._choose_record_dir)
        self.record_status = QLabel("")
        self.record_status.setWordWrap(True)
        self.record_status.setStyleSheet(INFO_STYLE)
        self.record_status.hide()

        self.browser = QCheckBox("Browser source")
        self.browser.setToolTip("A local page OBS shows as a Browser Source: no driver, real transparency")
        self.browser.toggled.connect(lambda _: self.outputsChanged.emit())
        self.browser_port = QSpinBox()
        self.browser_port.setRange(0, 65535)
        self.browser_port.setValue(DEFAULT_BROWSER_PORT)
        self.browser_port.setSpecialValueText("any free port")
        self.browser_port.editingFinished.connect(
            lambda: self.outputsChanged.emit() if self.browser.isChecked() else None
        )
        self.browser_url = QLineEdit("")
        self.browser_url.setReadOnly(True)
        self.browser_url.setPlaceholderText("switch the browser source on for its URL")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the URL; in OBS add a Browser Source and paste it")
        self.copy_button.clicked.connect(self.copy_url)
        self.copy_button.setEnabled(False)
        self.browser_status = QLabel("")
        self.browser_status.setWordWrap(True)
        self.browser_status.setStyleSheet(INFO_STYLE)
        self.browser_status.hide()

        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.addWidget(self.virtual_camera, 0, 0)
        grid.addWidget(self.virtual_camera_status, 0, 1, 1, 2)
        grid.addWidget(self.virtual_camera_hint, 1, 0, 1, 3)
        grid.addWidget(self.record_button, 2, 0)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.record_folder, 1)
        folder_row.addWidget(self.record_folder_button)
        grid.addLayout(folder_row, 2, 1, 1, 2)
        grid.addWidget(self.record_status, 3, 0, 1, 3)
        grid.addWidget(self.browser, 4, 0)
        port_row = QHBoxLayout()
        port_row.addWidget(QLabel("port"))
        port_row.addWidget(self.browser_port)
        port_row.addStretch(1)
        grid.addLayout(port_row, 4, 1, 1, 2)
        grid.addWidget(self.browser_url, 5, 0, 1, 2)
        grid.addWidget(self.copy_button, 5, 2)
        grid.addWidget(self.browser_status, 6, 0, 1, 3)

    # ---- what is asked for ----

    def request(self, background_rgb=(0, 255, 0), virtual_camera_backend: str | None = None) -> OutputRequest:
        return OutputRequest(
            virtual_camera=self.virtual_camera.isChecked(),
            virtual_camera_backend=virtual_camera_backend or None,
            record_path=self.record_path,
            browser_port=self.browser_port.value() if self.browser.isChecked() else None,
            background_rgb=tuple(background_rgb),
        )

    def toggle_record(self) -> None:
        self.record_button.toggle()

    def toggle_virtual_camera(self) -> None:
        self.virtual_camera.toggle()

    def copy_url(self) -> None:
        if self.browser_url.text():
            QGuiApplication.clipboard().setText(self.browser_url.text())
            self.browser_status.setText("URL copied: in OBS, add a Browser Source and paste it as its URL")
            self.browser_status.show()

    # ---- showing what the session made of it ----

    def show_states(self, outputs: dict[str, OutputState]) -> None:
        try:
            self._show_states(outputs)
        finally:
            for label in (self.record_status, self.browser_status):
                label.setVisible(bool(label.text()))

    def _show_states(self, outputs: dict[str, OutputState]) -> None:
        camera = outputs["virtual_camera"]
        self.virtual_camera_status.setText(_status_text(camera))
        self.virtual_camera_hint.setVisible(camera.state == "failed")
        self.virtual_camera_hint.setText(camera.error)

        record = outputs["record"]
        if (
            self.record_path is not None
            and record.state == "off"
            and record.detail.startswith(f"saved {self.record_path}")
        ):
            blocked = self.record_button.blockSignals(True)  # the recording ended (pipeline stopped)
            self.record_button.setChecked(False)
            self.record_button.blockSignals(blocked)
            self.record_path = None
        self.record_status.setStyleSheet(ERROR_STYLE if record.state == "failed" else INFO_STYLE)
        if record.state == "failed":
            text = record.error
        elif record.state == "on":
            text = f"recording to {record.detail}"
        else:
            text = _status_text(record) if record.detail or record.state == "waiting" else ""
        self.record_status.setText(text)

        browser = outputs["browser"]
        url = browser.detail if browser.state == "on" else ""
        self.browser_url.setText(url)
        self.copy_button.setEnabled(bool(url))
        if browser.state == "failed":
            self.browser_status.setStyleSheet(ERROR_STYLE)
            self.browser_status.setText(browser.error)
        elif not self.browser_status.text().startswith("URL copied") or not url:
            self.browser_status.setStyleSheet(INFO_STYLE)
            self.browser_status.setText("" if browser.state in ("on", "off") else _status_text(browser))

    # ---- settings ----

    def apply_settings(self, settings) -> None:
        for widget, value in ((self.virtual_camera, settings.virtual_camera), (self.browser, settings.browser_source)):
            blocked = widget.blockSignals(True)
            widget.setChecked(value)
            widget.blockSignals(blocked)
        self.browser_port.setValue(settings.browser_port)
        if settings.record_dir:
            self.record_folder.setText(settings.record_dir)  # record_dir follows (_record_dir_typed)

    def store_settings(self, settings) -> None:
        settings.virtual_camera = self.virtual_camera.isChecked()
        settings.browser_source = self.browser.isChecked()
        settings.browser_port = self.browser_port.value()
        settings.record_dir = str(self.record_dir)

    # ---- reacting ----

    def _record_toggled(self, on: bool) -> None:
        if on:
            try:
                self.record_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                blocked = self.record_button.blockSignals(True)
                self.record_button.setChecked(False)
                self.record_button.blockSignals(blocked)
                self.record_status.setStyleSheet(ERROR_STYLE)
                self.record_status.setText(
                    f"cannot record to {self.record_dir}: {exc}. Fix: type another folder, or choose one with …"
                )
                self.record_status.show()
                return
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.record_dir / f"avatar-{stamp}.mp4"
            n = 1
            while path.exists():
                n += 1
                path = self.record_dir / f"avatar-{stamp}-{n}.mp4"
            self.record_path = path
        else:
            self.record_path = None
        self.outputsChanged.emit()

    def _record_dir_typed(self, text: str) -> None:
        """The next recording goes where the field says (relative: under the home folder; empty: the default)."""
        text = text.strip()
        folder = Path(text).expanduser() if text else default_record_dir()
        self.record_dir = folder if folder.is_absolute() else Path.home() / folder

    def _choose_record_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for recordings", str(self.record_dir))
        if folder:
            self.record_folder.setText(folder)  # record_dir follows (_record_dir_typed)
