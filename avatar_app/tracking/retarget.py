"""Retargeting tracked motion onto a rig: mediapipe world landmarks or VMC bones -> HumanoidPose -> Pose.

Both sources produce an `avatar_app.rig.humanoid.HumanoidPose` (VRM normalized
rotations: +x the character's left, +y up, +z forward; identity = T-pose), which
`HumanoidRig.to_pose` maps onto any skeleton.

From 33 landmarks (see `pose_layout` for the axes):

* hips: hip line and the hip-to-shoulder "torso up"; if the hips are not
  visible (a webcam framing the upper body) the hips stay upright and only
  turn with the shoulders;
* spine chain: the shoulder line against the hips, shared equally by the spine
  bones the skeleton has (a bent spine and tilted hips look the same from
  these points; the chord is right either way);
* neck/head: the face points against `pose_layout.FACE_LAYOUT`, split
  `neck_share` / rest between neck and head;
* upper arm / thigh: the segment direction, with the twist that puts the
  forearm / shin in the elbow's / knee's hinge plane (forearm flexes towards
  +z, shin towards -z in the T-pose); a nearly straight limb has no observable
  twist and takes the least rotation from its parent instead (blended over
  10-25 degrees of bend so nothing pops);
* forearm / shin: the least rotation from the parent onto the next segment;
* hands: wrist -> index/pinky midpoint and the pinky -> index line;
  feet: heel -> foot index. Toes, fingers, eyes, jaw, shoulders stay at rest.

`JointLimits` bounds every estimated local rotation. Parts whose landmarks are
not visible (visibility < ``min_visibility``) take the ``fallback`` pose's
local rotation (default `RELAXED_POSE`: arms down at the sides). MediaPipe
world landmarks are hip-centred, so the hips translation stays zero.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from avatar_app.rig.humanoid import BONE_INDEX, HUMANOID_BONES, HUMANOID_PARENTS, HumanoidPose, HumanoidRig
from avatar_app.rig.quaternion import (
    matrix_to_quat,
    quat_between,
    quat_from_axis_angle,
    quat_slerp,
    quat_to_axis_angle,
    quat_to_matrix,
)
from avatar_app.rig.skeleton import Pose, Skeleton, forward_kinematics
from avatar_app.tracking.pose_layout import (
    FACE_LAYOUT,
    FOOT_LAYOUT,
    HAND_LAYOUT,
    INDEX,
    MIRROR_PERMUTATION,
    NUM_LANDMARKS,
    canonical_to_mediapipe,
    head_rotation_matrix,
    mediapipe_to_canonical,
    orthonormal_frame,
)

X, Y, Z = np.eye(3)
SPINE_CHAIN = ("spine", "chest", "upperChest")


@dataclass(frozen=True)
class JointLimits:
    """Largest local rotations (degrees) the landmark retargeter produces."""

    spine_deg: float = 60.0  # hips -> top of the spine, in total
    neck_deg: float = 80.0  # top of the spine -> head, in total
    elbow_deg: float = 150.0
    knee_deg: float = 150.0
    hand_deg: float = 80.0
    foot_deg: float = 50.0


def _rot(axis, degrees) -> np.ndarray:
    return quat_from_axis_angle(np.asarray(axis, float), math.radians(degrees))


RELAXED_POSE = HumanoidPose.from_bones({"leftUpperArm": _rot(Z, -75.0), "rightUpperArm": _rot(Z, 75.0)})


def _m(q: np.ndarray) -> np.ndarray:
    return quat_to_matrix(q)


def _between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _m(quat_between(u, v))


def _clamp(local: np.ndarray, max_deg: float) -> np.ndarray:
    """``local`` (3x3) with its rotation angle limited to ``max_deg``, same axis."""
    axis, angle = quat_to_axis_angle(matrix_to_quat(local))
    limit = math.radians(max_deg)
    return local if angle <= limit else _m(quat_from_axis_angle(axis, limit))


def _power(local: np.ndarray, fraction: float) -> np.ndarray:
    axis, angle = quat_to_axis_angle(matrix_to_quat(local))
    return _m(quat_from_axis_angle(axis, angle * fraction))


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return _m(quat_slerp(matrix_to_quat(a), matrix_to_quat(b), t))


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    c = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
    return math.degrees(math.acos(float(np.clip(c, -1.0, 1.0))))


def _hand_frame(index: np.ndarray, pinky: np.ndarray) -> np.ndarray:
    """Hand frame (wrist at the origin): x towards the knuckles, y from pinky to index."""
    return orthonormal_frame(0.5 * (index + pinky), y_hint=index - pinky)


_MIRROR_X = np.array([-1.0, 1.0, 1.0])
_HAND_REFERENCE = {
    "left": _hand_frame(HAND_LAYOUT["index"], HAND_LAYOUT["pinky"]),
    "right": _hand_frame(HAND_LAYOUT["index"] * _MIRROR_X, HAND_LAYOUT["pinky"] * _MIRROR_X),
}


class _Solver:
    """One frame's solve: canonical points in, normalized world rotations out."""

    def __init__(self, points, visible, present, limits, fallback_world, neck_share):
        self.p, self.visible, self.present, self.limits = points, visible, present, limits
        self.fallback_world, self.neck_share = fallback_world, neck_share
        self.world: dict[str, np.ndarray] = {}

    def seen(self, *names: str) -> bool:
        return all(self.visible[INDEX[n]] for n in names)

    def pt(self, name: str) -> np.ndarray:
        return self.p[INDEX[name]]

    def fallback(self, bone: str, parent_world: np.ndarray) -> np.ndarray:
        parent = HUMANOID_PARENTS[BONE_INDEX[bone]]
        rest_parent = self.fallback_world[parent] if parent >= 0 else np.eye(3)
        return parent_world @ rest_parent.T @ self.fallback_world[BONE_INDEX[bone]]

    def solve(self) -> dict[str, np.ndarray]:
        hips_seen = self.seen("left_hip", "right_hip", "left_shoulder", "right_shoulder")
        shoulders_seen = self.seen("left_shoulder", "right_shoulder")
        shoulder_line = self.pt("left_shoulder") - self.pt("right_shoulder")
        torso_up = 0.5 * (self.pt("left_shoulder") + self.pt("right_shoulder")) - 0.5 * (
            self.pt("left_hip") + self.pt("right_hip")
        )
        if hips_seen:
            hips = orthonormal_frame(self.pt("left_hip") - self.pt("right_hip"), y_hint=torso_up)
            top = orthonormal_frame(shoulder_line, y_hint=torso_up)
        elif shoulders_seen:  # upper body only: upright hips that turn with the shoulders
            hips = top = orthonormal_frame(shoulder_line - shoulder_line[1] * Y, y_hint=Y)
        else:
            hips = top = self.fallback_world[BONE_INDEX["hips"]]
        self.world["hips"] = hips
        chain = [b for b in SPINE_CHAIN if b in self.present] or ["spine"]
        step = _power(_clamp(hips.T @ top, self.limits.spine_deg), 1.0 / len(chain))
        world = hips
        for bone in SPINE_CHAIN:
            if bone in chain:
                world = world @ step
            self.world[bone] = world
        self._head(world)
        for side, sign in (("left", 1.0), ("right", -1.0)):
            self._arm(side, sign, self.world["upperChest"])
            self._leg(side, hips)
        return self.world

    def _head(self, top: np.ndarray) -> None:
        if self.seen("nose", "left_eye", "right_eye"):
            relative = _clamp(top.T @ head_rotation_matrix(self.p), self.limits.neck_deg)
            share = self.neck_share if "neck" in self.present else 0.0
            neck = top @ _power(relative, share)
            self.world["neck"], self.world["head"] = neck, top @ relative
        else:
            self.world["neck"] = self.fallback("neck", top)
            self.world["head"] = self.fallback("head", self.world["neck"])

    def _limb(self, upper: str, lower: str, parent: np.ndarray, rest_dir, bend_dir, joints, bend_limit) -> np.ndarray:
        """Upper and lower segment world rotations of an arm or a leg; returns the lower one."""
        root, mid, end = (self.pt(j) for j in joints)
        if not self.seen(joints[0], joints[1]):
            self.world[upper] = self.fallback(upper, parent)
            self.world[lower] = self.fallback(lower, self.world[upper])
            return self.world[lower]
        d = mid - root
        least = _between(parent @ rest_dir, d) @ parent  # no observable twist: least rotation from the parent
        world_upper = least
        lower_seen = self.seen(joints[1], joints[2])
        if lower_seen:
            e = end - mid
            weight = float(np.clip((_angle(d, e) - 10.0) / 15.0, 0.0, 1.0))
            if weight > 0:
                hinge = np.cross(rest_dir, bend_dir)
                observed = orthonormal_frame(d, y_hint=np.cross(d, e))
                reference = orthonormal_frame(rest_dir, y_hint=hinge)
                world_upper = _slerp(least, observed @ reference.T, weight)
        self.world[upper] = world_upper
        if lower_seen:
            local = world_upper.T @ _between(world_upper @ rest_dir, end - mid) @ world_upper
            self.world[lower] = world_upper @ _clamp(local, bend_limit)
        else:
            self.world[lower] = self.fallback(lower, world_upper)
        return self.world[lower]

    def _arm(self, side: str, sign: float, chest: np.ndarray) -> None:
        self.world[f"{side}Shoulder"] = chest
        lower = self._limb(
            f"{side}UpperArm",
            f"{side}LowerArm",
            chest,
            sign * X,
            Z,
            (f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"),
            self.limits.elbow_deg,
        )
        hand = f"{side}Hand"
        if self.seen(f"{side}_wrist", f"{side}_index", f"{side}_pinky"):
            index, pinky = self.pt(f"{side}_index"), self.pt(f"{side}_pinky")
            wrist = self.pt(f"{side}_wrist")
            observed = _hand_frame(index - wrist, pinky - wrist)
            reference = _HAND_REFERENCE[side]
            self.world[hand] = lower @ _clamp(lower.T @ observed @ reference.T, self.limits.hand_deg)
        else:
            self.world[hand] = self.fallback(hand, lower)

    def _leg(self, side: str, hips: np.ndarray) -> None:
        lower = self._limb(
            f"{side}UpperLeg",
            f"{side}LowerLeg",
            hips,
            -Y,
            -Z,
            (f"{side}_hip", f"{side}_knee", f"{side}_ankle"),
            self.limits.knee_deg,
        )
        foot = f"{side}Foot"
        if self.seen(f"{side}_ankle", f"{side}_heel", f"{side}_foot_index"):
            forward = self.pt(f"{side}_foot_index") - self.pt(f"{side}_heel")
            local = lower.T @ _between(lower @ Z, forward) @ lower
            self.world[foot] = lower @ _clamp(local, self.limits.foot_deg)
        else:
            self.world[foot] = self.fallback(foot, lower)


def landmarks_to_humanoid_pose(
    landmarks_world: np.ndarray,
    visibility: np.ndarray | None = None,
    *,
    present_bones: Iterable[str] | None = None,
    mirror: bool = False,
    min_visibility: float = 0.5,
    limits: JointLimits = JointLimits(),
    fallback: HumanoidPose = RELAXED_POSE,
    neck_share: float = 0.4,
) -> HumanoidPose:
    """A HumanoidPose from mediapipe world landmarks [33, 3] (metres, hip-centred, y down).

    ``present_bones``: the humanoid bones of the target skeleton (spine and
    neck rotation is shared only among bones that exist); all by default.
    """
    world_mp = np.asarray(landmarks_world, dtype=np.float64)
    if world_mp.shape != (NUM_LANDMARKS, 3):
        raise ValueError(
            f"landmarks_world must be [{NUM_LANDMARKS}, 3] mediapipe world landmarks, got {world_mp.shape}"
        )
    points = mediapipe_to_canonical(world_mp, mirror=mirror)
    visible = np.isfinite(points).all(axis=1)
    if visibility is not None:
        vis = np.asarray(visibility, dtype=np.float64).reshape(NUM_LANDMARKS)
        visible &= (vis[MIRROR_PERMUTATION] if mirror else vis) >= min_visibility
    present = set(HUMANOID_BONES if present_bones is None else present_bones)
    fallback_world = quat_to_matrix(fallback.world_rotations())
    world = _Solver(np.nan_to_num(points), visible, present, limits, fallback_world, neck_share).solve()

    rotations = fallback.rotations.copy()
    for bone, matrix in world.items():
        parent = HUMANOID_PARENTS[BONE_INDEX[bone]]
        parent_world = np.eye(3) if parent < 0 else world.get(HUMANOID_BONES[parent])
        if parent_world is not None:
            rotations[BONE_INDEX[bone]] = matrix_to_quat(parent_world.T @ matrix)
    return HumanoidPose(rotations, np.zeros(3))


class LandmarkRetargeter:
    """Per-frame landmarks -> `Pose` for one skeleton (builds its `HumanoidRig` once)."""

    def __init__(self, skeleton: Skeleton, **options):
        self.skeleton = skeleton
        self.rig = HumanoidRig(skeleton)
        self.options = options
        self._present = frozenset(skeleton.humanoid)

    def humanoid_pose(self, landmarks_world: np.ndarray, visibility: np.ndarray | None = None) -> HumanoidPose:
        return landmarks_to_humanoid_pose(landmarks_world, visibility, present_bones=self._present, **self.options)

    def retarget(self, landmarks_world: np.ndarray, visibility: np.ndarray | None = None) -> Pose:
        return self.rig.to_pose(self.humanoid_pose(landmarks_world, visibility))

    __call__ = retarget


def retarget_world_landmarks(
    landmarks_world: np.ndarray, skeleton: Skeleton, visibility: np.ndarray | None = None, **options
) -> Pose:
    """One-off retarget of mediapipe world landmarks [33, 3] onto ``skeleton`` (use LandmarkRetargeter per frame)."""
    return LandmarkRetargeter(skeleton, **options).retarget(landmarks_world, visibility)


def synthesize_world_landmarks(rig: HumanoidRig, humanoid_pose: HumanoidPose) -> np.ndarray:
    """The mediapipe world landmarks [33, 3] of ``rig``'s skeleton in ``humanoid_pose``, facing the camera.

    Joints give shoulders, elbows, wrists, hips, knees and ankles; face, hand and
    foot points come from the `pose_layout` layouts carried by the head, hand
    and foot rotations. Metres, origin at the hip centre, mediapipe axes.
    """
    skeleton = rig.skeleton
    world = forward_kinematics(skeleton, rig.to_pose(humanoid_pose))
    joint = {bone: rig.frame @ world[j, :3, 3] for bone, j in skeleton.humanoid.items()}
    normalized = quat_to_matrix(humanoid_pose.world_rotations())
    points = np.zeros((NUM_LANDMARKS, 3))
    for side in ("left", "right"):
        for name, bone in (
            ("shoulder", "UpperArm"),
            ("elbow", "LowerArm"),
            ("wrist", "Hand"),
            ("hip", "UpperLeg"),
            ("knee", "LowerLeg"),
            ("ankle", "Foot"),
        ):
            points[INDEX[f"{side}_{name}"]] = joint[f"{side}{bone}"]
        mirror_x = np.array([1.0 if side == "left" else -1.0, 1.0, 1.0])
        hand = normalized[BONE_INDEX[f"{side}Hand"]]
        for name, offset in HAND_LAYOUT.items():
            points[INDEX[f"{side}_{name}"]] = joint[f"{side}Hand"] + hand @ (offset * mirror_x)
        foot = normalized[BONE_INDEX[f"{side}Foot"]]
        for name, offset in FOOT_LAYOUT.items():
            points[INDEX[f"{side}_{name}"]] = joint[f"{side}Foot"] + foot @ offset
    head = normalized[BONE_INDEX["head"]]
    for name, offset in FACE_LAYOUT.items():
        points[INDEX[name]] = joint["head"] + head @ offset
    points -= 0.5 * (points[INDEX["left_hip"]] + points[INDEX["right_hip"]])
    return canonical_to_mediapipe(points)


def humanoid_pose_from_vmc(state, hip_height_m: float | None = None) -> HumanoidPose:
    """A HumanoidPose from a `vmc.VmcState` (already in our axes, VRM bone names).

    VMC bone rotations are the sender's normalized local rotations, so they are
    HumanoidPose rotations as they are; the root rotation is folded into the
    hips. With ``hip_height_m`` (the sender avatar's rest hip height) the hips
    position becomes the hips translation in hip heights; without it, zero.
    """
    pose = HumanoidPose.identity()
    for bone, transform in state.bones.items():
        if bone in BONE_INDEX:
            pose.rotations[BONE_INDEX[bone]] = transform.rotation
    root_m = _m(state.root.rotation) if state.root is not None else np.eye(3)
    pose.rotations[BONE_INDEX["hips"]] = matrix_to_quat(root_m @ _m(pose.rotations[BONE_INDEX["hips"]]))
    hips = state.bones.get("hips")
    if hip_height_m and hips is not None:
        root_p = state.root.position if state.root is not None else np.zeros(3)
        position = root_p + root_m @ hips.position
        pose.hips_translation = (position - np.array([0.0, hip_height_m, 0.0])) / hip_height_m
    return pose
