"""Humanoid poses: the VRM T-pose meaning of identity, round trips, and rest-pose independence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatar_app.rig import HUMANOID_BONES, HumanoidPose, HumanoidRig, Skeleton, forward_kinematics, load_mannequin_body
from avatar_app.rig.quaternion import identity_quat, quat_angle, quat_from_axis_angle, quat_normalize


@pytest.fixture(scope="module")
def bodies(body):
    return body, load_mannequin_body(arm_angle_deg=10.0)


def _direction(skel, world, a, b):
    d = world[skel.index(b), :3, 3] - world[skel.index(a), :3, 3]
    return d / np.linalg.norm(d)


def test_identity_is_the_vrm_t_pose_even_for_an_a_pose_rest(bodies):
    skel = bodies[0].skeleton
    world = forward_kinematics(skel, HumanoidRig(skel).to_pose(HumanoidPose.identity()))
    np.testing.assert_allclose(_direction(skel, world, "leftUpperArm", "leftLowerArm"), [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(_direction(skel, world, "rightLowerArm", "rightHand"), [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(_direction(skel, world, "leftUpperLeg", "leftLowerLeg"), [0, -1, 0], atol=1e-12)
    rest = forward_kinematics(skel, skel.rest_pose())
    np.testing.assert_allclose(
        world[skel.index("head"), :3, 3], rest[skel.index("head"), :3, 3], atol=1e-12
    )  # the torso is untouched


def test_the_same_humanoid_pose_looks_the_same_on_different_rest_poses(bodies):
    rng = np.random.default_rng(5)
    pose = HumanoidPose(
        quat_normalize(identity_quat(len(HUMANOID_BONES)) + 0.3 * rng.normal(size=(len(HUMANOID_BONES), 4))),
        np.array([0.05, -0.02, 0.0]),
    )
    directions = []
    for body in bodies:
        skel = body.skeleton
        world = forward_kinematics(skel, HumanoidRig(skel).to_pose(pose))
        directions.append(
            [
                _direction(skel, world, a, b)
                for a, b in (
                    ("leftUpperArm", "leftLowerArm"),
                    ("leftLowerArm", "leftHand"),
                    ("rightUpperArm", "rightLowerArm"),
                    ("spine", "neck"),
                )
            ]
        )
    np.testing.assert_allclose(directions[0], directions[1], atol=1e-9)


def test_from_pose_inverts_to_pose(bodies):
    skel = bodies[0].skeleton
    rig = HumanoidRig(skel)
    rng = np.random.default_rng(2)
    pose = HumanoidPose(quat_normalize(rng.normal(size=(len(HUMANOID_BONES), 4))), rng.normal(scale=0.1, size=3))
    back = rig.from_pose(rig.to_pose(pose))
    present = [HUMANOID_BONES.index(b) for b in skel.humanoid]
    assert np.max(quat_angle(back.rotations[present], pose.rotations[present])) < 1e-6
    np.testing.assert_allclose(back.hips_translation, pose.hips_translation, atol=1e-12)


def test_facing_minus_z_and_z_up_skeletons_are_recognised():
    # a minimal humanoid facing -z (left leg at -x), and the same lying in a z-up world
    names = ["hips", "spine", "head", "leftUpperLeg", "rightUpperLeg"]
    offsets = np.array([[0, 1, 0], [0, 0.3, 0], [0, 0.4, 0], [-0.1, 0, 0], [0.1, 0, 0]], dtype=float)
    skel = Skeleton(names, [-1, 0, 1, 0, 0], offsets, identity_quat(5), {n: i for i, n in enumerate(names)})
    np.testing.assert_allclose(HumanoidRig(skel).frame, np.diag([-1.0, 1.0, -1.0]))
    z_up = offsets[:, [0, 2, 1]] * [1, -1, 1]  # y -> z
    skel = Skeleton(names, [-1, 0, 1, 0, 0], z_up, identity_quat(5), {n: i for i, n in enumerate(names)})
    frame = HumanoidRig(skel).frame
    np.testing.assert_allclose(frame @ [0, 0, 1], [0, 1, 0])  # world z is up
    np.testing.assert_allclose(frame @ [-1, 0, 0], [1, 0, 0])  # the left leg side is the canonical left


def test_a_normalized_rotation_turns_the_limb_in_world_axes(bodies):
    skel = bodies[0].skeleton
    pose = HumanoidPose.from_bones(
        {"leftUpperArm": quat_from_axis_angle([0, 0, 1], math.radians(-90))}
    )  # arm straight down
    world = forward_kinematics(skel, HumanoidRig(skel).to_pose(pose))
    np.testing.assert_allclose(_direction(skel, world, "leftUpperArm", "leftLowerArm"), [0, -1, 0], atol=1e-12)
