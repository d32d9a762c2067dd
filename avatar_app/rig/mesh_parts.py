"""Small procedural geometry for the default avatar: tubes, strips, discs, mirroring.

A :class:`MeshPart` is a piece of skinned geometry with one flat colour and
a part name; ``merge_parts`` concatenates pieces into one skinned mesh.
Triangles wind counter-clockwise seen from outside; mirroring x flips the
winding back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatar_app.rig.skeleton import Skeleton

INFLUENCES = 4


class JointList:
    """Joints (identity rest rotations) by world rest position, appended to while parts are built."""

    def __init__(self, names, parents, world: np.ndarray, humanoid: dict[str, int]):
        self.names = list(names)
        self.parents = [int(p) for p in parents]
        self.world = list(np.asarray(world, dtype=np.float64))
        self.humanoid = dict(humanoid)

    def add(self, name: str, parent: int, position) -> int:
        self.names.append(name)
        self.parents.append(parent)
        self.world.append(np.asarray(position, dtype=np.float64))
        return len(self.names) - 1

    def skeleton(self, source: str = "default avatar") -> Skeleton:
        world = np.array(self.world)
        local = np.array([world[j] - (world[p] if p >= 0 else 0.0) for j, p in enumerate(self.parents)])
        rot = np.zeros((len(self.names), 4))
        rot[:, 3] = 1.0
        return Skeleton(self.names, self.parents, local, rot, self.humanoid, source=source)

    def mirror_map(self) -> dict[int, int]:
        """Joint -> its mirror image, by name: ``left``/``right`` (humanoid) and ``L_``/``R_`` (ours)."""
        index = {n: j for j, n in enumerate(self.names)}
        out = {}
        for j, n in enumerate(self.names):
            for a, b in (("left", "right"), ("right", "left"), ("L_", "R_"), ("R_", "L_")):
                if a in n:
                    out[j] = index[n.replace(a, b)]
                    break
        return out


@dataclass
class MeshPart:
    part: str
    positions: np.ndarray  # [V,3]
    triangles: np.ndarray  # [F,3]
    joints: np.ndarray  # [V,4]
    weights: np.ndarray  # [V,4]
    vertex_parts: np.ndarray | None = None  # per-vertex part names, overriding ``part``
    mirror: bool = False  # built on the left (+x) side: merge it together with its mirror image

    def mirrored(self, joint_mirror: dict[int, int]) -> MeshPart:
        """The x -> -x mirror image, re-bound to the mirrored joints."""
        return MeshPart(
            self.part,
            self.positions * np.array([-1.0, 1.0, 1.0]),
            self.triangles[:, ::-1].copy(),
            mirror_joints(self.joints, joint_mirror),
            self.weights.copy(),
            None if self.vertex_parts is None else self.vertex_parts.copy(),
            False,
        )

    def with_mirror_image(self, joint_mirror: dict[int, int]) -> list[MeshPart]:
        return [self, self.mirrored(joint_mirror)] if self.mirror else [self]


def mirror_joints(joints: np.ndarray, joint_mirror: dict[int, int]) -> np.ndarray:
    lut = np.arange(max([int(joints.max(initial=0)), *joint_mirror.keys()]) + 1)
    for a, b in joint_mirror.items():
        lut[a] = b
    return lut[joints]


def rigid_weights(count: int, joint: int) -> tuple[np.ndarray, np.ndarray]:
    joints = np.zeros((count, INFLUENCES), dtype=np.int64)
    joints[:, 0] = joint
    weights = np.zeros((count, INFLUENCES))
    weights[:, 0] = 1.0
    return joints, weights


def chain_weights(s: np.ndarray, chain: list[int], blend: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Weights for points at chain parameter ``s`` (0 = first joint, k = joint k).

    A point on segment k follows joint k; near a joint the two segments
    blend over ``blend`` of a segment so bends stay smooth. The last joint of
    ``chain`` is a tail (never rotated by springs), so points past the last
    rotating joint stay on it.
    """
    s = np.asarray(s, dtype=np.float64)
    last = len(chain) - 2  # last rotating segment
    seg = np.clip(np.floor(s), 0, last).astype(int)
    frac = s - seg
    joints = np.zeros((len(s), INFLUENCES), dtype=np.int64)
    weights = np.zeros((len(s), INFLUENCES))
    chain_arr = np.asarray(chain)
    joints[:, 0] = chain_arr[seg]
    joints[:, 1] = chain_arr[np.maximum(seg - 1, 0)]
    near_start = (frac < blend) & (seg > 0)
    w_prev = np.where(near_start, 0.5 * (1.0 - frac / blend), 0.0)
    weights[:, 0] = 1.0 - w_prev
    weights[:, 1] = w_prev
    return joints, weights


