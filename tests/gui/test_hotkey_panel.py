"""Hotkeys and the control API in the window (#31 items 2 and 3): a pressed key changes the running avatar's
expression, typing into a field does not, bindings and the API's switch are saved, the API switches characters."""

from __future__ import annotations

import json
import socket
import tomllib

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QLineEdit
from websockets.sync.client import connect

from avatar_app.core.settings_file import default_settings_path
from avatar_app.pipeline.hotkeys import Hotkey

from gui_helpers import wait_for_frames

BINDINGS = '[control]\nhotkeys = "F1 surprised toggle\\nF2 eyes_closed hold\\nJ joy toggle"\n'


def sent(window):
    """The expression the running pipeline sends on (after the hand-set ones), or None."""
    return window.session.expression_state()[1]


def shows(qtbot, window, name: str, value: float) -> None:
    qtbot.waitUntil(lambda: sent(window) is not None and sent(window)[name] == value, timeout=10_000)


def test_a_configured_key_changes_the_running_avatars_expression(qtbot, make_window):
    window = make_window(BINDINGS, autostart=True)
    wait_for_frames(qtbot, window)
    overrides = window.session.expression_overrides
    QTest.keyClick(window, Qt.Key.Key_F1)
    assert overrides.active() == {"surprised": 1.0}
    shows(qtbot, window, "surprised", 1.0)
    QTest.keyClick(window, Qt.Key.Key_F1)
    assert overrides.active() == {}, "toggled off by the second press"
    shows(qtbot, window, "surprised", 0.0)

    QTest.keyPress(window, Qt.Key.Key_F2)
    assert overrides.active() == {"blink": 1.0}
    shows(qtbot, window, "blink", 1.0)
    QTest.keyRelease(window, Qt.Key.Key_F2)
    assert overrides.active() == {}, "a hold key lets go on release"


def test_a_plain_key_typed_into_a_field_is_the_fields_but_a_function_key_still_acts(qtbot, make_window):
    window = make_window(BINDINGS)
    field = window.findChildren(QLineEdit)[0]
    field.setFocus()
    QTest.keyClick(field, Qt.Key.Key_J)
    assert window.session.expression_overrides.active() == {}
    QTest.keyClick(window, Qt.Key.Key_J)  # not typing: the window itself has the key
    assert window.session.expression_overrides.active() == {"happy": 1.0}
    QTest.keyClick(field, Qt.Key.Key_F1)
    assert window.session.expression_overrides.active() == {"happy": 1.0, "surprised": 1.0}


def test_bindings_are_saved_and_the_windows_own_shortcuts_cannot_be_bound(qtbot, make_window):
    window = make_window(BINDINGS)
    panel = window.hotkey_panel
    assert [h.line() for h in panel.actions.bindings] == ["F1 surprised toggle", "F2 eyes_closed hold", "J joy toggle"]
    panel.add_row(Hotkey("Ctrl+3", "sad", "timed", 1.5))
    panel.add_row(Hotkey("F5", "angry"))  # F5 starts and stops the stream
    assert "F5 is the window's own shortcut" in panel.note.text()
    assert panel.actions.binding("F5") is None and panel.actions.binding("Ctrl+3").seconds == 1.5
    window.shutdown()
    saved = tomllib.loads(default_settings_path().read_text())["control"]["hotkeys"]
    assert saved.splitlines() == ["F1 surprised toggle", "F2 eyes_closed hold", "J joy toggle", "Ctrl+3 sad timed 1.5"]


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(client, message: dict) -> dict:
    client.send(json.dumps(message))
    return json.loads(client.recv(timeout=10))


def test_the_api_from_the_settings_presses_keys_switches_the_character_and_is_saved(
    qtbot, make_window, character_folder
):
    port = free_tcp_port()
    window = make_window(BINDINGS + f"api = true\napi_port = {port}\n")
    panel = window.control_api_panel
    assert panel.server is not None and f"ws://127.0.0.1:{port}" in panel.state.text()
    with connect(f"ws://127.0.0.1:{port}", open_timeout=5) as client:
        assert ask(client, {"type": "hotkey", "key": "F1"})["active"] == {"surprised": 1.0}
        status = ask(client, {"type": "status"})
        assert status["state"] == "stopped" and status["hotkeys"][0] == "F1 surprised toggle"
        refused = ask(client, {"type": "set_character", "path": str(character_folder / "missing")})
        assert refused["type"] == "error" and "no such file or folder" in refused["error"]
        reply = ask(client, {"type": "set_character", "path": str(character_folder / "character.json")})
        assert reply["type"] == "ok" and "Test Character" in reply["character"]
    qtbot.waitUntil(lambda: window.character_panel.choice.folder.root == character_folder, timeout=5_000)
    panel.remote.setChecked(True)
    assert panel.server.host == "0.0.0.0" and "other computers too" in panel.state.text()
    window.shutdown()
    saved = tomllib.loads(default_settings_path().read_text())["control"]
    assert saved["api"] is True and saved["api_port"] == port and saved["api_remote"] is True


def test_a_port_in_use_is_said_in_the_panel(qtbot, make_window):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        window = make_window(f"[control]\napi = true\napi_port = {port}\n")
        assert window.control_api_panel.server is None
        assert f"{port}" in window.control_api_panel.state.text()
        assert "choose another port" in window.control_api_panel.state.text()


def test_a_held_combination_lets_go_when_its_key_comes_up_whatever_modifier_went_first(qtbot, make_window):
    window = make_window('[control]\nhotkeys = "Ctrl+2 sad hold"\n')
    overrides = window.session.expression_overrides
    QTest.keyPress(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert overrides.active() == {"sad": 1.0}
    QTest.keyRelease(window, Qt.Key.Key_2)  # Ctrl was let go first: the release carries no modifier
    assert overrides.active() == {}
    QTest.keyPress(window, Qt.Key.Key_2)
    assert overrides.active() == {}, "2 alone is not Ctrl+2"
