"""Idle motion (rig/idle_motion.py): small, slow, never frozen, and exactly nothing at weight 0."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.rig.humanoid import BONE_INDEX, HumanoidPose
from avatar_app.rig.idle_motion import IdleMotion
from avatar_app.rig.quaternion import quat_angle


def bone_angles_deg(a: HumanoidPose, b: HumanoidPose) -> dict[str, float]:
    angles = np.degrees(quat_angle(np.asarray(a.rotations), np.asarray(b.rotations)))
    return {bone: float(angles[k]) for bone, k in BONE_INDEX.items()}


def test_weight_zero_is_the_pose_itself_and_full_weight_moves_only_spine_and_head_a_few_degrees():
    rest = HumanoidPose.identity()
    motion = IdleMotion(seed=3)
    assert motion.layer(rest, 12.5, 0.0) is rest
    moved = bone_angles_deg(rest, motion.layer(rest, 12.5, 1.0))
    assert set(b for b, deg in moved.items() if deg > 1e-6) <= {"hips", "spine", "chest", "upperChest", "neck", "head"}
    assert max(moved.values()) < 5.0, "a few degrees at most"
    assert moved["head"] > 0.1 and moved["chest"] > 0.05


def test_the_motion_never_holds_still_over_a_minute():
    rest = HumanoidPose.identity()
    motion = IdleMotion()
    poses = [motion.layer(rest, t, 1.0) for t in np.arange(0.0, 60.0, 0.5)]
    steps = [max(bone_angles_deg(a, b).values()) for a, b in zip(poses, poses[1:])]
    assert min(steps) > 0.01, "every half second something moves"
    assert max(steps) < 2.0, "slowly"


def test_half_weight_is_half_the_angle():
    rest = HumanoidPose.identity()
    motion = IdleMotion()
    full, half = (bone_angles_deg(rest, motion.layer(rest, 3.0, w))["head"] for w in (1.0, 0.5))
    assert half == pytest.approx(full / 2, rel=0.05)


def test_scale_out_of_range_is_refused():
    with pytest.raises(ValueError, match="scale expected 0..3"):
        IdleMotion(scale=10)