def grid_triangles(rows: int, cols: int, wrap: bool) -> np.ndarray:
    """Quads of a rows x cols vertex grid (row-major), two triangles each, row by row."""
    last = cols if wrap else cols - 1
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(last), indexing="ij")
    a = r * cols + c
    b = r * cols + (c + 1) % cols
    d = (r + 1) * cols + c
    e = (r + 1) * cols + (c + 1) % cols
    return (
        np.stack([np.stack([a, d, b], axis=-1), np.stack([b, d, e], axis=-1)], axis=2).reshape(-1, 3).astype(np.int64)
    )


def tube(
    centerline: np.ndarray, radii: np.ndarray, sides: int, reference=(0.0, 0.0, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """A closed tube around ``centerline [R,3]`` with ``radii [R]``; capped at both ends.

    Returns (positions, triangles); ring r occupies rows r*sides .. (r+1)*sides-1,
    then the two cap centres.
    """
    centerline = np.asarray(centerline, dtype=np.float64)
    tangent = np.gradient(centerline, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    ref = np.asarray(reference, dtype=np.float64)
    normal = np.cross(tangent, ref)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    binormal = np.cross(normal, tangent)
    angles = 2 * np.pi * np.arange(sides) / sides
    ring = np.cos(angles)[None, :, None] * normal[:, None] + np.sin(angles)[None, :, None] * binormal[:, None]
    rings = centerline[:, None] + radii[:, None, None] * ring  # [R,S,3]
    rows = len(centerline)
    positions = np.concatenate([rings.reshape(-1, 3), centerline[:1], centerline[-1:]])
    tris = grid_triangles(rows, sides, wrap=True)
    # orientation: make the first quad's normal point away from the axis
    p = positions
    n = np.cross(p[tris[0, 1]] - p[tris[0, 0]], p[tris[0, 2]] - p[tris[0, 0]])
    if np.dot(n, p[tris[0, 0]] - centerline[0]) < 0:
        tris = tris[:, ::-1]
    start, end = rows * sides, rows * sides + 1
    cap0 = _facing(np.array([(start, c, (c + 1) % sides) for c in range(sides)]), p, -tangent[0])
    cap1 = _facing(
        np.array([(end, (rows - 1) * sides + c, (rows - 1) * sides + (c + 1) % sides) for c in range(sides)]),
        p,
        tangent[-1],
    )
    return positions, np.concatenate([tris, cap0, cap1])


def _facing(tris: np.ndarray, p: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """``tris`` wound so their normals point along ``direction``."""
    n = np.cross(p[tris[:, 1]] - p[tris[:, 0]], p[tris[:, 2]] - p[tris[:, 0]])
    return tris if np.sum(n @ direction) >= 0 else tris[:, ::-1].copy()


def ellipse_disc(
    centre, axis_u, axis_v, radius_u: float, radius_v: float, segments: int
) -> tuple[np.ndarray, np.ndarray]:
    """A flat elliptical fan; its front faces along ``cross(axis_u, axis_v)``."""
    centre = np.asarray(centre, dtype=np.float64)
    a = 2 * np.pi * np.arange(segments) / segments
    rim = (
        centre + np.cos(a)[:, None] * radius_u * np.asarray(axis_u) + np.sin(a)[:, None] * radius_v * np.asarray(axis_v)
    )
    positions = np.concatenate([centre[None], rim])
    tris = np.array([(0, 1 + k, 1 + (k + 1) % segments) for k in range(segments)])
    return positions, tris


def merge_parts(parts: list[MeshPart], part_names: list[str], colors: dict[str, tuple[float, float, float]]):
    """Concatenate parts: positions, triangles, joints, weights, colours [V,4], part ids."""
    positions, triangles, joints, weights, col, ids = [], [], [], [], [], []
    base = 0
    for p in parts:
        positions.append(p.positions)
        triangles.append(p.triangles + base)
        joints.append(p.joints)
        weights.append(p.weights)
        names = p.vertex_parts if p.vertex_parts is not None else np.full(len(p.positions), p.part)
        if p.vertex_parts is not None:
            unique, inverse = np.unique(names, return_inverse=True)
            index = np.array([part_names.index(n) for n in unique.tolist()])[inverse.reshape(-1)]
        else:
            index = np.full(len(p.positions), part_names.index(p.part))
        palette = np.array([(*colors[n], 1.0) for n in part_names], dtype=np.float32)
        col.append(palette[index])
        ids.append(index)
        base += len(p.positions)
    return (
        np.concatenate(positions),
        np.concatenate(triangles),
        np.concatenate(joints),
        np.concatenate(weights),
        np.concatenate(col).astype(np.float32),
        np.concatenate(ids),
    )
