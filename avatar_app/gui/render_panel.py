"""Render settings: renderer, backend (each available or not, with the reason), precision,
resolution, how many sheet views to use, and building an engine where TensorRT exists."""

from __future__ import annotations

from PyQt6.QtCore import QTimer, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout

from avatar_app.core.tasks import BackgroundTask
from avatar_app.gui.engine_dialog import EngineBuildDialog
from avatar_app.gui.sheet_panel import INFO_STYLE
from avatar_app.infer.options import BackendOption, backend_options, engine_builder, precision_options
from avatar_app.pipeline.renderers import MAX_FRAMES_IN_FLIGHT

SIZES = (128, 256, 384, 512, 768, 1024)  # output sizes (768, 1024: for a GPU)
INTERNAL_SIZES = (128, 256, 384, 512)
BACKEND_NOTES = {
    "onnxruntime": " ONNX Runtime: the first start at a size exports the model (about a minute for lite at 256²);"
    " on a CPU, torch is the faster backend (README, Benchmarks).",
    "tensorrt": " TensorRT needs engines built for this GPU, size and precision: Build engine… (minutes, once).",
}
INBETWEENS = (("", "Off"), ("warp", "Warp the last render"), ("repeat", "Repeat the last render"))
RENDERERS = (
    ("auto", "Auto (CoNR when weights exist)"),
    ("conr", "CoNR (your sheet)"),
    ("proxy", "Proxy (the rig's colours)"),
)


def _set_item_enabled(combo: QComboBox, index: int, enabled: bool, tooltip: str = "") -> None:
    item = combo.model().item(index)
    item.setEnabled(enabled)
    item.setToolTip(tooltip)


