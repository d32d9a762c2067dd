"""Landmark retargeting round trip: pose a rig -> mediapipe-format landmarks -> retarget -> the same pose.

Tolerance: 2 degrees on every observable bone's world rotation (hips, top of
the spine, head, upper/lower arms, hands, upper/lower legs, feet) and 1 cm on
the positions of the joints mediapipe sees (shoulders, elbows, wrists, hips,
knees, ankles). Spine and neck are compared at the top of their chains: how a
bend or twist is shared among the spine bones is not observable from 33 points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatar_app.rig.humanoid import BONE_INDEX, HumanoidPose, HumanoidRig
from avatar_app.rig.quaternion import (
    matrix_to_quat,
    quat_angle,
    quat_from_axis_angle,
    quat_multiply,
    quat_rotate,
    quat_to_matrix,
)
from avatar_app.rig.skeleton import Skeleton, forward_kinematics
from avatar_app.tracking.pose_layout import INDEX, NAMES
from avatar_app.tracking.retarget import (
    JointLimits,
    LandmarkRetargeter,
    humanoid_pose_from_vmc,
    landmarks_to_humanoid_pose,
    retarget_world_landmarks,
    synthesize_world_landmarks,
)
from avatar_app.tracking.vmc import BoneTransform, VmcState

X, Y, Z = np.eye(3)
COMPARED = [
    "hips",
    "upperChest",
    "head",
    "leftUpperArm",
    "leftLowerArm",
    "leftHand",
    "rightUpperArm",
    "rightLowerArm",
    "rightHand",
    "leftUpperLeg",
    "leftLowerLeg",
    "leftFoot",
    "rightUpperLeg",
    "rightLowerLeg",
    "rightFoot",
]


def rot(axis, degrees):
    return quat_from_axis_angle(np.asarray(axis, float), math.radians(degrees))


@pytest.fixture(scope="module")
def skeleton(a_pose_skeleton):
    return a_pose_skeleton


@pytest.fixture(scope="module")
def rig(skeleton):
    return HumanoidRig(skeleton)


POSES = {
    "t_pose": {},
    "arms_raised_elbows_bent": {
        "leftUpperArm": rot(Z, 60),
        "leftLowerArm": rot(-Y, 70),
        "rightUpperArm": rot(Z, -45),
        "rightLowerArm": rot(Y, 100),
        "leftHand": rot(Z, -25),
        "rightHand": rot(Y, 20),
    },
    "arms_forward_straight": {"leftUpperArm": rot(Y, -80), "rightUpperArm": rot(Y, 60)},
    "turned_torso_and_head": {
        "hips": rot(Y, 20),
        "spine": rot(Y, 15),
        "chest": rot(Y, 10),
        "upperChest": rot(Y, 5),
        "neck": rot(Y, 10),
        "head": quat_multiply(rot(Y, 20), rot(X, 15)),
        "leftUpperArm": rot(Z, -70),
        "leftLowerArm": rot(-Y, 30),
        "rightUpperArm": rot(Z, 70),
        "rightLowerArm": rot(Y, 45),
    },
    "bent_knees_squat": {
        "hips": rot(X, 25),
        "leftUpperLeg": rot(X, -95),
        "leftLowerLeg": rot(X, 100),
        "leftFoot": rot(X, -20),
        "rightUpperLeg": quat_multiply(rot(Z, 10), rot(X, -80)),
        "rightLowerLeg": rot(X, 90),
        "rightFoot": rot(X, -10),
        "leftUpperArm": rot(Y, -70),
        "rightUpperArm": rot(Y, 70),
    },
    "lean_and_tilted_head": {
        "hips": quat_multiply(rot(Z, 10), rot(Y, -30)),
        "spine": rot(Z, -5),
        "head": rot(Z, 25),
        "leftUpperLeg": rot(Z, 20),
        "rightUpperLeg": rot(X, -30),
        "rightLowerLeg": rot(X, 60),
        "leftUpperArm": rot(Z, 20),
        "leftLowerArm": rot(-Y, 120),
    },
}


def world_angles_deg(truth: HumanoidPose, got: HumanoidPose) -> dict[str, float]:
    a, b = truth.world_rotations(), got.world_rotations()
    return {bone: math.degrees(float(quat_angle(a[BONE_INDEX[bone]], b[BONE_INDEX[bone]]))) for bone in COMPARED}


def with_twisted_rest_frames(skeleton: Skeleton, seed: int = 7) -> Skeleton:
    """The same rest joint positions, but every joint frame randomly rotated (as exported rigs often are)."""
    rest = skeleton.rest_world_matrices
    rng = np.random.default_rng(seed)
    world_q = quat_from_axis_angle(
        rng.normal(size=(skeleton.num_joints, 3)), rng.uniform(0, np.pi, skeleton.num_joints)
    )
    world_r = np.stack([quat_to_matrix(q) for q in world_q])
    local_t, local_q = np.zeros((skeleton.num_joints, 3)), np.zeros((skeleton.num_joints, 4))
    for j, p in enumerate(skeleton.parents):
        parent_r = world_r[p] if p >= 0 else np.eye(3)
        parent_p = rest[p, :3, 3] if p >= 0 else np.zeros(3)
        local_t[j] = parent_r.T @ (rest[j, :3, 3] - parent_p)
        local_q[j] = matrix_to_quat(parent_r.T @ world_r[j])
    return Skeleton(skeleton.names, skeleton.parents, local_t, local_q, skeleton.humanoid, "twisted rest frames")


@pytest.mark.parametrize("rest", ["identity rest", "twisted rest frames"])
@pytest.mark.parametrize("name", list(POSES))
def test_round_trip_recovers_the_pose(name, rest, a_pose_skeleton):
    skeleton = a_pose_skeleton if rest == "identity rest" else with_twisted_rest_frames(a_pose_skeleton)
    rig = HumanoidRig(skeleton)
    truth = HumanoidPose.from_bones(POSES[name])
    landmarks = synthesize_world_landmarks(rig, truth)
    got = LandmarkRetargeter(skeleton).humanoid_pose(landmarks, np.ones(33))
    errors = world_angles_deg(truth, got)
    assert max(errors.values()) < 2.0, {k: round(v, 2) for k, v in errors.items() if v >= 2.0}
    # and on the skeleton: the same positions of the joints mediapipe sees (hip-centred, as mediapipe is)
    pose_truth, pose_got = rig.to_pose(truth), retarget_world_landmarks(landmarks, skeleton)
    p_truth = forward_kinematics(skeleton, pose_truth)[:, :3, 3]
    p_got = forward_kinematics(skeleton, pose_got)[:, :3, 3]
    seen = [
        skeleton.index(f"{side}{part}")
        for side in ("left", "right")
        for part in ("UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot")
    ]
    hips = skeleton.index("hips")
    np.testing.assert_allclose(p_got[seen] - p_got[hips], p_truth[seen] - p_truth[hips], atol=0.01)


def test_synthesized_landmarks_follow_mediapipe_axes(rig):
    landmarks = synthesize_world_landmarks(rig, HumanoidPose.identity())
    assert landmarks.shape == (33, 3)
    np.testing.assert_allclose(0.5 * (landmarks[INDEX["left_hip"]] + landmarks[INDEX["right_hip"]]), 0, atol=1e-12)
    assert (
        landmarks[INDEX["nose"], 1] < landmarks[INDEX["left_shoulder"], 1] < 0 < landmarks[INDEX["left_knee"], 1]
    )  # y down
    assert landmarks[INDEX["left_shoulder"], 0] > 0  # facing the camera, the left is image-right
    assert landmarks[INDEX["nose"], 2] < landmarks[INDEX["left_ear"], 2]  # nose nearer the camera


def test_mirror_swaps_sides(skeleton, rig):
    truth = HumanoidPose.from_bones({"leftUpperArm": rot(Z, 80)})
    landmarks = synthesize_world_landmarks(rig, truth)
    mirrored = LandmarkRetargeter(skeleton, mirror=True).humanoid_pose(landmarks)
    expected = HumanoidPose.from_bones({"rightUpperArm": rot(Z, -80)})
    assert world_angles_deg(expected, mirrored)["rightUpperArm"] < 2.0
    assert world_angles_deg(expected, mirrored)["leftUpperArm"] < 2.0


def test_invisible_parts_take_the_relaxed_fallback(skeleton, rig):
    truth = HumanoidPose.from_bones({"leftUpperLeg": rot(X, -60), "leftUpperArm": rot(Z, 60), "head": rot(Y, 30)})
    landmarks = synthesize_world_landmarks(rig, truth)
    visibility = np.ones(33)
    for name in NAMES:
        if name.startswith(
            (
                "left_hip",
                "right_hip",
                "left_knee",
                "right_knee",
                "left_ankle",
                "right_ankle",
                "left_heel",
                "right_heel",
                "left_foot",
                "right_foot",
                "left_elbow",
                "left_wrist",
            )
        ):
            visibility[INDEX[name]] = 0.1
    landmarks[INDEX["left_knee"]] = np.nan  # garbage where invisible must not matter
    got = landmarks_to_humanoid_pose(landmarks, visibility)
    world = got.world_rotations()
    down = quat_rotate(world[BONE_INDEX["leftUpperLeg"]], -Y)
    np.testing.assert_allclose(down, -Y, atol=1e-9)  # legs hang straight
    arm = quat_rotate(world[BONE_INDEX["leftUpperArm"]], X)
    assert arm[1] < -0.9  # left arm relaxed down at the side
    assert world_angles_deg(truth, got)["head"] < 2.0  # the visible head is still tracked
    assert np.all(np.isfinite(got.rotations))


def test_joint_limits_bound_elbows_and_the_neck(rig):
    truth = HumanoidPose.from_bones({"leftLowerArm": rot(-Y, 175), "neck": rot(Y, 60), "head": rot(Y, 60)})
    landmarks = synthesize_world_landmarks(rig, truth)
    got = landmarks_to_humanoid_pose(landmarks, limits=JointLimits(elbow_deg=150, neck_deg=80))
    world = got.world_rotations()
    elbow = math.degrees(float(quat_angle(world[BONE_INDEX["leftUpperArm"]], world[BONE_INDEX["leftLowerArm"]])))
    head = math.degrees(float(quat_angle(world[BONE_INDEX["upperChest"]], world[BONE_INDEX["head"]])))
    assert elbow <= 150.0 + 1e-6 and head <= 80.0 + 1e-6
    assert elbow > 140 and head > 75


def test_bad_landmark_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\[33, 3\]"):
        landmarks_to_humanoid_pose(np.zeros((17, 3)))


def test_vmc_state_maps_onto_a_humanoid_pose():
    raise_arm = rot(Z, 70)
    state = VmcState(
        bones={
            "hips": BoneTransform(np.array([0.0, 1.0, 0.1]), rot(Y, 10)),
            "leftUpperArm": BoneTransform(np.zeros(3), raise_arm),
        },
        root=BoneTransform(np.array([0.5, 0.0, 0.0]), rot(Y, 20)),
    )
    pose = humanoid_pose_from_vmc(state, hip_height_m=1.0)
    assert math.degrees(float(quat_angle(pose.rotation("hips"), rot(Y, 30)))) < 1e-6
    np.testing.assert_allclose(pose.rotation("leftUpperArm"), raise_arm)
    hips_world = np.array([0.5, 0.0, 0.0]) + quat_rotate(rot(Y, 20), [0.0, 1.0, 0.1])
    np.testing.assert_allclose(pose.hips_translation, hips_world - [0.0, 1.0, 0.0], atol=1e-12)
    assert np.all(humanoid_pose_from_vmc(state).hips_translation == 0)
