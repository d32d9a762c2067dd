"""Variations of the default character: the default stays the shipped one, variants are valid rigs."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.rig import (
    CharacterAnimator,
    DemoMotion,
    build_default_avatar,
    rest_udp_coordinates,
)
from avatar_app.rig.default_avatar import PART_NAMES, AvatarStyle, Pattern

MESH_FIELDS = ("positions", "triangles", "joints", "weights", "colors", "part_ids", "inverse_bind_matrices")


@pytest.fixture(scope="module")
def mannequin():
    pytest.importorskip("mannequin", reason="needs mannequin-x: pip install mannequin-x (the 'tools' extra)")


def _animate(character, frames: int = 12) -> tuple[CharacterAnimator, np.ndarray]:
    animator = CharacterAnimator(character)
    motion = DemoMotion()
    for k in range(frames):  # the wave and the dance: arms up, spring chains swinging
        vertices = animator.update(motion.pose_at(5.0 + 0.25 * k), 1.0 / 30.0)
    return animator, vertices


def test_default_style_builds_the_shipped_character_bit_for_bit(default_avatar):
    styled = build_default_avatar(AvatarStyle())
    for name in MESH_FIELDS:
        assert np.array_equal(getattr(styled.mesh, name), getattr(default_avatar.mesh, name)), name
    assert styled.skeleton.names == default_avatar.skeleton.names
    assert np.array_equal(styled.skeleton.rest_translations, default_avatar.skeleton.rest_translations)
    assert repr(styled.springs) == repr(default_avatar.springs)


def test_a_seed_always_draws_the_same_style_and_different_seeds_differ(mannequin):
    assert AvatarStyle.random(np.random.default_rng(7)) == AvatarStyle.random(np.random.default_rng(7))
    styles = [AvatarStyle.random(np.random.default_rng(seed)) for seed in range(20)]
    assert len({s.colors for s in styles}) == 20
    assert len({(s.hair_style, s.lower) for s in styles}) > 1  # tails and skirt come and go
    assert len({s.top_pattern.kind for s in styles}) > 2


def test_different_seeds_give_different_colours_and_geometry(mannequin):
    a = build_default_avatar(AvatarStyle.random(np.random.default_rng(2)))
    b = build_default_avatar(AvatarStyle.random(np.random.default_rng(5)))
    again = build_default_avatar(AvatarStyle.random(np.random.default_rng(2)))
    for name in MESH_FIELDS:
        assert np.array_equal(getattr(a.mesh, name), getattr(again.mesh, name)), name
    assert not np.array_equal(np.unique(a.mesh.colors, axis=0), np.unique(b.mesh.colors, axis=0))
    assert a.rest_height() != pytest.approx(b.rest_height(), abs=1e-3)


@pytest.mark.parametrize(
    "style",
    [
        AvatarStyle(hair_style="short", lower="shorts"),
        AvatarStyle(
            tail_length=1.5,
            tail_radius=1.3,
            bangs_length=1.25,
            skirt_length=1.35,
            skirt_flare=1.6,
            width=1.1,
            height=0.92,
        ),
        AvatarStyle(
            tail_length=0.6,
            tail_radius=0.7,
            bangs_length=0.6,
            skirt_length=0.75,
            skirt_flare=0.4,
            width=0.9,
            height=1.08,
        ),
    ],
    ids=["no_tails_no_skirt", "long_wide", "short_narrow"],
)
def test_variants_are_valid_rigs_that_animate_without_nan(mannequin, style):
    character = build_default_avatar(style)
    mesh, skeleton = character.mesh, character.skeleton
    chains = [c.name for c in character.springs.chains]
    assert sum(n.startswith("twinTail") for n in chains) == (2 if style.hair_style == "twin_tails" else 0)
    assert sum(n.startswith("skirt") for n in chains) == (12 if style.lower == "skirt" else 0)
    assert ((mesh.part_ids == PART_NAMES.index("skirt")).sum() > 0) == (style.lower == "skirt")
    lo, hi = character.rest_bounds()
    assert lo[1] == pytest.approx(0.0, abs=1e-6)  # still on the floor, centred in z
    assert (lo[2] + hi[2]) / 2 == pytest.approx(0.0, abs=1e-6)
    udp = rest_udp_coordinates(character)
    assert udp.min() >= 0.0 and udp.max() <= 1.0
    world = skeleton.rest_world_matrices[:, :3, 3]  # joints stay mirror images of each other
    left, right = world[skeleton.index("leftHand")], world[skeleton.index("rightHand")]
    np.testing.assert_allclose(left * [-1, 1, 1], right, atol=1e-6)

    animator, vertices = _animate(character)
    assert np.isfinite(vertices).all()
    assert np.abs(vertices).max() < 1.5 * character.rest_height()  # nothing flew off
    posed, rest = animator.world_matrices[:, :3, 3], world
    for chain in character.springs.chains:  # spring bones keep their lengths
        joints = list(chain.joints)
        np.testing.assert_allclose(
            np.linalg.norm(np.diff(posed[joints], axis=0), axis=1),
            np.linalg.norm(np.diff(rest[joints], axis=0), axis=1),
            rtol=1e-6,
        )


def test_proportions_scale_the_whole_character(default_avatar):
    character = build_default_avatar(AvatarStyle(width=1.1, height=0.92))
    assert character.rest_height() == pytest.approx(0.92 * default_avatar.rest_height(), rel=1e-4)
    lo, hi = character.rest_bounds()
    lo0, hi0 = default_avatar.rest_bounds()
    assert hi[0] - lo[0] == pytest.approx(1.1 * (hi0[0] - lo0[0]), rel=1e-4)
    skeleton = character.skeleton
    world = skeleton.rest_world_matrices[:, :3, 3]
    world0 = default_avatar.skeleton.rest_world_matrices[:, :3, 3]
    head = skeleton.index("head")
    np.testing.assert_allclose(world[head], world0[head] * [1.1, 0.92, 1.1], atol=1e-4)
    # the bind pose is consistent: skinning the rest pose gives the stored positions back
    np.testing.assert_allclose(character.rest_vertices(), character.mesh.positions, atol=1e-5)
    head_collider = character.springs.colliders[0]
    assert head_collider.radius == pytest.approx(0.085 * (1.1 * 0.92 * 1.1) ** (1 / 3))


def test_patterns_paint_a_second_colour_on_their_part(mannequin):
    stripes = Pattern("stripes_h", (1.0, 0.0, 0.0), period_m=0.08)
    split = Pattern("split", (0.0, 1.0, 0.0))
    character = build_default_avatar(AvatarStyle(top_pattern=stripes, skirt_pattern=split))
    mesh = character.mesh
    base = dict(zip(PART_NAMES, AvatarStyle().colors))
    for part, second in (("top", (1.0, 0.0, 0.0)), ("skirt", (0.0, 1.0, 0.0))):
        colours = mesh.colors[mesh.part_ids == PART_NAMES.index(part), :3]
        is_second = np.all(np.isclose(colours, second), axis=1)
        is_base = np.all(np.isclose(colours, base[part]), axis=1)
        assert np.all(is_second | is_base), part
        assert 0.25 < is_second.mean() < 0.75, (part, is_second.mean())  # stripes and halves: about half
    skirt = mesh.positions[mesh.part_ids == PART_NAMES.index("skirt")]
    skirt_colours = mesh.colors[mesh.part_ids == PART_NAMES.index("skirt"), :3]
    assert np.all(np.isclose(skirt_colours[skirt[:, 0] > 0.01], (0.0, 1.0, 0.0)))  # split: the character's left
    others = mesh.part_ids == PART_NAMES.index("socks")
    assert len(np.unique(mesh.colors[others], axis=0)) == 1  # plain parts stay flat


@pytest.mark.parametrize(
    "kwargs, setting",
    [({"width": 2.0}, "width"), ({"colors": ((1.0, 0.0, 0.0),)}, "colors"), ({"skirt_length": 0.1}, "skirt_length")],
)
def test_out_of_range_styles_are_rejected_with_the_range(kwargs, setting):
    with pytest.raises(SettingError, match=f"AvatarStyle.{setting}") as info:
        AvatarStyle(**kwargs)
    assert "Fix:" in str(info.value)


def test_pattern_kind_is_checked():
    with pytest.raises(SettingError, match="Pattern.kind.*stripes_h"):
        Pattern("zigzag")
