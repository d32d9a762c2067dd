"""Face morphs on the proxies: which targets exist, how skinning carries them, glTF/VRM round trips."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from avatar_app.rig import CharacterAnimator, build_default_avatar, load_gltf, save_glb
from avatar_app.rig.avatar_style import AvatarStyle
from avatar_app.rig.expressions import EMOTIONS, VOWELS, Expression, ExpressionReader, expression_name
from avatar_app.rig.humanoid import HumanoidPose
from avatar_app.rig.quaternion import quat_from_euler
from avatar_app.rig.skinning import SkinnedMesh

FACE = ("blinkLeft", "blinkRight", *VOWELS, *EMOTIONS)


def _fitted_style() -> AvatarStyle:
    return AvatarStyle.from_dict({"head_scale": 1.25, "hair_style": "bob", "lower": "trousers", "height": 1.1})


@pytest.mark.parametrize("style", [None, "fitted"], ids=["default", "fitted"])
def test_every_proxy_has_eyelids_mouth_and_brows(style):
    pytest.importorskip("mannequin")
    character = build_default_avatar(_fitted_style() if style == "fitted" else None)
    morphs = character.mesh.morphs
    assert set(morphs.names) == set(FACE)
    rest = character.rest_vertices()
    head_y = character.skeleton.rest_world_matrices[character.humanoid["head"], 1, 3]
    moved = rest[morphs.indices]
    assert np.all(np.abs(moved[:, 1] - head_y) < 0.12)  # only the face moves
    left = morphs.deltas[morphs.names.index("blinkLeft")]
    right = morphs.deltas[morphs.names.index("blinkRight")]
    assert np.all(moved[np.any(left != 0, axis=1), 0] > 0)  # the character's left eye is at +x
    assert np.all(moved[np.any(right != 0, axis=1), 0] < 0)
    assert left[:, 1].min() < -0.025 * (1.25 if style else 1.0)  # the lid travels the eye's height
    brows = morphs.deltas[morphs.names.index("surprised")]
    assert brows[:, 1].max() > 0.003  # surprise raises the brows


def test_morphs_are_skinned_with_the_head():
    pytest.importorskip("mannequin")
    character = build_default_avatar()
    mesh = character.mesh
    pose = HumanoidPose.from_bones({"head": quat_from_euler(np.radians([30.0, 20.0, 0.0]), "ZYX")})
    animator = CharacterAnimator(character, springs=False)
    expression = Expression.of(blinkLeft=1.0, aa=0.5)
    got = animator.update(pose, 1 / 30, expression)
    world = animator.world_matrices
    weights = mesh.morphs.weights_for(expression)
    morphed = mesh.positions.copy()
    morphed[mesh.morphs.indices] += mesh.morphs.offsets(weights)
    reference = SkinnedMesh(morphed, mesh.triangles, mesh.joints, mesh.weights, mesh.inverse_bind_matrices)
    np.testing.assert_allclose(got, reference.skin_dense(world), atol=2e-5)
    neutral = animator.update(pose, 1 / 30, None)
    assert np.abs(got - neutral).max() > 0.02
    unchanged = np.setdiff1d(np.arange(mesh.num_vertices), mesh.morphs.indices)
    np.testing.assert_array_equal(got[unchanged], neutral[unchanged])


def test_blink_folds_into_each_eye_and_vowels_add_up_to_one():
    pytest.importorskip("mannequin")
    morphs = build_default_avatar().mesh.morphs
    w = dict(zip(morphs.names, morphs.weights_for(Expression.of(blink=1.0, blinkLeft=1.0, aa=1.0, oh=1.0))))
    assert w["blinkLeft"] == 1.0 and w["blinkRight"] == 1.0  # not 2: Blink and Blink_L both at 1
    assert w["aa"] + w["oh"] == pytest.approx(1.0)
    assert morphs.weights_for(Expression()) is None


def test_glb_round_trip_keeps_the_expressions_as_vrm1(tmp_path):
    pytest.importorskip("mannequin")
    character = build_default_avatar()
    path = save_glb(character, tmp_path / "avatar.glb")
    import pygltflib

    gltf = pygltflib.GLTF2().load(str(path))
    preset = gltf.extensions["VRMC_vrm"]["expressions"]["preset"]
    assert set(preset) == set(FACE)
    assert gltf.meshes[0].primitives[0].targets  # stored sparse, as glTF morph targets
    loaded = load_gltf(path).mesh.morphs
    assert loaded.names == character.mesh.morphs.names
    np.testing.assert_array_equal(loaded.indices, character.mesh.morphs.indices)
    np.testing.assert_allclose(loaded.deltas, character.mesh.morphs.deltas, atol=1e-7)


def test_vrm0_blendshape_groups_are_read_with_their_weights(tmp_path):
    pytest.importorskip("mannequin")
    import pygltflib

    character = build_default_avatar()
    gltf = pygltflib.GLTF2().load(str(save_glb(character, tmp_path / "a.glb")))
    names = character.mesh.morphs.names
    vrm1 = gltf.extensions.pop("VRMC_vrm")
    gltf.extensions.pop("VRMC_springBone", None)
    bones = [{"bone": b, "node": v["node"]} for b, v in vrm1["humanoid"]["humanBones"].items()]
    groups = [
        {"presetName": "blink_l", "binds": [{"mesh": 0, "index": names.index("blinkLeft"), "weight": 50}]},
        {"presetName": "a", "binds": [{"mesh": 0, "index": names.index("aa"), "weight": 100}]},
        {"presetName": "lookup", "binds": []},
    ]
    gltf.extensions["VRM"] = {"humanoid": {"humanBones": bones}, "blendShapeMaster": {"blendShapeGroups": groups}}
    gltf.extensionsUsed = ["VRM"]
    gltf.save_binary(str(tmp_path / "old.vrm"))
    morphs = load_gltf(tmp_path / "old.vrm").mesh.morphs
    assert set(morphs.names) == {"blinkLeft", "aa"}
    full = character.mesh.morphs.dense("blinkLeft", character.mesh.num_vertices)
    np.testing.assert_allclose(morphs.dense("blinkLeft", character.mesh.num_vertices), 0.5 * full, atol=1e-7)


def test_expression_names_from_vrm0_vrm1_and_arkit():
    assert expression_name("Blink_L") == "blinkLeft"
    assert expression_name("A") == "aa"
    assert expression_name("Joy") == "happy"
    assert expression_name("Sorrow") == "sad"
    assert expression_name("Fun") == "relaxed"
    assert expression_name("blinkRight") == "blinkRight"
    assert expression_name("eyeBlinkLeft") == "blinkLeft"
    assert expression_name("Wink") is None


def test_bad_values_are_ignored_with_one_warning_each(caplog):
    reader = ExpressionReader("test sender")
    raw = {"Blink": float("nan"), "A": 3.0, "Smirk": 1.0, "Joy": "lots", "Blink_R": 0.5, "LookUp": 1.0}
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            state = reader.read(raw)
    assert state["blink"] == 0.0  # NaN: ignored
    assert state["aa"] == 1.0  # out of range: clipped
    assert state["happy"] == 0.0  # not a number: ignored
    assert state["blinkRight"] == 0.5
    texts = [r.getMessage() for r in caplog.records]
    assert len(texts) == 4, texts  # NaN, range, unknown, type: once each, not per frame; LookUp is quiet
    assert any("Smirk" in t for t in texts)
    assert reader.seen == {"aa", "blinkRight"}


def test_a_senders_many_unknown_names_are_one_warning(caplog):
    reader = ExpressionReader("arkit sender")
    arkit = {name: 0.5 for name in ("eyeBlinkLeft", "jawOpen", "cheekPuff", "mouthRollLower", "tongueOut")}
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            state = reader.read(arkit)
        reader.read({"browInnerUp": 1.0})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cheekPuff, mouthRollLower, tongueOut" in warnings[0].getMessage()
    assert any("browInnerUp" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)
    assert state["blinkLeft"] == 0.5 and state["aa"] == 0.5
