"""Frames in flight (pipeline/pacing.py, ConrRenderer(frames_in_flight=N)): N frames rendered at once
on torch lanes, spaced, delivered in source order, drained before the renderer closes."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import RgbaFrame
from avatar_app.core.timing import StageStats
from avatar_app.infer.torch_thread import THREAD_NAME
from avatar_app.pipeline import ConrRenderer, LivePipeline, MotionSource
from avatar_app.pipeline.live_frame import LiveFrame
from avatar_app.pipeline.pacing import FramesInFlight, RenderPacer
from avatar_app.rig import DemoMotion

from helpers import ManualClock
from pipeline_helpers import SIZE

DEFAULT_SHEET = Path(__file__).resolve().parents[2] / "assets" / "characters" / "default" / "sheet"


def test_one_lane_is_busy_while_it_renders_and_skips_poses_until_the_last_before_it_ends():
    clock = ManualClock()
    pacer = RenderPacer(clock, lanes=1)
    for k in range(4):
        pacer.pose_arrived(k / 30)
    pacer.raster_took(0.005)
    assert not pacer.busy and not pacer.skip()
    pacer.render_started(1)
    clock.advance(0.1)
    pacer.render_ended(1)  # renders take 0.1 s
    pacer.render_started(2)
    assert pacer.busy and pacer.busy_for_s() == pytest.approx(0.1)
    assert pacer.skip(), "a later pose will still be rasterized in time"
    clock.advance(0.07)  # 30 ms left, the next pose in 33 ms: this one is the last before the end
    assert not pacer.skip()


def test_two_lanes_take_a_second_frame_half_a_render_after_the_first():
    clock = ManualClock()
    pacer = RenderPacer(clock, lanes=2)
    pacer.render_started(1)
    assert pacer.spacing_s() == 0.0 and not pacer.busy, "no estimate yet: start the second lane at once"
    clock.advance(0.2)
    pacer.render_ended(1)  # a frame takes 0.2 s on one lane
    pacer.render_started(2)
    assert pacer.busy and pacer.spacing_s() == pytest.approx(0.1), "the next start half a render later"
    clock.advance(0.1)
    assert not pacer.busy and pacer.busy_for_s() <= 0.0
    pacer.render_started(3)
    assert pacer.busy and pacer.busy_for_s() == pytest.approx(0.1), "both lanes busy: until the oldest ends"


class HandRenderer:
    """Frames the test finishes by hand, in any order."""

    lanes = 2

    def __init__(self):
        self.futures: list[Future] = []

    def express(self, expression) -> None:
        pass

    def submit(self, udp, color) -> Future:
        self.futures.append(Future())
        return self.futures[-1]


def test_results_go_on_in_source_order_and_a_render_that_ends_after_a_newer_one_is_dropped():
    renderer, delivered, failures = HandRenderer(), [], []
    flight = FramesInFlight(renderer, RenderPacer(ManualClock(), 2), StageStats(), delivered.append, failures.append)
    frames = [LiveFrame(k, float(k)) for k in (1, 2, 3)]
    for frame in frames[:2]:
        assert flight.wait_for_lane(0.01)
        flight.start(frame)
    assert not flight.wait_for_lane(0.01), "two lanes, two frames in flight: no third"
    result = RgbaFrame(np.zeros((2, 2, 4), np.float32))
    renderer.futures[1].set_result(result)  # frame 2 ends first ...
    renderer.futures[0].set_result(result)  # ... so frame 1 is late
    assert [f.index for f in delivered] == [2] and flight.late == 1
    assert delivered[0].rgba is result
    assert flight.wait_for_lane(0.01)
    flight.start(frames[2])
    renderer.futures[2].set_exception(ValueError("broken"))
    assert [type(e) for e in failures] == [ValueError] and len(delivered) == 1
    done = threading.Event()
    threading.Thread(target=lambda: (flight.drain(2.0), done.set())).start()
    assert done.wait(3.0), "nothing is in flight: drain returns"


def test_frames_in_flight_is_checked():
    from avatar_app.pipeline.renderers import _lanes

    for bad in (0, 5, 2.0, "2"):
        with pytest.raises(SettingError, match="frames in flight"):
            _lanes(bad, "torch", "cpu")
    assert _lanes(2, "onnxruntime", "cpu") == 1, "other backends render one frame at a time"


def test_two_lanes_render_the_same_frames_on_two_threads_in_order(
    lite_networks, character, make_sink, no_new_threads, monkeypatch
):
    from avatar_app.core.frames import UdpMap
    from avatar_app.io.sheet import load_sheet

    sheet = load_sheet(DEFAULT_SHEET, size=SIZE, max_views=1)
    udp = np.zeros((SIZE, SIZE, 4), np.float32)
    udp[8:40, 20:44] = (0.5, 0.6, 0.5, 1.0)
    with ConrRenderer(lite_networks, sheet) as one:
        single = one.render(UdpMap(udp), None).data
    renderer = ConrRenderer(lite_networks, sheet, frames_in_flight=2)
    assert renderer.lanes == 2
    for _ in range(2):  # each lane, single-threaded: the picture one lane makes on two threads
        np.testing.assert_allclose(renderer.submit(UdpMap(udp), None).result().data, single, atol=2e-4)

    threads: set[str] = set()
    real_frame = ConrRenderer._frame

    def frame_on(self, *args):
        threads.add(threading.current_thread().name)
        return real_frame(self, *args)

    monkeypatch.setattr(ConrRenderer, "_frame", frame_on)
    sink = make_sink()
    with LivePipeline(
        MotionSource(DemoMotion()), renderer, [sink], character=character, size=SIZE, max_frames=8
    ) as pipeline:
        assert pipeline.wait(120)
    pipeline.raise_if_failed()
    assert len(sink.frames) == 8 and pipeline.status.stages_ms["render"]["count"] >= 8
    timestamps = [f.timestamp for f in sink.frames]
    assert timestamps == sorted(timestamps), "frames reach the sinks in source order"
    assert threads == {f"{THREAD_NAME}_0", f"{THREAD_NAME}-1_0"}, "frames on both lanes"


def test_the_setting_is_refused_before_anything_loads():
    from avatar_app.pipeline import PipelineSettings, SourceSpec

    with pytest.raises(SettingError, match="--frames-in-flight.*from 1 to 4.*0"):
        PipelineSettings(SourceSpec("demo"), renderer="proxy", frames_in_flight=0).check()
    PipelineSettings(SourceSpec("demo"), renderer="proxy", frames_in_flight=2).check()
