"""What travels through the live pipeline (pipeline/live.py): one :class:`LiveFrame` per pose."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatar_app.core.frames import RgbaFrame, UdpMap
from avatar_app.rig.expressions import Expression
from avatar_app.rig.humanoid import HumanoidPose

__all__ = ["LiveFrame"]


@dataclass(eq=False)
class LiveFrame:
    """One frame on its way through; each stage fills the next field. Owned by one thread at a time."""

    index: int
    timestamp: float  # time.monotonic() when the source captured / sampled it
    pose: HumanoidPose | None = None
    udp: UdpMap | None = None
    color: np.ndarray | None = None  # the rig's flat colours, premultiplied, when the renderer wants them
    rgba: RgbaFrame | None = None
    image: np.ndarray | None = None  # the camera picture the pose came from (camera sources; previews only)
    landmarks: object | None = None  # the tracker's PoseLandmarks for that picture (previews only)
    expression: Expression | None = None  # the face with this pose (the rig's morphs); None: neutral
