"""A motion file framed like a live source: facing the camera, and kept in the picture.

Motion capture is recorded on a stage, not for a camera: the actor faces whichever way the
stage's axes say (``Boxing_Toes.bvh`` faces away for its whole length), and walks, jumps or
climbs metres from where the clip starts (CMU's ``01_01.bvh`` jumps four hip heights
forward, turns and comes back). A live source stands in front of the camera. So a clip is
turned about the vertical so the character faces the camera at its start (the hips' forward
direction over its first ``FACING_WINDOW_S``), and its root motion is handled by ``ROOT_MODES``:

* ``follow`` (the default): the picture follows the root, as a camera operator would: the
  root's offset from a point that trails it (``exp(-t / FOLLOW_S)``) is kept, across the
  floor at most ``MAX_OFFSET`` hip heights, so steps, jumps and sways show and the character
  stays in the picture however far the clip travels or climbs;
* ``hold``: the root stays where it starts on the floor (height kept): motion in place;
* ``free``: the clip's own root motion (from where it starts), which may leave the picture.

Everything is a pure function of time (looping clips replay the same): the trailing point
is worked out once per clip at ``TRACK_HZ``.
"""

from __future__ import annotations

import math

import numpy as np

from avatar_app.rig.humanoid import BONE_INDEX, HumanoidPose
from avatar_app.rig.quaternion import quat_from_axis_angle, quat_multiply, quat_rotate

ROOT_MODES = ("follow", "hold", "free")
FACING_WINDOW_S = 2.0  # CMU clips open with a T-pose for a frame, then turn: the start is its first seconds
FOLLOW_S = 0.35
MAX_OFFSET = 0.45  # hip heights: with a full-body picture the hips stay well inside it
TRACK_HZ = 30.0
_HIPS = BONE_INDEX["hips"]


def facing_yaw(poses: list[HumanoidPose]) -> float:
    """Degrees about +y from +z (the camera) to where the hips face, averaged over ``poses``."""
    forward = np.mean([quat_rotate(p.rotations[_HIPS], np.array([0.0, 0.0, 1.0])) for p in poses], axis=0)
    if math.hypot(forward[0], forward[2]) < 1e-6:
        return 0.0
    return math.degrees(math.atan2(forward[0], forward[2]))


class RootFraming:
    """Turns and places one clip's poses (module docstring). ``pose_at(t)`` gives the raw
    humanoid pose of the clip at ``t`` seconds; ``duration`` its length."""

    def __init__(self, pose_at, duration: float, mode: str = "follow"):
        if mode not in ROOT_MODES:
            raise ValueError(f"root mode {mode!r}: expected one of {ROOT_MODES}")
        self.mode = mode
        times = np.arange(0.0, max(duration, 1e-6), 1.0 / TRACK_HZ)
        raw = [pose_at(float(t)) for t in times]
        start = [p for t, p in zip(times, raw) if t <= FACING_WINDOW_S] or raw[:1]
        self.yaw = facing_yaw(start)
        self._turn = quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), math.radians(-self.yaw))
        self._origin = raw[0].hips_translation * np.array([1.0, 0.0, 1.0])
        roots = np.array([self._turned(p.hips_translation) for p in raw])
        self._times = times
        self._trail = _trailing(roots, 1.0 / TRACK_HZ) if mode == "follow" else None

    def _turned(self, translation: np.ndarray) -> np.ndarray:
        return quat_rotate(self._turn, np.asarray(translation, dtype=np.float64) - self._origin)

    def apply(self, pose: HumanoidPose, t: float) -> HumanoidPose:
        """``pose`` (the clip's at ``t`` seconds, looped into its length) turned and placed."""
        rotations = np.array(pose.rotations, dtype=np.float64, copy=True)
        rotations[_HIPS] = quat_multiply(self._turn, rotations[_HIPS])
        root = self._turned(pose.hips_translation)
        if self.mode == "hold":
            root[[0, 2]] = 0.0
        elif self.mode == "follow":
            trail = np.array([np.interp(t, self._times, self._trail[:, k]) for k in range(3)])
            offset = root - trail
            offset[1] = root[1] - (trail[1] - self._trail[0, 1])  # a climb is followed; a jump still shows
            horizontal = offset[[0, 2]]
            length = float(np.linalg.norm(horizontal))
            if length > MAX_OFFSET:
                offset[[0, 2]] = horizontal * (MAX_OFFSET / length)
            root = offset
        return HumanoidPose(rotations, root)


def _trailing(track: np.ndarray, dt: float) -> np.ndarray:
    """A point that trails ``track [N, 3]`` with time constant FOLLOW_S."""
    out = np.empty_like(track)
    out[0] = track[0]
    k = 1.0 - math.exp(-dt / FOLLOW_S)
    for i in range(1, len(track)):
        out[i] = out[i - 1] + k * (track[i] - out[i - 1])
    return out
