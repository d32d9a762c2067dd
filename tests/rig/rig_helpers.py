"""Small rigs for the rig tests (imported by the test modules)."""

from __future__ import annotations

import numpy as np

from avatar_app.rig import Character, Skeleton, SkinnedMesh
from avatar_app.rig.quaternion import identity_quat


def chain_skeleton(count: int = 4, step=(0.1, 0.0, 0.0), root=(0.0, 1.0, 0.0)) -> Skeleton:
    """``count`` joints in a straight line: joint 0 at ``root``, each next one ``step`` further."""
    names = [f"j{i}" for i in range(count)]
    parents = [-1] + list(range(count - 1))
    trans = np.tile(np.asarray(step, dtype=np.float64), (count, 1))
    trans[0] = root
    return Skeleton(names, parents, trans, identity_quat(count))


def bar_character(segments: int = 3, rings: int = 4) -> Character:
    """A square bar along +x skinned to a chain of ``segments + 1`` joints (0.1 m apart)."""
    skel = chain_skeleton(segments + 1)
    xs = np.linspace(0.0, 0.1 * segments, segments * rings + 1)
    square = np.array([[0.0, 0.01, 0.01], [0.0, -0.01, 0.01], [0.0, -0.01, -0.01], [0.0, 0.01, -0.01]])
    pos = np.concatenate([square + [x, 1.0, 0.0] for x in xs])
    tris = []
    for r in range(len(xs) - 1):
        for c in range(4):
            a, b = r * 4 + c, r * 4 + (c + 1) % 4
            tris += [(a, a + 4, b), (b, a + 4, b + 4)]
    seg = np.minimum((pos[:, 0] / 0.1 + 1e-9).astype(int), segments - 1)
    joints = np.stack([seg, np.minimum(seg + 1, segments)], axis=1)
    frac = np.clip(pos[:, 0] / 0.1 - seg, 0.0, 1.0)
    weights = np.stack([1.0 - 0.5 * frac, 0.5 * frac], axis=1)
    mesh = SkinnedMesh(pos, tris, joints, weights, np.linalg.inv(skel.rest_world_matrices))
    return Character(skel, mesh, name="bar")
