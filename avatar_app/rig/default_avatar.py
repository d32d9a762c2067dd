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
from avatar_app.rig.mannequin import load_mannequin_body
from avatar_app.rig.mesh_parts import (
    MeshPart,
    chain_weights,
    ellipse_disc,
    grid_triangles,
    merge_parts,
    mirror_joints,
    rigid_weights,
    tube,
)
from avatar_app.rig.skeleton import Skeleton
from avatar_app.rig.skinning import SkinnedMesh
from avatar_app.rig.spring_settings import Collider, ColliderGroup, SpringChain, SpringJointSettings, SpringSettings

__all__ = ["COLORS", "PART_NAMES", "AvatarStyle", "Pattern", "build_default_avatar"]

TAIL_SETTINGS = SpringJointSettings(stiffness=1.0, gravity_power=0.06, drag=0.3, hit_radius=0.03)
SKIRT_SETTINGS = SpringJointSettings(stiffness=1.6, gravity_power=0.1, drag=0.45, hit_radius=0.02)
SKIRT_CHAINS = 12
SKIRT_COLUMNS = 48
_MIRROR = np.array([-1.0, 1.0, 1.0])


class _Joints:
    """Appends joints (identity rest rotations) to a skeleton, by world rest position."""

    def __init__(self, skeleton: Skeleton):
        self.names = list(skeleton.names)
        self.parents = list(skeleton.parents)
        self.world = [p for p in skeleton.rest_world_matrices[:, :3, 3]]
        self.humanoid = dict(skeleton.humanoid)

    def add(self, name: str, parent: int, position) -> int:
        self.names.append(name)
        self.parents.append(parent)
        self.world.append(np.asarray(position, dtype=np.float64))
        return len(self.names) - 1

    def skeleton(self) -> Skeleton:
        world = np.array(self.world)
        local = np.array([world[j] - (world[p] if p >= 0 else 0.0) for j, p in enumerate(self.parents)])
        rot = np.zeros((len(self.names), 4))
        rot[:, 3] = 1.0
        return Skeleton(self.names, self.parents, local, rot, self.humanoid, source="default avatar")

    def mirror_map(self) -> dict[int, int]:
        """Joint -> its mirror image, by name: ``left``/``right`` (humanoid) and ``L_``/``R_`` (ours)."""
        out = {}
        for j, n in enumerate(self.names):
            for a, b in (("left", "right"), ("right", "left"), ("L_", "R_"), ("R_", "L_")):
                if a in n:
                    out[j] = self.names.index(n.replace(a, b))
                    break
        return out


def build_default_avatar(style: AvatarStyle | None = None) -> Character:
    """The default character, or a variation of it (see module docstring). Takes about a second."""
    style = AvatarStyle() if style is None else style
    body = load_mannequin_body()
    skel = body.skeleton
    hum = skel.humanoid
    rest = skel.rest_world_matrices[:, :3, 3]
    joints = _Joints(skel)
    mesh = body.mesh
    head_vertices = mesh.positions[mesh.part_ids == mesh.part_names.index("head")].astype(np.float64)
    head_centre = 0.5 * (head_vertices.min(axis=0) + head_vertices.max(axis=0))
    head_centre[0] = 0.0

    parts = [_body_part(body)]
    parts += _hair_cap(body, head_centre)
    surface = _FrontSurface(body)
    parts += _bangs(surface, head_centre, hum["head"], style.bangs_length)
    parts += _eyes(surface, head_centre, hum["head"])
    tail_chains, skirt_chains = {}, {}
    if style.twin_tails:
        tail_chains, tail_parts = _twin_tails(joints, hum["head"], head_centre, style.tail_length, style.tail_radius)
        parts += tail_parts
    if style.skirt:  # without it the shorts show
        skirt_chains, skirt_parts = _skirt(
            joints, body, hum["hips"], style.skirt_length, style.skirt_flare
        )  # adds joints: mirror map after this
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


