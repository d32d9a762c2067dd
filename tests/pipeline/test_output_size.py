"""Frames at the output size from CoNR at an internal size: the drawing's pixels at the output size."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import UdpMap
from avatar_app.io.sheet import load_sheet
from avatar_app.io.sheet_udp import load_sheet_udp
from avatar_app.pipeline import PipelineSettings
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER
from avatar_app.pipeline.drawn_details import drawn_details
from avatar_app.pipeline.renderers import ConrRenderer
from avatar_app.pipeline.specs import SourceSpec

SHEET = DEFAULT_CHARACTER / "sheet"


def _straight(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) / np.maximum(alpha.astype(np.float32), 1.0)


def test_a_frame_at_twice_the_networks_size_shows_the_drawing_at_the_output_size(lite_networks):
    internal, output = 128, 256
    sheet = load_sheet(SHEET, size=internal, max_views=1)
    drawn = load_sheet(SHEET, size=output, max_views=1)
    detail, _ = drawn_details(SHEET, drawn, {}, output)
    udp, _ = load_sheet_udp(DEFAULT_CHARACTER / "sheet_udp", drawn.names, output)
    pose = UdpMap(np.ascontiguousarray(udp[0].transpose(1, 2, 0)), timestamp=0.5)  # the front view's own pose
    with ConrRenderer(lite_networks, sheet, drawn_detail=detail, output_size=output) as renderer:
        assert (renderer.size, renderer.internal_size) == (output, internal)
        frame = renderer.render(pose, None)
    assert frame.data.shape == (output, output, 4) and frame.timestamp == 0.5
    assert "grow_ms" in frame.timings_ms and "detail_ms" in frame.timings_ms
    solid = (drawn.alpha[0, 0] >= 200) & (udp[0, 3] > 0.5)
    inner = solid & np.minimum.reduce([np.roll(solid, s, a) for s in (-3, 3) for a in (0, 1)])
    inner &= frame.data[..., 3] > 0.5
    drawing = _straight(drawn.rgb_premultiplied[0], drawn.alpha[0]).transpose(1, 2, 0)
    shown = frame.data[..., :3] / np.maximum(frame.data[..., 3:4], 1e-6)
    assert inner.sum() > 1000
    # the 256² drawing's own colours (a detail from the 128² drawing, looked up per 256² pixel, is 0.008 off)
    assert np.abs(shown[inner] - drawing[inner]).mean() < 0.003


def test_an_internal_size_above_the_output_size_is_refused_before_anything_loads():
    settings = PipelineSettings(SourceSpec("demo"), renderer="conr", sheet_dir=SHEET, size=256, internal_size=512)
    with pytest.raises(SettingError, match="--internal-size"):
        settings.check()
    assert PipelineSettings(SourceSpec("demo"), size=512, internal_size=128).network_size == 128
    assert PipelineSettings(SourceSpec("demo"), size=128).network_size == 128


def test_the_built_pipeline_sends_frames_of_the_output_size_with_conr_at_the_internal_size(character, lite_networks):
    from avatar_app.outputs.base import FrameSink
    from avatar_app.pipeline import Loaders, build_pipeline

    class Frames(FrameSink):
        def __init__(self):
            super().__init__(name="frames")
            self.shapes = []

        def _send(self, frame) -> None:
            self.shapes.append(frame.data.shape)

        def _close(self) -> None:
            pass

    settings = PipelineSettings(
        SourceSpec("demo"), renderer="conr", sheet_dir=SHEET, size=256, internal_size=128, views=1, max_frames=2
    )
    loaders = Loaders(character_loader=lambda *path: character, networks_loader=lambda weights: lite_networks)
    sink, notes = Frames(), []
    with build_pipeline(settings, [sink], loaders=loaders, note=notes.append) as pipeline:
        assert pipeline.wait(120)
    pipeline.raise_if_failed()
    assert (pipeline.renderer.size, pipeline.renderer.internal_size) == (256, 128)
    at_internal, _ = drawn_details(SHEET, load_sheet(SHEET, size=128, max_views=1), {}, 128)
    assert pipeline.renderer.detail.points > 3 * at_internal.points  # the drawing's pixels at 256², not 128²
    assert sink.shapes and set(sink.shapes) == {(256, 256, 4)}
    assert any("128x128, frames at 256x256" in n for n in notes)
