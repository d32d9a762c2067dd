"""Expressions over time: smoothing, the idle blink, the webcam's face values."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.rig.expressions import Expression, blink_shape
from avatar_app.tracking.expression_filter import (
    ExpressionFilter,
    ExpressionTrack,
    ExpressionTuning,
    IdleBlink,
    expression_from_head,
)
from avatar_app.tracking.landmarks import HeadState


def test_smoothing_follows_fast_for_lids_slowly_for_emotions():
    f = ExpressionFilter()
    f.filter(Expression(), 0.0)
    out = f.filter(Expression.of(blinkLeft=1.0, happy=1.0), 1 / 30)
    assert out["blinkLeft"] > 0.6  # a 0.15 s blink survives
    assert out["happy"] < 0.3  # jitter in a smile does not flicker
    for k in range(2, 40):
        out = f.filter(Expression.of(blinkLeft=1.0, happy=1.0), k / 30)
    assert out["happy"] > 0.99


def test_after_a_gap_the_filter_starts_again_from_the_value():
    f = ExpressionFilter()
    f.filter(Expression(), 0.0)
    assert f.filter(Expression.of(happy=1.0), 5.0)["happy"] == 1.0


def test_idle_blink_blinks_every_two_to_six_seconds_and_is_seeded():
    times = np.arange(0.0, 60.0, 1 / 100)
    blink = IdleBlink(seed=3)
    lids = np.array([blink.at(t) for t in times])
    closed = lids > 0.99
    starts = times[1:][closed[1:] & ~closed[:-1]]
    gaps = np.diff(starts)
    assert 9 <= len(starts) <= 35, len(starts)
    assert gaps.max() < 6.5 and np.median(gaps) > 1.5
    again = IdleBlink(seed=3)
    np.testing.assert_array_equal(lids, [again.at(t) for t in times])


def test_blink_shape_is_a_short_closing():
    assert blink_shape(-0.01) == 0.0 and blink_shape(0.07) == 1.0 and blink_shape(0.2) == 0.0
    assert 0.0 < blink_shape(0.03) < 1.0 and 0.0 < blink_shape(0.12) < 1.0


def test_a_source_that_sends_eyelids_gets_no_idle_blink():
    track = ExpressionTrack("test", smoothing=False)
    lids = [track.update_raw({"Blink": 0.0, "A": 0.5}, t)["blink"] for t in np.arange(0.0, 10.0, 0.01)]
    assert max(lids) == 0.0
    idle = ExpressionTrack("test", smoothing=False)
    lids = [idle.update_raw({"A": 0.5}, t)["blink"] for t in np.arange(0.0, 10.0, 0.01)]
    assert max(lids) == 1.0


def test_face_mesh_values_become_an_expression_left_to_left():
    head = HeadState(np.array([0.0, 0, 0, 1]), 0.0, 0.0, 0.0, blink_left=0.9, blink_right=0.1, mouth_open=0.5)
    e = expression_from_head(head)
    assert (e["blinkLeft"], e["blinkRight"], e["aa"]) == pytest.approx((0.9, 0.1, 0.5))
    mirrored = expression_from_head(head, mirror=True)
    assert mirrored["blinkLeft"] == pytest.approx(0.1)
    nan = HeadState(np.array([0.0, 0, 0, 1]), 0.0, 0.0, 0.0, blink_left=float("nan"), mouth_open=2.0)
    assert expression_from_head(nan)["blinkLeft"] == 0.0 and expression_from_head(nan)["aa"] == 1.0
    assert expression_from_head(HeadState(np.array([0.0, 0, 0, 1]), 0.0, 0.0, 0.0)) is None


def test_the_track_applies_the_users_tuning_and_keeps_the_raw_values():
    from avatar_app.tracking.expression_filter import GroupTuning

    track = ExpressionTrack("test", smoothing=False, idle_blink=False)
    track.tuning = ExpressionTuning().with_group("mouth", GroupTuning.from_gain(2.0, 0.1))
    out = track.update(Expression.of(aa=0.3, blinkLeft=0.4), 0.0)
    assert out["aa"] == pytest.approx(0.4) and out["blinkLeft"] == pytest.approx(0.4)
    assert track.raw["aa"] == pytest.approx(0.3)
    with pytest.raises(Exception, match="again"):
        GroupTuning(0.5, 0.51)
