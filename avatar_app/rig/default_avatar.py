"""The default character: the mannequin body with procedural anime features.

On top of the mannequin body (:mod:`.proxy_body`: A-pose, facing +z, feet on y=0), reshaped
by the style's head scale and shoulder and hip width:

* clothes painted on the body and puffed out of it (:mod:`.clothes`): top and sleeves,
  shorts or trousers, socks, shoes;
* rigid on the head (:mod:`.head_parts`): a hair cap (the top and back of the head surface,
  lifted 12 mm), a fringe of bangs, eyes (white + iris discs on the face surface), ears;
* hair below the cap (:mod:`.hair`): twin tails or a ponytail (tapered tubes on 6-joint
  spring chains under the head), or a curtain (bob rigid, longer hair on spring chains);
* a skirt or a dress (:mod:`.skirt`): a flared double-sided ring on 12 three-segment spring
  chains under the hips, colliding with the thighs and hips;
* flat toon colours per part (sRGB): skin, hair, top, skirt, shorts (the body under the
  skirt; trousers), socks, shoes, eye white, iris.

Every feature is built for the left side and mirrored (or on the symmetry plane), so the
features are exactly mirror-symmetric; the body asset itself is symmetric to 16 mm. The
result is deterministic (no randomness) and ready for ``save_glb``. Without a style (or with
``AvatarStyle()``) the builder makes the shipped character, bit for bit, in about 0.05 s.
"""

from __future__ import annotations

import numpy as np

from avatar_app.rig.avatar_style import (
    COLORS,
    CURTAIN_STYLES,
    PART_NAMES,
    AvatarStyle,
    Pattern,
    hair_hem_fraction,
    heads_tall,
    paint_patterns,
)
from avatar_app.rig.character import Character, recentred
from avatar_app.rig.clothes import body_labels, dressed_positions
from avatar_app.rig.face_morphs import EYELID_PART, MOUTH_COLOR, MOUTH_PART, face_parts
from avatar_app.rig.hair import curtain, ponytail, twin_tails
from avatar_app.rig.head_parts import CAP_LIFT_M, FrontSurface, bangs, ears, eyes, hair_cap
from avatar_app.rig.mesh_parts import JointList, MeshPart, merge_parts
from avatar_app.rig.morphs import MorphTargets
from avatar_app.rig.proxy_body import ProxyBody, body_landmarks, proxy_body, reshaped
from avatar_app.rig.skeleton import Skeleton
from avatar_app.rig.skinning import SkinnedMesh
from avatar_app.rig.skirt import skirt
from avatar_app.rig.spring_settings import Collider, ColliderGroup, SpringChain, SpringJointSettings, SpringSettings

# the mesh's parts: the style's (which have colours in AvatarStyle), the eyelids and the inside of the mouth
MESH_PART_NAMES = (*PART_NAMES, EYELID_PART, MOUTH_PART)

__all__ = ["COLORS", "MESH_PART_NAMES", "PART_NAMES", "AvatarStyle", "Pattern", "build_default_avatar", "heads_tall"]

TAIL_SETTINGS = SpringJointSettings(stiffness=1.0, gravity_power=0.06, drag=0.3, hit_radius=0.03)
SKIRT_SETTINGS = SpringJointSettings(stiffness=1.6, gravity_power=0.1, drag=0.45, hit_radius=0.02)
HAIR_SETTINGS = SpringJointSettings(stiffness=1.4, gravity_power=0.08, drag=0.4, hit_radius=0.02)