def _body_part(body: Character) -> MeshPart:
    mesh, skel = body.mesh, body.skeleton
    hum = skel.humanoid
    rest = skel.rest_world_matrices[:, :3, 3]
    pos = mesh.positions.astype(np.float64)
    dominant = mesh.joints[np.arange(len(pos)), np.argmax(mesh.weights, axis=1)]
    bone = np.array(skel.names)[dominant]
    raw = np.array(mesh.part_names)[mesh.part_ids]
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
        "skin",
        pos,
        mesh.triangles.astype(np.int64),
        mesh.joints.astype(np.int64),
        mesh.weights.astype(np.float64),
        parts.astype(str),
    )


def _hair_cap(body: Character, head_centre: np.ndarray) -> list[MeshPart]:
    mesh = body.mesh
    head = body.skeleton.humanoid["head"]
    in_head = mesh.part_ids == mesh.part_names.index("head")
    pos = mesh.positions.astype(np.float64)
    # hairline: just above the brows in front, down to the nape behind
    z_front, z_back = head_centre[2] + 0.06, head_centre[2] - 0.06
    t = np.clip((pos[:, 2] - z_back) / (z_front - z_back), 0.0, 1.0)
    hairline = (head_centre[1] - 0.09) + t * 0.135
    covered = in_head & (pos[:, 1] > hairline)
    tris = mesh.triangles[np.all(covered[mesh.triangles], axis=1)]
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

    def __init__(self, body: Character):
        mesh = body.mesh
        head = mesh.part_ids == mesh.part_names.index("head")
        tris = mesh.triangles[np.all(head[mesh.triangles], axis=1)]
        corners = mesh.positions.astype(np.float64)[tris]
        self.corners = np.concatenate([corners, corners[:, ::-1] * _MIRROR])

    def __call__(self, x, y) -> np.ndarray:
        x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        a, b, c = self.corners[:, 0], self.corners[:, 1], self.corners[:, 2]
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
        xs = np.stack([x0 - half, x0 + half], axis=1)
        pts = []
        for r in range(rows):
            for x in xs[r]:
                pts.append((x, y[r], float(surface(x, y[r])) + 0.014 + 0.002 * x0 / 0.054))
        pos = np.array(pts)
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


def _twin_tails(joints: _Joints, head: int, head_centre: np.ndarray, length: float = 1.0, thickness: float = 1.0):
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


