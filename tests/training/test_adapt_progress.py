"""Adapt's preparation reports its stage and an estimate of the time left (an injected clock), and a
real run on a tiny character goes through the stages in order with the estimate known before the bulk."""

from __future__ import annotations

import pytest

from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS
from avatar_app.training import adapt_progress as stages
from avatar_app.training.adapt import AdaptSettings
from avatar_app.training.adapt_folder import adapt_folder
from avatar_app.training.adapt_progress import PrepareProgress, adapt_stages

from adapt_helpers import TINY_SIZE


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_the_estimate_is_every_unit_left_times_its_kinds_pace():
    clock = Clock()
    seen = []
    progress = PrepareProgress(adapt_stages(100, 4, scoring=True, before=True), report=seen.append, clock=clock)
    clock.now += 3.0  # loading the weights: no stage's work
    progress.begin(stages.HELD_OUT_POSES)
    for _ in range(4):
        clock.now += 0.5
        progress.advance(stages.HELD_OUT_POSES)
    progress.begin(stages.HELD_OUT_COLOURS)
    clock.now += 0.4
    progress.advance(stages.HELD_OUT_COLOURS, 4)
    assert progress.left_s() is None, "the network's pace is not known yet"
    progress.begin(stages.SCORING)
    clock.now += 8.0
    progress.advance(stages.SCORING, 2)  # one batch of 2: 4 s a pose through the network
    # left: 2 scoring poses, 100 training poses at 0.5 s, their colours at 0.1 s, 2 'before' pictures
    assert progress.left_s() == pytest.approx(2 * 4.0 + 100 * 0.5 + 100 * 0.1 + 2 * 4.0)
    status = seen[-1]
    assert (status.stage, status.done, status.total) == (stages.SCORING, 2, 4)
    assert status.elapsed_s == pytest.approx(3.0 + 2.0 + 0.4 + 8.0)
    assert status.left_s == pytest.approx(76.0)
    progress.skip(stages.BEFORE)  # a resumed run keeps its 'before' pictures
    assert progress.left_s() == pytest.approx(68.0)


def test_a_real_preparation_reports_its_stages_in_order_with_an_estimate_before_the_training_poses(tiny_adapt):
    if not DEFAULT_WEIGHTS.is_dir():
        pytest.skip("needs the shipped lite weights")
    s = AdaptSettings(minutes=10.0, size=TINY_SIZE, batch=2, poses=12, holdout=4, eval_every_s=1e9, preview_every_s=1e9)
    seen = []
    adapt_folder(tiny_adapt, s, init=DEFAULT_WEIGHTS, steps=1, preparing=seen.append)
    order = [name for name, _, _ in adapt_stages(12, 4, scoring=True, before=True)]
    begun = list(dict.fromkeys(status.stage for status in seen))
    assert begun == order, begun
    first_training_pose = next(st for st in seen if st.stage == stages.TRAINING_POSES)
    assert first_training_pose.left_s is not None and first_training_pose.left_s > 0
    last = seen[-1]
    assert (last.stage, last.done, last.total, last.left_s) == (stages.BEFORE, 2, 2, 0.0)
    elapsed = [st.elapsed_s for st in seen]
    assert elapsed == sorted(elapsed)
