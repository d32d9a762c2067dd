"""The fit editor: a control per shape parameter and per view's framing; Save rewrites the folder
with the edits (weights/ kept) and the window reopens it; Re-fit runs the fitter from the edits
in the background and writes nothing."""

from __future__ import annotations

import json
import shutil

import numpy as np
from PyQt6.QtWidgets import QComboBox, QDoubleSpinBox

from avatar_app.gui.character_edit import shape_tables
from avatar_app.io.character_folder import WEIGHT_FILES
from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS


def read_info(folder) -> dict:
    return json.loads((folder / "character.json").read_text())


def open_editor(qtbot, window, folder):
    with qtbot.waitSignal(window.sheet_panel.sheetLoaded, timeout=10_000):
        assert window.character_panel.open_path(folder)
    window.edit_fit_action.trigger()
    editor = window.character_panel.editor
    assert editor is not None and editor.isVisible()
    return editor


def test_every_shape_parameter_and_view_has_a_control(qtbot, make_window, character_folder):
    editor = open_editor(qtbot, make_window(), character_folder)
    continuous, choices = shape_tables()
    assert continuous and choices, "rig.avatar_style exposes the fitter's shape tables"
    for name, (low, high) in continuous.items():
        spin = editor.shape_controls[name]
        assert isinstance(spin, QDoubleSpinBox) and (spin.minimum(), spin.maximum()) == (low, high)
    for name, options in choices.items():
        combo = editor.shape_controls[name]
        assert isinstance(combo, QComboBox) and [combo.itemData(i) for i in range(combo.count())] == list(options)
    assert len(editor.view_framings) == 2 and [c.currentData() for c in editor.view_framings] == ["waist", "waist"]
    assert editor.framing.currentData() == "waist" and editor.picture.has_picture, "fit.png is shown"


def test_editing_the_shape_and_framings_and_saving_rewrites_character_json(qtbot, make_window, character_folder):
    weights = character_folder / "weights"
    weights.mkdir()
    (weights / "adapted.txt").write_text("kept")
    for name in WEIGHT_FILES:  # a complete weights/ (CharacterFolder.weights needs all four)
        shutil.copyfile(DEFAULT_WEIGHTS / name, weights / name)
    window = make_window()
    editor = open_editor(qtbot, window, character_folder)
    continuous, choices = shape_tables()
    name, (low, high) = next(iter(continuous.items()))
    value = round(low + 0.25 * (high - low), 3)
    editor.shape_controls[name].setValue(value)
    choice, options = next(iter(choices.items()))
    combo = editor.shape_controls[choice]
    other = next(o for o in options if o != combo.currentData())
    combo.setCurrentIndex(combo.findData(other))
    editor.view_framings[1].setCurrentIndex(editor.view_framings[1].findData("bust"))
    editor.framing.setCurrentIndex(editor.framing.findData("knee"))
    assert editor.changed and "not saved" in editor.note.text()
    glb_before = (character_folder / "avatar.glb").read_bytes()
    saved = []
    editor.characterSaved.connect(saved.append)
    with qtbot.waitSignal(editor.task_log.finished, timeout=60_000):
        editor.save_button.click()
        assert not editor.save_button.isEnabled(), "controls are locked while saving"
    assert not editor.task_log.status_is_error, editor.task_log.status.text()
    assert [folder.root for folder in saved] == [character_folder]
    info = read_info(character_folder)
    assert info["proxy"][name] == value and info["proxy"][choice] == other
    assert [v["framing"] for v in info["views"]] == ["waist", "bust"]
    assert info["framing"] == {"name": "knee", "cut": None}, "a hand-picked framing replaces the measured cut"
    assert info["name"] == "Test Character"
    assert (weights / "adapted.txt").read_text() == "kept", "weights/ outlive a save"
    assert (character_folder / "avatar.glb").read_bytes() != glb_before, "the body has the edited shape"
    assert all(0.0 <= v["iou"] <= 1.0 for v in info["views"])
    panel = window.character_panel
    assert panel.choice.folder.info["framing"]["name"] == "knee" and window.config().framing == "knee"
    assert window.config().weights == weights, "the character's own weights are used"
    assert not editor.changed and "Saved" in editor.task_log.status.text()


