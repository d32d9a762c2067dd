"""The one pipeline builder (pipeline/builder.py): what it checks before loading anything, what
the pipeline it builds owns, and that what it opened is closed when a later step fails."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import UdpMap
from avatar_app.outputs.base import FrameSink
from avatar_app.outputs.file import FileSink
from avatar_app.pipeline import Loaders, PipelineSettings, UdpDetectorSource, build_pipeline
from avatar_app.pipeline.specs import SinkSpec, SourceSpec
from avatar_app.tracking.capture import CaptureSource

SIZE = 128
DEMO = PipelineSettings(SourceSpec("demo"), size=SIZE)


class ClosingSink(FrameSink):
    def __init__(self):
        super().__init__(name="closing")
        self.frames = 0

    def _send(self, frame) -> None:
        self.frames += 1

    def _close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"size": 100}, "--size"),
        ({"renderer": "toon"}, "--renderer"),
        ({"max_frames": 0}, "--frames"),
        ({"fps": 0.0}, "--fps"),
        ({"views": 0}, "--views"),
        ({"views_per_frame": 0}, "--views-per-frame"),
        ({"backend": "onnxruntime", "precision": "bf16"}, "--precision"),
        ({"udp_detector": True}, "--udp-detector"),
        ({"renderer": "conr", "sheet_dir": Path("/no/such/sheet")}, "--sheet"),
        ({"sinks": (SinkSpec("virtualcam"), SinkSpec("virtualcam"))}, "--sink"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_anything_loads(change, setting):
    loads = []
    loaders = Loaders(character_loader=lambda: loads.append("character"), networks_loader=lambda w: loads.append(w))
    with pytest.raises(SettingError) as err:
        build_pipeline(replace(DEMO, **change), loaders=loaders)
    assert err.value.source.startswith(setting) and loads == []


def test_the_pipeline_gets_the_springs_switch_and_every_sink(character, tmp_path):
    frames_dir = tmp_path / "frames"
    frames_dir.mkdir()
    extra = ClosingSink()
    settings = replace(DEMO, springs=False, sinks=(SinkSpec("file", path=frames_dir),), max_frames=3, renderer="udp")
    pipeline = build_pipeline(settings, [extra], loaders=Loaders(character_loader=lambda: character))
    with pipeline:
        assert pipeline.springs is False and pipeline.renderer.name == "udp"
        assert pipeline.sinks[0] is extra and isinstance(pipeline.sinks[1], FileSink)
        assert pipeline.wait(60)
    pipeline.raise_if_failed()
    assert extra.frames == 3 and len(sorted(frames_dir.glob("*.png"))) == 3
    assert extra.closed and pipeline.sinks[1].closed  # the pipeline owns them all


def test_what_was_opened_is_closed_when_a_later_step_fails():
    extra = ClosingSink()

    def no_rig():
        raise RuntimeError("no rig today")

    with pytest.raises(RuntimeError, match="no rig today"):
        build_pipeline(DEMO, [extra], loaders=Loaders(character_loader=no_rig))
    assert extra.closed


def test_loaders_load_each_character_and_weights_folder_once():
    calls = []
    loaders = Loaders(
        character_loader=lambda *path: calls.append(("character", *path)) or object(),
        networks_loader=lambda weights: calls.append(("networks", weights)) or object(),
    )
    assert loaders.character() is loaders.character()
    assert loaders.networks(Path("a")) is loaders.networks(Path("a"))
    assert loaders.networks(Path("b")) is not loaders.networks(Path("a"))
    assert calls == [("character",), ("networks", Path("a")), ("networks", Path("b"))]


def test_a_weights_folder_rewritten_since_is_loaded_again(tmp_path):
    """`adapt` rewrites CHAR/weights/ while the window holds the old networks."""
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "shader.pth").write_bytes(b"old")
    loaded = []
    loaders = Loaders(networks_loader=lambda folder: loaded.append((folder / "shader.pth").read_bytes()) or object())
    first = loaders.networks(weights)
    assert loaders.networks(weights) is first
    (weights / "shader.pth").write_bytes(b"adapted")
    assert loaders.networks(weights) is not first
    assert loaded == [b"old", b"adapted"]


def test_the_udp_detector_source_closes_the_detector_it_owns():
    class Detector:
        closed = 0

        def detect(self, image, timestamp=0.0):
            return UdpMap(np.zeros((SIZE, SIZE, 4), np.float32), timestamp=timestamp)

        def close(self):
            self.closed += 1

    detector = Detector()
    source = UdpDetectorSource(CaptureSource(0), detector, SIZE)
    source.close()
    assert detector.closed == 1


def test_views_per_frame_reach_the_renderer_and_each_frame_reads_that_many(character, lite_networks):
    from avatar_app.pipeline.defaults import DEFAULT_CHARACTER

    settings = replace(
        DEMO, renderer="conr", sheet_dir=DEFAULT_CHARACTER / "sheet", views_per_frame=2, max_frames=2, size=128
    )
    loaders = Loaders(character_loader=lambda *path: character, networks_loader=lambda weights: lite_networks)
    with build_pipeline(settings, loaders=loaders) as pipeline:
        assert pipeline.wait(120)
    pipeline.raise_if_failed()
    renderer = pipeline.renderer
    assert renderer.views == 4 and renderer.view_choice.keep == 2 and renderer.views_used == 2
