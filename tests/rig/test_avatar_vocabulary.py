"""The default character's shape vocabulary: hair styles, lower clothes, sleeves, volumes, proportions.

Each kind builds a valid, mirror-symmetric rig that animates; each continuous factor moves the
silhouette the way its name says; the fitter's tables and the JSON round trip hold.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace

import numpy as np
import pytest
from scipy.spatial import cKDTree

from avatar_app.core.errors import SettingError
from avatar_app.rig import CharacterAnimator, DemoMotion, build_default_avatar, rest_udp_coordinates
from avatar_app.rig.avatar_style import (
    _LIMITS,
    CURTAIN_STYLES,
    EAR_KINDS,
    HAIR_STYLES,
    LOWER_KINDS,
    PART_NAMES,
    SHAPE_CHOICES,
    SHAPE_CONTINUOUS,
    SLEEVE_KINDS,
    AvatarStyle,
    hair_hem_fraction,
    heads_tall,
)

# procedural parts are exact mirror images; the cap and the body follow the asset (2 mm / 16 mm)
MIRROR_TOLERANCE_M = {"skirt": 1e-5, "eye_white": 1e-5, "iris": 1e-5, "hair": 3e-3}
BODY_TOLERANCE_M = 0.02


@pytest.fixture(scope="module", autouse=True)
def mannequin():
    pytest.importorskip("mannequin", reason="needs mannequin-x: pip install mannequin-x (the 'tools' extra)")


def _points(character, part: str) -> np.ndarray:
    mesh = character.mesh
    return mesh.positions[mesh.part_ids == PART_NAMES.index(part)].astype(np.float64)


def _assert_mirror_symmetric(character):
    mesh = character.mesh
    pos = mesh.positions.astype(np.float64)
    for k, name in enumerate(mesh.part_names):
        part = pos[mesh.part_ids == k]
        if len(part):
            dist, _ = cKDTree(part).query(part * [-1, 1, 1])
            assert dist.max() < MIRROR_TOLERANCE_M.get(name, BODY_TOLERANCE_M), (name, dist.max())
    skeleton = character.skeleton
    world = skeleton.rest_world_matrices[:, :3, 3]
    for j, n in enumerate(skeleton.names):
        other = n
        for a, b in (("left", "right"), ("right", "left"), ("L_", "R_"), ("R_", "L_")):
            if a in n:
                other = n.replace(a, b)
                break
        np.testing.assert_allclose(world[skeleton.index(other)], world[j] * [-1, 1, 1], atol=1e-6, err_msg=n)


def _assert_animates(character, frames: int = 8):
    animator = CharacterAnimator(character)
    motion = DemoMotion()
    for k in range(frames):
        vertices = animator.update(motion.pose_at(5.0 + 0.25 * k), 1.0 / 30.0)
    assert np.isfinite(vertices).all()
    assert np.abs(vertices).max() < 1.5 * character.rest_height()
    udp = rest_udp_coordinates(character)
    assert udp.min() >= 0.0 and udp.max() <= 1.0
    lo, _ = character.rest_bounds()
    assert lo[1] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("hair_style", HAIR_STYLES)
def test_every_hair_style_builds_a_symmetric_rig_that_animates(hair_style):
    character = build_default_avatar(AvatarStyle(hair_style=hair_style, hair_length=0.8))
    _assert_mirror_symmetric(character)
    _assert_animates(character)
    chains = [c.name for c in character.springs.chains]
    assert sum(n.startswith("twinTail") for n in chains) == (2 if hair_style == "twin_tails" else 0)
    assert chains.count("ponytail") == (hair_style == "ponytail")
    hair_chains = sum(n.startswith("hair") for n in chains)
    assert hair_chains == (8 if hair_style in ("shoulder", "long_straight", "long_wavy") else 0)  # a bob is rigid


@pytest.mark.parametrize("lower", LOWER_KINDS)
def test_every_lower_kind_builds_a_symmetric_rig_that_animates(lower):
    character = build_default_avatar(AvatarStyle(lower=lower))
    _assert_mirror_symmetric(character)
    _assert_animates(character)
    skirt_chains = sum(c.name.startswith("skirt") for c in character.springs.chains)
    assert skirt_chains == (12 if lower in ("skirt", "dress") else 0)
    assert (len(_points(character, "skirt")) > 0) == (lower == "skirt")


@pytest.mark.parametrize("sleeves", SLEEVE_KINDS)
def test_every_sleeve_kind_builds_and_covers_the_arm_down_to_where_it_says(sleeves):
    character = build_default_avatar(AvatarStyle(sleeves=sleeves, sleeve_volume=0.5))
    _assert_mirror_symmetric(character)
    skeleton = character.skeleton
    world = skeleton.rest_world_matrices[:, :3, 3]
    shoulder, elbow, wrist = (world[skeleton.index(f"left{b}")] for b in ("UpperArm", "LowerArm", "Hand"))
    top = _points(character, "top")
    on_arm = top[top[:, 0] > shoulder[0] + 0.03]  # outside the shoulder joint
    reach = np.linalg.norm(on_arm - shoulder, axis=1).max(initial=0.0)
    if sleeves == "none":
        assert reach == 0.0
    elif sleeves == "short":
        assert 0.05 < reach < np.linalg.norm(elbow - shoulder)
    else:
        assert reach > np.linalg.norm(wrist - shoulder) - 0.03


@pytest.mark.parametrize("hair_style", CURTAIN_STYLES)
def test_longer_hair_length_lowers_the_hem(hair_style):
    lowest = [
        _points(build_default_avatar(AvatarStyle(hair_style=hair_style, hair_length=t)), "hair")[:, 1].min()
        for t in (0.0, 1.0)
    ]
    assert lowest[1] < lowest[0] - 0.03, lowest


def test_curtain_styles_hang_to_their_ranges():
    skeleton = build_default_avatar().skeleton
    world = skeleton.rest_world_matrices[:, :3, 3]
    shoulder_y, hips_y = world[skeleton.index("leftUpperArm"), 1], world[skeleton.index("hips"), 1]
    lowest = {
        s: _points(build_default_avatar(AvatarStyle(hair_style=s, hair_length=0.5)), "hair")[:, 1].min()
        for s in ("short", "bob", "shoulder", "long_straight")
    }
    assert lowest["short"] > lowest["bob"] > shoulder_y - 0.02  # a bob ends above the shoulders
    assert shoulder_y > lowest["shoulder"] > lowest["long_straight"] > hips_y - 0.05
    assert hair_hem_fraction(AvatarStyle(hair_style="bob", hair_length=0.0)) == 0.06
    assert hair_hem_fraction(AvatarStyle()) is None  # twin tails have no hem


def test_hair_volume_puffs_the_hair_out():
    def half_width(volume):
        hair = _points(build_default_avatar(AvatarStyle(hair_style="bob", hair_volume=volume)), "hair")
        return np.abs(hair[:, 0]).max()

    assert half_width(2.0) > half_width(1.0) + 0.01


def test_long_wavy_hair_has_a_wavy_outline_where_straight_hair_is_smooth():
    def outline_wiggle(style):
        hair = _points(build_default_avatar(AvatarStyle(hair_style=style, hair_length=0.8)), "hair")
        rows = np.arange(hair[:, 1].min() + 0.04, hair[:, 1].min() + 0.4, 0.018)  # the sheet's row spacing
        width = np.array([np.abs(hair[np.abs(hair[:, 1] - y) < 0.012, 0]).max() for y in rows])
        return np.abs(np.diff(width, 2)).mean()

    assert outline_wiggle("long_wavy") > 1e-3 > 10 * outline_wiggle("long_straight")  # metres of wiggle


def test_no_bangs_leaves_the_forehead_bare():
    def hair_in_front(style):
        character = build_default_avatar(style)
        eyes = _points(character, "iris")
        hair = _points(character, "hair")
        forehead = (hair[:, 1] < eyes[:, 1].mean() + 0.045) & (np.abs(hair[:, 0]) < 0.03)  # below the cap's hairline
        return (forehead & (hair[:, 2] > eyes[:, 2].min() - 0.01)).sum()

    assert hair_in_front(AvatarStyle(bangs=True)) > 10
    assert hair_in_front(AvatarStyle(bangs=False)) == 0


@pytest.mark.parametrize("kind", [k for k in EAR_KINDS if k not in ("none", "buns")])
def test_ears_stand_above_the_head(kind):
    plain = _points(build_default_avatar(AvatarStyle(hair_style="short")), "hair")[:, 1].max()
    eared = _points(build_default_avatar(AvatarStyle(hair_style="short", ears=kind)), "hair")[:, 1].max()
    assert eared > plain + 0.03


def test_buns_sit_on_the_top_of_the_head_either_side():
    plain = _points(build_default_avatar(AvatarStyle(hair_style="short")), "hair")
    buns = _points(build_default_avatar(AvatarStyle(hair_style="short", ears="buns")), "hair")
    assert buns[:, 1].max() > plain[:, 1].max() + 0.01
    high = plain[:, 1].max() - 0.05  # the top of the head: the buns widen it by some 3 cm each side
    assert np.ptp(buns[buns[:, 1] > high, 0]) > np.ptp(plain[plain[:, 1] > high, 0]) + 0.06


def _measured_heads_tall(character) -> float:
    """Figure height over head height (jaw tip to crown of the skin wholly on the head), from the mesh."""
    mesh, skeleton = character.mesh, character.skeleton
    head = skeleton.index("head")
    on_head = ((mesh.joints == head) * mesh.weights).sum(axis=1) > 0.999
    skin = mesh.part_ids == PART_NAMES.index("skin")
    y = mesh.positions[on_head & skin, 1].astype(np.float64)
    return y.max() / (y.max() - y.min())


@pytest.mark.parametrize("head_scale", [0.95, 1.0, 1.3, 1.75])
def test_heads_tall_is_what_the_built_figure_measures(head_scale):
    style = AvatarStyle(head_scale=head_scale, height=1.05)
    assert _measured_heads_tall(build_default_avatar(style)) == pytest.approx(heads_tall(style), rel=0.01)


def test_a_bigger_head_makes_fewer_heads_tall_and_everything_on_it_grows():
    assert heads_tall(AvatarStyle()) == pytest.approx(8.2, abs=0.05)
    assert heads_tall(AvatarStyle(head_scale=1.42)) == pytest.approx(6.0, abs=0.05)
    assert heads_tall(AvatarStyle(head_scale=1.76)) == pytest.approx(5.0, abs=0.05)
    small, big = (build_default_avatar(AvatarStyle(head_scale=s)) for s in (1.0, 1.5))
    for part in ("iris", "eye_white"):
        spread = [np.ptp(_points(c, part)[:, 0]) for c in (small, big)]
        assert spread[1] == pytest.approx(1.5 * spread[0], rel=0.02), part
    assert big.springs.colliders[0].radius == pytest.approx(1.5 * small.springs.colliders[0].radius)


def test_shoulder_and_hip_width_move_the_limbs_apart():
    default = build_default_avatar()
    wide = build_default_avatar(AvatarStyle(shoulder_width=1.2, hip_width=0.85))

    def joint_x(character, bone):
        return character.skeleton.rest_world_matrices[character.skeleton.index(bone), 0, 3]

    assert joint_x(wide, "leftUpperArm") == pytest.approx(1.2 * joint_x(default, "leftUpperArm"), rel=1e-6)
    assert joint_x(wide, "leftUpperLeg") == pytest.approx(0.85 * joint_x(default, "leftUpperLeg"), rel=1e-6)
    np.testing.assert_allclose(wide.rest_vertices(), wide.mesh.positions, atol=1e-5)  # bind pose consistent


def test_trousers_cover_the_legs_to_the_ankles_and_looseness_flares_them():
    def legs(looseness):
        character = build_default_avatar(AvatarStyle(lower="trousers", trouser_looseness=looseness))
        mesh = character.mesh
        ankle_y = character.skeleton.rest_world_matrices[character.skeleton.index("leftFoot"), 1, 3]
        return character, mesh.positions[mesh.part_ids == PART_NAMES.index("shorts")], ankle_y

    tight, trousers, ankle_y = legs(0.0)
    assert trousers[:, 1].min() < ankle_y + 0.04  # down to the ankles
    mesh = tight.mesh
    shin = (mesh.positions[:, 1] > ankle_y + 0.05) & (mesh.positions[:, 1] < 0.6) & (np.abs(mesh.positions[:, 0]) < 0.2)
    assert not np.any(shin & (mesh.part_ids == PART_NAMES.index("skin")))
    assert not np.any(shin & (mesh.part_ids == PART_NAMES.index("socks")))
    _, flared, _ = legs(1.0)

    def ankle_width(points):
        near = np.abs(points[:, 1] - (ankle_y + 0.06)) < 0.02
        return np.ptp(points[near & (points[:, 0] > 0), 0])

    assert ankle_width(flared) > ankle_width(trousers) + 0.05


def test_a_dress_is_the_tops_colour_from_under_the_chest():
    style = AvatarStyle(lower="dress", colors=AvatarStyle().colors)
    character = build_default_avatar(style)
    mesh = character.mesh
    top = mesh.part_ids == PART_NAMES.index("top")
    np.testing.assert_allclose(mesh.colors[top, :3], np.broadcast_to(style.palette["top"], (top.sum(), 3)), atol=1e-6)
    skeleton = character.skeleton
    world = skeleton.rest_world_matrices[:, :3, 3]
    hips_y, chest_y = world[skeleton.index("hips"), 1], world[skeleton.index("chest"), 1]
    dress_joints = [c for c in character.springs.chains if c.name.startswith("skirt")]
    assert len(dress_joints) == 12
    top_points = mesh.positions[top]
    assert top_points[:, 1].min() < hips_y - 0.15  # the dress hangs below the hips
    waist = np.abs(top_points[:, 1] - (hips_y + 0.1)) < 0.02
    body = build_default_avatar(AvatarStyle(lower="shorts")).mesh
    on_body = np.isin(body.part_ids, [PART_NAMES.index(p) for p in ("skin", "top", "shorts")])
    body_waist = body.positions[on_body & (np.abs(body.positions[:, 1] - (hips_y + 0.1)) < 0.02)]
    body_waist = body_waist[np.abs(body_waist[:, 0]) < 0.2]  # not the hands
    assert np.ptp(top_points[waist, 2]) > np.ptp(body_waist[:, 2]) + 0.02  # it stands off the waist
    assert chest_y < top_points[:, 1].max()


@pytest.mark.parametrize("field_name, part", [("top_volume", "top"), ("sleeve_volume", "top")])
def test_volumes_push_the_top_off_the_body(field_name, part):
    def width(value):
        style = replace(AvatarStyle(sleeves="long"), **{field_name: value})
        points = _points(build_default_avatar(style), part)
        return np.abs(points[:, 0]).max() if field_name == "sleeve_volume" else np.ptp(points[:, 2])

    assert width(1.0) > width(0.0) + 0.02


def test_random_styles_cover_the_vocabulary_and_build():
    styles = [AvatarStyle.random(np.random.default_rng(seed)) for seed in range(300)]
    for name, options in SHAPE_CHOICES.items():
        assert {getattr(s, name) for s in styles} == set(options), name
    for name, (low, high) in SHAPE_CONTINUOUS.items():
        values = np.array([getattr(s, name) for s in styles])
        assert values.min() >= low and values.max() <= high and np.ptp(values) > 0.2 * (high - low), name
    assert AvatarStyle.random(np.random.default_rng(3)) == AvatarStyle.random(np.random.default_rng(3))
    for style in styles[:6]:
        character = build_default_avatar(style)
        _assert_animates(character, frames=4)


def test_describe_round_trips_through_json():
    for style in [AvatarStyle()] + [AvatarStyle.random(np.random.default_rng(seed)) for seed in range(10)]:
        assert AvatarStyle.from_dict(json.loads(json.dumps(style.describe()))) == style
    assert AvatarStyle.from_dict({}) == AvatarStyle()
    old = {"twin_tails": False, "skirt": False}  # describe() before the vocabulary grew
    assert AvatarStyle.from_dict(old) == AvatarStyle(hair_style="short", lower="shorts")


@pytest.mark.parametrize(
    "data, setting",
    [
        ({"hair_colour": 1}, "AvatarStyle"),
        ({"hair_style": "mohawk"}, "AvatarStyle.hair_style"),
        ({"lower": "kilt"}, "AvatarStyle.lower"),
        ({"sleeves": True}, "AvatarStyle.sleeves"),
        ({"bangs": "yes"}, "AvatarStyle.bangs"),
        ({"ears": "fox"}, "AvatarStyle.ears"),
        ({"head_scale": 3.0}, "AvatarStyle.head_scale"),
        ({"hair_length": float("nan")}, "AvatarStyle.hair_length"),
        ({"top_volume": True}, "AvatarStyle.top_volume"),
        ({"colors": [[1, 0, 0]]}, "AvatarStyle.colors"),
        ({"top_pattern": {"kind": "plain", "width": 2}}, "Pattern"),
        ({"twin_tails": True, "hair_style": "bob"}, "AvatarStyle.twin_tails"),
    ],
)
def test_bad_style_data_is_rejected_naming_the_field_and_the_fix(data, setting):
    with pytest.raises(SettingError, match=setting) as info:
        AvatarStyle.from_dict(data)
    assert "expected" in str(info.value) and "Fix:" in str(info.value)


def test_the_fitters_tables_name_fields_inside_the_limits():
    types = {f.name: f.type for f in fields(AvatarStyle)}
    defaults = AvatarStyle()
    for name, (low, high) in SHAPE_CONTINUOUS.items():
        assert types[name] == "float", name
        assert _LIMITS[name][0] <= low < high <= _LIMITS[name][1], name
        assert low <= getattr(defaults, name) <= high, name
    for name, options in SHAPE_CHOICES.items():
        assert getattr(defaults, name) in options, name
        for option in options:
            replace(defaults, **{name: option})  # every option is accepted


@pytest.mark.parametrize(
    "corner",
    [
        {"width": 1.08, "height": 0.94, "shoulder_width": 1.2, "head_scale": 0.95, "sleeves": "long"},
        {"head_scale": 1.75, "hair_style": "long_wavy", "hair_length": 1.0, "hair_volume": 2.5, "hip_width": 1.25},
        {"lower": "dress", "skirt_length": 2.4, "skirt_flare": 1.8, "top_volume": 1.0, "height": 0.94},
        {"lower": "trousers", "trouser_looseness": 1.0, "hip_width": 0.85, "shoulder_width": 0.85, "width": 0.92},
        {"hair_style": "ponytail", "tail_length": 1.6, "tail_radius": 1.4, "head_scale": 1.75, "ears": "bunny"},
    ],
)
def test_extreme_shapes_build_inside_the_udp_cube(corner):
    character = build_default_avatar(replace(AvatarStyle(), **corner))
    lo, hi = character.rest_bounds()
    assert np.all(hi - lo <= hi[1] - lo[1] + 1e-9), hi - lo  # nothing is clipped off the unit cube
    _assert_animates(character, frames=4)


def test_the_cached_body_is_read_only_so_builds_cannot_leak_into_each_other():
    from avatar_app.rig.clothes import body_labels
    from avatar_app.rig.proxy_body import proxy_body

    body = proxy_body()
    for array in (body.positions, body.joint_positions, body.weights, body.trunk, body_labels()):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = array[1]
    first = build_default_avatar(AvatarStyle(head_scale=1.5, top_volume=1.0, lower="trousers"))
    first.mesh.positions[:] = 0.0  # a caller scribbling on its character
    again = build_default_avatar()
    assert np.ptp(again.mesh.positions[:, 1]) > 1.5
