"""Idle life: breathing, a slight sway and small head motion, layered over any pose.

A held pose (a paused webcam, a silent VMC sender) frozen apart from the blink looks broken;
a person standing still still breathes and shifts. Each motion is a few degrees of local
rotation on the spine chain and the head, made of sines whose periods share no common
multiple (so the loop never shows), plus a seeded phase so two avatars do not move alike:

* breathing: the spine, chest and upper chest pitch together, 4.3 s a breath;
* sway: the hips roll and the spine rolls back against them (the head stays over the feet);
* head: the neck and head turn, nod and tilt slowly, a little.

`layer(pose, t, weight)` rotates each bone by its offset scaled by ``weight`` (0: the pose as
it is; 1: the full motion), so a caller fades it in and out. Pure numpy on `HumanoidPose`.
"""

from __future__ import annotations

import math

import numpy as np

from avatar_app.rig.humanoid import BONE_INDEX, HumanoidPose
from avatar_app.rig.quaternion import quat_from_axis_angle, quat_multiply

PITCH, YAW, ROLL = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)  # the canonical frame's x, y, z
BREATH_S = 4.3

# (bone, axis, amplitude in degrees, period in seconds); several rows per bone add up.
MOTIONS = (
    ("spine", PITCH, 0.8, BREATH_S),
    ("chest", PITCH, 1.0, BREATH_S),
    ("upperChest", PITCH, 0.8, BREATH_S),
    ("hips", ROLL, 1.2, 7.9),
    ("spine", ROLL, -0.9, 7.9),
    ("neck", YAW, 2.0, 11.3),
    ("head", YAW, 2.5, 6.7),
    ("head", PITCH, 1.5, 5.3),
    ("head", ROLL, 1.0, 9.7),
)


class IdleMotion:
    """The idle motion's local rotation per bone at time ``t`` (seconds, any origin), seeded."""

    def __init__(self, seed: int = 5, scale: float = 1.0):
        if not (isinstance(scale, (int, float)) and 0.0 <= scale <= 3.0):
            raise ValueError(f"IdleMotion: scale expected 0..3, got {scale!r}")
        self.scale = float(scale)
        self.phases = np.random.default_rng(seed).uniform(0.0, 2.0 * math.pi, len(MOTIONS))

    def angles_at(self, t: float) -> dict[tuple[str, tuple], float]:
        """{(bone, axis): angle in radians} at ``t``."""
        angles: dict[tuple[str, tuple], float] = {}
        for (bone, axis, degrees, period_s), phase in zip(MOTIONS, self.phases):
            angle = math.radians(degrees) * self.scale * math.sin(2.0 * math.pi * t / period_s + phase)
            angles[(bone, axis)] = angles.get((bone, axis), 0.0) + angle
        return angles

    def layer(self, pose: HumanoidPose, t: float, weight: float = 1.0) -> HumanoidPose:
        """``pose`` with the motion at ``t`` on top, scaled by ``weight`` (0..1); a new pose."""
        weight = min(max(float(weight), 0.0), 1.0)
        if weight == 0.0:
            return pose
        rotations = np.array(pose.rotations, dtype=np.float64, copy=True)
        for (bone, axis), angle in self.angles_at(t).items():
            k = BONE_INDEX[bone]
            rotations[k] = quat_multiply(rotations[k], quat_from_axis_angle(np.array(axis), weight * angle))
        return HumanoidPose(rotations, np.array(pose.hips_translation, dtype=np.float64, copy=True))
