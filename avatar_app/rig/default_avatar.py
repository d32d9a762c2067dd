"""The default character: the mannequin body with procedural anime features.

On top of :func:`load_mannequin_body` (A-pose, facing +z, feet on y=0):

* a hair cap (the top and back of the head surface, lifted 12 mm) and a
  fringe of bangs, rigid on the head;
* two twin tails: tapered tubes on 6-joint spring chains under the head;
* a pleat-free skirt: a flared double-sided ring on 12 three-segment spring
  chains under the hips, colliding with the thighs and hips;
* eyes (white + iris discs on the face surface);
* flat toon colours per part (sRGB): skin, hair, top, skirt, shorts (the
  body under the skirt), socks, shoes, eye white, iris.

Every feature is built for the left side and mirrored, so the features are
exactly mirror-symmetric; the body asset itself is symmetric to 16 mm. The
result is deterministic (no randomness) and ready for ``save_glb``.

An :class:`~avatar_app.rig.avatar_style.AvatarStyle` varies colours, cloth
patterns, tails, bangs, skirt and proportions; without one (or with
``AvatarStyle()``) the builder makes the shipped character, bit for bit.
"""

from __future__ import annotations

import numpy as np

from avatar_app.rig.avatar_style import COLORS, PART_NAMES, AvatarStyle, Pattern, paint_patterns
from avatar_app.rig.character import Character, recentred
from avatar_app.rig.mesh_parts import (
    JointList,
    MeshPart,
    chain_weights,
    ellipse_disc,
    grid_triangles,
    merge_parts,
    rigid_weights,
    tube,
)
from avatar_app.rig.proxy_body import ProxyBody, proxy_body
from avatar_app.rig.skeleton import Skeleton
from avatar_app.rig.skinning import SkinnedMesh
from avatar_app.rig.skirt import skirt
from avatar_app.rig.spring_settings import Collider, ColliderGroup, SpringChain, SpringJointSettings, SpringSettings

__all__ = ["COLORS", "PART_NAMES", "AvatarStyle", "Pattern", "build_default_avatar"]

TAIL_SETTINGS = SpringJointSettings(stiffness=1.0, gravity_power=0.06, drag=0.3, hit_radius=0.03)
SKIRT_SETTINGS = SpringJointSettings(stiffness=1.6, gravity_power=0.1, drag=0.45, hit_radius=0.02)
_MIRROR = np.array([-1.0, 1.0, 1.0])


def build_default_avatar(style: AvatarStyle | None = None) -> Character:
    """The default character, or a variation of it (see module docstring)."""
    style = AvatarStyle() if style is None else style
    body = proxy_body()
    hum = body.humanoid
    rest = body.joint_positions
    skel = body.skeleton
    joints = JointList(skel.names, skel.parents, rest, hum)
    head_centre = body.head_centre()

    parts = [_body_part(body)]
    parts += _hair_cap(body, head_centre)
    surface = _FrontSurface(body)
    parts += _bangs(surface, head_centre, hum["head"], style.bangs_length)
    parts += _eyes(surface, head_centre, hum["head"])
    tail_chains, skirt_chains = {}, {}
    if style.twin_tails:
        tail_chains, tail_parts = _twin_tails(joints, hum["head"], head_centre, style.tail_length, style.tail_radius)
        parts += tail_parts
    if style.skirt:  # without it the shorts show; adds joints: mirror map after this
        skirt_chains, skirt_parts = skirt(
            joints, body.positions, body.trunk, hum["hips"], style.skirt_length, style.skirt_flare
        )
        parts += skirt_parts
    scale = style.scale
    if np.any(scale != 1.0):  # rest rotations are all identity, so scaling world positions is the whole story
        joints.world = [p * scale for p in joints.world]
        for part in parts:
            part.positions = part.positions * scale
        rest, head_centre = rest * scale, head_centre * scale
    skeleton = joints.skeleton()

    mirror = joints.mirror_map()
    parts = [q for p in parts for q in p.with_mirror_image(mirror)]
    positions, triangles, joint_idx, weights, colors, part_ids = merge_parts(parts, list(PART_NAMES), style.palette)
    colors = paint_patterns(style, positions, colors, part_ids, skirt_axis_z=float(rest[hum["hips"], 2]))
    skinned = SkinnedMesh(
        positions=positions,
        triangles=triangles,
        joints=joint_idx,
        weights=weights,
        inverse_bind_matrices=np.linalg.inv(skeleton.rest_world_matrices),
        colors=colors,
        part_ids=part_ids,
        part_names=PART_NAMES,
        name="default_avatar",
        source="default avatar",
    )
    springs = _springs(skeleton, rest, hum, head_centre, tail_chains, skirt_chains, scale)
    return recentred(
        Character(skeleton, skinned, springs, name="default_avatar", source="default avatar"), centre_x=False
    )


def _mirror_too(part: MeshPart) -> MeshPart:
    part.mirror = True
    return part


