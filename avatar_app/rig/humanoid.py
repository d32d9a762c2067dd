"""VRM humanoid bones, skeleton-independent poses, and mapping them onto a skeleton.

A :class:`HumanoidPose` is what motion sources produce (demo motion, BVH,
later webcam/VMC): one rotation per VRM 1.0 humanoid bone in *normalized*
space — every bone frame axis-aligned with the world in the VRM T-pose
(character faces +z, +x is the character's left, +y up) — plus the hips
displacement in units of hip height. Identity rotations mean "VRM T-pose".
This is the VRM normalized-bone convention, so VMC/VRM animation data maps on
directly.

A :class:`HumanoidRig` converts between that and one skeleton's local
rotations. It absorbs the skeleton's rest orientation (any joint frames), its
facing (e.g. BVH files facing -z, z-up files) and its rest pose (A-pose arms
are measured against the T-pose directions), which is what makes retargeting
work "relative to each skeleton's rest orientation".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatar_app.rig.errors import RigFileError
from avatar_app.rig.quaternion import (
    identity_quat,
    matrix_to_quat,
    quat_between,
    quat_conjugate,
    quat_multiply,
    quat_rotate,
)
from avatar_app.rig.skeleton import Pose, Skeleton, forward_kinematics


def _finger_bones(side: str) -> list[tuple[str, str]]:
    out = [
        (f"{side}ThumbMetacarpal", f"{side}Hand"),
        (f"{side}ThumbProximal", f"{side}ThumbMetacarpal"),
        (f"{side}ThumbDistal", f"{side}ThumbProximal"),
    ]
    for finger in ("Index", "Middle", "Ring", "Little"):
        out += [
            (f"{side}{finger}Proximal", f"{side}Hand"),
            (f"{side}{finger}Intermediate", f"{side}{finger}Proximal"),
            (f"{side}{finger}Distal", f"{side}{finger}Intermediate"),
        ]
    return out


# (bone, canonical parent) in topological order: VRM 1.0 humanoid.md.
_BONES_AND_PARENTS: list[tuple[str, str | None]] = [
    ("hips", None),
    ("spine", "hips"),
    ("chest", "spine"),
    ("upperChest", "chest"),
    ("neck", "upperChest"),
    ("head", "neck"),
    ("leftEye", "head"),
    ("rightEye", "head"),
    ("jaw", "head"),
    ("leftUpperLeg", "hips"),
    ("leftLowerLeg", "leftUpperLeg"),
    ("leftFoot", "leftLowerLeg"),
    ("leftToes", "leftFoot"),
    ("rightUpperLeg", "hips"),
    ("rightLowerLeg", "rightUpperLeg"),
    ("rightFoot", "rightLowerLeg"),
    ("rightToes", "rightFoot"),
    ("leftShoulder", "upperChest"),
    ("leftUpperArm", "leftShoulder"),
    ("leftLowerArm", "leftUpperArm"),
    ("leftHand", "leftLowerArm"),
    ("rightShoulder", "upperChest"),
    ("rightUpperArm", "rightShoulder"),
    ("rightLowerArm", "rightUpperArm"),
    ("rightHand", "rightLowerArm"),
    *_finger_bones("left"),
    *_finger_bones("right"),
]

HUMANOID_BONES: tuple[str, ...] = tuple(b for b, _ in _BONES_AND_PARENTS)
HUMANOID_PARENTS: tuple[int, ...] = tuple(-1 if p is None else HUMANOID_BONES.index(p) for _, p in _BONES_AND_PARENTS)
BONE_INDEX: dict[str, int] = {b: i for i, b in enumerate(HUMANOID_BONES)}
REQUIRED_BONES = (
    "hips",
    "spine",
    "head",
    "leftUpperLeg",
    "leftLowerLeg",
    "leftFoot",
    "rightUpperLeg",
    "rightLowerLeg",
    "rightFoot",
    "leftUpperArm",
    "leftLowerArm",
    "leftHand",
    "rightUpperArm",
    "rightLowerArm",
    "rightHand",
)

# VRM 0.x names that differ from 1.0 (the thumb gained a metacarpal in 1.0).
VRM0_TO_VRM1 = {
    "leftThumbProximal": "leftThumbMetacarpal",
    "leftThumbIntermediate": "leftThumbProximal",
    "rightThumbProximal": "rightThumbMetacarpal",
    "rightThumbIntermediate": "rightThumbProximal",
}
VRM1_TO_VRM0 = {v: k for k, v in VRM0_TO_VRM1.items()}

# Limb bones whose T-pose direction is fixed by the VRM T-pose spec: (bone, child that gives the direction, direction).
_ALIGNED = [
    (f"{side}{part}", f"{side}{child}", (sign, 0.0, 0.0))
    for side, sign in (("left", 1.0), ("right", -1.0))
    for part, child in (("UpperArm", "LowerArm"), ("LowerArm", "Hand"), ("Hand", "MiddleProximal"))
] + [
    (f"{side}{part}", f"{side}{child}", (0.0, -1.0, 0.0))
    for side in ("left", "right")
    for part, child in (("UpperLeg", "LowerLeg"), ("LowerLeg", "Foot"))
]

_LEVELS = []
_depth = np.zeros(len(HUMANOID_BONES), dtype=int)
for _i, _p in enumerate(HUMANOID_PARENTS):
    _depth[_i] = _depth[_p] + 1 if _p >= 0 else 0
_LEVELS = [np.nonzero(_depth == d)[0] for d in range(_depth.max() + 1)]
_PARENTS_OR_IDENTITY = np.array([p if p >= 0 else len(HUMANOID_BONES) for p in HUMANOID_PARENTS])


@dataclass(eq=False)
class HumanoidPose:
    """Normalized local rotations ``[55,4]`` xyzw in :data:`HUMANOID_BONES` order,
    and ``hips_translation [3]``: hips displacement in hip heights from standing
    (rest hips above a floor at up = 0), in the canonical frame (+x the
    character's left, +y up, +z forward)."""

    rotations: np.ndarray
    hips_translation: np.ndarray

    @classmethod
    def identity(cls) -> HumanoidPose:
        return cls(identity_quat(len(HUMANOID_BONES)), np.zeros(3))

    @classmethod
    def from_bones(cls, rotations: dict[str, np.ndarray], hips_translation=(0.0, 0.0, 0.0)) -> HumanoidPose:
        pose = cls.identity()
        for name, q in rotations.items():
            pose.rotations[BONE_INDEX[name]] = q
        pose.hips_translation = np.asarray(hips_translation, dtype=np.float64)
        return pose

    def rotation(self, bone: str) -> np.ndarray:
        return self.rotations[BONE_INDEX[bone]]

    def world_rotations(self) -> np.ndarray:
        """Normalized world rotations ``[56,4]`` (last row: identity, for "no bone")."""
        world = np.concatenate([np.asarray(self.rotations, dtype=np.float64), identity_quat(1)], axis=0)
        for idx in _LEVELS[1:]:
            world[idx] = quat_multiply(world[_PARENTS_OR_IDENTITY[idx]], world[idx])
        return world


def _axis_snap(v: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """The signed world axis closest to ``v`` (optionally orthogonal to ``exclude``)."""
    v = np.asarray(v, dtype=np.float64).copy()
    if exclude is not None:
        v[np.argmax(np.abs(exclude))] = 0.0
    out = np.zeros(3)
    k = int(np.argmax(np.abs(v)))
    out[k] = np.sign(v[k]) or 1.0
    return out


class HumanoidRig:
    """Maps :class:`HumanoidPose` onto one skeleton's :class:`Pose` and back.

    With ``W`` a joint's rest world rotation, ``G`` the skeleton's facing
    frame (a signed axis permutation) and ``A`` the rotation that takes the
    rest limbs to VRM T-pose directions, the posed world rotation is
    ``G^T N A G W`` where ``N`` is the normalized world rotation of the joint's
    humanoid bone (or of its nearest humanoid ancestor: non-humanoid joints
    ride along rigidly).
    """

    def __init__(self, skeleton: Skeleton):
        self.skeleton = skeleton
        hum = skeleton.humanoid
        if "hips" not in hum:
            raise RigFileError(
                skeleton.source,
                "a humanoid map with at least the 'hips' bone",
                f"bones {sorted(hum)[:8]}",
                "map the skeleton's joints to VRM humanoid bone names",
            )
        unknown = [b for b in hum if b not in BONE_INDEX]
        if unknown:
            raise RigFileError(
                skeleton.source,
                "VRM 1.0 humanoid bone names",
                f"{unknown[:5]}",
                "rename them (see avatar_app.rig.humanoid.HUMANOID_BONES)",
            )
        rest = skeleton.rest_world_matrices
        positions = rest[:, :3, 3]
        self.frame = self._facing_frame(positions)  # G: canonical <- skeleton world
        g = matrix_to_quat(self.frame)
        self._g, self._g_inv = g, quat_conjugate(g)
        count = skeleton.num_joints
        nb = len(HUMANOID_BONES)
        bone_of_joint = np.full(count, nb)
        joint_bone = {j: BONE_INDEX[b] for b, j in hum.items()}
        align = {b: (c, np.array(d)) for b, c, d in _ALIGNED}
        corrections = identity_quat(count)
        for j in range(count):
            p = skeleton.parents[j]
            if p >= 0:
                bone_of_joint[j] = bone_of_joint[p]
                corrections[j] = corrections[p]
            if j in joint_bone:
                bone_of_joint[j] = joint_bone[j]
                bone = HUMANOID_BONES[joint_bone[j]]
                if bone in align and align[bone][0] in hum:
                    direction = self.frame @ (positions[hum[align[bone][0]]] - positions[j])
                    if np.linalg.norm(direction) > 1e-9:
                        current = quat_rotate(corrections[j], direction)
                        corrections[j] = quat_multiply(quat_between(current, align[bone][1]), corrections[j])
        self._bone_of_joint = bone_of_joint
        self.tpose_corrections = corrections  # A per joint, canonical frame
        rest_world_q = matrix_to_quat(rest[:, :3, :3])
        self._c = quat_multiply(corrections, quat_multiply(np.broadcast_to(g, (count, 4)), rest_world_q))
        self._parents = skeleton.parents
        hips = hum["hips"]
        self._hips = hips
        up = self.frame[1]
        self.hip_height = float(positions[hips] @ up - np.min(positions @ up))
        if self.hip_height <= 1e-6:
            self.hip_height = 1.0
        parent = skeleton.parents[hips]
        parent_rot = rest[parent, :3, :3] if parent >= 0 else np.eye(3)
        self._hips_local_from_canonical = parent_rot.T @ self.frame.T * self.hip_height
        # zero hips translation = the rest pose, lifted if its joints hang below the floor (up = 0):
        # BVH rests put the hips at the origin while the frames stand on the floor.
        lowest = float(np.min(positions @ up))
        self._rest_hips_world = positions[hips] + max(0.0, -lowest) * up
        self._hips_offset_local = parent_rot.T @ (self._rest_hips_world - positions[hips])

    def _facing_frame(self, positions: np.ndarray) -> np.ndarray:
        hum = self.skeleton.humanoid
        up = np.array([0.0, 1.0, 0.0])
        for top in ("head", "neck", "upperChest", "chest", "spine"):
            if top in hum and np.linalg.norm(positions[hum[top]] - positions[hum["hips"]]) > 1e-6:
                up = _axis_snap(positions[hum[top]] - positions[hum["hips"]])
                break
        left = None
        for pair in (
            ("leftUpperLeg", "rightUpperLeg"),
            ("leftUpperArm", "rightUpperArm"),
            ("leftShoulder", "rightShoulder"),
        ):
            if pair[0] in hum and pair[1] in hum:
                d = positions[hum[pair[0]]] - positions[hum[pair[1]]]
                if np.linalg.norm(d - (d @ up) * up) > 1e-6:
                    left = _axis_snap(d, exclude=up)
                    break
        if left is None:
            left = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.5 else np.array([0.0, 0.0, 1.0])
        return np.stack([left, up, np.cross(left, up)])

    def to_pose(self, humanoid_pose: HumanoidPose) -> Pose:
        """Local rotations (and hips translation) of this skeleton for ``humanoid_pose``."""
        normalized_world = humanoid_pose.world_rotations()[self._bone_of_joint]
        world = quat_multiply(self._g_inv, quat_multiply(normalized_world, self._c))
        parent_world = np.where((self._parents >= 0)[:, None], world[self._parents], identity_quat(1))
        local = quat_multiply(quat_conjugate(parent_world), world)
        translations = self.skeleton.rest_translations.copy()
        translations[self._hips] += self._hips_offset_local + self._hips_local_from_canonical @ np.asarray(
            humanoid_pose.hips_translation, dtype=np.float64
        )
        return Pose(local, translations)

    def from_pose(self, pose: Pose) -> HumanoidPose:
        """The humanoid pose that :meth:`to_pose` would map back onto ``pose``
        (non-humanoid joints' own rotations are not representable and drop out)."""
        world_m = forward_kinematics(self.skeleton, pose)
        world_q = matrix_to_quat(world_m[:, :3, :3])
        nb = len(HUMANOID_BONES)
        normalized = identity_quat(nb + 1)
        present = np.zeros(nb + 1, dtype=bool)
        present[nb] = True
        for bone, j in self.skeleton.humanoid.items():
            b = BONE_INDEX[bone]
            normalized[b] = quat_multiply(self._g, quat_multiply(world_q[j], quat_conjugate(self._c[j])))
            present[b] = True
        for idx in _LEVELS[1:]:
            missing = idx[~present[idx]]
            normalized[missing] = normalized[_PARENTS_OR_IDENTITY[missing]]
        local = quat_multiply(quat_conjugate(normalized[_PARENTS_OR_IDENTITY]), normalized[:nb])
        displacement = world_m[self._hips, :3, 3] - self._rest_hips_world
        return HumanoidPose(local, self.frame @ displacement / self.hip_height)
