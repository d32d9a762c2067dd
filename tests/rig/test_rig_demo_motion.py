"""The built-in demo motion: looping, smooth, and doing what it says."""

from __future__ import annotations

import numpy as np

from avatar_app.rig import DemoMotion, HumanoidRig, forward_kinematics
from avatar_app.rig.quaternion import quat_angle


def test_loops_exactly():
    motion = DemoMotion()
    for t in (0.0, 1.3, 5.0, 11.7):
        a, b = motion.pose_at(t), motion.pose_at(t + motion.duration)
        np.testing.assert_allclose(a.rotations, b.rotations, atol=1e-12)
        np.testing.assert_allclose(a.hips_translation, b.hips_translation, atol=1e-12)


def test_has_no_jumps_anywhere_including_segment_seams_and_the_loop_point():
    motion = DemoMotion()
    dt = 1 / 120
    times = np.arange(-1.0, motion.duration + 1.0, dt)
    poses = [motion.pose_at(t) for t in times]
    rot = np.array([p.rotations for p in poses])
    hips = np.array([p.hips_translation for p in poses])
    assert np.all(np.isfinite(rot)) and np.all(np.isfinite(hips))
    assert np.degrees(quat_angle(rot[1:], rot[:-1]).max()) < 3.0  # < 360 deg/s at any bone
    assert np.abs(np.diff(hips, axis=0)).max() < 0.005  # hip heights per 1/120 s


def test_segments_idle_wave_dance(default_avatar):
    motion = DemoMotion()
    assert [motion.segment_at(t) for t in (1.0, 6.0, 10.0)] == ["idle", "wave", "dance"]
    skel = default_avatar.skeleton
    rig = HumanoidRig(skel)

    def world(t):
        return forward_kinematics(skel, rig.to_pose(motion.pose_at(t)))

    def y(w, bone):
        return w[skel.index(bone), 1, 3]

    idle = world(2.0)
    assert y(idle, "leftHand") < y(idle, "leftUpperArm") - 0.3  # arms relaxed down
    wave = world(6.0)
    assert y(wave, "rightHand") > y(wave, "head")  # waving above the head
    hips = [world(t)[skel.index("hips"), :3, 3] for t in np.arange(8.0, 10.0, 0.1)]
    assert np.ptp(np.array(hips)[:, 1]) > 0.03  # the dance bounces