def _body_part(body: ProxyBody) -> MeshPart:
    hum = body.humanoid
    rest = body.joint_positions
    pos = body.positions
    bone, raw = body.bones, body.raw_parts
    y = pos[:, 1]
    hips_y = rest[hum["hips"], 1]
    parts = np.full(len(pos), "skin", dtype=object)
    torso = np.isin(bone, ["hips", "spine", "chest", "upperChest"]) & (raw == "body")
    parts[torso & (y < hips_y + 0.04)] = "shorts"
    parts[torso & (y >= hips_y + 0.04) & (y < rest[hum["neck"], 1] - 0.01)] = "top"
    for side in ("left", "right"):
        shoulder = rest[hum[f"{side}UpperArm"]]
        sleeve = np.isin(bone, [f"{side}Shoulder", f"{side}UpperArm"]) & (np.linalg.norm(pos - shoulder, axis=1) < 0.11)
        parts[sleeve] = "top"
        thigh = (bone == f"{side}UpperLeg") & (y > hips_y - 0.12)
        parts[thigh] = "shorts"
        parts[(bone == f"{side}LowerLeg") & (y < 0.47)] = "socks"
        feet = np.isin(bone, [f"{side}Foot", f"{side}Toes"])
        parts[feet] = np.where(y[feet] < 0.1, "shoes", "socks")
    parts[np.isin(raw, ["joint_L3", "joint_R3"])] = "top"  # shoulder balls
    parts[np.isin(raw, ["joint_L4", "joint_R4"])] = "shorts"  # hip balls
    parts[raw == "head"] = "skin"
    return MeshPart(
        "skin", pos.copy(), body.triangles.copy(), body.joints.copy(), body.weights.copy(), parts.astype(str)
    )


def _hair_cap(body: ProxyBody, head_centre: np.ndarray) -> list[MeshPart]:
    head = body.humanoid["head"]
    pos = body.positions
    # hairline: just above the brows in front, down to the nape behind
    z_front, z_back = head_centre[2] + 0.06, head_centre[2] - 0.06
    t = np.clip((pos[:, 2] - z_back) / (z_front - z_back), 0.0, 1.0)
    hairline = (head_centre[1] - 0.09) + t * 0.135
    covered = body.head & (pos[:, 1] > hairline)
    tris = body.triangles[np.all(covered[body.triangles], axis=1)]
    used = np.unique(tris)
    remap = -np.ones(len(pos), dtype=np.int64)
    remap[used] = np.arange(len(used))
    outward = pos[used] - head_centre
    lifted = pos[used] + 0.012 * outward / np.linalg.norm(outward, axis=1, keepdims=True)
    j, w = rigid_weights(len(used), head)
    return [MeshPart("hair", lifted, remap[tris], j, w)]  # as symmetric as the head surface (2 mm)


