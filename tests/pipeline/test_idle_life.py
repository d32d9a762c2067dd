"""Idle life (issue #31 item 4): a source that tracks nothing breathes and sways; a tracked one is untouched."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest

from avatar_app.pipeline import (
    CameraPoseSource,
    Loaders,
    PipelineSettings,
    PoseSample,
    PoseSource,
    VmcSource,
    build_pipeline,
)
from avatar_app.pipeline.source_layers import WithIdleLife
from avatar_app.pipeline.sources import IDLE_POSE
from avatar_app.pipeline.specs import SourceSpec
from avatar_app.rig.quaternion import quat_angle
from avatar_app.tracking.capture import CaptureSource

from pipeline_helpers import write_frames_video


class ScriptedSource(PoseSource):
    """Holds IDLE_POSE; ``tracked`` and the timestamp are what the test sets before each read."""

    name = "scripted"

    def __init__(self):
        self.t, self.tracked = 0.0, True

    def read(self, timeout):
        return PoseSample(self.t, pose=IDLE_POSE, tracked=self.tracked)


def largest_bone_angle_deg(pose) -> float:
    return float(np.degrees(quat_angle(np.asarray(pose.rotations), np.asarray(IDLE_POSE.rotations))).max())


def run(layer, source, times, tracked):
    poses = []
    for t in times:
        source.t, source.tracked = t, tracked
        poses.append(layer.read(0.1).pose)
    return poses


def test_a_lost_source_fades_into_idle_life_and_back_out_when_tracking_returns():
    source = ScriptedSource()
    layer = WithIdleLife(source, fade_in_s=1.5, fade_out_s=0.3)
    tracked = run(layer, source, np.arange(0.0, 2.0, 1 / 30), tracked=True)
    assert all(pose is IDLE_POSE for pose in tracked), "a tracked pose is handed on untouched"
    lost = run(layer, source, np.arange(2.0, 8.0, 1 / 30), tracked=False)
    assert largest_bone_angle_deg(lost[1]) < 0.2, "fades in, no jump"
    moving = [largest_bone_angle_deg(pose) for pose in lost[60:]]  # after the fade
    assert min(moving) >= 0.0 and max(moving) > 1.0 and max(moving) < 5.0
    steps = [float(np.abs(a.rotations - b.rotations).max()) for a, b in zip(lost[60:], lost[61:])]
    assert min(steps) > 0.0, "never frozen"
    back = run(layer, source, np.arange(8.0, 9.0, 1 / 30), tracked=True)
    assert back[0] is not IDLE_POSE, "fades out, no jump"
    assert back[-1] is IDLE_POSE, "tracking rules again after the fade"


def test_the_builder_layers_idle_life_unless_it_is_switched_off(character):
    demo = PipelineSettings(SourceSpec("demo"), renderer="udp", size=128, max_frames=1)
    loaders = Loaders(character_loader=lambda: character)
    with build_pipeline(demo, loaders=loaders) as pipeline:
        assert isinstance(pipeline.source, WithIdleLife) and pipeline.source.name == "demo"
    with build_pipeline(replace(demo, idle_life=False), loaders=loaders) as pipeline:
        assert not isinstance(pipeline.source, WithIdleLife)


def test_a_vmc_source_with_no_sender_tracks_nothing():
    with VmcSource(port=0, fps=None) as source:
        sample = source.read(0.1)
    assert sample.tracked is False and sample.pose is IDLE_POSE


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="mediapipe 1.x not installed")
def test_a_webcam_with_nobody_in_view_tracks_nothing_and_idle_life_moves_the_avatar(tmp_path, character):
    grey = np.full((96, 128, 3), 90, np.uint8)
    video = write_frames_video(tmp_path / "empty.mp4", [grey] * 6)
    camera = CameraPoseSource(CaptureSource(video, loop=True), character.skeleton)
    with WithIdleLife(camera, fade_in_s=0.1) as layer:
        layer.open()
        samples = [s for s in (layer.read(1.0) for _ in range(12)) if s is not None]
    assert samples and all(not s.tracked for s in samples)
    assert largest_bone_angle_deg(samples[-1].pose) > 0.05, "the held idle pose moves"
