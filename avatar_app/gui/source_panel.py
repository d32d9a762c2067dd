"""Where the pose comes from: demo motion, a webcam (with a small preview), VMC, a motion or video file.

Choosing a source applies it (the window restarts the pipeline). The webcam list is
probed off the UI thread. The UDP-detector toggle reads the pose from the camera picture
with CoNR's detector instead of mediapipe; it needs trained weights.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QSize, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
)

from avatar_app.core.errors import SettingError
from avatar_app.core.tasks import BackgroundTask
from avatar_app.gui.preview_view import ImageLabel
from avatar_app.gui.sheet_panel import ERROR_STYLE, INFO_STYLE
from avatar_app.pipeline.specs import DEFAULT_VMC_PORT, SourceSpec, parse_source_spec
from avatar_app.tracking.devices import CameraDevice, list_cameras

KINDS = ("demo", "webcam", "vmc", "motion", "video")
LABELS = {"demo": "Demo motion", "webcam": "Webcam", "vmc": "VMC", "motion": "Motion file (BVH)", "video": "Video file"}


class SourcePanel(QGroupBox):
    sourceChanged = pyqtSignal()  # the user chose a source (or changed its details)
    camerasListed = pyqtSignal()  # the webcam list was (re)made; the chosen camera may have changed

    def __init__(self, parent=None, *, camera_lister=list_cameras):
        super().__init__("Source", parent)
        self._camera_lister = camera_lister
        self._camera_task: BackgroundTask | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll_cameras)
        self.cameras: list[CameraDevice] = []
        self._wanted_camera: str = "0"
        self._detector_reason = ""

        self.group = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        for i, kind in enumerate(KINDS):
            radio = QRadioButton(LABELS[kind])
            self.group.addButton(radio, i)
            self.radios[kind] = radio
        self.radios["demo"].setChecked(True)
        self.group.idClicked.connect(self._kind_clicked)

        self.camera_combo = QComboBox()
        self.camera_combo.setPlaceholderText("looking for cameras…")
        self.camera_combo.activated.connect(lambda _: self._changed("webcam"))
        self.refresh_button = QToolButton()
        self.refresh_button.setText("⟳")
        self.refresh_button.setToolTip("Look for cameras again")
        self.refresh_button.clicked.connect(self.refresh_cameras)
        self.camera_preview = ImageLabel("no camera picture", QSize(120, 90))
        self.camera_preview.setFixedHeight(96)

        self.vmc_port = QSpinBox()
        self.vmc_port.setRange(1, 65535)
        self.vmc_port.setValue(DEFAULT_VMC_PORT)
        self.vmc_port.setToolTip(
            "The UDP port your VMC sender (VSeeFace, VMagicMirror …) sends to; 39539 is the usual default"
        )
        self.vmc_port.editingFinished.connect(lambda: self._changed("vmc"))

        self.motion_path = QLineEdit()
        self.motion_path.setPlaceholderText("choose a .bvh file")
        self.motion_path.setReadOnly(True)
        self.motion_button = QPushButton("Browse…")
        self.motion_button.clicked.connect(
            lambda: self._browse("motion", "Motion file", "BVH motion (*.bvh);;All files (*)")
        )
        self.video_path = QLineEdit()
        self.video_path.setPlaceholderText("choose a video")
        self.video_path.setReadOnly(True)
        self.video_button = QPushButton("Browse…")
        self.video_button.clicked.connect(
            lambda: self._browse("video", "Video file", "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)")
        )

        self.udp_detector = QCheckBox("Read the pose with the UDP detector (neural) instead of landmarks")
        self.udp_detector.toggled.connect(
            lambda _: self.sourceChanged.emit() if self.kind in ("webcam", "video") else None
        )
        self.springs = QCheckBox("Spring bones: hair and skirt swing with the motion")
        self.springs.setChecked(True)
        self.springs.toggled.connect(lambda _: self.sourceChanged.emit())
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(INFO_STYLE)
        self.message.hide()

        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        grid.addWidget(self.radios["demo"], 0, 0, 1, 3)
        grid.addWidget(self.radios["webcam"], 1, 0)
        grid.addWidget(self.camera_combo, 1, 1)
        grid.addWidget(self.refresh_button, 1, 2)
        grid.addWidget(self.camera_preview, 2, 1, 1, 2)
        grid.addWidget(self.radios["vmc"], 3, 0)
        port_row = QHBoxLayout()
        port_row.addWidget(QLabel("port"))
        port_row.addWidget(self.vmc_port)
        port_row.addStretch(1)
        grid.addLayout(port_row, 3, 1, 1, 2)
        grid.addWidget(self.radios["motion"], 4, 0)
        grid.addWidget(self.motion_path, 4, 1)
        grid.addWidget(self.motion_button, 4, 2)
        grid.addWidget(self.radios["video"], 5, 0)
        grid.addWidget(self.video_path, 5, 1)
        grid.addWidget(self.video_button, 5, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.udp_detector)
        layout.addWidget(self.springs)
        layout.addWidget(self.message)
        self._update_enabled()

    # ---- state ----

    @property
    def kind(self) -> str:
        return KINDS[max(self.group.checkedId(), 0)]

    def select(self, kind: str) -> None:
        """Choose a source (as a click would): applies it."""
        self.radios[kind].setChecked(True)
        self._kind_clicked(KINDS.index(kind))

    def spec(self) -> SourceSpec:
        """The chosen source as a spec; a SettingError says what is missing (shown inline)."""
        kind = self.kind
        if kind == "webcam":
            camera = self.camera_combo.currentData()
            if camera is None:
                raise SettingError(
                    "webcam",
                    "a camera",
                    "none found" if self._camera_task is None else "still looking",
                    "plug one in and press ⟳, or choose another source",
                )
            return parse_source_spec(f"webcam:{camera}")
        if kind == "vmc":
            return parse_source_spec(f"vmc:{self.vmc_port.value()}")
        if kind in ("motion", "video"):
            path = (self.motion_path if kind == "motion" else self.video_path).text()
            if not path:
                raise SettingError(LABELS[kind], "a file", "none chosen", "press Browse… and choose one")
            return parse_source_spec(f"{kind}:{path}")
        return SourceSpec("demo")

    @property
    def uses_camera(self) -> bool:
        return self.kind in ("webcam", "video")

    @property
    def detector_wanted(self) -> bool:
        return self.uses_camera and self.udp_detector.isEnabled() and self.udp_detector.isChecked()

    def set_detector_available(self, available: bool, reason: str = "") -> None:
        self._detector_reason = "" if available else reason
        self._update_enabled()

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else INFO_STYLE)
        self.message.setVisible(bool(text))

    def show_camera_picture(self, rgb) -> None:
        self.camera_preview.set_picture(rgb)

    # ---- settings ----

    def apply_settings(self, settings) -> None:
        self.radios.get(settings.source, self.radios["demo"]).setChecked(True)
        self.vmc_port.setValue(settings.vmc_port)
        self.motion_path.setText(settings.motion_file)
        self.video_path.setText(settings.video_file)
        self._wanted_camera = settings.camera
        blocked = self.udp_detector.blockSignals(True)
        self.udp_detector.setChecked(settings.udp_detector)
        self.udp_detector.blockSignals(blocked)
        blocked = self.springs.blockSignals(True)
        self.springs.setChecked(settings.springs)
        self.springs.blockSignals(blocked)
        self._update_enabled()

    def store_settings(self, settings) -> None:
        settings.source = self.kind
        camera = self.camera_combo.currentData()
        settings.camera = str(camera) if camera is not None else self._wanted_camera
        settings.vmc_port = self.vmc_port.value()
        settings.motion_file = self.motion_path.text()
        settings.video_file = self.video_path.text()
        settings.udp_detector = self.udp_detector.isChecked()
        settings.springs = self.springs.isChecked()

    # ---- cameras ----

    def refresh_cameras(self) -> None:
        if self._camera_task is not None:
            return
        self.refresh_button.setEnabled(False)
        self._camera_task = BackgroundTask("list-cameras").start(self._camera_lister)
        self._timer.start()

    def _poll_cameras(self) -> None:
        task = self._camera_task
        if task is None or not task.done:
            return
        self._camera_task = None
        self._timer.stop()
        self.refresh_button.setEnabled(True)
        self.cameras = list(task.result or []) if task.error is None else []
        current = self.camera_combo.currentData()
        wanted = str(current) if current is not None else self._wanted_camera
        self.camera_combo.clear()
        for device in self.cameras:
            self.camera_combo.addItem(device.label, device.camera)
        if not self.cameras:
            self.camera_combo.setPlaceholderText("no camera found")
            self.camera_combo.setCurrentIndex(-1)
        else:
            match = next((i for i, d in enumerate(self.cameras) if str(d.camera) == wanted), 0)
            self.camera_combo.setCurrentIndex(match)
        if task.error is not None:
            self.show_message(f"Could not list cameras: {task.error}", error=True)
        self.camerasListed.emit()

    def join(self, timeout: float = 5.0) -> None:
        if self._camera_task is not None:
            self._camera_task.join(timeout)

    # ---- reacting ----

    def _kind_clicked(self, _id: int) -> None:
        self._update_enabled()
        self.sourceChanged.emit()

    def _changed(self, kind: str) -> None:
        if self.kind == kind:
            self.sourceChanged.emit()
        else:
            self.select(kind)

    def _browse(self, kind: str, title: str, filters: str) -> None:
        field = self.motion_path if kind == "motion" else self.video_path
        start = str(Path(field.text()).parent) if field.text() else ""
        path, _ = QFileDialog.getOpenFileName(self, title, start, filters)
        if path:
            self.set_file(kind, path)

    def set_file(self, kind: str, path: str | Path) -> None:
        """Set the motion or video file and choose that source."""
        (self.motion_path if kind == "motion" else self.video_path).setText(str(path))
        self._changed(kind)

    def _update_enabled(self) -> None:
        camera = self.uses_camera
        self.camera_preview.setVisible(self.kind == "webcam")
        available = not self._detector_reason
        self.udp_detector.setEnabled(camera and available)
        tip = "Reads the UDP map straight from the camera picture (skips landmarks, rig and raster)"
        if not available:
            tip = f"Unavailable: {self._detector_reason}"
        elif not camera:
            tip = "Only for webcam and video sources"
        self.udp_detector.setToolTip(tip)
