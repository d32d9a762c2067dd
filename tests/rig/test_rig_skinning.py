"""Linear-blend skinning: identity at rest, locality, and the sparse path against a dense reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatar_app.rig import RigFileError, SkinnedMesh, forward_kinematics
from avatar_app.rig.quaternion import quat_from_axis_angle

from rig_helpers import bar_character


def test_rest_pose_reproduces_the_bind_positions(body, default_avatar):
    for character in (body, default_avatar, bar_character()):
        rest = character.mesh.skin(character.skeleton.rest_world_matrices)
        np.testing.assert_allclose(rest, character.mesh.positions, atol=2e-6)


def test_rotating_one_joint_moves_only_vertices_weighted_to_it_or_below(body):
    skel, mesh = body.skeleton, body.mesh
    joint = skel.index("leftLowerArm")
    pose = skel.rest_pose()
    pose.rotations[joint] = quat_from_axis_angle([0, 1, 0], math.radians(60))
    moved = mesh.skin(forward_kinematics(skel, pose)) - mesh.positions
    affected = np.isin(mesh.joints, skel.descendants(joint)) & (mesh.weights > 0)
    weight_on = np.where(affected, mesh.weights, 0.0).sum(axis=1)
    distance = np.linalg.norm(moved, axis=1)
    assert np.all(distance[weight_on == 0] < 1e-6)
    assert np.all(distance[weight_on > 0.05] > 1e-4)
    assert (weight_on > 0).sum() > 1000  # the forearm and hand really are there


def test_sparse_skinning_matches_dense_reference(default_avatar):
    skel, mesh = default_avatar.skeleton, default_avatar.mesh
    rng = np.random.default_rng(3)
    pose = skel.rest_pose()
    axes = rng.normal(size=(skel.num_joints, 3))
    pose.rotations[:] = quat_from_axis_angle(axes, rng.uniform(-0.5, 0.5, skel.num_joints))
    world = forward_kinematics(skel, pose)
    np.testing.assert_allclose(mesh.skin(world), mesh.skin_dense(world), atol=1e-5)


def test_rigid_translation_moves_every_vertex_by_the_same_amount():
    c = bar_character()
    world = c.skeleton.rest_world_matrices.copy()
    world[:, :3, 3] += [0.5, -0.25, 2.0]
    np.testing.assert_allclose(
        c.mesh.skin(world) - c.mesh.positions, np.broadcast_to([0.5, -0.25, 2.0], c.mesh.positions.shape), atol=1e-6
    )


def test_weights_not_summing_to_one_are_rejected_with_the_vertex():
    with pytest.raises(RigFileError, match="vertex 1 sums to 0.5000"):
        SkinnedMesh(np.zeros((2, 3)), np.zeros((0, 3)), [[0], [0]], [[1.0], [0.5]], np.eye(4)[None])
