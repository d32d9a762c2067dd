"""What Adapt… shows while a run prepares and trains, fed the CLI's lines on an injected clock (no process):
the preparation's stage and time left, time trained and time left, and the held-out error smoothed."""

from __future__ import annotations

import contextlib
import io

import pytest

from avatar_app.cli.adapt import _preparing
from avatar_app.gui.adapt_dialog import AdaptDialog
from avatar_app.gui.adapt_readout import parse_preparing
from avatar_app.training.adapt_progress import PrepareStatus


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dialog(qtbot, tmp_path, clock) -> AdaptDialog:
    dialog = AdaptDialog(tmp_path / "char", clock=clock)
    qtbot.addWidget(dialog)
    return dialog


def test_the_preparing_lines_the_cli_prints_are_read_back():
    out = io.StringIO()
    line = _preparing("lines", print)
    with contextlib.redirect_stdout(out):
        line(PrepareStatus("rendering the training poses", 120, 256, 35.04, 20.4))
        line(PrepareStatus("scoring the starting weights", 0, 8, 36.0, None))
    first, second = (parse_preparing(text) for text in out.getvalue().splitlines())
    assert (first.stage, first.done, first.total, first.elapsed_s, first.left_s) == (
        "rendering the training poses",
        120,
        256,
        35.0,
        20.4,
    )
    assert second.left_s is None and second.stage == "scoring the starting weights"


def test_preparation_shows_its_stage_and_a_time_left_that_counts_down(dialog, clock):
    dialog.minutes.setValue(15.0)
    clock.now += 4.0
    dialog.read_line("preparing 1.0 - 3 8 rendering the held-out poses")
    assert "rendering the held-out poses (3 of 8)" in dialog.status.text()
    assert dialog.times.text() == "0:04 since Start · preparing, estimating the time left, then training for 15:00"
    clock.now += 10.0
    dialog.read_line("preparing 12.0 40.0 4 8 scoring the starting weights")
    assert "scoring the starting weights (4 of 8)" in dialog.status.text()
    assert "0:14 since Start · preparing, about 0:40 left" in dialog.times.text()
    assert dialog.bar.value() == round(1000 * 12 / 52)
    clock.now += 10.0
    dialog._show_times()  # the dialog's timer, between lines
    assert "0:24 since Start · preparing, about 0:30 left" in dialog.times.text()
    assert "Preparing" in dialog.bar.format()


def test_the_time_readout_never_says_of_a_smaller_total(dialog, clock):
    clock.now += 200.0
    dialog.read_line("progress 54.0 6.0 step 1 loss 0.2600 holdout 0.3000 best 0.3000")
    text = dialog.times.text()
    assert text == "3:20 since Start · trained 0:54 · finishing (scoring and saving the best weights)"
    assert " of " not in text and dialog.bar.value() == 1000
    dialog.read_line("progress 62.0 900.0 step 40 loss 0.2600 holdout 0.3000 best 0.3000")
    assert dialog.times.text() == "3:20 since Start · trained 1:02 · about 13:58 left"
    assert "Training" in dialog.bar.format()


def test_the_held_out_error_is_shown_smoothed_not_the_training_loss(dialog):
    dialog.read_line("progress 1.0 900.0 step 1 loss 0.2600 holdout 0.3000 best 0.3000")
    dialog.read_line("progress 2.0 900.0 step 2 loss 5.5700 holdout 0.3000 best 0.3000")  # one bad batch
    assert "5.57" not in dialog.numbers.text() and "0.3000 now" in dialog.numbers.text()
    dialog.read_line("progress 61.0 900.0 step 30 loss 0.1900 holdout 0.2000 best 0.2000")  # the next evaluation
    dialog.read_line("progress 62.0 900.0 step 31 loss 0.1800 holdout 0.2000 best 0.2000")  # the same one, again
    text = dialog.numbers.text()
    assert text == "Error on held-out poses: 0.2500 now (smoothed) · 0.3000 at the start · 17% lower (better)"
    assert "held-out" in text and "0.19" not in text
    assert "training loss 0.1800" in dialog.numbers.toolTip(), "the raw numbers stay one hover away"
