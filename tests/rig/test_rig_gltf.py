"""glTF/VRM loading and writing: round trip, VRM 0.x and 1.0 extensions, bad files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from avatar_app.rig import Character, RigFileError, SkinnedMesh, load_gltf, save_glb
from avatar_app.rig.spring_settings import Collider, SpringJointSettings

from gltf_fixtures import POSITIONS, VRM0, VRM1, write_gltf
from rig_helpers import bar_character


def test_default_avatar_round_trips_through_glb(default_avatar, tmp_path):
    path = save_glb(default_avatar, tmp_path / "avatar.vrm")
    back = load_gltf(path)
    a, b = default_avatar, back
    assert b.name == a.name
    assert b.skeleton.names == a.skeleton.names
    assert np.array_equal(b.skeleton.parents, a.skeleton.parents)
    assert b.skeleton.humanoid == a.skeleton.humanoid
    np.testing.assert_allclose(b.skeleton.rest_translations, a.skeleton.rest_translations, atol=1e-9)
    np.testing.assert_allclose(b.skeleton.rest_rotations, a.skeleton.rest_rotations, atol=1e-9)
    for field in ("positions", "triangles", "joints", "weights", "part_ids"):
        assert np.array_equal(getattr(b.mesh, field), getattr(a.mesh, field)), field
    assert b.mesh.part_names == a.mesh.part_names
    np.testing.assert_allclose(
        b.mesh.inverse_bind_matrices, a.mesh.inverse_bind_matrices, atol=1e-6
    )  # stored as float32
    np.testing.assert_allclose(b.mesh.colors, a.mesh.colors, atol=1e-5)  # sRGB -> linear in the file -> sRGB
    assert b.springs == a.springs
    np.testing.assert_allclose(b.rest_vertices(), a.rest_vertices(), atol=1e-5)


def test_more_than_four_influences_use_joints_1(tmp_path):
    c = bar_character()
    mesh = c.mesh
    joints = np.concatenate([mesh.joints, np.zeros((mesh.num_vertices, 4), dtype=np.int32) + [0, 1, 2, 3]], axis=1)
    weights = np.concatenate([mesh.weights * 0.5, np.full((mesh.num_vertices, 4), 0.125)], axis=1)
    six = Character(c.skeleton, dataclasses.replace(mesh, joints=joints, weights=weights), name="six")
    back = load_gltf(save_glb(six, tmp_path / "six.glb"))
    assert back.mesh.joints.shape[1] == 6
    np.testing.assert_allclose(back.mesh.weights, six.mesh.weights, atol=1e-7)


def test_vrm1_humanoid_and_spring_bones_are_read(tmp_path):
    c = load_gltf(write_gltf(tmp_path / "vrm1.gltf", extensions=VRM1))
    skel = c.skeleton
    assert c.name == "fixture1"
    assert {b: skel.names[j] for b, j in skel.humanoid.items()} == {"hips": "hips", "spine": "spine", "head": "head"}
    (chain,) = c.springs.chains
    assert [skel.names[j] for j in chain.joints] == ["hair0", "hair1"]
    assert chain.settings[0] == SpringJointSettings(
        stiffness=0.7, gravity_power=0.3, gravity_dir=(0.0, -1.0, 0.0), drag=0.25, hit_radius=0.02
    )
    assert chain.settings[1] == SpringJointSettings()  # omitted fields: the schema defaults
    assert chain.collider_groups == (0, 1) and chain.center == skel.index("head")
    sphere, capsule = c.springs.colliders
    assert sphere == Collider(skel.index("head"), (0.0, 0.1, 0.0), 0.05)
    assert capsule == Collider(skel.index("spine"), (0.0, 0.0, 0.0), 0.08, (0.0, 0.3, 0.0))
    # the rest mesh is where the file puts it
    np.testing.assert_allclose(c.rest_vertices(), POSITIONS, atol=1e-6)


def test_vrm0_humanoid_springs_and_facing_are_converted(tmp_path):
    c = load_gltf(write_gltf(tmp_path / "vrm0.gltf", extensions=VRM0))
    skel = c.skeleton
    assert skel.humanoid["leftThumbMetacarpal"] == skel.index("thumb")  # 0.x leftThumbProximal
    assert "leftThumbProximal" not in skel.humanoid
    # VRM 0.x faces -z: turned 180 degrees about y so it faces +z like everything else
    np.testing.assert_allclose(c.rest_vertices(), POSITIONS * [-1, 1, -1], atol=1e-6)
    # the bone group becomes one chain with a real 7 cm tail past the last bone
    (chain,) = c.springs.chains
    names = [skel.names[j] for j in chain.joints]
    assert names == ["hair0", "hair1", "hair1_tail"]
    world = skel.rest_world_matrices[:, :3, 3]
    tail = world[chain.joints[2]] - world[chain.joints[1]]
    np.testing.assert_allclose(tail, [0.0, -0.07, 0.0], atol=1e-9)
    assert chain.settings[0] == SpringJointSettings(
        stiffness=0.5, gravity_power=0.2, gravity_dir=(0.0, -1.0, 0.0), drag=0.4, hit_radius=0.02
    )
    (collider,) = c.springs.colliders
    assert collider == Collider(skel.index("head"), (0.0, 0.1, -0.02), 0.05)  # VRM 0.x stores z flipped


def test_scaled_nodes_are_folded_into_the_skeleton(tmp_path):
    c = load_gltf(write_gltf(tmp_path / "scaled.gltf", root_scale=2.0))
    np.testing.assert_allclose(c.rest_vertices(), POSITIONS, atol=1e-5)  # the file's own rest mesh
    np.testing.assert_allclose(np.linalg.norm(c.skeleton.rest_world_matrices[:, :3, :3], axis=1), 1.0, atol=1e-12)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(
        RigFileError, match=r"nope\.vrm: expected an existing glTF/VRM file, found no such file\. Fix: check the path"
    ):
        load_gltf(tmp_path / "nope.vrm")


def test_gltf_without_a_skin_is_rejected_with_the_fix(tmp_path):
    path = write_gltf(tmp_path / "static.gltf", skinned=False)
    with pytest.raises(
        RigFileError, match=r"static\.gltf: expected a skinned mesh .*Fix: export the mesh with its armature"
    ):
        load_gltf(path)


def test_garbage_file_is_rejected(tmp_path):
    path = tmp_path / "broken.glb"
    path.write_bytes(b"glTF\x02\x00\x00\x00garbage")
    with pytest.raises(RigFileError, match=r"broken\.glb: expected a glTF 2\.0 file"):
        load_gltf(path)
    text = tmp_path / "broken.gltf"
    text.write_text("{ not json")
    with pytest.raises(RigFileError, match=r"broken\.gltf: expected a glTF 2\.0 file"):
        load_gltf(text)


def test_save_keeps_vertex_colours_and_parts_of_a_small_mesh(tmp_path):
    c = bar_character()
    colors = np.tile([0.2, 0.4, 0.6, 1.0], (c.mesh.num_vertices, 1))
    parts = (np.arange(c.mesh.num_vertices) % 2).astype(np.int16)
    mesh = SkinnedMesh(
        c.mesh.positions,
        c.mesh.triangles,
        c.mesh.joints,
        c.mesh.weights,
        c.mesh.inverse_bind_matrices,
        colors,
        parts,
        ("a", "b"),
    )
    back = load_gltf(save_glb(Character(c.skeleton, mesh, name="bar"), tmp_path / "bar.glb"))
    np.testing.assert_allclose(back.mesh.colors, colors, atol=1e-6)
    assert back.mesh.part_names == ("a", "b") and np.array_equal(back.mesh.part_ids, parts)
