"""In-between frames: the UDP warp on known shifts, and the pipeline sending one per source frame."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import RgbaFrame, UdpMap
from avatar_app.pipeline import LivePipeline, MotionSource, ProxyRenderer
from avatar_app.pipeline.builder import PipelineSettings
from avatar_app.pipeline.inbetween import warp_render
from avatar_app.pipeline.specs import parse_source_spec
from avatar_app.rig import DemoMotion

from helpers import ManualClock, wait_until
from pipeline_helpers import SIZE, RecordingSink

GUARD_S = 30.0  # a guard against a hang, never a speed check


def box_udp(left: int, top: int = 40, width: int = 40, height: int = 60, size: int = SIZE) -> UdpMap:
    """A box whose rest xyz depend only on the position inside the box: moving it moves the surface."""
    data = np.zeros((size, size, 4), np.float32)
    y, x = np.mgrid[0:height, 0:width]
    data[top : top + height, left : left + width] = np.stack(
        [x / size + 0.2, y / size + 0.2, np.full_like(x, 0.5, dtype=float), np.ones_like(x, dtype=float)], -1
    )
    return UdpMap(data)


def textured(udp: UdpMap) -> RgbaFrame:
    """A render whose colour is a function of the surface point (so a warp can be checked pixel by pixel)."""
    rgba = np.zeros_like(udp.data)
    mask = udp.data[..., 3:4]
    xyz = udp.data[..., :3]
    rgba[..., 0:1] = np.sin(40 * xyz[..., 0:1]) * 0.5 + 0.5
    rgba[..., 1:2] = np.cos(30 * xyz[..., 1:2]) * 0.5 + 0.5
    rgba[..., 2:3] = 0.3
    rgba[..., :3] *= mask
    rgba[..., 3:4] = mask
    return RgbaFrame(rgba.astype(np.float32))


@pytest.mark.parametrize("shift", [6, 10, -14])
def test_a_warped_inbetween_puts_each_surface_point_where_the_current_udp_has_it(shift):
    rendered, current = box_udp(40), box_udp(40 + shift)
    warped = warp_render(textured(rendered), rendered, current).data
    truth = textured(current).data
    body = current.data[..., 3] > 0.5
    np.testing.assert_allclose(warped[body], truth[body], atol=1e-5)
    # where the box was and is no more: transparent, no ghost of the old place
    gone = (rendered.data[..., 3] > 0.5) & ~body
    assert gone.any() and warped[gone].max() == 0.0


def test_where_a_limb_moved_away_from_a_still_body_its_old_place_is_left_transparent():
    def scene(arm_top: int) -> UdpMap:
        data = box_udp(30, width=40).data  # the torso, still
        arm = box_udp(70, top=arm_top, width=12, height=20).data
        arm[..., 2] *= 1.8  # other surface points than the torso's
        return UdpMap(np.where(arm[..., 3:4] > 0, arm, data))

    rendered, current = scene(40), scene(70)
    warped = warp_render(textured(rendered), rendered, current).data
    gone = (rendered.data[..., 3] > 0.5) & (current.data[..., 3] <= 0.5)
    assert gone.sum() >= 200 and warped[gone].max() == 0.0, "no ghost arm where the arm was"
    body = current.data[..., 3] > 0.5
    wrong = (np.abs(warped - textured(current).data).max(-1) > 1e-3) & body
    _, wrong_x = np.nonzero(wrong)
    # the coarse displacement is interpolated: a seam of a few pixels where the arm meets the torso
    assert wrong.sum() < 0.03 * body.sum() and set(wrong_x) <= set(range(67, 74)), sorted(set(wrong_x))


def test_the_soft_edge_around_a_limb_that_moved_away_leaves_no_fringe_behind():
    def scene(arm_top: int) -> UdpMap:
        data = box_udp(30, width=40).data
        arm = box_udp(70, top=arm_top, width=12, height=20).data
        arm[..., 2] *= 1.8
        return UdpMap(np.where(arm[..., 3:4] > 0, arm, data))

    rendered, current = scene(40), scene(70)
    render = textured(rendered).data
    body = (rendered.data[..., 3] > 0.5).astype(np.uint8)
    ring = (cv2.dilate(body, np.ones((5, 5), np.uint8)) > 0) & (body == 0)  # CoNR's edge past the proxy's
    render[ring] = (0.4, 0.4, 0.4, 0.5)
    warped = warp_render(RgbaFrame(render), rendered, current).data
    near_now = cv2.dilate((current.data[..., 3] > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    # (bilinear sampling can bring a trace, under 5 % alpha, from a faded pixel next door)
    assert warped[~near_now, 3].max() < 0.05, "nothing of the old arm or its edge off the current silhouette"


def test_without_any_match_the_warp_is_the_render_repeated():
    rendered = box_udp(40)
    elsewhere = UdpMap(box_udp(40).data * np.array([0.2, 0.2, 0.2, 1.0], np.float32))  # other surface points
    render = textured(rendered)
    np.testing.assert_array_equal(warp_render(render, rendered, elsewhere).data, render.data)


def test_an_unknown_inbetween_mode_is_a_setting_error_naming_the_choices(character):
    with pytest.raises(SettingError, match="repeat or warp"):
        PipelineSettings(source=parse_source_spec("demo"), inbetween="blend").check()
    with pytest.raises(SettingError, match="--inbetween"):
        LivePipeline(MotionSource(DemoMotion()), ProxyRenderer(), [], character=character, size=SIZE, inbetween="x")


class GatedRenderer(ProxyRenderer):
    """Renders only when the test releases it (the test moves the clock meanwhile)."""

    name = "gated"

    def __init__(self):
        self.entered, self._go, self._open = 0, threading.Semaphore(0), threading.Event()

    def render(self, udp, color):
        self.entered += 1
        if not self._open.is_set():
            self._go.acquire(timeout=GUARD_S)
        return super().render(udp, color)

    def release(self):
        self._go.release()

    def open(self):
        self._open.set()
        self._go.release()


def run_slow_renderer(character, mode: str, inbetweens: int = 8):
    """The sink's frames while the second render is held, and each raster's (udp, colour) by timestamp."""
    clock, renderer, sink, rasters = ManualClock(), GatedRenderer(), RecordingSink(), {}

    def tap(stage, frame):
        if stage == "raster":
            rasters[frame.timestamp] = (frame.udp, frame.color)

    source = MotionSource(DemoMotion(), 30.0, name="demo")
    pipeline = LivePipeline(
        source, renderer, [sink], character=character, size=SIZE, inbetween=mode, tap=tap, clock=clock
    )
    with pipeline:
        try:
            assert wait_until(lambda: renderer.entered == 1, GUARD_S)
            clock.advance(0.5)  # the first render took half a second: the renderer is slower than the source
            renderer.release()
            assert wait_until(lambda: renderer.entered == 2, GUARD_S), "the renderer takes the next raster"
            assert wait_until(lambda: len(sink.snapshot()) >= 1 + inbetweens, GUARD_S), "in-betweens while it renders"
            frames = sink.snapshot()
        finally:
            renderer.open()
    return frames, dict(rasters)


def test_with_repeat_the_sinks_get_the_last_render_again_at_the_source_rate(character):
    frames, rasters = run_slow_renderer(character, "repeat")
    first, later = frames[0], frames[1:]
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(set(stamps)) and set(stamps) <= set(rasters), "source timestamps, in order, once each"
    for frame in later:
        np.testing.assert_array_equal(frame.data, first.data)


def test_with_warp_the_inbetweens_follow_the_pose_closer_than_repeating_the_render(character):
    frames, rasters = run_slow_renderer(character, "warp", inbetweens=10)
    first, later = frames[0], frames[1:]
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(set(stamps)) and set(stamps) <= set(rasters), "source timestamps, in order, once each"
    proxy, warp_err, repeat_err = ProxyRenderer(), [], []
    for frame in later:
        truth = proxy.render(*rasters[frame.timestamp]).data  # what the renderer would have made of this pose
        warp_err.append(np.abs(frame.data - truth).mean())
        repeat_err.append(np.abs(first.data - truth).mean())
    assert repeat_err[-1] > 0.005, f"the demo pose moved while the renderer was held ({repeat_err})"
    assert np.mean(warp_err) < 0.6 * np.mean(repeat_err), (warp_err, repeat_err)


def test_stream_inbetween_flag_reaches_the_pipeline_settings_and_is_off_by_default(capsys):
    from avatar_app.cli.main import build_parser
    from avatar_app.cli.stream import settings_from_args

    def settings(*extra):
        args = build_parser().parse_args(["stream", "--sink", "file:x.mp4", "--renderer", "proxy", *extra])
        return settings_from_args(args)

    assert settings().inbetween is None
    assert settings("--inbetween", "warp").inbetween == "warp"
    assert settings("--inbetween", "repeat").inbetween == "repeat"
    with pytest.raises(SystemExit):
        settings("--inbetween", "blend")


def test_the_builder_gives_the_pipeline_its_inbetween_setting(character):
    from avatar_app.pipeline import Loaders, build_pipeline

    settings = PipelineSettings(source=parse_source_spec("demo"), size=SIZE, inbetween="warp")
    pipeline = build_pipeline(settings, [RecordingSink()], loaders=Loaders(character_loader=lambda: character))
    try:
        assert pipeline._inbetween is not None and pipeline._inbetween.mode == "warp"
    finally:
        pipeline.close()
