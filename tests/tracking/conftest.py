"""Shared fixtures for the tracking tests: small real video files written with OpenCV, a test skeleton."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_app.rig.skeleton import Skeleton

# BGR colours the frames cycle through; big flat blocks survive mp4v compression.
BGR_CYCLE = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def write_video(path: Path, frames: int = 12, fps: float = 30.0, size=(64, 48)) -> Path:
    """An mp4v file whose frame i is a flat BGR_CYCLE[i % 3] image with a white bar i px wide."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "OpenCV could not open an mp4v writer"
    for i in range(frames):
        image = np.empty((height, width, 3), np.uint8)
        image[:] = BGR_CYCLE[i % 3]
        image[:4, :i] = 255
        writer.write(image)
    writer.release()
    return path


@pytest.fixture
def make_video():
    """``make_video(path, frames=12, fps=30.0, size=(64, 48))`` writes a test clip (see write_video)."""
    return write_video


@pytest.fixture
def video_file(tmp_path) -> Path:
    return write_video(tmp_path / "clip.mp4")


def build_a_pose_skeleton() -> Skeleton:
    """A metric humanoid facing +z (+x its left), A-pose arms, identity rest rotations."""
    down_out = np.array([math.cos(math.radians(45)), -math.sin(math.radians(45)), 0.0])
    joints = [
        ("hips", None, (0, 0.95, 0)),
        ("spine", "hips", (0, 0.10, 0)),
        ("chest", "spine", (0, 0.12, 0)),
        ("upperChest", "chest", (0, 0.12, 0)),
        ("neck", "upperChest", (0, 0.12, 0)),
        ("head", "neck", (0, 0.08, 0)),
    ]
    for side, s in (("left", 1.0), ("right", -1.0)):
        m = np.array([s, 1.0, 1.0])
        joints += [
            (f"{side}Shoulder", "upperChest", (0.03 * s, 0.08, 0)),
            (f"{side}UpperArm", f"{side}Shoulder", (0.12 * s, 0, 0)),
            (f"{side}LowerArm", f"{side}UpperArm", tuple(0.28 * down_out * m)),
            (f"{side}Hand", f"{side}LowerArm", tuple(0.25 * down_out * m)),
            (f"{side}MiddleProximal", f"{side}Hand", tuple(0.08 * down_out * m)),
            (f"{side}UpperLeg", "hips", (0.09 * s, -0.05, 0)),
            (f"{side}LowerLeg", f"{side}UpperLeg", (0, -0.42, 0)),
            (f"{side}Foot", f"{side}LowerLeg", (0, -0.40, 0)),
            (f"{side}Toes", f"{side}Foot", (0, -0.06, 0.12)),
        ]
    names = [j[0] for j in joints]
    parents = [-1 if p is None else names.index(p) for _, p, _ in joints]
    return Skeleton(
        names,
        parents,
        [j[2] for j in joints],
        np.tile([0.0, 0, 0, 1], (len(names), 1)),
        humanoid={n: i for i, n in enumerate(names)},
        source="test A-pose",
    )


@pytest.fixture(scope="session")
def a_pose_skeleton() -> Skeleton:
    return build_a_pose_skeleton()
