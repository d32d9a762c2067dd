"""Adapt… in the window: the real `avatar-app adapt` in a QProcess on a tiny character at 128²,
its progress, cancel and errors in the dialog, and the live view switching to the adapted weights."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from avatar_app.cli.adapt import _progress
from avatar_app.gui.adapt_dialog import AdaptDialog, parse_progress
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, DEFAULT_WEIGHTS

from adapt_helpers import TINY_SIZE

SIZE = TINY_SIZE
RUN_MS = 90_000  # a guard against a hang (a run here takes ~15 s), never a speed check
pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_dir(), reason="needs the shipped lite weights")


@pytest.fixture
def tiny(tiny_adapt) -> Path:
    return tiny_adapt


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def runs_with(window, weights: Path) -> bool:
    snapshot = window.session.snapshot()
    return snapshot.phase == "running" and snapshot.config.weights == weights


def small_run(dialog: AdaptDialog, minutes: float) -> None:
    dialog.minutes.setValue(minutes)
    dialog.size.setCurrentIndex(dialog.size.findData(SIZE))
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))


def test_the_dialog_reads_the_lines_the_cli_prints():
    out = io.StringIO()
    report, _ = _progress("lines", 900.0)
    with contextlib.redirect_stdout(out):
        report(SimpleNamespace(elapsed_s=61.25, total_s=900.0, step=42, loss=0.1234, holdout=0.3456, best=0.3001))
    line = parse_progress(out.getvalue())
    assert line is not None, out.getvalue()
    assert (line.elapsed_s, line.total_s, line.step) == (61.2, 900.0, 42)
    assert (line.loss, line.holdout, line.best) == (0.1234, 0.3456, 0.3001)
    assert parse_progress("adapt Tiny: 1 view(s) at 128², rendering 264 poses ...") is None


def test_adapt_is_offered_only_for_a_fitted_folder_and_not_the_built_in_one(make_window, character_folder, tiny):
    window = make_window()
    panel = window.character_panel
    assert panel.choice.folder.root.resolve() == DEFAULT_CHARACTER.resolve()
    assert not panel.adapt_button.isEnabled()
    assert "the built-in character ships its weights" in panel.adapt_button.toolTip()
    assert panel.adapt() is None and panel.message_is_error
    assert panel.open_path(character_folder)  # made without a fit's sheet_udp/
    assert not panel.adapt_button.isEnabled()
    assert "run fit first" in panel.adapt_button.toolTip()
    assert panel.open_path(tiny)
    assert panel.adapt_button.isEnabled(), panel.adapt_button.toolTip()


def test_adapt_trains_in_its_own_process_and_the_live_view_switches_to_the_weights(qtbot, make_window, tiny):
    window = make_window()
    panel = window.character_panel
    assert panel.open_path(tiny)
    window.start()
    qtbot.waitUntil(lambda: window.session.snapshot().phase == "running", timeout=20_000)
    assert window.session.wanted_config.weights is None, "no weights yet: the proxy renders"
    panel.adapt_button.click()
    dialog = panel.adapt_dialog
    assert dialog is not None and dialog.isVisible() and dialog.root == tiny
    small_run(dialog, 0.1)
    values = []
    dialog.bar.valueChanged.connect(values.append)
    with qtbot.waitSignal(dialog.runFinished, timeout=RUN_MS) as finished:
        assert dialog.start()
        assert dialog.running
    assert finished.args == ["done"] and dialog.exit_code == 0, dialog.status.text()
    assert any(0 < v < 1000 for v in values), values  # it moved on the way, not only at the end
    assert dialog.bar.value() == 1000 and dialog.status.text().startswith("Done") and not dialog.status_is_error
    assert dialog.last is not None and dialog.last.step > 0 and "held-out" in dialog.numbers.text()
    assert dialog.preparing is not None and dialog.preparing.stage, "the run said how its preparation went"
    assert "since Start · trained" in dialog.times.text() and "left" not in dialog.times.text(), dialog.times.text()
    report = json.loads((tiny / "weights" / "adapt.json").read_text())
    assert report["finished"] and report["settings"]["size"] == SIZE
    assert dialog.preview_shown and not dialog.preview.pixmap().isNull()
    assert panel.choice.weights == tiny / "weights" and window.weights == tiny / "weights"
    assert "adapted weights" in panel.message.text()
    qtbot.waitUntil(lambda: window.session.wanted_config.weights == tiny / "weights", timeout=20_000)
    assert window.session.wanted_config.renderer == "conr"
    qtbot.waitUntil(lambda: runs_with(window, tiny / "weights"), timeout=30_000)


def test_cancel_stops_after_the_step_and_keeps_the_best_weights(qtbot, tiny):
    dialog = AdaptDialog(tiny)
    qtbot.addWidget(dialog)
    dialog.show()
    small_run(dialog, 10.0)
    changed = []
    dialog.weightsChanged.connect(changed.append)
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.last is not None, timeout=RUN_MS)  # training began
    pid = dialog.process.processId()
    assert dialog.close_button.text() == "Cancel"
    with qtbot.waitSignal(dialog.runFinished, timeout=RUN_MS) as finished:
        dialog.close_button.click()
        assert "stopping after this step, keeping the best weights" in dialog.status.text().lower()
    assert finished.args == ["cancelled"] and dialog.exit_code == 130, dialog.status.text()
    assert "best weights so far are kept" in dialog.status.text() and not dialog.status_is_error
    assert not json.loads((tiny / "weights" / "adapt.json").read_text())["finished"]
    assert changed == [tiny]
    assert not dialog.running and gone(pid)
    assert dialog.start_button.isEnabled() and dialog.close_button.text() == "Close"
    again = AdaptDialog(tiny)
    qtbot.addWidget(again)
    assert "adapted for 0." in again.status.text() and "goes on" in again.status.text(), again.status.text()


def test_closing_the_window_stops_a_run_and_leaves_no_process(qtbot, tiny):
    dialog = AdaptDialog(tiny)
    qtbot.addWidget(dialog)
    small_run(dialog, 10.0)
    changed = []
    dialog.weightsChanged.connect(changed.append)
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.process.processId() > 0, timeout=10_000)
    pid = dialog.process.processId()
    dialog.join(timeout=30.0)
    assert not dialog.running and gone(pid)
    assert dialog.outcome in ("cancelled", "done") and changed == [], "a closing window reopens nothing"


def test_closing_the_dialog_while_running_cancels_first(qtbot, tiny):
    dialog = AdaptDialog(tiny)
    qtbot.addWidget(dialog)
    dialog.show()
    small_run(dialog, 10.0)
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.process.processId() > 0, timeout=10_000)
    pid = dialog.process.processId()
    dialog.close()
    assert dialog.isVisible() and "Stopping" in dialog.status.text(), "it waits for the run to end"
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=RUN_MS)
    assert gone(pid) and dialog.outcome == "cancelled"


def test_bad_input_shows_the_cli_error_as_it_is(qtbot, character_folder):
    dialog = AdaptDialog(character_folder)  # no sheet_udp/: the CLI exits 2 with the fix
    qtbot.addWidget(dialog)
    small_run(dialog, 1.0)
    with qtbot.waitSignal(dialog.runFinished, timeout=RUN_MS) as finished:
        assert dialog.start()
    assert finished.args == ["failed"] and dialog.exit_code == 2
    said = [line for line in dialog.log.toPlainText().splitlines() if line.startswith("avatar-app: error:")]
    assert len(said) == 1, dialog.log.toPlainText()
    assert said[0] in dialog.status.text() and "sheet_udp" in said[0] and "avatar-app fit" in said[0]
    assert dialog.status_is_error and not (character_folder / "weights").exists()