def test_refit_runs_the_fitter_from_the_edits_in_the_background_and_writes_nothing(
    qtbot, make_window, character_folder, monkeypatch
):
    from avatar_app.gui.character_edit import measured_result

    seen = {}

    def fake_fit_views(drawings, landmarks, *, style, fixed_views, rounds, cancel, note):
        import threading

        seen.update(style=style, fixed=fixed_views, thread=threading.current_thread().name, cancel=cancel)
        note("fake fit_views")
        result = measured_result(drawings, style, [fixed_views[i] for i in range(len(drawings))], ["given"] * 2)
        for view in result.views:
            view.iou = 0.25
        return result

    monkeypatch.setattr("avatar_app.fit.search.fit_views", fake_fit_views)
    monkeypatch.setattr("avatar_app.fit.run.find_landmarks", lambda drawings, note: [None] * len(drawings))
    editor = open_editor(qtbot, make_window(), character_folder)
    name, (low, high) = next(iter(shape_tables()[0].items()))
    editor.shape_controls[name].setValue(high)
    before = (character_folder / "character.json").read_text()
    with qtbot.waitSignal(editor.task_log.finished, timeout=60_000):
        editor.refit_button.click()
        assert editor.close_button.text() == "Cancel re-fit"
    assert not editor.task_log.status_is_error, editor.task_log.status.text()
    assert getattr(seen["style"], name) == high, "the re-fit starts from the edited shape"
    stored = editor.edit.folder.views
    assert {i: p.to_dict() for i, p in seen["fixed"].items()} == {i: v["params"] for i, v in enumerate(stored)}
    assert seen["thread"] == "gui-re-fit" and seen["cancel"] is not None
    assert [label.text() for label in editor.view_ious] == ["0.250", "0.250"]
    assert editor.edit.overlay is not None and editor.edit.overlay.dtype == np.uint8
    assert editor.changed and "fake fit_views" in editor.task_log.log.toPlainText()
    assert (character_folder / "character.json").read_text() == before, "a re-fit is saved only by Save"


def test_saving_the_open_character_restarts_the_live_avatar_with_its_new_body(qtbot, make_window, good_sheet, tmp_path):
    """Same paths, same settings: the window restarts the session, and the session reads the new avatar.glb."""
    from avatar_app.pipeline.defaults import load_character
    from avatar_app.pipeline.session import LiveSession

    from character_helpers import write_character

    folder = write_character(tmp_path / "full_char", good_sheet, framing="full", cut=None)
    bodies = []

    def loader(path=None):
        bodies.append(path)
        return load_character(path)

    window = make_window(session=LiveSession(character_loader=loader))
    editor = open_editor(qtbot, window, folder)
    window.start()
    qtbot.waitUntil(lambda: window.session.snapshot().phase == "running", timeout=10_000)
    config = window.session.wanted_config
    assert bodies == [folder / "avatar.glb"]
    name, (low, high) = next(iter(shape_tables()[0].items()))
    editor.shape_controls[name].setValue(high)
    with qtbot.waitSignal(editor.task_log.finished, timeout=60_000):
        editor.save()
    qtbot.waitUntil(lambda: len(bodies) == 2, timeout=10_000)
    assert bodies[1] == folder / "avatar.glb" and window.session.wanted_config == config
    qtbot.waitUntil(lambda: window.session.snapshot().phase == "running", timeout=10_000)


def test_the_overlay_and_ious_follow_the_controls_before_any_save(qtbot, make_window, character_folder):
    editor = open_editor(qtbot, make_window(), character_folder)
    before = editor.edit.picture().copy()
    stored = (character_folder / "character.json").read_text()
    name, (low, high) = next(iter(shape_tables()[0].items()))
    editor.shape_controls[name].setValue(high)
    qtbot.waitUntil(lambda: editor.edit.overlay is not None and editor.preview_task is None, timeout=30_000)
    first = editor.edit.overlay.copy()
    assert first.shape != before.shape or np.abs(first.astype(int) - before.astype(int)).max() > 0
    assert [label.text() for label in editor.view_ious] == [f"{v.iou:.3f}" for v in editor.edit.views]
    editor.shape_controls[name].setValue(low)
    qtbot.waitUntil(lambda: editor.edit.overlay is not first and editor.preview_task is None, timeout=30_000)
    changed = np.abs(editor.edit.overlay.astype(int) - first.astype(int)).max(axis=-1) > 40
    assert changed.mean() > 0.002, "the proxy drawn over the drawings changed with its shape"
    assert "not saved" in editor.note.text()
    assert (character_folder / "character.json").read_text() == stored, "nothing is written before Save"
