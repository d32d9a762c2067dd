"""The FrameSink contract and the buffered pixel conversions every sink uses."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import RgbaFrame
from avatar_app.outputs import FrameMismatchError, FrameSink, SinkClosedError
from avatar_app.outputs._pixels import OverBackground, StraightRgba8


class RecordingSink(FrameSink):
    def __init__(self, width=None, height=None):
        super().__init__(width, height)
        self.received = []
        self.close_calls = 0

    def _send(self, frame):
        self.received.append(frame)

    def _close(self):
        self.close_calls += 1


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
    background=st.tuples(*[st.integers(0, 255)] * 3),
)
def test_buffered_conversions_equal_the_frame_methods_bit_for_bit(height, width, seed, background):
    rng = np.random.default_rng(seed)
    alpha = rng.random((height, width, 1), dtype=np.float32)
    alpha[rng.random((height, width)) < 0.3] = 0.0
    alpha[rng.random((height, width)) < 0.2] = 1.0
    alpha[rng.random((height, width)) < 0.1] = 1e-7  # below the un-premultiply threshold
    frame = RgbaFrame(np.concatenate([rng.random((height, width, 3), dtype=np.float32) * alpha, alpha], axis=-1))

    assert np.array_equal(OverBackground(height, width, background)(frame), frame.over(background))
    out = np.empty((height, width, 4), np.uint8)
    assert np.array_equal(StraightRgba8(height, width).into(frame, out), frame.to_straight_rgba8())


def test_conversions_reuse_their_buffers_across_frames(make_random_frame):
    composite = OverBackground(16, 16, (0, 255, 0))
    first = composite(make_random_frame(16, 16))
    second = composite(make_random_frame(16, 16))
    assert first is second  # one buffer per sink, not one per frame


def test_frame_of_another_size_is_rejected_naming_expected_and_actual(make_regions_frame):
    sink = RecordingSink(width=64, height=48)
    with pytest.raises(FrameMismatchError) as info:
        sink.send(make_regions_frame(height=32, width=32))
    message = str(info.value)
    assert "(48, 64, 4) float32" in message and "(32, 32, 4) float32" in message and "Fix:" in message
    assert isinstance(info.value, ValueError)
    assert sink.received == []


def test_sink_without_a_size_takes_the_first_frames_size(make_regions_frame):
    sink = RecordingSink()
    assert sink.size is None
    sink.send(make_regions_frame(height=48, width=64))
    assert sink.size == (64, 48)
    with pytest.raises(FrameMismatchError):
        sink.send(make_regions_frame(height=64, width=64))
    assert sink.frames_sent == 1


def test_send_takes_only_rgba_frames():
    sink = RecordingSink(4, 4)
    with pytest.raises(TypeError, match="RgbaFrame"):
        sink.send(np.zeros((4, 4, 4), np.float32))


def test_close_runs_once_and_send_after_close_is_refused(make_regions_frame):
    with RecordingSink() as sink:
        sink.send(make_regions_frame())
    sink.close()
    assert sink.closed and sink.close_calls == 1
    with pytest.raises(SinkClosedError, match="after close"):
        sink.send(make_regions_frame())


@pytest.mark.parametrize("width, height", [(0, 48), (64, -1), (64.0, 48), (64, None), (True, 48)])
def test_bad_sizes_are_setting_errors(width, height):
    with pytest.raises(SettingError):
        RecordingSink(width, height)
