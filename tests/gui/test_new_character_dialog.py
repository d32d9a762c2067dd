"""New character from drawings: the fit runs off the UI thread, its notes show, Cancel leaves nothing
behind, an error is shown as its text, and the character made is opened in the window."""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path

import pytest

from avatar_app.core.errors import SheetError

from character_helpers import fake_fit_folder

REPO = Path(__file__).resolve().parents[2]
EILEEN = REPO / "examples" / "drawn" / "eileen"


def open_dialog(window, drawings: Path, out: Path):
    window.new_character_action.trigger()
    dialog = window.character_panel.new_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.drawings_edit.setText(str(drawings))
    dialog.out_edit.setText(str(out))
    dialog.out_edit.textEdited.emit(str(out))  # as typed: it no longer follows the drawings' name
    return dialog


def test_a_fit_that_works_opens_the_new_character_in_the_window(qtbot, make_window, good_sheet, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("avatar_app.fit.run.fit_folder", fake_fit_folder(calls))
    window = make_window()
    out = tmp_path / "made"
    dialog = open_dialog(window, good_sheet, out)
    with qtbot.waitSignal(dialog.characterMade, timeout=10_000) as made:
        assert dialog.start()
    assert made.args == [out]
    [(sheet, written, cancel, thread)] = calls
    assert sheet == good_sheet and written == out and cancel is dialog.task_log.task.cancelled
    assert thread == "gui-fit" != threading.current_thread().name, "the fit ran on a background task"
    qtbot.waitUntil(lambda: "fake fit of" in dialog.task_log.log.toPlainText(), timeout=2_000)
    assert f"Made {out}" in dialog.task_log.status.text() and not dialog.task_log.status_is_error
    panel = window.character_panel
    assert panel.choice.folder is not None and panel.choice.folder.root == out
    assert "Test Character" in panel.body_label.text()
    assert window.config().character == out / "avatar.glb"


def test_a_fit_that_fails_shows_the_error_text_and_opens_nothing(qtbot, make_window, good_sheet, tmp_path, monkeypatch):
    def broken(sheet, out, **kwargs):
        raise SheetError(Path(sheet) / "front.png", "an alpha channel", "none", "export it with transparency")

    monkeypatch.setattr("avatar_app.fit.run.fit_folder", broken)
    window = make_window()
    dialog = open_dialog(window, good_sheet, tmp_path / "made")
    with qtbot.waitSignal(dialog.task_log.finished, timeout=10_000):
        dialog.start()
    text = dialog.task_log.status.text()
    assert dialog.task_log.status_is_error and "front.png" in text and "Fix: export it with transparency" in text
    assert window.character_panel.choice.body is None, "the built-in character stays"
    assert dialog.start_button.isEnabled() and dialog.cancel_button.text() == "Close"


def test_without_a_drawings_folder_the_dialog_says_so_and_starts_nothing(make_window, tmp_path):
    window = make_window()
    dialog = open_dialog(window, tmp_path / "nowhere", tmp_path / "made")
    assert not dialog.start()
    assert dialog.task_log.status_is_error and "folder of drawings" in dialog.task_log.status.text()
    assert dialog.task_log.task is None


def test_the_dialog_says_which_files_are_views_and_which_expressions(make_window, tmp_path):
    window = make_window()
    dialog = open_dialog(window, EILEEN, tmp_path / "made")
    text = dialog.plan.text()
    assert text.startswith("1 view, 2 expressions: fits happy.png"), text
    assert "very_happy_mouth_open.png: happy.png's expression 'mouth_open'" in text
    assert "concerned.png: happy.png's expression 'sad'" in text


def test_cancel_stops_a_real_fit_and_writes_nothing(qtbot, make_window, good_sheet, tmp_path):
    window = make_window()
    out = tmp_path / "characters" / "cancelled"
    out.parent.mkdir()  # where the fitter's temporary folder would be left
    dialog = open_dialog(window, good_sheet, out)
    assert dialog.start()
    assert dialog.cancel_button.text() == "Cancel" and not dialog.start_button.isEnabled()
    # once the search compares silhouettes, the fitter checks the event between two of them
    qtbot.waitUntil(lambda: "start from" in dialog.task_log.log.toPlainText(), timeout=60_000)
    with qtbot.waitSignal(dialog.task_log.finished, timeout=60_000):
        dialog.cancel_button.click()
    assert "Cancelled: nothing was written" in dialog.task_log.status.text()
    assert not out.exists() and not any(out.parent.iterdir()), "no folder, no temporary left behind"
    assert window.character_panel.choice.body is None
    assert dialog.isVisible(), "the first Cancel stops the fit; the dialog stays to say so"


@pytest.mark.slow
def test_the_real_fit_of_eileen_through_the_dialog_makes_a_character_the_window_uses(
    qtbot, make_window, tmp_path, monkeypatch
):
    from avatar_app.fit import run

    # the real fit, one refinement round instead of two (a minute less on two shared cores)
    monkeypatch.setattr(run, "fit_folder", functools.partial(run.fit_folder, rounds=1))
    window = make_window()
    out = tmp_path / "eileen"
    dialog = open_dialog(window, EILEEN, out)
    with qtbot.waitSignal(dialog.characterMade, timeout=180_000):
        dialog.start()
    info = json.loads((out / "character.json").read_text())
    assert [v["file"] for v in info["views"]] == ["sheet/happy.png"], "one view; the others are its expressions"
    assert sorted(info["expressions"]) == ["mouth_open", "sad"]
    assert all(v["iou"] > 0.6 for v in info["views"]), [v["iou"] for v in info["views"]]
    assert info["framing"]["name"] != "full", "the drawings stop above the feet"
    assert (out / "avatar.glb").is_file() and (out / "fit.png").is_file()
    assert window.character_panel.choice.folder.root == out
    assert window.config().character == out / "avatar.glb"
    assert window.config().framing == pytest.approx(info["framing"]["cut"])


def test_a_view_the_fit_cannot_tell_the_side_of_is_asked_and_the_answer_passed_on(
    qtbot, make_window, good_sheet, tmp_path, monkeypatch
):
    from avatar_app.fit.facing import FacingUnknown

    given = []

    def fit_folder(sheet, out, *, facing=None, **kwargs):
        given.append(dict(facing or {}))
        if not facing:
            raise FacingUnknown(Path(sheet) / "front.png", "a drawn face", "none", "say which way it faces")
        return fake_fit_folder()(sheet, out, **kwargs)

    monkeypatch.setattr("avatar_app.fit.run.fit_folder", fit_folder)
    window = make_window()
    dialog = open_dialog(window, good_sheet, tmp_path / "made")
    with qtbot.waitSignal(dialog.task_log.finished, timeout=10_000):
        dialog.start()
    assert dialog.facing_combo.isVisibleTo(dialog) and "front.png" in dialog.facing_label.text()
    assert dialog.task_log.status_is_error and "choose it below" in dialog.task_log.status.text()
    dialog.facing_combo.setCurrentIndex(dialog.facing_combo.findData(180.0))
    with qtbot.waitSignal(dialog.characterMade, timeout=10_000):
        dialog.start()
    assert given == [{}, {"front": 180.0}]


def test_the_fit_fills_a_bar_with_the_time_left(qtbot, make_window, good_sheet, tmp_path, monkeypatch):
    release = threading.Event()

    def fit_folder(sheet, out, *, progress, cancel=None, **kwargs):
        progress(0.5)
        release.wait(10)
        return fake_fit_folder()(sheet, out, cancel=cancel, **kwargs)

    monkeypatch.setattr("avatar_app.fit.run.fit_folder", fit_folder)
    window = make_window()
    dialog = open_dialog(window, good_sheet, tmp_path / "made")
    assert dialog.start()
    bar = dialog.task_log.busy
    qtbot.waitUntil(lambda: bar.value() == bar.maximum() // 2, timeout=5_000)
    assert bar.maximum() > 0 and "s left" in bar.format()
    with qtbot.waitSignal(dialog.characterMade, timeout=10_000):
        release.set()
