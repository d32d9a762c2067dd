"""The Control API panel: the local websocket API (``pipeline.control_api``) on or off, its port, who may connect.

The server's threads call into what is thread-safe (the session's expression overrides, the
hotkeys, the session's snapshot); switching the character is the window's, so that message is
checked on the API's thread (an unusable folder is an error reply at once) and then handed to
the UI thread through a queued signal (`characterRequested`).
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QSpinBox

from avatar_app.core.errors import AvatarAppError
from avatar_app.io.character_folder import CHARACTER_JSON
from avatar_app.pipeline.control_api import DEFAULT_API_PORT, ControlHandler, ControlServer
from avatar_app.pipeline.defaults import open_character_arg


def session_status(session, character: str) -> dict:
    """The status message's fields from a `LiveSession` (safe on any thread: `snapshot` takes its lock)."""
    snapshot = session.snapshot()
    status = snapshot.status
    out = {"state": snapshot.phase, "message": snapshot.message, "character": character}
    if status is not None:
        out.update(fps=round(status.fps, 2), frames_sent=status.frames_sent, source=status.source)
        out["renderer"] = status.renderer
    return out


class ControlApiPanel(QGroupBox):
    """``status() -> dict`` (any thread); `characterRequested` carries a checked path to the UI thread."""

    characterRequested = pyqtSignal(str)

    def __init__(self, overrides, hotkeys, status, parent=None):
        super().__init__("Control API", parent)
        self.handler = ControlHandler(overrides, hotkeys, switch_character=self._switch_character, status=status)
        self.server: ControlServer | None = None
        self.enabled = QCheckBox("Control API on port")
        self.enabled.setToolTip("a websocket for stream decks, bots and scripts (docs/control_api.md)")
        self.port = QSpinBox(minimum=1, maximum=65535, value=DEFAULT_API_PORT)
        self.port.setKeyboardTracking(False)  # restart once the number is typed, not per digit
        self.remote = QCheckBox("Allow other computers")
        self.remote.setToolTip("listen on every network interface, not this computer only; there is no password")
        self.state = QLabel("off")
        self.state.setWordWrap(True)
        layout = QGridLayout(self)
        layout.addWidget(self.enabled, 0, 0)
        layout.addWidget(self.port, 0, 1)
        layout.addWidget(self.remote, 1, 0, 1, 2)
        layout.addWidget(self.state, 2, 0, 1, 2)
        self.enabled.toggled.connect(self.restart)
        self.port.valueChanged.connect(self.restart)
        self.remote.toggled.connect(self.restart)

    def restart(self) -> None:
        """Close the server and open the one the controls describe (a port in use is said, not raised)."""
        self.stop()
        if not self.enabled.isChecked():
            self.state.setText("off")
            return
        try:
            self.server = ControlServer(self.handler, self.port.value(), allow_remote=self.remote.isChecked())
        except AvatarAppError as error:
            self.state.setText(str(error))
            return
        who = "other computers too" if self.remote.isChecked() else "this computer only"
        self.state.setText(f"listening on {self.server.url} ({who})")

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.close()

    def _switch_character(self, path: str) -> str:
        """On the API's thread: refuse an unusable path now, open a usable one on the UI thread."""
        folder = Path(path).expanduser()
        if folder.name == CHARACTER_JSON:
            folder = folder.parent
        choice = open_character_arg(folder)
        self.characterRequested.emit(str(folder))
        return choice.describe()

    # ---- settings file ----

    def apply_settings(self, settings) -> list[str]:
        warnings = []
        port = settings.api_port
        if not 1 <= port <= 65535:
            warnings.append(f"settings: control.api_port {port} is not a port; using {DEFAULT_API_PORT}")
            port = DEFAULT_API_PORT
        for box in (self.port, self.remote, self.enabled):
            box.blockSignals(True)
        self.port.setValue(port)
        self.remote.setChecked(settings.api_remote)
        self.enabled.setChecked(settings.api)
        for box in (self.port, self.remote, self.enabled):
            box.blockSignals(False)
        self.restart()
        return warnings

    def store_settings(self, settings) -> None:
        settings.api = self.enabled.isChecked()
        settings.api_port = self.port.value()
        settings.api_remote = self.remote.isChecked()
