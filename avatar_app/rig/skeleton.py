"""Joint hierarchy, poses and forward kinematics.

A :class:`Skeleton` is a list of joints in topological order (every parent
comes before its children) with rest local translations and rotations, like
glTF nodes without scale. A :class:`Pose` holds local rotations (xyzw
quaternions, see :mod:`.quaternion`) and local translations for every joint;
usually only the root's translation differs from rest.

Forward kinematics runs one batched matrix product per tree depth, so its cost
grows with the depth of the tree (about 12 for a humanoid with fingers), not
with the number of joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from avatar_app.rig.errors import RigFileError
from avatar_app.rig.quaternion import quat_normalize, quat_to_matrix


@dataclass(frozen=True, eq=False)
class Pose:
    """Local joint transforms: ``rotations [J,4]`` xyzw and ``translations [J,3]`` metres."""

    rotations: np.ndarray
    translations: np.ndarray

    def copy(self) -> Pose:
        return Pose(self.rotations.copy(), self.translations.copy())


@dataclass(frozen=True, eq=False)
class Skeleton:
    """Joints in topological order.

    ``names`` are unique; ``parents[j] < j`` or ``-1`` for a root;
    ``humanoid`` maps VRM 1.0 humanoid bone names (``"hips"``,
    ``"leftUpperArm"`` ...) to joint indices. Units are metres.
    """

    names: tuple[str, ...]
    parents: np.ndarray
    rest_translations: np.ndarray
    rest_rotations: np.ndarray
    humanoid: dict[str, int] = field(default_factory=dict)
    source: str = "skeleton"

    def __post_init__(self):
        names = tuple(str(n) for n in self.names)
        parents = np.asarray(self.parents, dtype=np.int64).reshape(-1)
        count = len(names)
        trans = np.asarray(self.rest_translations, dtype=np.float64).reshape(-1, 3)
        rots = np.asarray(self.rest_rotations, dtype=np.float64).reshape(-1, 4)
        if not (len(parents) == len(trans) == len(rots) == count) or count == 0:
            raise RigFileError(
                self.source,
                "one name, parent, rest translation and rest rotation per joint",
                f"{count} names, {len(parents)} parents, {len(trans)} translations, {len(rots)} rotations",
                "pass arrays of equal length",
            )
        if len(set(names)) != count:
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise RigFileError(self.source, "unique joint names", f"duplicates {dupes[:5]}", "rename the joints")
        bad = np.nonzero(parents >= np.arange(count))[0]
        if len(bad) or np.any(parents < -1):
            j = int(bad[0]) if len(bad) else int(np.nonzero(parents < -1)[0][0])
            raise RigFileError(
                self.source,
                "joints in topological order (parent index < joint index, -1 for roots)",
                f"joint {j} ({names[j]!r}) with parent {int(parents[j])}",
                "sort the joints so every parent comes first",
            )
        for bone, j in self.humanoid.items():
            if not 0 <= int(j) < count:
                raise RigFileError(
                    self.source, "humanoid bones mapped to existing joints", f"{bone} -> {j}", "fix the humanoid map"
                )
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "rest_translations", trans)
        object.__setattr__(self, "rest_rotations", quat_normalize(rots))
        object.__setattr__(self, "humanoid", {str(k): int(v) for k, v in self.humanoid.items()})

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Joint index by joint name or by VRM humanoid bone name."""
        if name in self.humanoid:
            return self.humanoid[name]
        try:
            return self._name_to_index[name]
        except KeyError:
            raise KeyError(f"{self.source}: no joint or humanoid bone named {name!r}") from None

    @cached_property
    def _name_to_index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    @cached_property
    def depth_levels(self) -> tuple[np.ndarray, ...]:
        """Joint indices grouped by depth (roots first): the FK batches."""
        depth = np.zeros(self.num_joints, dtype=np.int64)
        for j, p in enumerate(self.parents):
            depth[j] = depth[p] + 1 if p >= 0 else 0
        return tuple(np.nonzero(depth == d)[0] for d in range(int(depth.max()) + 1))

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        kids: list[list[int]] = [[] for _ in range(self.num_joints)]
        for j, p in enumerate(self.parents):
            if p >= 0:
                kids[p].append(j)
        return tuple(tuple(k) for k in kids)

    def rest_pose(self) -> Pose:
        return Pose(self.rest_rotations.copy(), self.rest_translations.copy())

    @cached_property
    def rest_world_matrices(self) -> np.ndarray:
        out = forward_kinematics(self, self.rest_pose())
        out.setflags(write=False)
        return out

    def descendants(self, joint: int) -> np.ndarray:
        """Indices of ``joint`` and everything below it."""
        inside = np.zeros(self.num_joints, dtype=bool)
        inside[joint] = True
        for j in range(joint + 1, self.num_joints):
            p = self.parents[j]
            inside[j] = p >= 0 and inside[p]
        return np.nonzero(inside)[0]


def local_matrices(rotations: np.ndarray, translations: np.ndarray) -> np.ndarray:
    m = np.zeros((*rotations.shape[:-1], 4, 4))
    m[..., :3, :3] = quat_to_matrix(rotations)
    m[..., :3, 3] = translations
    m[..., 3, 3] = 1.0
    return m


def forward_kinematics(skeleton: Skeleton, pose: Pose, root_transform: np.ndarray | None = None) -> np.ndarray:
    """World matrices ``[J,4,4]`` (float64) of ``pose``.

    ``root_transform`` (4x4) is applied above every root joint, e.g. to place
    the character in a scene.
    """
    world = local_matrices(pose.rotations, pose.translations)
    levels = skeleton.depth_levels
    if root_transform is not None:
        world[levels[0]] = root_transform @ world[levels[0]]
    parents = skeleton.parents
    for idx in levels[1:]:
        world[idx] = world[parents[idx]] @ world[idx]
    return world
