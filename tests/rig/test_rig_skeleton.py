"""Forward kinematics on chains with known answers, and skeleton validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatar_app.rig import RigFileError, Skeleton, forward_kinematics
from avatar_app.rig.quaternion import identity_quat, quat_from_axis_angle, quat_to_matrix

from rig_helpers import chain_skeleton


def test_rest_chain_positions_are_cumulative_offsets():
    skel = chain_skeleton(4)
    world = forward_kinematics(skel, skel.rest_pose())
    np.testing.assert_allclose(world[:, :3, 3], [[0, 1, 0], [0.1, 1, 0], [0.2, 1, 0], [0.3, 1, 0]], atol=1e-15)
    np.testing.assert_allclose(world[:, :3, :3], np.broadcast_to(np.eye(3), (4, 3, 3)))


def test_bending_the_root_and_one_joint():
    skel = chain_skeleton(4)
    pose = skel.rest_pose()
    pose.rotations[0] = quat_from_axis_angle([0, 0, 1], math.pi / 2)  # chain now points +y
    pose.rotations[2] = quat_from_axis_angle([0, 0, 1], math.pi / 2)  # and turns to -x at joint 2
    pose.translations[0] = [1.0, 0.0, 0.0]
    world = forward_kinematics(skel, pose)
    np.testing.assert_allclose(world[:, :3, 3], [[1, 0, 0], [1, 0.1, 0], [1, 0.2, 0], [0.9, 0.2, 0]], atol=1e-12)
    np.testing.assert_allclose(world[3, :3, :3], quat_to_matrix(quat_from_axis_angle([0, 0, 1], math.pi)), atol=1e-12)


def test_vectorized_fk_matches_recursive_definition():
    rng = np.random.default_rng(1)
    parents = [-1, 0, 1, 1, 0, 4, 5, 2, 7]
    skel = Skeleton([f"j{i}" for i in range(9)], parents, rng.normal(size=(9, 3)), rng.normal(size=(9, 4)))
    pose = skel.rest_pose()
    pose.rotations[:] = rng.normal(size=(9, 4))
    pose.rotations[:] /= np.linalg.norm(pose.rotations, axis=1, keepdims=True)
    world = forward_kinematics(skel, pose)
    for j, p in enumerate(parents):
        local = np.eye(4)
        local[:3, :3] = quat_to_matrix(pose.rotations[j])
        local[:3, 3] = pose.translations[j]
        expected = (world[p] if p >= 0 else np.eye(4)) @ local
        np.testing.assert_allclose(world[j], expected, atol=1e-12)


def test_root_transform_places_the_whole_skeleton():
    skel = chain_skeleton(3)
    shift = np.eye(4)
    shift[:3, 3] = [0, 0, 2]
    world = forward_kinematics(skel, skel.rest_pose(), root_transform=shift)
    np.testing.assert_allclose(world[:, 2, 3], 2.0)


def test_joints_out_of_topological_order_are_rejected_with_the_joint_named():
    with pytest.raises(RigFileError, match="'b'.*Fix: sort the joints"):
        Skeleton(["a", "b", "c"], [-1, 2, 0], np.zeros((3, 3)), identity_quat(3))


def test_duplicate_joint_names_are_rejected():
    with pytest.raises(RigFileError, match="unique joint names"):
        Skeleton(["a", "a"], [-1, 0], np.zeros((2, 3)), identity_quat(2))


def test_index_accepts_joint_and_humanoid_names():
    skel = Skeleton(["root", "pelvis"], [-1, 0], np.zeros((2, 3)), identity_quat(2), humanoid={"hips": 1})
    assert skel.index("hips") == 1 and skel.index("root") == 0
    with pytest.raises(KeyError, match="no joint or humanoid bone named 'neck'"):
        skel.index("neck")