def build_default_avatar(style: AvatarStyle | None = None) -> Character:
    """The default character, or a variation of it (see module docstring)."""
    style = AvatarStyle() if style is None else style
    body = reshaped(proxy_body(), style.head_scale, style.shoulder_width, style.hip_width)
    hum = body.humanoid
    rest = body.joint_positions
    joints = JointList(body.skeleton.names, body.skeleton.parents, rest, hum)
    head, s = hum["head"], style.head_scale
    head_centre = body.head_centre()

    labels = body_labels(style.sleeves, style.lower)
    looseness = style.trouser_looseness if style.lower == "trousers" else 0.0
    dressed = dressed_positions(body, labels, style.top_volume, style.sleeve_volume, looseness)
    parts = [MeshPart("skin", dressed, body.triangles, body.joints, body.weights, labels)]
    lift = CAP_LIFT_M * style.hair_volume * s
    parts += hair_cap(body, head_centre, s, lift)
    surface = FrontSurface(body)
    if style.bangs:
        parts += bangs(surface, head_centre, head, style.bangs_length, s, CAP_LIFT_M * (style.hair_volume - 1.0))
    parts += eyes(surface, head_centre, head, s)
    face = face_parts(surface, head_centre, _chin_y(body, s), head, s)  # appended last: morph targets
    parts += ears(style.ears, head_centre, head, s)
    chains = []  # (name, joints, settings, collider groups), in spring order
    skirt_points = []
    if style.hair_style in ("twin_tails", "ponytail"):
        build = twin_tails if style.hair_style == "twin_tails" else ponytail
        tails, tail_parts = build(joints, head, head_centre, style.tail_length, style.tail_radius, s)
        parts += tail_parts
        name = "twinTail" if style.hair_style == "twin_tails" else "ponytail"
        chains += [(f"{name}{k}" if k != "C" else name, tails[k], TAIL_SETTINGS, (0, 1)) for k in sorted(tails)]
    if style.lower in ("skirt", "dress"):  # without one the shorts (or trousers) show; adds joints
        if style.lower == "skirt":  # under the top: a loose top hangs over it
            skirt_chains, skirt_parts = skirt(
                joints, body.positions, body.trunk, hum["hips"], style.skirt_length, style.skirt_flare
            )
        else:  # over the top, from under the chest, in the top's colour
            skirt_chains, skirt_parts = skirt(
                joints, dressed, body.trunk, hum["hips"], style.skirt_length, style.skirt_flare, "top", _bodice(body)
            )
        parts += skirt_parts
        skirt_points = [skirt_parts[0].positions]
        chains += [(f"skirt{side}{k}", c, SKIRT_SETTINGS, (2,)) for (side, k), c in sorted(skirt_chains.items())]
    if style.hair_style in CURTAIN_STYLES:  # over the skirt: after it
        obstacle = np.concatenate([dressed[body.trunk], *skirt_points])
        hair_chains, hair_parts = _curtain(joints, body, style, obstacle, head_centre, lift + 0.004 * s)
        parts += hair_parts
        chains += [(f"hair{side}{k}", c, HAIR_SETTINGS, (0, 1)) for (side, k), c in sorted(hair_chains.items())]
    scale = style.scale
    if np.any(scale != 1.0):  # rest rotations are all identity, so scaling world positions is the whole story
        joints.world = [p * scale for p in joints.world]
        for part in parts + [p for p, _ in face]:
            part.positions = part.positions * scale
        face = [(p, {n: d * scale for n, d in deltas.items()}) for p, deltas in face]
        rest, head_centre = rest * scale, head_centre * scale
    skeleton = joints.skeleton()

    mirror = joints.mirror_map()
    parts = [q for p in parts for q in p.with_mirror_image(mirror)]
    base = sum(len(p.positions) for p in parts)
    parts += [p for p, _ in face]
    palette = {**style.palette, EYELID_PART: style.palette["skin"], MOUTH_PART: MOUTH_COLOR}
    positions, triangles, joint_idx, weights, colors, part_ids = merge_parts(parts, list(MESH_PART_NAMES), palette)
    colors = paint_patterns(style, positions, colors, part_ids, skirt_axis_z=float(rest[hum["hips"], 2]))
    skinned = SkinnedMesh(
        positions=positions,
        triangles=triangles,
        joints=joint_idx,
        weights=weights,
        inverse_bind_matrices=np.linalg.inv(skeleton.rest_world_matrices),
        colors=colors,
        part_ids=part_ids,
        part_names=MESH_PART_NAMES,
        name="default_avatar",
        source="default avatar",
        morphs=_face_morphs(face, base, len(positions)),
    )
    springs = _springs(skeleton, rest, hum, head_centre, chains, scale, s)
    return recentred(
        Character(skeleton, skinned, springs, name="default_avatar", source="default avatar"), centre_x=False
    )


