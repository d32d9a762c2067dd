"""The default character: convention, symmetry, UDP coordinates, parts, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from avatar_app.rig import build_default_avatar, forward_kinematics, rest_udp_coordinates
from avatar_app.rig.humanoid import REQUIRED_BONES
from avatar_app.rig.quaternion import quat_from_axis_angle

# Mirror tolerance per part: procedural parts are built mirrored (exact up to float32); the hair cap
# follows the head surface of the body asset (2 mm asymmetric); the body asset's torso is 16 mm asymmetric.
MIRROR_TOLERANCE_M = {
    "skirt": 1e-5,
    "eye_white": 1e-5,
    "iris": 1e-5,
    "mouth": 1e-5,
    "eyelid": 1e-5,
    "hair": 3e-3,
    "skin": 0.02,
    "top": 0.02,
    "shorts": 0.02,
    "socks": 0.02,
    "shoes": 0.02,
}


def test_stands_on_the_floor_centred_and_facing_plus_z(default_avatar):
    lo, hi = default_avatar.rest_bounds()
    assert lo[1] == pytest.approx(0.0, abs=1e-6)
    # z: bounding-box centre; x: the symmetry plane (the body asset's bounding box is 1 mm off it at most)
    assert (lo[0] + hi[0]) / 2 == pytest.approx(0.0, abs=1e-3) and (lo[2] + hi[2]) / 2 == pytest.approx(0.0, abs=1e-6)
    assert 1.6 < hi[1] < 1.9
    skel, mesh = default_avatar.skeleton, default_avatar.mesh
    world = skel.rest_world_matrices[:, :3, 3]
    iris = mesh.positions[mesh.part_ids == mesh.part_names.index("iris")]
    assert iris[:, 2].min() > world[skel.index("head"), 2] + 0.05  # the face is on the +z side
    assert world[skel.index("leftToes"), 2] > world[skel.index("leftFoot"), 2]
    assert world[skel.index("leftUpperArm"), 0] > 0  # +x is the character's left


def test_rest_pose_is_an_a_pose(default_avatar):
    skel = default_avatar.skeleton
    world = skel.rest_world_matrices[:, :3, 3]
    arm = world[skel.index("leftLowerArm")] - world[skel.index("leftUpperArm")]
    assert np.degrees(np.arctan2(-arm[1], arm[0])) == pytest.approx(40.0, abs=0.5)


def test_is_left_right_mirror_symmetric(default_avatar):
    mesh = default_avatar.mesh
    pos = mesh.positions.astype(np.float64)
    mirrored = pos * [-1, 1, 1]
    for k, name in enumerate(mesh.part_names):
        part = pos[mesh.part_ids == k]
        dist, _ = cKDTree(part).query(mirrored[mesh.part_ids == k])
        assert dist.max() < MIRROR_TOLERANCE_M[name], (name, dist.max())
    dist, _ = cKDTree(pos).query(mirrored)
    assert np.median(dist) < 1e-4
    skel = default_avatar.skeleton
    world = skel.rest_world_matrices[:, :3, 3]
    for j, n in enumerate(skel.names):
        np.testing.assert_allclose(world[skel.index(_mirror_name(n))], world[j] * [-1, 1, 1], atol=1e-6, err_msg=n)


def _mirror_name(name: str) -> str:
    for a, b in (("left", "right"), ("right", "left"), ("L_", "R_"), ("R_", "L_")):
        if a in name:
            return name.replace(a, b)
    return name


def test_a_mirrored_pose_gives_a_mirrored_mesh(default_avatar):
    """Skin weights are mirrored too: left joints turned one way, right joints the mirrored way."""
    skel, mesh = default_avatar.skeleton, default_avatar.mesh
    rng = np.random.default_rng(11)
    pose = skel.rest_pose()
    for j, name in enumerate(skel.names):
        other = skel.index(_mirror_name(name))
        if other == j:  # centre joints: only rotations that a mirror leaves alone (about x)
            pose.rotations[j] = quat_from_axis_angle([1.0, 0.0, 0.0], rng.uniform(-0.2, 0.2))
        elif j < other:
            q = quat_from_axis_angle(rng.normal(size=3), rng.uniform(0.0, 0.6))
            pose.rotations[j] = q
            pose.rotations[other] = q * [1.0, -1.0, -1.0, 1.0]  # reflecting x: (x, y, z, w) -> (x, -y, -z, w)
    posed = mesh.skin(forward_kinematics(skel, pose)).astype(np.float64)
    for name in ("skirt", "eye_white", "iris"):
        part = posed[mesh.part_ids == mesh.part_names.index(name)]
        dist, _ = cKDTree(part).query(part * [-1, 1, 1])
        assert dist.max() < 1e-5, name
    hair = posed[mesh.part_ids == mesh.part_names.index("hair")]
    assert cKDTree(hair).query(hair * [-1, 1, 1])[0].max() < 3e-3


def test_udp_coordinates_follow_the_design_convention(default_avatar):
    udp = rest_udp_coordinates(default_avatar)
    rest = default_avatar.rest_vertices().astype(np.float64)
    height = default_avatar.rest_height()
    assert udp.dtype == np.float32 and udp.shape == rest.shape
    assert udp.min() >= 0.0 and udp.max() <= 1.0
    expected = np.stack([rest[:, 0] / height + 0.5, rest[:, 1] / height, rest[:, 2] / height + 0.5], axis=1)
    np.testing.assert_allclose(
        udp, expected, atol=1e-3
    )  # x is centred on the bounding box, 1 mm from the symmetry plane


def test_parts_have_flat_toon_colours(default_avatar):
    mesh = default_avatar.mesh
    assert set(mesh.part_names) == {
        "skin",
        "hair",
        "top",
        "skirt",
        "shorts",
        "socks",
        "shoes",
        "eye_white",
        "iris",
        "eyelid",
        "mouth",
    }
    for k, name in enumerate(mesh.part_names):
        colours = np.unique(mesh.colors[mesh.part_ids == k], axis=0)
        assert len(colours) == 1, name
        assert (mesh.part_ids == k).sum() > 20, name


def test_has_humanoid_bones_and_spring_chains(default_avatar):
    skel = default_avatar.skeleton
    assert set(REQUIRED_BONES) <= set(skel.humanoid)
    chains = default_avatar.springs.chains
    tails = [c for c in chains if c.name.startswith("twinTail")]
    skirt = [c for c in chains if c.name.startswith("skirt")]
    assert len(tails) == 2 and all(len(c.joints) == 6 for c in tails)
    assert all(skel.parents[c.joints[0]] == skel.index("head") for c in tails)
    assert len(skirt) == 12 and all(
        len(c.joints) == 4 and skel.parents[c.joints[0]] == skel.index("hips") for c in skirt
    )
    assert 25_000 <= default_avatar.mesh.num_vertices <= 30_000


def test_building_is_deterministic(default_avatar):
    again = build_default_avatar()
    for field in ("positions", "triangles", "joints", "weights", "colors", "part_ids", "inverse_bind_matrices"):
        assert np.array_equal(getattr(again.mesh, field), getattr(default_avatar.mesh, field)), field
    assert again.skeleton.names == default_avatar.skeleton.names
    assert np.array_equal(again.skeleton.rest_translations, default_avatar.skeleton.rest_translations)
    assert again.springs == default_avatar.springs
