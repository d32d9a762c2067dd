"""The fps readout (`FpsMeter`) on an injected clock: steady at any frame rate, honest when frames stop."""

from __future__ import annotations

import pytest

from avatar_app.pipeline.status import FpsMeter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed(meter: FpsMeter, clock: Clock, gaps_s) -> None:
    for gap in gaps_s:
        clock.now += gap
        meter.tick()


def test_frames_slower_than_two_seconds_still_read_their_rate():
    clock = Clock()
    meter = FpsMeter(clock=clock)
    feed(meter, clock, [3.0] * 5)  # an offline renderer on a CPU: a frame every 3 s
    clock.now += 1.0  # the status bar reads between frames
    assert meter.fps() == pytest.approx(1 / 3.0, rel=1e-6)


def test_two_frames_close_together_do_not_make_the_reading_jump():
    clock = Clock()
    meter = FpsMeter(clock=clock)
    feed(meter, clock, [0.5] * 12)  # 2 fps
    clock.now += 0.1
    before = meter.fps()
    feed(meter, clock, [0.01])  # an in-between frame right after the last one
    clock.now += 0.1
    after = meter.fps()
    assert before == pytest.approx(2.0, rel=1e-6)
    assert after == pytest.approx(before, rel=0.1), (before, after)


def test_a_stalled_pipeline_reads_falling_towards_zero():
    clock = Clock()
    meter = FpsMeter(clock=clock)
    feed(meter, clock, [1 / 30] * 40)
    assert meter.fps() == pytest.approx(30.0, rel=1e-6)
    clock.now += 1 / 30 * 1.5  # a late frame is not a stall
    assert meter.fps() == pytest.approx(30.0, rel=1e-6)
    clock.now += 10.0
    stalled = meter.fps()
    clock.now += 50.0
    assert stalled < 3.0 and meter.fps() < stalled


def test_no_frames_or_one_frame_read_zero():
    clock = Clock()
    meter = FpsMeter(clock=clock)
    assert meter.fps() == 0.0
    feed(meter, clock, [1.0])
    assert meter.fps() == 0.0
