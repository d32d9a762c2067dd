"""What a newcomer reads on the first screen: user words for the character, and which way to add their own."""

from __future__ import annotations

import re

from PyQt6.QtWidgets import QLabel


def visible_texts(window) -> list[str]:
    return [label.text() for label in window.findChildren(QLabel) if label.isVisible() and label.text()]


def test_the_first_screen_names_the_character_without_files_or_tools(make_window):
    window = make_window()
    developer_words = re.compile(r"\.glb|\.py\b|tools/|made by|avatar-app ")
    texts = visible_texts(window)
    assert "The built-in character, shown full body." in texts, texts
    assert not [t for t in texts if developer_words.search(t)], [t for t in texts if developer_words.search(t)]


def test_a_newcomer_is_pointed_to_new_from_drawings_not_the_sheet_loader(make_window, character_folder):
    window = make_window()
    panel, sheet = window.character_panel, window.sheet_panel
    assert panel.hint.isVisible() and "New from drawings…" in panel.hint.text()
    row = [panel.new_button, panel.open_button]
    assert sorted(row, key=lambda b: b.geometry().x()) == row, "New from drawings… comes first"
    assert "New from drawings…" in sheet.load_button.toolTip() and "only" in sheet.load_button.toolTip()
    assert sheet.purpose.isVisible() and "New from drawings…" in sheet.purpose.text()
    assert "Start here" in panel.new_button.toolTip()
    assert panel.open_path(character_folder)
    assert not panel.hint.isVisible(), "the hint is for the built-in character only"
