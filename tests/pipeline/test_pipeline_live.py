"""LivePipeline end to end on the real rig and rasterizer: frames, stats, dropping, errors, shutdown."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import UdpMap
from avatar_app.pipeline import LivePipeline, MotionSource, PoseSample, PoseSource, ProxyRenderer
from avatar_app.rig import DemoMotion

from helpers import ManualClock, wait_until
from pipeline_helpers import SIZE, RecordingSink, silhouette

GUARD_S = 30.0  # how long a gated stage waits before giving up: a guard against a hang, never a speed check


def demo_pipeline(character, sinks, renderer=None, source=None, **kw) -> LivePipeline:
    return LivePipeline(
        source or MotionSource(DemoMotion(), 30.0, name="demo"),
        renderer or ProxyRenderer(),
        sinks,
        character=character,
        size=SIZE,
        **kw,
    )


def test_every_sink_gets_exactly_max_frames_with_stage_timings_and_latency(character, make_sink, no_new_threads):
    sinks = [make_sink(name="a"), make_sink(name="b")]
    with demo_pipeline(character, sinks, max_frames=12) as pipeline:
        assert pipeline.wait(30), "the pipeline should end by itself after max_frames"
        status = pipeline.status
    assert status.state == "ended" and status.error is None
    assert status.frames_sent == 12
    assert [len(s.frames) for s in sinks] == [12, 12]
    assert all(s.closed and s.close_thread == "avatar-send" for s in sinks), "sinks are closed by the thread that sends"
    for stage in ("pose", "rig", "raster", "render", "send"):
        assert status.stages_ms[stage]["count"] >= 12
        assert 0 <= status.stages_ms[stage]["p50_ms"] <= status.stages_ms[stage]["p95_ms"]
    assert 0 < status.latency_ms["p50_ms"] <= status.latency_ms["p95_ms"]
    assert status.fps > 0
    assert set(status.dropped) == {"source", "pose", "raster", "render"}
    frame = sinks[0].frames[0]
    assert frame.data.shape == (SIZE, SIZE, 4) and frame.data.dtype == np.float32
    assert 0.02 < silhouette(frame).mean() < 0.6, "the proxy renderer shows the avatar's body"


def test_frames_are_timestamped_by_the_source_and_arrive_in_order(character, make_sink, finite_source):
    source, sink = finite_source(8, fps=20.0), make_sink()
    with demo_pipeline(character, [sink], source=source) as pipeline:
        assert pipeline.wait(30)
    stamps = [f.timestamp for f in sink.frames]
    assert stamps == sorted(stamps) and set(stamps) <= set(source.timestamps)
    assert stamps[-1] == source.timestamps[-1], "end of stream passes the last frame on before ending"
    assert pipeline.status.state == "ended" and source.closed


def test_close_joins_every_thread_it_started(character, make_sink, no_new_threads):
    pipeline = demo_pipeline(character, [make_sink()]).start()
    assert wait_until(lambda: pipeline.frames_sent >= 3)
    assert sorted(t.name for t in pipeline.threads) == ["avatar-pose", "avatar-raster", "avatar-render", "avatar-send"]
    pipeline.close()
    assert not any(t.is_alive() for t in pipeline.threads)
    assert pipeline.status.state == "stopped"
    pipeline.close()  # idempotent


class Gate:
    """Blocks a stage at ``stop()`` until the test calls ``release()``; ``entered`` counts arrivals."""

    def __init__(self):
        self.entered = 0
        self._sem = threading.Semaphore(0)
        self._open = threading.Event()

    def stop(self) -> None:
        self.entered += 1
        if not self._open.is_set():
            self._sem.acquire(timeout=GUARD_S)

    def release(self) -> None:
        self._sem.release()

    def open(self) -> None:
        """Let everything through from now on (so close() can finish)."""
        self._open.set()
        self._sem.release()


class GatedSink(RecordingSink):
    def __init__(self):
        super().__init__(name="gated")
        self.gate = Gate()

    def _send(self, frame):
        super()._send(frame)
        self.gate.stop()


def test_slow_sink_sees_fresh_frames_and_stale_ones_are_dropped_not_queued(character, no_new_threads):
    sink, rendered = GatedSink(), []

    def tap(stage, frame):
        if stage == "render":
            rendered.append(frame.timestamp)

    with demo_pipeline(character, [sink], tap=tap) as pipeline:
        try:
            assert wait_until(lambda: sink.gate.entered == 1, GUARD_S), "the sink holds its first frame"
            first = rendered.index(sink.frames[0].timestamp)
            assert wait_until(lambda: len(rendered) >= first + 12, GUARD_S), "rendering goes on while the sink is busy"
            newest = len(rendered) - 2  # the last one tapped may not be in the slot yet
            sink.gate.release()
            assert wait_until(lambda: sink.gate.entered == 2, GUARD_S)
            second = rendered.index(sink.frames[1].timestamp)
            dropped = pipeline.status.dropped["render"]
        finally:
            sink.gate.open()  # let the stage go, so close() can end it
    # A queue would hand the sink the frame after its first; the slot hands it the newest.
    assert second >= newest > first + 9, (first, second, newest)
    assert dropped >= second - first - 1


class GatedRenderer(ProxyRenderer):
    """A renderer that takes as long as the test says: it waits at a gate while the test moves the clock."""

    name = "gated"

    def __init__(self):
        self.gate, self.udp_times = Gate(), []

    def render(self, udp, color):
        self.udp_times.append(udp.timestamp)
        self.gate.stop()
        return super().render(udp, color)


def test_a_slow_renderer_gets_fresh_rasters_without_the_raster_stage_running_at_full_rate(
    character, make_sink, no_new_threads
):
    clock, renderer, posed = ManualClock(), GatedRenderer(), []

    def tap(stage, frame):
        if stage == "pose":
            posed.append(frame.timestamp)

    def rasters() -> int:
        return pipeline.status.stages_ms.get("raster", {}).get("count", 0)

    with demo_pipeline(character, [make_sink()], renderer=renderer, tap=tap, clock=clock) as pipeline:
        try:
            assert wait_until(lambda: renderer.gate.entered == 1, GUARD_S)
            clock.advance(0.25)  # the first render took 0.25 s: the pipeline now expects each one to
            renderer.gate.release()
            assert wait_until(lambda: renderer.gate.entered == 2, GUARD_S)
            busy_from, skipped_from = rasters(), pipeline.status.dropped["pose"]
            assert wait_until(lambda: pipeline.status.dropped["pose"] >= skipped_from + 8, GUARD_S), "poses are skipped"
            assert rasters() <= busy_from + 1, "no rasterizing for a renderer that is busy for a while yet"
            clock.advance(0.23)  # due to finish in 20 ms, before the next pose (30 fps): rasterize this one
            due = len(posed)
            assert wait_until(lambda: rasters() > busy_from + 1, GUARD_S), "a raster is made before the render ends"
            assert renderer.gate.entered == 2, "the second render is still running"
            renderer.gate.release()
            assert wait_until(lambda: renderer.gate.entered == 3, GUARD_S)
        finally:
            renderer.gate.open()  # let the stage go, so close() can end it
    assert renderer.udp_times[2] >= posed[due - 1], "the third render got a pose from when the second was ending"


class ExplodingRenderer(ProxyRenderer):
    name = "exploding"

    def __init__(self, after: int):
        self.after, self.calls, self.closed = after, 0, False

    def render(self, udp, color):
        self.calls += 1
        if self.calls > self.after:
            raise RuntimeError("shader exploded")
        return super().render(udp, color)

    def close(self):
        self.closed = True


def test_a_stage_that_raises_fails_the_pipeline_and_stops_it_cleanly(character, make_sink, no_new_threads):
    renderer, sink = ExplodingRenderer(after=3), make_sink()
    pipeline = demo_pipeline(character, [sink], renderer=renderer).start()
    assert pipeline.wait(20), "a failed stage stops every stage"
    status = pipeline.status
    assert status.state == "failed"
    assert status.error == "render: RuntimeError: shader exploded"
    assert len(sink.frames) == 3 and sink.closed and renderer.closed
    with pytest.raises(RuntimeError, match="shader exploded"):
        pipeline.raise_if_failed()
    pipeline.close()
    assert pipeline.status.state == "failed"


class BrokenSource(PoseSource):
    name = "broken"

    def open(self):
        raise SettingError("broken source", "a device", "none", "plug it in")

    def read(self, timeout):
        raise AssertionError("never read after a failed open")


def test_a_setup_failure_is_raised_by_start_and_nothing_keeps_running(character, make_sink, no_new_threads):
    sink = make_sink()
    pipeline = demo_pipeline(character, [sink], source=BrokenSource())
    with pytest.raises(SettingError, match="plug it in"):
        pipeline.start()
    assert pipeline.status.state == "failed" and sink.closed


class UdpSource(PoseSource):
    """A UDP map that grows each frame: the pipeline must pass it straight to the renderer."""

    name = "udp"
    yields_udp = True

    def __init__(self):
        self.k = 0

    def read(self, timeout):
        time.sleep(0.02)
        self.k += 1
        data = np.zeros((SIZE, SIZE, 4), np.float32)
        data[: 8 + self.k, :32] = (0.25, 0.5, 0.75, 1.0)
        return PoseSample(time.monotonic(), udp=UdpMap(data))


def test_a_udp_source_skips_rig_and_raster_and_the_proxy_shows_the_map(make_sink, no_new_threads):
    sink = make_sink()
    with LivePipeline(UdpSource(), ProxyRenderer(), [sink], size=SIZE, max_frames=4) as pipeline:
        assert pipeline.wait(20)
        stages = pipeline.status.stages_ms
    assert "rig" not in stages and "raster" not in stages and "render" in stages
    first = sink.frames[0].data
    np.testing.assert_allclose(first[0, 0], (0.25, 0.5, 0.75, 1.0))
    assert first[-1, -1, 3] == 0.0
    assert sink.frames[-1].data[..., 3].sum() > first[..., 3].sum()


def test_mismatched_sizes_and_missing_character_are_setting_errors(character, make_sink):
    class Fixed(ProxyRenderer):
        size = 256

    with pytest.raises(SettingError, match="renderer's size 256"):
        LivePipeline(MotionSource(DemoMotion()), Fixed(), [make_sink()], character=character, size=128)
    with pytest.raises(SettingError, match="character"):
        LivePipeline(MotionSource(DemoMotion()), ProxyRenderer(), [make_sink()], size=128)
    with pytest.raises(SettingError, match="frames"):
        LivePipeline(
            MotionSource(DemoMotion()), ProxyRenderer(), [make_sink()], character=character, size=128, max_frames=0
        )
