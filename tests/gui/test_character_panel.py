"""The window's character: opening folders and bodies (and refusing the rest), which body the pose
drives, and the framing that reaches the live pipeline and the settings file."""

from __future__ import annotations

import shutil
import tomllib

from avatar_app.core.settings_file import default_settings_path
from avatar_app.gui.main_window import SHORTCUTS
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER

from gui_helpers import wait_for_default_sheet


def menu_texts(window) -> list[str]:
    return [a.text() for menu in window.menuBar().actions() for a in menu.menu().actions()]


def test_the_file_menu_offers_new_open_and_edit_character(make_window):
    window = make_window()
    texts = menu_texts(window)
    for text in ("New character from drawings…", "Open character…", "Edit fit…", "Load sheet…"):
        assert text in texts, texts
    assert window.new_character_action.shortcut().toString() == SHORTCUTS["new_character"]
    assert window.open_character_action.shortcut().toString() == SHORTCUTS["open_character"]


def test_opening_a_character_folder_switches_the_body_sheet_and_description(qtbot, make_window, character_folder):
    window = make_window()
    wait_for_default_sheet(qtbot, window)
    panel = window.character_panel
    assert panel.body_label.text() == "The built-in character, shown full body."
    assert not panel.edit_button.isEnabled(), "the built-in character is shipped, not fitted"
    assert window.config().character is None
    with qtbot.waitSignal(window.sheet_panel.sheetLoaded, timeout=10_000):
        assert panel.open_path(character_folder / "character.json")  # its character.json, as the file dialog gives
    text = panel.body_label.text()
    assert text == "Test Character, made from your drawings, shown waist up, cut at 0.74 m.", text
    assert window.sheet_panel.sheet_path == character_folder / "sheet"
    assert window.config().character == character_folder / "avatar.glb"
    assert panel.edit_button.isEnabled() and not panel.message_is_error


def test_a_folder_of_drawings_is_refused_with_the_fit_hint_and_the_character_stays(make_window, good_sheet):
    window = make_window()
    panel = window.character_panel
    before = panel.choice
    assert not panel.open_path(good_sheet)
    assert panel.message_is_error
    text = panel.message.text()
    assert "folder of drawings" in text and "fit --sheet" in text and str(good_sheet) in text, text
    assert panel.choice is before and panel.body_label.text().startswith("The built-in character")


def test_a_glb_body_opens_and_a_file_of_another_kind_is_refused(make_window, tmp_path):
    window = make_window()
    panel = window.character_panel
    body = shutil.copyfile(DEFAULT_CHARACTER / "avatar.glb", tmp_path / "mine.glb")
    assert panel.open_path(body)
    assert panel.body_label.text() == "The 3D body mine.glb, shown full body."
    assert window.config().character == body and window.config().framing == "full"
    (tmp_path / "notes.txt").write_text("hi")
    assert not panel.open_path(tmp_path / "notes.txt")
    assert panel.message_is_error and "a .glb/.vrm body" in panel.message.text()
    assert panel.choice.body == body


def test_the_framing_reaches_the_live_pipeline_and_the_settings_file(qtbot, make_window, character_folder):
    window = make_window()
    panel = window.character_panel
    panel.open_path(character_folder)
    assert window.config().framing == 0.74, "as drawn: the fit's measured cut"
    assert panel.framing.itemText(0) == "As drawn (waist up, cut at 0.74 m)"
    window.start()
    panel.framing.setCurrentIndex(panel.framing.findData("knee"))
    assert window.session.wanted_config.framing == "knee", "choosing a framing restarts the live pipeline with it"
    qtbot.waitUntil(lambda: window.session.snapshot().phase == "running", timeout=10_000)
    assert window.session.snapshot().config.framing == "knee"
    window.close()
    saved = tomllib.loads(default_settings_path().read_text())["character"]
    assert saved["character"] == str(character_folder) and saved["framing"] == "knee"
    again = make_window()
    assert again.character_panel.choice.folder.root == character_folder
    assert again.config().framing == "knee" and again.config().character == character_folder / "avatar.glb"


def test_an_unusable_saved_character_warns_and_the_built_in_one_is_used(make_window, tmp_path):
    window = make_window(f'[character]\ncharacter = "{tmp_path / "gone"}"\nframing = "thighs"\n')
    warnings = " | ".join(window.settings_warnings)
    assert "saved character is unusable" in warnings and "framing 'thighs'" in warnings, warnings
    assert window.character_panel.choice.body is None and window.config().framing == "full"


def test_edit_fit_without_a_fitted_character_says_why(make_window):
    window = make_window()
    assert window.character_panel.edit_fit() is None
    assert window.character_panel.message_is_error and "made from drawings" in window.character_panel.message.text()
    assert window.character_panel.open_path(DEFAULT_CHARACTER)  # the shipped folder, opened by hand: still not
    assert window.character_panel.edit_fit() is None and not window.character_panel.edit_button.isEnabled()