class _FrontSurface:
    """z of the head's front surface at (x, y): the nearest hit of a ray cast along -z.

    Uses the head triangles mirrored too, so that it is exactly symmetric in x.
    """

    def __init__(self, body: ProxyBody):
        corners = body.positions[body.head_triangles]
        self.corners = np.concatenate([corners, corners[:, ::-1] * _MIRROR])

    def __call__(self, x, y) -> np.ndarray:
        x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        lo, hi = self.corners[:, :, :2].min(axis=1), self.corners[:, :, :2].max(axis=1)
        margin = 1e-9  # only triangles whose box holds a query point can be hit
        near = (
            (hi[:, 0] >= x.min() - margin)
            & (lo[:, 0] <= x.max() + margin)
            & (hi[:, 1] >= y.min() - margin)
            & (lo[:, 1] <= y.max() + margin)
        )
        corners = self.corners[near]
        a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
        # barycentric coordinates of (x, y) in each triangle's xy projection
        d = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
        px, py = x.reshape(-1, 1), y.reshape(-1, 1)
        safe = np.where(np.abs(d) > 1e-15, d, 1.0)
        w1 = ((px - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (py - a[:, 1])) / safe
        w2 = ((b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (px - a[:, 0]) * (b[:, 1] - a[:, 1])) / safe
        w0 = 1.0 - w1 - w2
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (np.abs(d) > 1e-15)
        z = w0 * a[:, 2] + w1 * b[:, 2] + w2 * c[:, 2]
        return np.where(inside, z, -np.inf).max(axis=1).reshape(x.shape)


def _bangs(surface: _FrontSurface, head_centre: np.ndarray, head: int, length_factor: float = 1.0) -> list[MeshPart]:
    top_y, bottom_y = head_centre[1] + 0.055, head_centre[1] + 0.005
    rows = 6
    parts = []
    for x0, length in ((0.0, 1.0), (0.018, 0.85), (0.036, 1.0), (0.054, 0.8)):
        width = 0.024
        t = np.linspace(0.0, 1.0, rows)
        y = top_y - t * (top_y - bottom_y) * (length * length_factor)
        half = 0.5 * width * (1.0 - t) ** 0.7 + 1e-4
        xs = np.stack([x0 - half, x0 + half], axis=1).reshape(-1)
        ys = np.repeat(y, 2)
        pos = np.stack([xs, ys, surface(xs, ys) + 0.014 + 0.002 * x0 / 0.054], axis=1)
        tris = grid_triangles(rows, 2, wrap=False)
        j, w = rigid_weights(len(pos), head)
        part = MeshPart("hair", pos, tris, j, w)
        parts.append(part if x0 == 0.0 else _mirror_too(part))  # the centre strand is symmetric itself
    return parts


def _eyes(surface: _FrontSurface, head_centre: np.ndarray, head: int) -> list[MeshPart]:
    out = []
    centre_y = head_centre[1] - 0.012
    for name, rx, ry, lift in (("eye_white", 0.0135, 0.017, 0.0015), ("iris", 0.0095, 0.0135, 0.0025)):
        pos, tris = ellipse_disc((0.031, centre_y, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), rx, ry, 20)
        pos[:, 2] = surface(pos[:, 0], pos[:, 1]) + lift
        j, w = rigid_weights(len(pos), head)
        out.append(_mirror_too(MeshPart(name, pos, tris, j, w)))
    return out


def _twin_tails(joints: JointList, head: int, head_centre: np.ndarray, length: float = 1.0, thickness: float = 1.0):
    """Six-joint chains from the sides of the head (the last joint is the tip), and a tapered tube."""
    base = head_centre + np.array([0.085, 0.095, -0.05])
    steps = np.array(
        [
            [0.045, -0.06, -0.035],
            [0.035, -0.14, -0.045],
            [0.012, -0.15, -0.03],
            [0.0, -0.15, -0.01],
            [-0.005, -0.14, 0.0],
        ]
    )
    steps = steps * length
    points = np.concatenate([base[None], base + np.cumsum(steps, axis=0)])
    chains = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        chain = []
        parent = head
        for k, p in enumerate(points):
            parent = joints.add(f"hairTail{side}_{k}", parent, p * (sign, 1.0, 1.0))
            chain.append(parent)
        chains[side] = chain
    per_segment = 5
    s = np.linspace(0.0, len(points) - 1, (len(points) - 1) * per_segment + 1)
    seg = np.minimum(np.floor(s).astype(int), len(points) - 2)
    centre = points[seg] + (s - seg)[:, None] * (points[seg + 1] - points[seg])
    u = s / s[-1]
    radii = (0.018 + 0.05 * np.sin(np.pi * np.clip(u * 1.4, 0.0, 1.0)) ** 0.8 * (1.0 - u) ** 0.6 + 0.003) * thickness
    pos, tris = tube(centre, radii, sides=12, reference=(0.0, 0.0, 1.0))
    ring_s = np.repeat(s, 12)
    vertex_s = np.concatenate([ring_s, [s[0], s[-1]]])
    j, w = chain_weights(vertex_s, chains["L"])
    return chains, [_mirror_too(MeshPart("hair", pos, tris, j, w))]


def _springs(skeleton: Skeleton, rest, hum, head_centre, tail_chains, skirt_chains, scale=None) -> SpringSettings:
    """Colliders on head, chest, arms, legs and hips; ``rest`` and ``head_centre`` are already scaled by ``scale``."""
    scale = np.ones(3) if scale is None else scale
    radius_scale = float(np.prod(scale) ** (1.0 / 3.0))  # exactly 1.0 for the default character
    colliders = [Collider(hum["head"], tuple(head_centre - rest[hum["head"]]), 0.085 * radius_scale)]
    colliders.append(Collider(hum["upperChest"], _scaled_offset((0.0, 0.03, -0.02), scale), 0.11 * radius_scale))
    for side in ("left", "right"):
        a, b = hum[f"{side}UpperArm"], hum[f"{side}LowerArm"]
        colliders.append(Collider(a, (0.0, 0.0, 0.0), 0.045 * radius_scale, tuple(rest[b] - rest[a])))
    for side in ("left", "right"):
        a, b = hum[f"{side}UpperLeg"], hum[f"{side}LowerLeg"]
        colliders.append(Collider(a, (0.0, 0.0, 0.0), 0.075 * radius_scale, tuple(rest[b] - rest[a])))
    colliders.append(Collider(hum["hips"], _scaled_offset((0.0, -0.02, 0.0), scale), 0.11 * radius_scale))
    groups = (ColliderGroup((0,), "head"), ColliderGroup((1, 2, 3), "torso"), ColliderGroup((4, 5, 6), "legs"))
    chains = [
        SpringChain(tuple(tail_chains[s]), tuple(TAIL_SETTINGS for _ in tail_chains[s]), (0, 1), f"twinTail{s}")
        for s in sorted(tail_chains)
    ]
    for (side, k), chain in sorted(skirt_chains.items()):
        chains.append(SpringChain(tuple(chain), tuple(SKIRT_SETTINGS for _ in chain), (2,), f"skirt{side}{k}"))
    return SpringSettings(tuple(chains), tuple(colliders), groups)


def _scaled_offset(offset, scale) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.asarray(offset) * scale)
