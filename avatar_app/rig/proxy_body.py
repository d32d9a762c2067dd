"""The mannequin body as the default character's builder sees it: read once, reshaped per style.

:func:`proxy_body` converts the mannequin asset once per process and keeps it with what the
builder derives from the body alone (dominant bones, the trunk, the head surface); a fitter
builds hundreds of candidates, and reading + A-posing the asset is a third of a build. Its
arrays are read-only, so a caller cannot corrupt the cache: derive, don't edit.

:func:`reshaped` applies a style's body factors (head scale, shoulder and hip width) to the
rest positions of vertices and joints. Each one is a displacement per joint, blended by the
skin weights, so the body stays one smooth skinned surface and its joints stay where the
vertices around them went.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from avatar_app.rig.mannequin import load_mannequin_body
from avatar_app.rig.skeleton import Skeleton

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Little")


@dataclass(frozen=True, eq=False)
class ProxyBody:
    """Rest-pose body arrays (read-only; float64 positions in metres, A-pose, facing +z)."""

    skeleton: Skeleton  # names, parents, humanoid map (its rest translations are the unshaped ones)
    joint_positions: np.ndarray  # [J,3] rest world positions
    positions: np.ndarray  # [V,3]
    triangles: np.ndarray  # [F,3] int64
    joints: np.ndarray  # [V,4] int64
    weights: np.ndarray  # [V,4]
    raw_parts: np.ndarray  # [V] the asset's part of each vertex: "body", "arm", "head", "joint_L3" ...
    bones: np.ndarray  # [V] name of the joint with the largest weight
    head: np.ndarray  # [V] bool: the asset's head part (head and neck)
    head_triangles: np.ndarray  # [F_head,3] triangles wholly on the head part
    trunk: np.ndarray  # [V] bool: everything but arms, hands and fingers (what a skirt drapes over)

    @property
    def humanoid(self) -> dict[str, int]:
        return self.skeleton.humanoid

    def joint(self, bone: str) -> np.ndarray:
        return self.joint_positions[self.skeleton.index(bone)]

    def head_centre(self) -> np.ndarray:
        """Centre of the head part's bounding box, on the symmetry plane."""
        head_vertices = self.positions[self.head]
        centre = 0.5 * (head_vertices.min(axis=0) + head_vertices.max(axis=0))
        centre[0] = 0.0
        return centre

    def weight_on(self, joint_ids) -> np.ndarray:
        """[V] summed skin weight of each vertex on ``joint_ids``."""
        return (self.weights * np.isin(self.joints, np.asarray(joint_ids))).sum(axis=1)


@lru_cache(maxsize=1)
def proxy_body() -> ProxyBody:
    """The mannequin body (see module docstring); needs the ``mannequin-x`` package."""
    body = load_mannequin_body()
    mesh, skel = body.mesh, body.skeleton
    joints = mesh.joints.astype(np.int64)
    weights = mesh.weights.astype(np.float64)
    bones = np.array(skel.names)[joints[np.arange(len(joints)), np.argmax(weights, axis=1)]]
    raw_parts = np.array(mesh.part_names)[mesh.part_ids]
    head = mesh.part_ids == mesh.part_names.index("head")
    triangles = mesh.triangles.astype(np.int64)
    arm_bone = np.array([("Arm" in n) or ("Hand" in n) or any(f in n for f in _FINGERS) for n in skel.names])
    trunk = ~arm_bone[joints[np.arange(len(joints)), np.argmax(weights, axis=1)]]
    return _frozen(
        ProxyBody(
            skeleton=skel,
            joint_positions=skel.rest_world_matrices[:, :3, 3].copy(),
            positions=mesh.positions.astype(np.float64),
            triangles=triangles,
            joints=joints,
            weights=weights,
            raw_parts=raw_parts,
            bones=bones,
            head=head,
            head_triangles=triangles[np.all(head[triangles], axis=1)],
            trunk=trunk,
        )
    )


def _frozen(body: ProxyBody) -> ProxyBody:
    for value in vars(body).values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    for array in (body.skeleton.parents, body.skeleton.rest_translations, body.skeleton.rest_rotations):
        array.setflags(write=False)
    return body


def with_positions(body: ProxyBody, positions: np.ndarray, joint_positions: np.ndarray) -> ProxyBody:
    """The same body with other rest positions (read-only copies)."""
    return _frozen(replace(body, positions=np.array(positions), joint_positions=np.array(joint_positions)))
