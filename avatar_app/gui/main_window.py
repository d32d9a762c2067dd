"""The main window: character, sheet, source, render and output panels beside the live previews.

It never blocks: the `LiveSession` worker starts and stops pipelines; sheets, camera lists
and engine builds load in background tasks; one timer (at most 30 Hz) moves the newest
frame, camera picture and UDP map into the previews, and a few times a second the
pipeline's status into the status bar and the panels.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QHBoxLayout, QMainWindow, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from avatar_app.core.errors import AvatarAppError, SettingError
from avatar_app.core.settings_file import AppSettings, default_settings_path, load_settings, save_settings
from avatar_app.gui.character_panel import CharacterPanel
from avatar_app.gui.control_api_panel import ControlApiPanel, session_status
from avatar_app.gui.expression_row import ExpressionRow
from avatar_app.gui.hotkey_panel import HotkeyPanel
from avatar_app.gui.mic_panel import MicPanel
from avatar_app.gui.output_panel import OutputPanel
from avatar_app.gui.preview_view import PreviewView
from avatar_app.gui.render_panel import RenderPanel
from avatar_app.gui.sheet_panel import SheetPanel
from avatar_app.gui.source_panel import SourcePanel
from avatar_app.gui.stats_bar import StatsBar
from avatar_app.gui.wheel_guard import install_wheel_guard
from avatar_app.pipeline import defaults, pictures
from avatar_app.pipeline.builder import PipelineSettings
from avatar_app.pipeline.session import LiveSession
from avatar_app.tracking.devices import CameraPreview

log = logging.getLogger(__name__)

UI_INTERVAL_MS = 34  # previews at most ~29 times a second
STATUS_EVERY_TICKS = 8  # status bar and panels ~3.7 times a second
DEFAULT_SHEET = defaults.DEFAULT_CHARACTER / "sheet"
SHIPPED_WEIGHTS = object()  # MainWindow's default: the shipped weights folder, if it exists
SHORTCUTS = {
    "start_stop": "F5",
    "record": "Ctrl+R",
    "virtual_camera": "Ctrl+Shift+V",
    "load_sheet": "Ctrl+O",
    "open_character": "Ctrl+Shift+O",
    "new_character": "Ctrl+N",
    "quit": "Ctrl+Q",
}


class MainWindow(QMainWindow):
    """``settings_path``: the TOML file (default: the user config folder). ``session``: a
    `LiveSession` to drive (default: a new one). ``weights_folder``: trained CoNR weights
    (default: the shipped folder, when it exists)."""

    def __init__(
        self,
        settings_path: str | Path | None = None,
        *,
        session: LiveSession | None = None,
        weights_folder: Path | None | object = SHIPPED_WEIGHTS,
        camera_lister=None,
        mic_lister=None,
    ):
        super().__init__()
        install_wheel_guard()  # the wheel scrolls the panels; it changes a spin box or combo only once focused
        self.setWindowTitle("avatar_app")
        self.settings_path = Path(settings_path) if settings_path else default_settings_path()
        self.settings, self.settings_warnings = load_settings(self.settings_path)
        if weights_folder is SHIPPED_WEIGHTS:
            weights_folder = defaults.DEFAULT_WEIGHTS if defaults.DEFAULT_WEIGHTS.is_dir() else None
        self.weights_folder = Path(weights_folder) if weights_folder else None
        self.session = session or LiveSession()
        self.live = False  # what the user asked for: streaming or stopped
        self._closed = False
        self._ticks = 0
        self._camera_preview: CameraPreview | None = None
        self._closing_previews: list[CameraPreview] = []
        self._pipeline_error_shown = False
        self._config_before_character: tuple | None = None  # (config,) while a new character's sheet loads
        try:
            self.background_rgb = defaults.parse_colour(self.settings.background, "settings: background")
        except SettingError as err:
            self.settings_warnings.append(f"{err}; using green")
            self.background_rgb = (0, 255, 0)

        self.character_panel = CharacterPanel()
        self.settings_warnings += self.character_panel.apply_settings(self.settings)
        self.sheet_panel = SheetPanel()
        self.source_panel = SourcePanel(**({"camera_lister": camera_lister} if camera_lister else {}))
        self.render_panel = RenderPanel(weights_folder=self.weights, weights_looked_in=str(defaults.DEFAULT_WEIGHTS))
        self.output_panel = OutputPanel()
        self.mic_panel = MicPanel(self.session, **({"device_lister": mic_lister} if mic_lister else {}))
        self.preview = PreviewView()
        self.expression_row = ExpressionRow(self.session)
        self.hotkey_panel = HotkeyPanel(self, self.session.expression_overrides, reserved=SHORTCUTS.values())
        status = lambda: session_status(self.session, self.character_panel.choice.describe())  # noqa: E731
        self.control_api_panel = ControlApiPanel(self.session.expression_overrides, self.hotkey_panel.actions, status)
        self.stats_bar = StatsBar()
        self.setStatusBar(self.stats_bar)
        self._build_layout()
        self._build_actions()

        self._show_weights()
        self.source_panel.apply_settings(self.settings)
        self.render_panel.apply_settings(self.settings)
        self.output_panel.apply_settings(self.settings)
        self.settings_warnings += self.mic_panel.apply_settings(self.settings)
        self.settings_warnings += self.hotkey_panel.apply_settings(self.settings)
        self.settings_warnings += self.control_api_panel.apply_settings(self.settings)
        self.resize(self.settings.width, self.settings.height)

        self.character_panel.characterChanged.connect(self._character_changed)
        self.character_panel.framingChanged.connect(self.apply)
        self.sheet_panel.sheetLoaded.connect(self._sheet_loaded)
        self.sheet_panel.sheetFailed.connect(self._sheet_failed)
        self.source_panel.sourceChanged.connect(self._source_chosen)
        self.source_panel.camerasListed.connect(self.apply)
        self.render_panel.settingsChanged.connect(self.apply)
        self.output_panel.outputsChanged.connect(self._outputs_changed)
        self.mic_panel.micChanged.connect(self.apply)
        self.control_api_panel.characterRequested.connect(self.character_panel.open_path)

        saved_sheet = self.settings.sheet_dir
        self._initial_sheet = Path(saved_sheet) if saved_sheet else self.character_panel.sheet_dir
        self.sheet_panel.load(self._initial_sheet)
        self.source_panel.refresh_cameras()
        self._outputs_changed()
        if self.settings.autostart:
            self.start()

        self.timer = QTimer(self)
        self.timer.setInterval(UI_INTERVAL_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    # ---- layout and actions ----

    def _build_layout(self) -> None:
        side = QWidget()
        side_layout = QVBoxLayout(side)
        panels = (self.character_panel, self.sheet_panel, self.source_panel, self.mic_panel)
        panels += (self.output_panel, self.render_panel, self.hotkey_panel, self.control_api_panel)
        for panel in panels:  # live controls first
            side_layout.addWidget(panel)
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(side.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        scroll.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.addWidget(scroll, 0)
        live = QWidget()
        live_layout = QVBoxLayout(live)
        live_layout.setContentsMargins(0, 0, 0, 0)
        live_layout.addWidget(self.preview, 1)
        live_layout.addWidget(self.expression_row, 0)
        layout.addWidget(live, 1)
        self.setCentralWidget(central)

    def _action(self, text: str, key: str, slot, tip: str) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(SHORTCUTS[key]))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setToolTip(f"{tip} ({SHORTCUTS[key]})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.start_stop_action = self._action("Start", "start_stop", self.toggle_live, "Start or stop the live avatar")
        self.record_action = self._action(
            "Record", "record", self.output_panel.toggle_record, "Start or stop recording to a file"
        )
        self.virtual_camera_action = self._action(
            "Virtual camera",
            "virtual_camera",
            self.output_panel.toggle_virtual_camera,
            "Switch the virtual camera on or off",
        )
        load_action = self._action(
            "Load sheet…", "load_sheet", self.sheet_panel.choose_folder, "Load a character-sheet folder"
        )
        self.open_character_action = self._action(
            "Open character…",
            "open_character",
            self.character_panel.choose_file,
            "Open a character folder or a .glb/.vrm body",
        )
        self.new_character_action = self._action(
            "New character from drawings…",
            "new_character",
            lambda: self.character_panel.new_from_drawings(),
            "Fit a body to your drawings and make a character folder",
        )
        quit_action = self._action("Quit", "quit", self.close, "Close the window")
        live_menu = self.menuBar().addMenu("&Live")
        for action in (self.start_stop_action, self.record_action, self.virtual_camera_action):
            live_menu.addAction(action)
        file_menu = self.menuBar().addMenu("&File")
        for action in (self.new_character_action, self.open_character_action, load_action):
            file_menu.addAction(action)
        self.edit_fit_action = file_menu.addAction("Edit fit…")
        self.edit_fit_action.triggered.connect(self.character_panel.edit_fit)
        file_menu.addAction(quit_action)
        toolbar = self.addToolBar("Live")
        toolbar.setMovable(False)
        for action in (self.start_stop_action, self.record_action, self.virtual_camera_action):
            toolbar.addAction(action)

    # ---- live control ----

    def start(self) -> None:
        self.live = True
        self.apply()

    def stop(self) -> None:
        self.live = False
        self.apply()

    def toggle_live(self) -> None:
        snapshot = self.session.snapshot()
        if self.live and snapshot.phase in ("failed", "ended"):
            self.session.restart()  # the same config again
        elif self.live:
            self.stop()
        else:
            self.start()

    def config(self) -> PipelineSettings:
        """What the panels describe now (a SettingError says what is missing)."""
        renderer = self.render_panel.renderer_name
        option = self.render_panel.backend_option
        conr = renderer == "conr"
        return PipelineSettings(
            source=self.source_panel.spec(),
            sheet_dir=(self.sheet_panel.sheet_path or self._initial_sheet) if conr else None,
            renderer=renderer,
            weights=self.weights if (conr or self.source_panel.detector_wanted) else None,
            backend=option.backend,
            device=option.device,
            precision=self.render_panel.precision.currentData() or "fp32",
            size=self.render_panel.model_size,
            internal_size=self.render_panel.internal_size if conr else None,
            views=self.render_panel.view_count if conr else None,
            frames_in_flight=self.render_panel.frames_in_flight if conr else 1,
            inbetween=self.render_panel.inbetween_mode if conr else None,
            udp_detector=self.source_panel.detector_wanted,
            fps=self.settings.fps,
            springs=self.source_panel.springs.isChecked(),
            character=self.character_panel.choice.body,
            framing=self.character_panel.live_framing,
            mic=self.mic_panel.spec(),  # its gain and gate reach the session live (MicPanel)
            idle_life=self.settings.idle_life,
        )

    def apply(self) -> None:
        """Hand the session what the panels say (it restarts the pipeline if that differs)."""
        if self._closed:
            return
        if not self.live:
            self.session.set_config(None)
            return
        try:
            config = self.config()
        except AvatarAppError as exc:
            self.source_panel.show_message(str(exc), error=True)
            self.session.set_config(None)
            return
        if config != self.session.wanted_config:
            self.source_panel.show_message("")
            if config.source.kind not in ("webcam", "video"):
                self.preview.reset_insets("camera: not used by this source")
            self._close_camera_preview()
        self.session.set_config(config)

    def _source_chosen(self) -> None:
        self.live = True  # choosing a source means: show me that
        self.apply()

    def _outputs_changed(self) -> None:
        self.session.set_outputs(self.output_panel.request(self.background_rgb, self.settings.virtual_camera_backend))

    @property
    def weights(self) -> Path | None:
        """CoNR's weights: the character's own (its weights/), else the window's."""
        return self.character_panel.weights or self.weights_folder

    def _show_weights(self) -> None:
        weights = self.weights
        self.render_panel.set_weights_folder(weights)
        self.source_panel.set_detector_available(
            weights is not None, f"needs trained CoNR weights (looked in {defaults.DEFAULT_WEIGHTS})"
        )

    def _character_changed(self) -> None:
        """Another character (or the open one, edited): its weights and sheet, then a pipeline for its body."""
        self._show_weights()
        self._initial_sheet = self.character_panel.sheet_dir
        self._config_before_character = (self.session.wanted_config,)
        self.sheet_panel.load(self._initial_sheet)  # the pipeline follows once it is checked (_apply_sheet)

    def _apply_sheet(self) -> None:
        before, self._config_before_character = self._config_before_character, None
        self.apply()
        if before is not None and before[0] is not None and self.live and self.session.wanted_config == before[0]:
            self.session.restart()  # the same paths, new files: the fit editor saves a character in place

    def _sheet_loaded(self, path: Path) -> None:
        self.render_panel.set_sheet_views(self.sheet_panel.sheet.num_views)
        self._apply_sheet()

    def _sheet_failed(self, error: str) -> None:
        if self.sheet_panel.sheet is None and self._initial_sheet != DEFAULT_SHEET:
            log.warning("the saved sheet %s is unusable (%s); loading the built-in one", self._initial_sheet, error)
            self._initial_sheet = DEFAULT_SHEET
            self.sheet_panel.load(DEFAULT_SHEET)
            return
        self._apply_sheet()

    # ---- the UI timer ----

    def _tick(self) -> None:
        session = self.session
        frame = session.hub.latest.take(0)
        if frame is not None:
            self.preview.show_frame(frame.data)
        camera = session.tap.camera.take(0)
        if camera is not None:
            self.preview.show_camera(*camera)
            if self.source_panel.kind == "webcam":
                self.source_panel.show_camera_picture(pictures.camera_picture(camera[0], max_side=160))
        udp = session.tap.udp.take(0)
        if udp is not None:
            self.preview.show_udp(udp.data)
        if self._camera_preview is not None:
            rgb = self._camera_preview.latest()
            if rgb is not None:
                self.source_panel.show_camera_picture(rgb)
        self._ticks += 1
        if self._ticks % STATUS_EVERY_TICKS == 0:
            self._show_status()

    def _show_status(self) -> None:
        snapshot = self.session.snapshot()
        self.stats_bar.show_snapshot(snapshot, self.settings_warnings)
        self.output_panel.show_states(snapshot.outputs)
        self.expression_row.refresh()
        self.mic_panel.refresh()
        running = snapshot.phase in ("running", "starting")
        self.start_stop_action.setText("Stop" if self.live and running else "Start")
        if snapshot.phase == "failed" and snapshot.message:
            self.source_panel.show_message(snapshot.message, error=True)
            self._pipeline_error_shown = True
        elif self._pipeline_error_shown and snapshot.phase == "running":
            self.source_panel.show_message("")
            self._pipeline_error_shown = False
        self._update_camera_preview(snapshot)

    def _update_camera_preview(self, snapshot) -> None:
        """While no pipeline uses the chosen webcam, a capture of its own feeds the picker's preview."""
        wanted = None
        if self.source_panel.kind == "webcam" and not (self.live and snapshot.phase in ("running", "starting")):
            wanted = self.source_panel.camera_combo.currentData()
        if self._camera_preview is not None and self._camera_preview.camera != wanted:
            self._close_camera_preview()
        if wanted is not None and self._camera_preview is None:
            self._camera_preview = CameraPreview(wanted)  # its frames are shown by _tick

    def _close_camera_preview(self) -> None:
        preview, self._camera_preview = self._camera_preview, None
        if preview is not None:
            preview.close()
            self._closing_previews.append(preview)

    # ---- settings and shutdown ----

    def store_settings(self) -> AppSettings:
        settings = self.settings
        sheet = self.sheet_panel.sheet_path
        if sheet is not None:  # "" = the character's own sheet
            settings.sheet_dir = "" if sheet in (DEFAULT_SHEET, self.character_panel.sheet_dir) else str(sheet)
        self.character_panel.store_settings(settings)
        self.source_panel.store_settings(settings)
        self.render_panel.store_settings(settings)
        self.output_panel.store_settings(settings)
        self.mic_panel.store_settings(settings)
        self.hotkey_panel.store_settings(settings)
        self.control_api_panel.store_settings(settings)
        settings.width, settings.height = self.width(), self.height()
        return settings

    def shutdown(self) -> None:
        """Save the settings, stop the pipeline and every worker (waits for them; once)."""
        if self._closed:
            return
        self._closed = True
        self.timer.stop()
        try:
            save_settings(self.store_settings(), self.settings_path)
        except OSError as exc:
            log.warning("could not save the settings to %s: %s", self.settings_path, exc)
        self.control_api_panel.stop()
        self.hotkey_panel.close_keys()
        self.session.close()
        self._close_camera_preview()
        for preview in self._closing_previews:
            preview.join()
        self._closing_previews.clear()
        for panel in (self.character_panel, self.sheet_panel, self.source_panel, self.render_panel):
            panel.join()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
