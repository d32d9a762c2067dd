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


def reshaped(body: ProxyBody, head_scale: float = 1.0, shoulder_width: float = 1.0, hip_width: float = 1.0):
    """The body with a bigger or smaller head and wider or narrower shoulders and hips.

    * ``head_scale``: the head joint and everything below it scale about the head joint (the top
      of the neck); a vertex moves by its skin weight on the head, so the neck blends.
    * ``shoulder_width``: each arm moves sideways by ``(f - 1)`` times its shoulder joint's x; the
      upper chest stretches in x, fully at the shoulder joints and not at all at the chest joint.
    * ``hip_width``: the same for the legs at the hip joints; the pelvis stretches in x, fully at
      the hip joints and not at all at the spine joint.
    """
    if head_scale == 1.0 and shoulder_width == 1.0 and hip_width == 1.0:
        return body
    skel, rest, pos = body.skeleton, body.joint_positions, body.positions
    y_of = {n: rest[skel.index(n), 1] for n in ("chest", "spine", "leftUpperArm", "leftUpperLeg")}
    up = _ramp(pos[:, 1], y_of["chest"], y_of["leftUpperArm"])
    down = _ramp(pos[:, 1], y_of["spine"], y_of["leftUpperLeg"])
    torso_stretch = np.zeros_like(pos)
    torso_stretch[:, 0] = ((shoulder_width - 1.0) * up + (hip_width - 1.0) * down) * pos[:, 0]
    torso = [skel.index(n) for n in ("hips", "spine", "chest", "upperChest", "leftShoulder", "rightShoulder")]
    moved = body.weight_on(torso)[:, None] * torso_stretch
    joint_moves = np.zeros_like(rest)
    for root, factor in (
        ("leftUpperArm", shoulder_width),
        ("rightUpperArm", shoulder_width),
        ("leftUpperLeg", hip_width),
        ("rightUpperLeg", hip_width),
    ):
        limb = skel.descendants(skel.index(root))
        shift = np.array([(factor - 1.0) * rest[skel.index(root), 0], 0.0, 0.0])
        moved += body.weight_on(limb)[:, None] * shift
        joint_moves[limb] += shift
    for side in ("left", "right"):  # the clavicles move with the upper chest around them
        j = skel.index(f"{side}Shoulder")
        joint_moves[j, 0] += (
            (shoulder_width - 1.0) * _ramp(rest[j, 1], y_of["chest"], y_of["leftUpperArm"]) * rest[j, 0]
        )
    head = skel.index("head")
    pivot = rest[head]
    moved += body.weight_on(skel.descendants(head))[:, None] * (head_scale - 1.0) * (pos - pivot)
    above = skel.descendants(head)
    joint_moves[above] += (head_scale - 1.0) * (rest[above] - pivot)
    return with_positions(body, pos + moved, rest + joint_moves)


def _ramp(y, zero_at: float, one_at: float):
    return np.clip((y - zero_at) / (one_at - zero_at), 0.0, 1.0)


@dataclass(frozen=True)
class BodyLandmarks:
    """Heights (metres, unshaped body) the style's units refer to."""

    chin_y: float  # lowest point of the surface wholly on the head (the jaw's tip; below it the neck blends)
    crown_y: float  # top of the head's skin
    head_joint_y: float  # the pivot of head_scale
    hips_y: float  # the hips joint: hair_length's 1.0


@lru_cache(maxsize=1)
def body_landmarks() -> BodyLandmarks:
    body = proxy_body()
    on_head = body.weight_on([body.skeleton.index("head")]) > 0.999
    return BodyLandmarks(
        chin_y=float(body.positions[on_head, 1].min()),
        crown_y=float(body.positions[body.head, 1].max()),
        head_joint_y=float(body.joint("head")[1]),
        hips_y=float(body.joint("hips")[1]),
    )


def heads_tall_at(head_scale: float) -> float:
    """Figure height in head heights (chin to crown of the skull, hair not counted) for ``head_scale``.

    The shipped character (1.0) is 8.2 heads tall; 1.19 gives 7, 1.42 gives 6, 1.76 gives 5.
    ``height`` and ``width`` scale the whole figure and do not change it.
    """
    m = body_landmarks()
    crown = m.head_joint_y + head_scale * (m.crown_y - m.head_joint_y)
    return crown / (head_scale * (m.crown_y - m.chin_y))


def head_scale_for(heads: float) -> float:
    """The ``head_scale`` that makes the figure ``heads`` heads tall (the inverse of :func:`heads_tall_at`)."""
    m = body_landmarks()
    return m.head_joint_y / (heads * (m.crown_y - m.chin_y) - (m.crown_y - m.head_joint_y))