def _skirt(joints: _Joints, body: Character, hips: int, length: float = 1.0, flare_factor: float = 1.0):
    """Twelve four-joint chains around the waist and a flared, double-sided ring skinned to them."""
    rest = body.skeleton.rest_world_matrices[:, :3, 3]
    axis = np.array([0.0, 0.0, rest[hips, 2]])
    waist_y, hem_y = rest[hips, 1] + 0.06, rest[hips, 1] - 0.27 * length
    segments, sub = 3, 3
    rows = np.linspace(0.0, segments, segments * sub + 1)
    ys = waist_y + (hem_y - waist_y) * rows / segments
    # body radius around the skirt axis, per direction and row (arms excluded), made symmetric
    mesh = body.mesh
    dominant = np.array(body.skeleton.names)[mesh.joints[np.arange(mesh.num_vertices), np.argmax(mesh.weights, axis=1)]]
    trunk = ~np.array(
        [
            ("Arm" in d) or ("Hand" in d) or any(f in d for f in ("Thumb", "Index", "Middle", "Ring", "Little"))
            for d in dominant
        ]
    )
    pts = mesh.positions[trunk].astype(np.float64) - axis
    pts = np.concatenate([pts, pts * _MIRROR])
    ang = np.arctan2(pts[:, 0], pts[:, 2])
    rad = np.hypot(pts[:, 0], pts[:, 2])
    half_cols = SKIRT_COLUMNS // 2
    phi = (np.arange(half_cols) + 0.5) * np.pi / half_cols  # left half, 0 = front, pi/2 = +x
    radius = np.zeros((len(ys), half_cols))
    for r, y in enumerate(ys):
        band = np.abs(pts[:, 1] + axis[1] - y) < 0.025
        for c, a in enumerate(phi):
            near = band & (np.abs(np.angle(np.exp(1j * (ang - a)))) < np.radians(12))
            radius[r, c] = rad[near].max() if near.any() else 0.0
    radius += 0.014
    flare = radius[0] + np.outer((waist_y - ys), np.full(half_cols, 0.42 * flare_factor))
    radius = np.maximum.accumulate(np.maximum(radius, flare), axis=0)
    # a chain every 30 degrees, starting 15 degrees left of the front
    chain_phi = (np.arange(SKIRT_CHAINS // 2) + 0.5) * 2 * np.pi / SKIRT_CHAINS
    chains = {}
    joint_rows = rows[::sub].astype(int)
    for k, a in enumerate(chain_phi):
        r_at = np.array([np.interp(a, phi, radius[r * sub]) for r in joint_rows])
        for side, sign in (("L", 1.0), ("R", -1.0)):
            chain = []
            parent = hips
            for r, rr in zip(joint_rows, r_at):
                p = axis + np.array([sign * rr * np.sin(a), ys[r * sub] - axis[1], rr * np.cos(a)])
                parent = joints.add(f"skirt{side}_{k}_{r}", parent, p)  # "L_"/"R_": see _Joints.mirror_map
                chain.append(parent)
            chains[(side, k)] = chain
    # left half of the ring (columns phi); the right half is its exact mirror image
    grid = axis + np.stack(
        [radius * np.sin(phi), np.broadcast_to(ys[:, None] - axis[1], radius.shape), radius * np.cos(phi)], axis=-1
    )
    width = 2 * np.pi / SKIRT_CHAINS
    pos_k = (phi - chain_phi[0]) / width
    lo = np.floor(pos_k).astype(int)
    frac = pos_k - lo

    def chain_of(k: int) -> list[int]:  # chain k counted from the front on the left; past the seams, the mirrored ones
        if 0 <= k < SKIRT_CHAINS // 2:
            return chains[("L", k)]
        return chains[("R", -k - 1 if k < 0 else SKIRT_CHAINS - 1 - k)]

    vj = np.zeros((len(rows), half_cols, 4), dtype=np.int64)
    vw = np.zeros((len(rows), half_cols, 4))
    for r, s in enumerate(rows):
        for c in range(half_cols):
            merged: dict[int, float] = {}
            for k, share in ((lo[c], 1.0 - frac[c]), (lo[c] + 1, frac[c])):
                if s == 0.0:
                    merged[hips] = merged.get(hips, 0.0) + share  # the waistband follows the hips
                    continue
                cj, cw = chain_weights(np.array([s]), chain_of(k))
                for a, b in zip(cj[0, :2], cw[0, :2]):
                    merged[int(a)] = merged.get(int(a), 0.0) + b * share
            top = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:4]
            vj[r, c, : len(top)] = [t[0] for t in top]
            vw[r, c, : len(top)] = [t[1] for t in top]
    mirror = joints.mirror_map()
    full = np.concatenate([grid, (grid * _MIRROR)[:, ::-1]], axis=1)  # angular order, wraps at the front
    full_j = np.concatenate([vj, mirror_joints(vj, mirror)[:, ::-1]], axis=1).reshape(-1, 4)
    full_w = np.concatenate([vw, vw[:, ::-1]], axis=1).reshape(-1, 4)
    full_w /= full_w.sum(axis=1, keepdims=True)
    ring = full.reshape(-1, 3)
    inner = axis + (ring - axis) * (1.0 - 0.004 / np.linalg.norm((ring - axis)[:, [0, 2]], axis=1))[:, None]
    tris = grid_triangles(len(rows), 2 * half_cols, wrap=True)
    if not _outward(ring, tris, axis):
        tris = tris[:, ::-1].copy()
    outer_part = MeshPart("skirt", ring, tris, full_j, full_w)
    inner_part = MeshPart("skirt", inner, tris[:, ::-1].copy(), full_j.copy(), full_w.copy())
    return chains, [outer_part, inner_part]


def _outward(pos: np.ndarray, tris: np.ndarray, axis: np.ndarray) -> bool:
    p = pos[tris]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    out = p.mean(axis=1) - axis
    out[:, 1] = 0.0
    return float(np.sum(n * out)) > 0


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
