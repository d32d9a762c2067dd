"""Target poses of synthetic samples: the demo motion, every joint turned a little further, springs run in.

Split from :mod:`avatar_app.training.synthetic` (which re-exports nothing of it): the
tables and the run-in are the same for every family of synthetic characters.
"""

from __future__ import annotations

import numpy as np

from avatar_app.rig import CharacterAnimator, HumanoidPose, forward_kinematics
from avatar_app.rig.humanoid import BONE_INDEX
from avatar_app.rig.quaternion import quat_from_euler, quat_multiply

__all__ = ["FRAME_DT", "JITTER_DEG", "RUN_IN_FRAMES", "jitter_rotations", "run_in_vertices"]

RUN_IN_FRAMES = 10
FRAME_DT = 1.0 / 30.0

# Extra rotation per humanoid bone on top of the demo motion: (x, y, z) ranges in degrees,
# applied in the parent's frame. Left side only; the right side is its mirror image.
# Signs (VRM normalized bones): +x bends the knee, -x swings the thigh forward, -y bends
# the left elbow forward, +z raises the left arm / spreads the left leg.
_JITTER_DEG = {
    "hips": ((-5, 5), (-5, 5), (-5, 5)),
    "spine": ((-8, 8), (-8, 8), (-8, 8)),
    "chest": ((-8, 8), (-8, 8), (-8, 8)),
    "neck": ((-12, 12), (-12, 12), (-12, 12)),
    "head": ((-15, 15), (-15, 15), (-15, 15)),
    "leftUpperArm": ((-35, 35), (-35, 35), (-10, 35)),
    "leftLowerArm": ((-20, 20), (-35, 5), (0, 0)),
    "leftHand": ((-20, 20), (-20, 20), (-20, 20)),
    "leftUpperLeg": ((-35, 20), (-15, 15), (-5, 20)),
    "leftLowerLeg": ((0, 35), (0, 0), (0, 0)),
    "leftFoot": ((-15, 15), (-5, 5), (-5, 5)),
}


def _mirrored_jitter() -> dict[str, tuple]:
    out = dict(_JITTER_DEG)
    for bone, (x, y, z) in _JITTER_DEG.items():
        if bone.startswith("left"):  # mirroring x: the y and z angles change sign
            out["right" + bone[4:]] = (x, (-y[1], -y[0]), (-z[1], -z[0]))
    return out


JITTER_DEG = _mirrored_jitter()
_JITTER_BONES = sorted(JITTER_DEG)  # a fixed draw order
_JITTER_INDEX = np.array([BONE_INDEX[b] for b in _JITTER_BONES])
_JITTER_LOW = np.array([[r[0] for r in JITTER_DEG[b]] for b in _JITTER_BONES], dtype=np.float64)
_JITTER_HIGH = np.array([[r[1] for r in JITTER_DEG[b]] for b in _JITTER_BONES], dtype=np.float64)


def jitter_rotations(rng: np.random.Generator, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(bone indices, quaternions) of the extra rotations of one sample."""
    angles = np.radians(rng.uniform(_JITTER_LOW, _JITTER_HIGH) * scale)  # [B, 3] x, y, z
    return _JITTER_INDEX, quat_from_euler(angles[:, ::-1], "ZYX")


def _jittered(pose: HumanoidPose, jitter) -> HumanoidPose:
    bones, quats = jitter
    rotations = pose.rotations.copy()
    rotations[bones] = quat_multiply(quats, rotations[bones])
    return HumanoidPose(rotations, pose.hips_translation)


def run_in_vertices(animator: CharacterAnimator, motion, time_s: float, jitter) -> np.ndarray:
    """Run the animator through the run-in frames ending at ``time_s``; the last frame's vertices.

    Only the last frame is skinned: the earlier ones just move the spring bones.
    """
    animator.reset()
    skeleton = animator.character.skeleton
    for k in range(RUN_IN_FRAMES):
        pose = _jittered(motion.pose_at(time_s - (RUN_IN_FRAMES - 1 - k) * FRAME_DT), jitter)
        if k == RUN_IN_FRAMES - 1:
            return animator.update(pose, FRAME_DT)
        if animator.springs is not None:
            local = animator.pose_for(pose)
            animator.springs.step(local, forward_kinematics(skeleton, local), FRAME_DT)
    raise AssertionError("unreachable")
