"""A motion file framed like a live source (rig.motion_framing): turned to face the camera at
its start, and its root followed, held or left free."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatar_app.rig import MotionFileError, load_bvh
from avatar_app.rig.motion_framing import MAX_OFFSET, facing_yaw

from bvh_clip import bvh_frame, write_bvh

FPS = 30


def _frame(x_cm: float, z_cm: float, yaw_deg: float, arm: float = 0.0) -> str:
    """One frame: the hips at (x, 95, z) cm turned ``yaw_deg`` about +y (the file's Yrotation)."""
    values = bvh_frame(hips=(x_cm, 95.0, z_cm), LeftArm=(arm, 0.0, 0.0)).split()
    values[5] = f"{yaw_deg:g}"
    return " ".join(values)


def _walk_off(tmp_path, yaw_deg: float, seconds: float = 4.0, speed_cm_s: float = 200.0):
    """A figure turned ``yaw_deg`` walking along +x at ``speed`` for ``seconds``, swinging an arm."""
    frames = [
        _frame(speed_cm_s * k / FPS, 0.0, yaw_deg, arm=30.0 * math.sin(k / 5.0)) for k in range(int(seconds * FPS))
    ]
    return write_bvh(tmp_path / "walk.bvh", frames, frame_time=1.0 / FPS)


@pytest.mark.parametrize("yaw", [180.0, 90.0, -60.0])
def test_a_clip_facing_away_is_turned_to_face_the_camera_at_its_start(tmp_path, yaw):
    path = _walk_off(tmp_path, yaw)
    raw = load_bvh(path, root="free")
    assert abs(((facing_yaw([raw.rig.from_pose(raw.local_pose(0))]) - yaw) + 180) % 360 - 180) < 1.0
    motion = load_bvh(path)
    for t in (0.0, 1.0, 3.0):
        assert abs(facing_yaw([motion.pose_at(t, loop=False)])) < 1.0


def test_a_clip_that_walks_off_is_followed_so_it_stays_in_the_picture(tmp_path):
    """Running 8 m sideways: free leaves the picture, follow keeps the hips within
    MAX_OFFSET hip heights of the middle while still showing that it moves, hold pins them."""
    path = _walk_off(tmp_path, 0.0)
    times = np.arange(0.0, 3.9, 0.1)
    free = np.array([load_bvh(path, root="free").pose_at(t, loop=False).hips_translation for t in times])
    follow_motion = load_bvh(path)
    follow = np.array([follow_motion.pose_at(t, loop=False).hips_translation for t in times])
    hold_motion = load_bvh(path, root="hold")
    hold = np.array([hold_motion.pose_at(t, loop=False).hips_translation for t in times])
    assert free[-1, 0] > 4.0  # hip heights (the file's hips stand 95 cm high)
    assert np.abs(follow[:, [0, 2]]).max() <= MAX_OFFSET + 1e-9
    assert follow[5:, 0].min() > 0.1  # it is seen to walk: ahead of the middle, in the walk's direction
    np.testing.assert_allclose(hold[:, [0, 2]], 0.0, atol=1e-12)
    np.testing.assert_allclose(hold[:, 1], free[:, 1], atol=1e-12)  # height above the floor kept


def test_following_is_a_function_of_time_and_loops(tmp_path):
    motion = load_bvh(_walk_off(tmp_path, 0.0, seconds=2.0))
    a = motion.pose_at(0.7)
    b = motion.pose_at(0.7 + motion.duration)
    np.testing.assert_allclose(a.hips_translation, b.hips_translation, atol=1e-12)
    np.testing.assert_allclose(a.rotations, b.rotations, atol=1e-12)


def test_an_unknown_root_mode_is_refused(tmp_path):
    with pytest.raises(MotionFileError, match="follow"):
        load_bvh(_walk_off(tmp_path, 0.0, seconds=0.5), root="walk")


def test_the_turn_motion_shows_every_side_in_one_turn():
    from avatar_app.rig.demo_motion import TurnMotion

    turn = TurnMotion(duration=8.0)
    yaws = [facing_yaw([turn.pose_at(t)]) for t in (0.0, 2.0, 4.0, 6.0)]
    for got, want in zip(yaws, (0.0, 90.0, 180.0, -90.0)):
        assert abs((got - want + 180.0) % 360.0 - 180.0) < 2.0
