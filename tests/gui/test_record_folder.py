"""The Record folder field takes typing: the next recording goes there and the setting keeps it."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtTest import QTest

from avatar_app.core.settings_file import load_settings


def type_folder(field, text: str) -> None:
    field.setFocus()
    QTest.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all: typing replaces it
    QTest.keyClicks(field, text)


def test_a_typed_record_folder_is_where_the_recording_goes_and_is_saved(qtbot, make_window, tmp_path):
    window = make_window()
    panel = window.output_panel
    typed = tmp_path / "typed" / "clips"
    type_folder(panel.record_folder, str(typed))
    assert panel.record_folder.text() == str(typed)
    panel.record_button.click()
    assert panel.record_path is not None and panel.record_path.parent == typed
    assert typed.is_dir(), "recording makes the folder"
    assert panel.request().record_path.parent == typed
    panel.record_button.click()
    window.shutdown()
    settings, _ = load_settings(window.settings_path)
    assert settings.record_dir == str(typed)


def test_a_relative_folder_is_under_home_and_an_empty_one_is_the_default(qtbot, make_window, monkeypatch, tmp_path):
    from avatar_app.gui.output_panel import default_record_dir

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    window = make_window()
    panel = window.output_panel
    type_folder(panel.record_folder, "Clips")
    assert panel.record_dir == tmp_path / "home" / "Clips"
    type_folder(panel.record_folder, "")
    QTest.keyClick(panel.record_folder, Qt.Key.Key_Backspace)
    assert panel.record_folder.text() == "" and panel.record_dir == default_record_dir()