def _chin_y(body: ProxyBody, head_scale: float) -> float:
    landmarks = body_landmarks()
    return float(
        body.joint_positions[body.humanoid["head"], 1] + head_scale * (landmarks.chin_y - landmarks.head_joint_y)
    )


def _face_morphs(face, base: int, num_vertices: int) -> MorphTargets | None:
    """The face parts' offsets (they are the last vertices, from ``base`` on) as the mesh's morph targets."""
    dense: dict[str, np.ndarray] = {}
    for part, deltas in face:
        for name, delta in deltas.items():
            dense.setdefault(name, np.zeros((num_vertices, 3), np.float32))[base : base + len(delta)] = delta
        base += len(part.positions)
    return MorphTargets.from_dense(dense)


def _curtain(joints: JointList, body: ProxyBody, style: AvatarStyle, obstacle, head_centre, gap: float):
    """A curtain of hair whose hem hangs ``hair_hem_fraction`` of the way from the (scaled) chin to the hips."""
    rest, head, s = body.joint_positions, body.humanoid["head"], style.head_scale
    chin_y = _chin_y(body, s)
    hem_y = chin_y - hair_hem_fraction(style) * (chin_y - rest[body.humanoid["hips"], 1])
    return curtain(joints, obstacle, head_centre, head, style.hair_style, chin_y, hem_y, style.hair_volume, gap, s)


def _bodice(body: ProxyBody) -> tuple[float, list[tuple[int, float]]]:
    """A dress starts 3 cm above the chest joint (under the bust) and bends with the spine down to the waist."""
    hum, rest = body.humanoid, body.joint_positions
    anchors = [(hum[n], float(rest[hum[n], 1])) for n in ("upperChest", "chest", "spine")]
    anchors.append((hum["hips"], float(rest[hum["hips"], 1]) + 0.06))  # the skirt's waistband
    return float(rest[hum["chest"], 1]) + 0.03, anchors


def _springs(skeleton: Skeleton, rest, hum, head_centre, chains, scale=None, head_scale=1.0) -> SpringSettings:
    """Colliders on head, chest, arms, legs and hips; ``rest`` and ``head_centre`` are already scaled by ``scale``."""
    scale = np.ones(3) if scale is None else scale
    radius_scale = float(np.prod(scale) ** (1.0 / 3.0))  # exactly 1.0 for the default character
    colliders = [Collider(hum["head"], tuple(head_centre - rest[hum["head"]]), 0.085 * radius_scale * head_scale)]
    colliders.append(Collider(hum["upperChest"], _scaled_offset((0.0, 0.03, -0.02), scale), 0.11 * radius_scale))
    for side in ("left", "right"):
        a, b = hum[f"{side}UpperArm"], hum[f"{side}LowerArm"]
        colliders.append(Collider(a, (0.0, 0.0, 0.0), 0.045 * radius_scale, tuple(rest[b] - rest[a])))
    for side in ("left", "right"):
        a, b = hum[f"{side}UpperLeg"], hum[f"{side}LowerLeg"]
        colliders.append(Collider(a, (0.0, 0.0, 0.0), 0.075 * radius_scale, tuple(rest[b] - rest[a])))
    colliders.append(Collider(hum["hips"], _scaled_offset((0.0, -0.02, 0.0), scale), 0.11 * radius_scale))
    groups = (ColliderGroup((0,), "head"), ColliderGroup((1, 2, 3), "torso"), ColliderGroup((4, 5, 6), "legs"))
    springs = [
        SpringChain(tuple(j), tuple(settings for _ in j), groups_of, name) for name, j, settings, groups_of in chains
    ]
    return SpringSettings(tuple(springs), tuple(colliders), groups)


def _scaled_offset(offset, scale) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.asarray(offset) * scale)
