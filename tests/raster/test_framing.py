"""Framings (full, knee, waist, bust) and the camera that follows the body: numpy, plus one GL render."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.raster.camera import yaw_view_dir
from avatar_app.raster.character_view import CharacterView, target_camera
from avatar_app.raster.framing import (
    FRAMINGS,
    KNEE_DROP,
    FollowCamera,
    classify_cut,
    cut_height,
    drawing_camera,
    framed_camera,
    measure,
)
from avatar_app.rig import Character, DemoMotion, HumanoidPose, HumanoidRig, Skeleton, SkinnedMesh, forward_kinematics
from avatar_app.rig.humanoid import BONE_INDEX
from avatar_app.rig.quaternion import identity_quat, quat_from_euler, quat_multiply

SIZE = 128
CUT_FRAMINGS = ("knee", "waist", "bust")


@pytest.fixture(scope="module")
def character() -> Character:
    pytest.importorskip("mannequin", reason="needs mannequin-x: pip install mannequin-x (the 'tools' extra)")
    from avatar_app.rig import build_default_avatar

    return build_default_avatar()


@pytest.fixture(scope="module")
def rig(character) -> HumanoidRig:
    return HumanoidRig(character.skeleton)


def _joint(character, bone) -> np.ndarray:
    return character.skeleton.rest_world_matrices[character.humanoid[bone], :3, 3]


def _rows(camera, points) -> np.ndarray:
    return camera.project(np.atleast_2d(points), SIZE, SIZE)[:, 1]


def _posed_joints(rig, pose: HumanoidPose) -> np.ndarray:
    return forward_kinematics(rig.skeleton, rig.to_pose(pose))[:, :3, 3]


def _turned(pose: HumanoidPose, bones: dict[str, tuple[float, float, float]], hips=(0.0, 0.0, 0.0)) -> HumanoidPose:
    """``pose`` with extra (x, y, z) degrees on ``bones`` and the hips moved by ``hips`` hip heights."""
    rotations = pose.rotations.copy()
    for bone, (x, y, z) in bones.items():
        extra = quat_from_euler(np.radians([[z, y, x]]), "ZYX")[0]
        rotations[BONE_INDEX[bone]] = quat_multiply(extra, rotations[BONE_INDEX[bone]])
    return HumanoidPose(rotations, pose.hips_translation + np.asarray(hips))


def _lean_step_crouch(frames: int = 40) -> list[HumanoidPose]:
    """Idle, then over ``frames`` frames a lean and a long step to the same side (+x), and a crouch."""
    motion = DemoMotion()
    poses = []
    for k in range(frames):
        s = k / (frames - 1)
        bend = {side + bone: (sign * 70 * s, 0, 0) for side in ("left", "right") for bone, sign in
                (("UpperLeg", -0.5), ("LowerLeg", 1.0))}  # fmt: skip
        poses.append(_turned(motion.pose_at(k / 30), {"spine": (0, 0, -30 * s), **bend}, hips=(0.7 * s, -0.2 * s, 0)))
    return poses


def _inside(camera, point, margin_px: float = 0.0) -> bool:
    col, row, _ = camera.project(np.atleast_2d(point), SIZE, SIZE)[0]
    return margin_px <= col <= SIZE - margin_px and margin_px <= row <= SIZE - margin_px


# -- framed cameras ------------------------------------------------------------------


def test_full_framing_is_the_target_camera(character):
    for aspect, margin, yaw in ((1.0, 0.03, 0.0), (16 / 9, 0.05, 45.0), (0.5, 0.0, 180.0)):
        view_dir = yaw_view_dir(yaw)
        assert framed_camera(character, "full", aspect, margin, view_dir) == target_camera(
            character, aspect, margin, view_dir
        )
    follow = FollowCamera(character, "full")
    stepped = _turned(HumanoidPose.identity(), {}, hips=(0.8, 0.0, 0.0))
    assert follow.update(_posed_joints(HumanoidRig(character.skeleton), stepped), 1 / 30) == target_camera(character)


@pytest.mark.parametrize(
    ("framing", "inside", "outside"),
    [
        ("knee", ("leftLowerLeg", "rightLowerLeg", "hips"), ("leftFoot", "rightFoot")),
        ("waist", ("hips", "spine"), ("leftLowerLeg", "rightLowerLeg")),
        ("bust", ("upperChest", "neck"), ("spine", "hips")),
    ],
)
def test_each_cut_framing_cuts_at_its_joints_and_shows_the_head(character, framing, inside, outside):
    camera = framed_camera(character, framing)
    cut = cut_height(character, framing)
    assert _rows(camera, [0.0, cut, 0.0])[0] == pytest.approx(SIZE, abs=1e-6)  # the cut is the bottom edge
    assert np.all(_rows(camera, [_joint(character, b) for b in inside]) < SIZE - 2)  # pixels clear of the cut
    assert np.all(_rows(camera, [_joint(character, b) for b in outside]) > SIZE + 2)
    lo, hi = character.rest_bounds()
    head_row, top_row = _rows(camera, [_joint(character, "head"), [0.0, hi[1], 0.0]])
    assert 0.0 < top_row < head_row < SIZE  # the whole head, with headroom above it
    assert top_row > 0.05 * SIZE


def test_knee_cut_is_just_below_the_knees(character):
    knee = np.mean([_joint(character, b)[1] for b in ("leftLowerLeg", "rightLowerLeg")])
    ankle = np.mean([_joint(character, b)[1] for b in ("leftFoot", "rightFoot")])
    assert cut_height(character, "knee") == pytest.approx(knee - KNEE_DROP * (knee - ankle))
    assert cut_height(character, "full") == pytest.approx(character.rest_bounds()[0][1])


def test_full_framing_shows_the_whole_body_above_its_bottom_edge(character):
    camera = framed_camera(character, "full")
    rows = _rows(camera, character.rest_vertices())
    assert rows.max() < SIZE - 1 and rows.min() > 0


def test_framings_get_closer_in_order(character):
    heights = [framed_camera(character, f).half_height for f in FRAMINGS]
    cuts = [cut_height(character, f) for f in FRAMINGS]
    assert heights == sorted(heights, reverse=True) and cuts == sorted(cuts)


def test_a_continuous_cut_puts_the_bottom_edge_there(character):
    for cut in (0.3, 0.7, 1.05):
        camera = framed_camera(character, cut, aspect=16 / 9)
        assert _rows(camera, [0.2, cut, 0.0])[0] == pytest.approx(SIZE, abs=1e-6)


def test_classify_cut_names_each_framings_cut_and_splits_halfway(character):
    m = measure(character)
    cuts = [cut_height(m, f) for f in FRAMINGS]
    assert [classify_cut(m, c) for c in cuts] == list(FRAMINGS)
    for (lower, upper), low, high in zip(zip(FRAMINGS, FRAMINGS[1:]), cuts, cuts[1:]):
        middle = 0.5 * (low + high)
        assert classify_cut(m, middle - 1e-4) == lower and classify_cut(m, middle + 1e-4) == upper
    assert classify_cut(m, cuts[0] - 0.5) == "full"  # a bottom edge under the feet cuts nothing
    assert classify_cut(m, _joint(character, "head")[1] - 1e-3) == "bust"


def test_drawing_camera_keeps_the_arms_and_puts_the_cut_on_the_bottom_edge(character):
    rest = character.rest_vertices()
    cut = cut_height(character, "waist")
    camera = drawing_camera(rest, cut, view_dir=yaw_view_dir(45.0))
    projected = camera.project(rest[rest[:, 1] >= cut], SIZE, SIZE)
    assert projected[:, 1].max() == pytest.approx(SIZE, abs=0.05)
    assert projected[:, 0].min() > 0 and projected[:, 0].max() < SIZE and projected[:, 1].min() > 0


# -- the follow camera ---------------------------------------------------------------


@pytest.mark.parametrize("framing", CUT_FRAMINGS)
def test_follow_camera_keeps_the_head_in_frame_where_a_still_camera_loses_it(character, rig, framing):
    follow = FollowCamera(character, framing)
    still = framed_camera(character, framing)
    head = character.humanoid["head"]
    lost = 0
    for pose in _lean_step_crouch():
        joints = _posed_joints(rig, pose)
        camera = follow.update(joints, 1 / 30)
        assert _inside(camera, joints[head], margin_px=follow.head_margin * SIZE - 1e-6)
        lost += not _inside(still, joints[head])
    assert lost > 5


def test_follow_camera_never_zooms_or_turns(character, rig):
    follow = FollowCamera(character, "waist", aspect=16 / 9, view_dir=yaw_view_dir(30.0))
    home = follow.home
    targets = []
    for pose in _lean_step_crouch():
        camera = follow.update(_posed_joints(rig, pose), 1 / 30)
        assert (camera.half_height, camera.near, camera.far, camera.up) == (
            home.half_height,
            home.near,
            home.far,
            home.up,
        )
        np.testing.assert_allclose(np.subtract(camera.eye, camera.target), np.subtract(home.eye, home.target))
        targets.append(camera.target)
    assert np.ptp(np.array(targets), axis=0).max() > 0.3  # it did move


def _sway(rig, frames: int = 60, metres: float = 0.01) -> list[np.ndarray]:
    hip_height = rig.hip_height
    return [
        _posed_joints(rig, _turned(HumanoidPose.identity(), {}, hips=(metres / hip_height * math.sin(k / 5), 0, 0)))
        for k in range(frames)
    ]


def test_dead_zone_holds_the_picture_still_through_small_sway(character, rig):
    sway = _sway(rig)
    still = FollowCamera(character, "bust")
    first = still.update(sway[0], 1 / 30)
    assert all(still.update(joints, 1 / 30) == first for joints in sway[1:])
    wobbly = FollowCamera(character, "bust", dead_zone=0.0)
    wobbly.update(sway[0], 1 / 30)
    assert len({wobbly.update(joints, 1 / 30).target for joints in sway[1:]}) > 10


def test_dead_zone_still_lets_a_real_step_through(character, rig):
    follow = FollowCamera(character, "bust")
    follow.update(_posed_joints(rig, HumanoidPose.identity()), 1 / 30)
    stepped = _posed_joints(rig, _turned(HumanoidPose.identity(), {}, hips=(0.2, 0, 0)))
    before = follow.camera.target[0]
    for _ in range(60):
        follow.update(stepped, 1 / 30)
    step = stepped[character.humanoid["hips"], 0] - _joint(character, "hips")[0]
    moved = follow.camera.target[0] - before
    dead = follow.dead_zone * 2 * follow.home.half_height
    assert moved == pytest.approx(step - dead, abs=0.01 * step)  # all of the step but the dead zone


def _after(character, rig, fps: int, seconds: float, **kwargs) -> tuple[float, float, float]:
    follow = FollowCamera(character, "waist", **kwargs)
    follow.update(_posed_joints(rig, HumanoidPose.identity()), 1 / fps)
    stepped = _posed_joints(rig, _turned(HumanoidPose.identity(), {}, hips=(0.15, -0.1, 0)))
    for _ in range(round(seconds * fps)):
        camera = follow.update(stepped, 1 / fps)
    return camera.target


def test_following_is_smooth_and_the_same_at_any_frame_rate(character, rig):
    at_30 = _after(character, rig, 30, 0.2)
    np.testing.assert_allclose(_after(character, rig, 60, 0.2), at_30, atol=1e-9)
    np.testing.assert_allclose(_after(character, rig, 120, 0.2), at_30, atol=1e-9)
    settled = _after(character, rig, 30, 5.0)
    start = FollowCamera(character, "waist").home.target
    progress = (at_30[0] - start[0]) / (settled[0] - start[0])
    assert progress == pytest.approx(1 - math.exp(-0.2 / 0.25), abs=1e-6)  # glides, does not jump
    follow = FollowCamera(character, "waist")
    aim = follow.settled(_stepped(rig)).target
    dead = follow.dead_zone * 2 * follow.home.half_height
    np.testing.assert_allclose(np.abs(np.subtract(aim, settled))[:2], [dead, dead], atol=1e-6)  # stops at its edge


def _stepped(rig) -> np.ndarray:
    return _posed_joints(rig, _turned(HumanoidPose.identity(), {}, hips=(0.15, -0.1, 0)))


def test_head_stays_inside_however_slow_the_follow(character, rig):
    follow = FollowCamera(character, "bust", follow_s=1000.0)
    follow.update(_posed_joints(rig, HumanoidPose.identity()), 1 / 30)
    head = character.humanoid["head"]
    for hips in ((0.9, 0, 0), (-0.9, -0.5, 0)):
        joints = _posed_joints(rig, _turned(HumanoidPose.identity(), {}, hips=hips))
        assert _inside(follow.update(joints, 1 / 30), joints[head], margin_px=follow.head_margin * SIZE - 1e-6)


def test_reset_jumps_to_the_body_on_the_next_frame(character, rig):
    follow = FollowCamera(character, "knee")
    follow.update(_posed_joints(rig, HumanoidPose.identity()), 1 / 30)
    stepped = _stepped(rig)
    follow.reset()
    assert follow.update(stepped, 1 / 30) == follow.settled(stepped)


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "setting", "found"),
    [
        (lambda c: framed_camera(c, "thighs"), "framing", "'thighs'"),
        (lambda c: cut_height(c, "closeup"), "framing", "'closeup'"),
        (lambda c: framed_camera(c, 2.5), "framing", "2.5"),
        (lambda c: framed_camera(c, -0.2), "framing", "-0.2"),
        (lambda c: framed_camera(c, float("nan")), "framing", "nan"),
        (lambda c: classify_cut(c, 1.9), "framing", "1.9"),
        (lambda c: framed_camera(c, "bust", margin=0.6), "framed_camera(margin)", "0.6"),
        (lambda c: framed_camera(c, "bust", view_dir=(0, 1, 0)), "framed_camera(view_dir)", "(0, 1, 0)"),
        (lambda c: FollowCamera(c, "waist", dead_zone=0.7), "FollowCamera(dead_zone)", "0.7"),
        (lambda c: FollowCamera(c, "waist", follow_s=0), "FollowCamera(follow_s)", "0"),
        (
            lambda c: FollowCamera(c, "waist").update(np.zeros((3, 3)), 0.1),
            "FollowCamera.update(joint_positions)",
            "(3, 3)",
        ),
        (
            lambda c: FollowCamera(c, "waist").update(c.skeleton.rest_world_matrices[:, :3, 3], -1.0),
            "FollowCamera.update(dt)",
            "-1.0",
        ),
        (lambda c: CharacterView(c, SIZE, camera=target_camera(c), framing="bust"), "CharacterView(framing)", "both"),
    ],
)
def test_bad_framing_inputs_are_rejected_with_the_setting_and_fix(character, call, setting, found):
    with pytest.raises(SettingError) as info:
        call(character)
    assert info.value.source == setting and found in info.value.found and info.value.fix


def test_a_character_without_leg_bones_can_be_framed_full_but_not_knee_up():
    skeleton = Skeleton(["root"], [-1], np.array([[0.0, 1.0, 0.0]]), identity_quat(1))
    mesh = SkinnedMesh(
        np.array([[0.0, 0.0, 0.0], [0.2, 1.8, 0.0], [-0.2, 1.0, 0.1]]),
        [[0, 1, 2]],
        np.zeros((3, 1), dtype=int),
        np.ones((3, 1)),
        np.linalg.inv(skeleton.rest_world_matrices),
    )
    stick = Character(skeleton, mesh, name="stick")
    assert framed_camera(stick, "full") == target_camera(stick)
    with pytest.raises(SettingError, match="leftLowerLeg") as info:
        framed_camera(stick, "knee")
    assert "stick" in info.value.found and "'full'" in info.value.fix


# -- rendered ------------------------------------------------------------------------


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_framed_view_renders_the_body_cut_at_the_bottom_edge(character, gl_context, framing):
    gl_context.__enter__()
    with CharacterView(character, SIZE, framing=framing, ctx=gl_context, springs=False) as view:
        pose = DemoMotion().pose_at(0.0)
        visible = view.render_pose(pose, 1 / 30, udp_only=True).udp[..., 3] > 0
        stepped = view.render_pose(_turned(pose, {}, hips=(0.4, 0, 0)), 1.0).udp[..., 3] > 0
    assert visible[-1].any() == (framing != "full")  # a cut body runs off the bottom edge
    assert visible[0].sum() == 0 and visible.any()  # headroom: nothing touches the top edge
    columns = np.nonzero(visible.any(axis=0))[0].mean(), np.nonzero(stepped.any(axis=0))[0].mean()
    if framing == "full":
        assert columns[1] > columns[0] + 10  # the still full-body camera sees the step
    else:
        assert abs(columns[1] - columns[0]) < 0.15 * SIZE  # the camera went along
