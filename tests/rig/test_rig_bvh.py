"""BVH parsing, name guessing, retargeting onto our skeleton, and bad files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatar_app.rig import HumanoidRig, MotionFileError, forward_kinematics, load_bvh
from avatar_app.rig.quaternion import quat_from_axis_angle, quat_multiply
from avatar_app.rig.retarget import guess_humanoid

from bvh_clip import CHANNELS, HIERARCHY, JOINTS_WITH_CHANNELS, bvh_frame, write_bvh

FRAMES = [
    bvh_frame(),
    bvh_frame(hips=(10.0, 95.0, 0.0), LeftArm=(80.0, 0.0, 0.0)),
    bvh_frame(LeftForeArm=(0.0, 0.0, -90.0)),
]


def _bvh(tmp_path, frames=FRAMES, declared=None, hierarchy=HIERARCHY, name="clip.bvh"):
    return write_bvh(tmp_path / name, frames, declared, hierarchy)


def _turned_180(hierarchy: str) -> str:
    """The same figure facing -z (x and z of every offset negated)."""
    lines = []
    for line in hierarchy.splitlines():
        parts = line.split()
        if parts and parts[0] == "OFFSET":
            x, y, z = (float(v) for v in parts[1:])
            line = line[: line.index("OFFSET")] + f"OFFSET {-x:g} {y:g} {-z:g}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_parse_joints_channels_and_frames(tmp_path):
    motion = load_bvh(_bvh(tmp_path))
    skel = motion.skeleton
    assert skel.num_joints == len(JOINTS_WITH_CHANNELS) + 5  # five End Sites
    assert "LeftHand_end" in skel.names
    assert motion.frame_count == 3 and motion.frame_time == pytest.approx(0.0333333)
    arm = skel.index("LeftArm")
    np.testing.assert_allclose(motion.rotations[1, arm], quat_from_axis_angle([0, 0, 1], math.radians(80)), atol=1e-12)
    np.testing.assert_allclose(motion.translations[1, 0], [10.0, 95.0, 0.0])  # position channels replace the offset
    world = forward_kinematics(skel, motion.local_pose(1))
    elbow = world[skel.index("LeftForeArm"), :3, 3] - world[arm, :3, 3]
    np.testing.assert_allclose(
        elbow, 28 * np.array([math.cos(math.radians(80)), math.sin(math.radians(80)), 0]), atol=1e-9
    )


def test_euler_order_comes_from_the_channel_order(tmp_path):
    hierarchy = HIERARCHY.replace(
        "JOINT LeftArm\n        {\n          OFFSET 12 0 0\n          CHANNELS 3 Zrotation Xrotation Yrotation",
        "JOINT LeftArm\n        {\n          OFFSET 12 0 0\n          CHANNELS 3 Xrotation Yrotation Zrotation",
    )
    assert hierarchy != HIERARCHY
    frame = bvh_frame(LeftArm=(30.0, 40.0, 50.0))  # now read as X=30, Y=40, Z=50
    motion = load_bvh(_bvh(tmp_path, frames=[frame], hierarchy=hierarchy))
    rx = quat_from_axis_angle([1, 0, 0], math.radians(30))
    ry = quat_from_axis_angle([0, 1, 0], math.radians(40))
    rz = quat_from_axis_angle([0, 0, 1], math.radians(50))
    expected = quat_multiply(rx, quat_multiply(ry, rz))
    got = motion.rotations[0, motion.skeleton.index("LeftArm")]
    assert abs(abs(np.dot(got, expected)) - 1) < 1e-12


def test_names_are_mapped_to_vrm_bones(tmp_path):
    motion = load_bvh(_bvh(tmp_path))
    names = {b: motion.skeleton.names[j] for b, j in motion.skeleton.humanoid.items()}
    assert names["hips"] == "Hips" and names["spine"] == "Spine" and names["chest"] == "Chest"
    assert names["leftShoulder"] == "LeftShoulder" and names["leftUpperArm"] == "LeftArm"
    assert names["leftLowerArm"] == "LeftForeArm" and names["leftHand"] == "LeftHand"
    assert (
        names["rightUpperLeg"] == "RightUpLeg"
        and names["rightLowerLeg"] == "RightLeg"
        and names["rightFoot"] == "RightFoot"
    )


def test_mixamo_cmu_and_smpl_naming():
    mixamo = [
        "mixamorig:Hips",
        "mixamorig:Spine",
        "mixamorig:Spine1",
        "mixamorig:Spine2",
        "mixamorig:Neck",
        "mixamorig:Head",
        "mixamorig:LeftShoulder",
        "mixamorig:LeftArm",
        "mixamorig:LeftForeArm",
        "mixamorig:LeftHand",
        "mixamorig:LeftHandThumb1",
        "mixamorig:LeftUpLeg",
        "mixamorig:LeftLeg",
        "mixamorig:LeftFoot",
        "mixamorig:LeftToeBase",
    ]
    parents = [-1, 0, 1, 2, 3, 4, 3, 6, 7, 8, 9, 0, 11, 12, 13]
    got = {b: mixamo[j].split(":")[1] for b, j in guess_humanoid(mixamo, parents).items()}
    assert got == {
        "hips": "Hips",
        "spine": "Spine",
        "chest": "Spine1",
        "upperChest": "Spine2",
        "neck": "Neck",
        "head": "Head",
        "leftShoulder": "LeftShoulder",
        "leftUpperArm": "LeftArm",
        "leftLowerArm": "LeftForeArm",
        "leftHand": "LeftHand",
        "leftThumbMetacarpal": "LeftHandThumb1",
        "leftUpperLeg": "LeftUpLeg",
        "leftLowerLeg": "LeftLeg",
        "leftFoot": "LeftFoot",
        "leftToes": "LeftToeBase",
    }
    cmu = [
        "Hips",
        "LHipJoint",
        "LeftUpLeg",
        "LeftLeg",
        "LeftFoot",
        "LowerBack",
        "Spine",
        "Spine1",
        "Neck",
        "Neck1",
        "Head",
        "LeftShoulder",
        "LeftArm",
        "LeftForeArm",
        "LeftHand",
    ]
    parents = [-1, 0, 1, 2, 3, 0, 5, 6, 7, 8, 9, 7, 11, 12, 13]
    got = {b: cmu[j] for b, j in guess_humanoid(cmu, parents).items()}
    assert got["spine"] == "LowerBack" and got["chest"] == "Spine" and got["upperChest"] == "Spine1"
    assert got["neck"] == "Neck" and got["head"] == "Head" and got["leftUpperLeg"] == "LeftUpLeg"
    assert "LHipJoint" not in got.values() and "Neck1" not in got.values()
    smpl = ["Pelvis", "Spine1", "Spine2", "Spine3", "Neck", "Head", "L_Collar", "L_Shoulder", "L_Elbow", "L_Wrist"]
    parents = [-1, 0, 1, 2, 3, 4, 3, 6, 7, 8]
    got = {b: smpl[j] for b, j in guess_humanoid(smpl, parents).items()}
    assert (
        got["leftShoulder"] == "L_Collar" and got["leftUpperArm"] == "L_Shoulder" and got["leftLowerArm"] == "L_Elbow"
    )


@pytest.mark.parametrize("facing", ["+z", "-z"])
def test_raising_the_left_arm_in_the_bvh_raises_our_left_upper_arm(tmp_path, body, facing):
    if facing == "+z":
        path = _bvh(tmp_path)
    else:  # the same clip from a file whose figure faces -z: raising the left arm is now -80 about z
        frames = [FRAMES[0], bvh_frame(hips=(-10.0, 95.0, 0.0), LeftArm=(-80.0, 0.0, 0.0))]
        path = _bvh(tmp_path, frames=frames, hierarchy=_turned_180(HIERARCHY))
    motion = load_bvh(path, root="free")  # the clip's own root motion: how it is scaled is under test
    rig = HumanoidRig(body.skeleton)
    skel = body.skeleton
    world = forward_kinematics(skel, rig.to_pose(motion.pose_at(1 * motion.frame_time, loop=False)))
    shoulder = world[skel.index("leftUpperArm"), :3, 3]
    elbow = world[skel.index("leftLowerArm"), :3, 3]
    direction = (elbow - shoulder) / np.linalg.norm(elbow - shoulder)
    # our rest is an A-pose (arm 40 degrees down); the BVH's is a T-pose: rotations transfer relative to each rest
    np.testing.assert_allclose(direction, [math.cos(math.radians(80)), math.sin(math.radians(80)), 0.0], atol=1e-9)
    # root motion is scaled by hip height (95 cm in the file)
    hips = world[skel.index("hips"), :3, 3] - skel.rest_world_matrices[skel.index("hips"), :3, 3]
    np.testing.assert_allclose(hips, [10.0 / 95.0 * rig.hip_height, 0.0, 0.0], atol=1e-9)
    # the right arm did not move in the file, so ours shows the file's rest: a T-pose arm, not our A-pose
    r_dir = world[skel.index("rightLowerArm"), :3, 3] - world[skel.index("rightUpperArm"), :3, 3]
    np.testing.assert_allclose(r_dir / np.linalg.norm(r_dir), [-1.0, 0.0, 0.0], atol=1e-9)


def test_a_bent_elbow_bends_ours_forward(tmp_path, body):
    motion = load_bvh(_bvh(tmp_path))
    skel = body.skeleton
    world = forward_kinematics(skel, HumanoidRig(skel).to_pose(motion.pose_at(2 * motion.frame_time, loop=False)))
    forearm = world[skel.index("leftHand"), :3, 3] - world[skel.index("leftLowerArm"), :3, 3]
    np.testing.assert_allclose(forearm / np.linalg.norm(forearm), [0.0, 0.0, 1.0], atol=1e-9)  # Y -90: +x turns to +z


def test_frames_are_interpolated_and_loop(tmp_path):
    motion = load_bvh(_bvh(tmp_path))
    arm = motion.skeleton.index("LeftArm")
    half = motion.local_pose_at(0.5 * motion.frame_time)
    np.testing.assert_allclose(half.rotations[arm], quat_from_axis_angle([0, 0, 1], math.radians(40)), atol=1e-12)
    np.testing.assert_allclose(
        motion.local_pose_at(motion.duration + 1.0 * motion.frame_time).rotations[arm],
        motion.rotations[1, arm],
        atol=1e-12,
    )


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MotionFileError, match=r"gone\.bvh: expected an existing BVH file, found no such file"):
        load_bvh(tmp_path / "gone.bvh")


def test_wrong_channel_count_names_the_line(tmp_path):
    frames = [FRAMES[0], FRAMES[1] + " 5.0", FRAMES[2]]
    path = _bvh(tmp_path, frames=frames)
    with pytest.raises(
        MotionFileError,
        match=rf"clip\.bvh \(line \d+\): expected {CHANNELS} values per frame .*found {CHANNELS + 1} values in frame 1",
    ):
        load_bvh(path)


def test_truncated_motion_is_rejected(tmp_path):
    path = _bvh(tmp_path, declared=10)
    with pytest.raises(
        MotionFileError, match=r"clip\.bvh: expected 10 frames of motion .*found only 3\. Fix: the file is truncated"
    ):
        load_bvh(path)


def test_unknown_channel_name_is_rejected(tmp_path):
    path = _bvh(
        tmp_path,
        hierarchy=HIERARCHY.replace(
            "CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 3 Zrotation Xrotation Wrotation", 1
        ),
    )
    with pytest.raises(
        MotionFileError, match=r"clip\.bvh \(line \d+\): expected a channel name .*found 'Wrotation' in joint 'Spine'"
    ):
        load_bvh(path)


def test_cut_hierarchy_is_rejected(tmp_path):
    path = tmp_path / "cut.bvh"
    path.write_text(HIERARCHY[:200])
    with pytest.raises(MotionFileError, match=r"cut\.bvh: expected a MOTION section"):
        load_bvh(path)