class RenderPanel(QGroupBox):
    settingsChanged = pyqtSignal()

    def __init__(self, parent=None, *, weights_folder=None, weights_looked_in: str = ""):
        super().__init__("Render", parent)
        self.weights_folder = weights_folder
        self._weights_looked_in = weights_looked_in
        self.options: list[BackendOption] = backend_options(cuda=False, checking=True)
        self._options_task = BackgroundTask("check-backends").start(backend_options)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll_options)
        self._timer.start()
        self._wanted_backend = "torch-cpu"
        self.dialog: EngineBuildDialog | None = None

        self.renderer = QComboBox()
        for key, label in RENDERERS:
            self.renderer.addItem(label, key)
        self._show_conr_available()
        self.backend = QComboBox()
        self.precision = QComboBox()
        self.size = QComboBox()
        for size in SIZES:
            self.size.addItem(f"{size} × {size}", size)
        self.size.setCurrentIndex(SIZES.index(256))
        self.size.setToolTip("The frames' size: what the virtual camera, recordings and the browser source get")
        self.internal = QComboBox()
        self.internal.addItem("auto", 0)
        for size in INTERNAL_SIZES:
            self.internal.addItem(f"{size} × {size}", size)
        self.internal.setToolTip(
            "CoNR's own size (at most the resolution): its render is grown to the resolution and the drawing's "
            "own pixels laid over at the resolution. Smaller is faster; auto: 256 on a CPU"
        )
        self.views = QSpinBox()
        self.views.setRange(0, 1)
        self.views.setSpecialValueText("all")
        self.views.setToolTip("How many sheet views CoNR uses (more: better from every angle, slower)")
        self.in_flight = QSpinBox()
        self.in_flight.setRange(1, MAX_FRAMES_IN_FLIGHT)
        self.in_flight.setToolTip(
            "CoNR with torch on the CPU: frames rendered at once, one core each "
            "(2 on a 2-core CPU: more frames per second, each a little later)"
        )
        self.inbetween = QComboBox()
        for key, label in INBETWEENS:
            self.inbetween.addItem(label, key)
        self.inbetween.setToolTip(
            "While CoNR is slower than the source: a frame per source frame, "
            "the newest render warped to the current pose (or repeated)"
        )
        self.build_button = QPushButton("Build engine…")
        self.build_button.clicked.connect(self.build_engine)
        self.build_reason = QLabel("")
        self.build_reason.setWordWrap(True)
        self.build_reason.setStyleSheet(INFO_STYLE)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setStyleSheet(INFO_STYLE)

        form = QFormLayout()
        form.addRow("Renderer", self.renderer)
        form.addRow("Backend", self.backend)
        form.addRow("Precision", self.precision)
        form.addRow("Resolution", self.size)
        form.addRow("Network size", self.internal)
        form.addRow("Sheet views", self.views)
        form.addRow("Frames at once", self.in_flight)
        form.addRow("In-between frames", self.inbetween)
        build_row = QHBoxLayout()
        build_row.addWidget(self.build_button)
        build_row.addWidget(self.build_reason, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(build_row)
        layout.addWidget(self.note)
        self._fill_backends()
        for combo in (self.renderer, self.backend, self.precision, self.size, self.internal, self.inbetween):
            combo.currentIndexChanged.connect(self._changed)
        self.views.valueChanged.connect(self._changed)
        self.in_flight.valueChanged.connect(self._changed)
        self._update_note()

    # ---- what is chosen ----

    @property
    def renderer_name(self) -> str:
        """ "conr" or "proxy" (auto resolved by whether weights exist)."""
        key = self.renderer.currentData()
        if key == "auto":
            return "conr" if self.weights_folder is not None else "proxy"
        return key

    @property
    def backend_option(self) -> BackendOption:
        key = self.backend.currentData()
        return next((o for o in self.options if o.key == key), self.options[0])

    @property
    def model_size(self) -> int:
        return int(self.size.currentData())

    @property
    def internal_size(self) -> int | None:
        """CoNR's own size (None: the default), never above the resolution."""
        chosen = int(self.internal.currentData() or 0)
        return min(chosen, self.model_size) if chosen else None

    @property
    def view_count(self) -> int | None:
        return self.views.value() or None

    @property
    def frames_in_flight(self) -> int:
        return self.in_flight.value()

    @property
    def inbetween_mode(self) -> str | None:
        return self.inbetween.currentData() or None

    def set_weights_folder(self, folder) -> None:
        """Another weights folder (a character's own, or none): CoNR's availability and the notes follow."""
        if folder == self.weights_folder:
            return
        self.weights_folder = folder
        self._show_conr_available()
        if folder is None and self.renderer.currentData() == "conr":
            self.renderer.setCurrentIndex(0)  # emits settingsChanged
        self._update_build()
        self._update_note()

    def _show_conr_available(self) -> None:
        available = self.weights_folder is not None
        reason = "" if available else f"no trained CoNR weights (looked in {self._weights_looked_in})"
        _set_item_enabled(self.renderer, 1, available, reason)
        self.renderer.setItemText(1, RENDERERS[1][1] if available else "CoNR — needs trained weights")

    def set_sheet_views(self, count: int) -> None:
        self.views.setMaximum(max(1, count))

    # ---- settings ----

    def apply_settings(self, settings) -> None:
        widgets = (self.renderer, self.backend, self.precision, self.size, self.internal, self.views)
        widgets += (self.in_flight, self.inbetween)
        blocked = [w.blockSignals(True) for w in widgets]
        self.renderer.setCurrentIndex(max(0, self.renderer.findData(settings.renderer)))
        if not self.renderer.model().item(self.renderer.currentIndex()).isEnabled():
            self.renderer.setCurrentIndex(0)
        self._wanted_backend = settings.backend
        self._fill_backends()
        self.precision.setCurrentIndex(max(0, self.precision.findData(settings.precision)))
        self.size.setCurrentIndex(max(0, self.size.findData(settings.size)))
        self.internal.setCurrentIndex(max(0, self.internal.findData(settings.internal_size)))
        self.views.setMaximum(max(self.views.maximum(), settings.views))
        self.views.setValue(settings.views)
        self.in_flight.setValue(settings.frames_in_flight)
        self.inbetween.setCurrentIndex(max(0, self.inbetween.findData(settings.inbetween)))
        for w, b in zip(widgets, blocked):
            w.blockSignals(b)
        self._update_note()

    def store_settings(self, settings) -> None:
        settings.renderer = self.renderer.currentData()
        settings.backend = self._wanted_backend  # kept even where it is unavailable this run (no GPU today)
        settings.precision = self.precision.currentData() or "fp32"
        settings.size = self.model_size
        settings.internal_size = int(self.internal.currentData() or 0)
        settings.views = self.views.value()
        settings.frames_in_flight = self.in_flight.value()
        settings.inbetween = self.inbetween.currentData() or ""

    # ---- backends ----

    def _poll_options(self) -> None:
        task = self._options_task
        if task is None or not task.done:
            return
        self._timer.stop()
        self._options_task = None
        if task.error is None:
            self.options = task.result
            current = self.backend.currentData()
            blocked = self.backend.blockSignals(True)
            self._fill_backends()
            self.backend.blockSignals(blocked)
            if self.backend.currentData() != current:
                self.settingsChanged.emit()

    def _fill_backends(self) -> None:
        self.backend.clear()
        for i, option in enumerate(self.options):
            label = option.label if option.available else f"{option.label} — {option.reason}"
            self.backend.addItem(label, option.key)
            _set_item_enabled(self.backend, i, option.available, option.reason)
        usable = [i for i, o in enumerate(self.options) if o.available]
        wanted = self.backend.findData(self._wanted_backend)
        self.backend.setCurrentIndex(wanted if wanted in usable else usable[0])
        self._fill_precisions()
        self._update_build()

    def _fill_precisions(self) -> None:
        current = self.precision.currentData() or "fp32"
        blocked = self.precision.blockSignals(True)
        self.precision.clear()
        for i, option in enumerate(precision_options(self.backend_option)):
            self.precision.addItem(option.key if option.available else f"{option.key} — {option.reason}", option.key)
            _set_item_enabled(self.precision, i, option.available, option.reason)
        index = self.precision.findData(current)
        if index < 0 or not self.precision.model().item(index).isEnabled():
            index = 0
        self.precision.setCurrentIndex(index)
        self.precision.blockSignals(blocked)

    def _update_build(self) -> None:
        builder, reason = engine_builder(self.options, self.weights_folder)
        self.build_button.setEnabled(builder is not None)
        self.build_button.setToolTip(reason or "Build a TensorRT engine for this resolution, view count and precision")
        self.build_reason.setText(reason)

    def build_engine(self) -> EngineBuildDialog | None:
        builder, reason = engine_builder(self.options, self.weights_folder)
        if builder is None:
            self.build_reason.setText(reason)
            return None
        self.dialog = EngineBuildDialog(
            builder, self, size=self.model_size, views=self.view_count, precision=self.precision.currentData()
        )
        self.dialog.show()
        return self.dialog

    def join(self, timeout: float = 5.0) -> None:
        for task in (self._options_task, self.dialog.task if self.dialog else None):
            if task is not None:
                task.cancel()
                task.join(timeout)

    # ---- reacting ----

    def _changed(self, *_):
        if self.sender() is self.backend:
            self._wanted_backend = self.backend.currentData() or self._wanted_backend
            self._fill_precisions()
        self._update_note()
        self.settingsChanged.emit()

    def _update_note(self) -> None:
        if self.renderer_name == "proxy":
            why = (
                ""
                if self.weights_folder is not None
                else f" No trained CoNR weights found (looked in {self._weights_looked_in})."
            )
            self.note.setText("Proxy renderer: shows the rig's flat colours, not your sheet." + why)
        else:
            self.note.setText(
                f"CoNR renders your sheet (weights: {self.weights_folder})."
                + BACKEND_NOTES.get(self.backend_option.backend, "")
            )
