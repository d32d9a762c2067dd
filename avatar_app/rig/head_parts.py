"""What sits rigidly on the head: the hair cap, the bangs, the eyes, animal ears.

All of it is bound to the head joint alone and sized by ``head_scale`` (its metre constants
are for the shipped head and scale with it), so it turns with the head and grows with it.
Positions come from the (reshaped) body's head: the cap is the head surface lifted, bangs and
eyes lie on the front surface found by ray casts (:class:`FrontSurface`).
"""

from __future__ import annotations

import numpy as np

from avatar_app.rig.mesh_parts import MeshPart, ellipse_disc, grid_triangles, rigid_weights, tube
from avatar_app.rig.proxy_body import ProxyBody

CAP_LIFT_M = 0.012  # the shipped hair's stand-off; hair_volume scales it
_MIRROR = np.array([-1.0, 1.0, 1.0])


def mirror_too(part: MeshPart) -> MeshPart:
    part.mirror = True
    return part


def hair_cap(body: ProxyBody, head_centre: np.ndarray, head_scale: float = 1.0, lift: float = CAP_LIFT_M):
    """The top and back of the head surface lifted by ``lift`` metres, down to the hairline."""
    head = body.humanoid["head"]
    pos = body.positions
    # hairline: just above the brows in front, down to the nape behind
    z_front, z_back = head_centre[2] + 0.06 * head_scale, head_centre[2] - 0.06 * head_scale
    t = np.clip((pos[:, 2] - z_back) / (z_front - z_back), 0.0, 1.0)
    hairline = (head_centre[1] - 0.09 * head_scale) + t * (0.135 * head_scale)
    covered = body.head & (pos[:, 1] > hairline)
    tris = body.triangles[np.all(covered[body.triangles], axis=1)]
    used = np.unique(tris)
    remap = -np.ones(len(pos), dtype=np.int64)
    remap[used] = np.arange(len(used))
    outward = pos[used] - head_centre
    lifted = pos[used] + lift * outward / np.linalg.norm(outward, axis=1, keepdims=True)
    j, w = rigid_weights(len(used), head)
    return [MeshPart("hair", lifted, remap[tris], j, w)]  # as symmetric as the head surface (2 mm)


class FrontSurface:
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


def bangs(
    surface: FrontSurface,
    head_centre: np.ndarray,
    head: int,
    length_factor: float = 1.0,
    head_scale: float = 1.0,
    lift_extra: float = 0.0,
) -> list[MeshPart]:
    """Seven tapered strands over the forehead, 14 mm (+ ``lift_extra``) off its surface."""
    s = head_scale
    top_y, bottom_y = head_centre[1] + 0.055 * s, head_centre[1] + 0.005 * s
    rows = 6
    parts = []
    for x0, length in ((0.0, 1.0), (0.018, 0.85), (0.036, 1.0), (0.054, 0.8)):
        width = 0.024 * s
        t = np.linspace(0.0, 1.0, rows)
        y = top_y - t * (top_y - bottom_y) * (length * length_factor)
        half = 0.5 * width * (1.0 - t) ** 0.7 + 1e-4
        xs = np.stack([x0 * s - half, x0 * s + half], axis=1).reshape(-1)
        ys = np.repeat(y, 2)
        z = surface(xs, ys) + (0.014 + lift_extra) * s + 0.002 * s * x0 / 0.054
        pos = np.stack([xs, ys, z], axis=1)
        tris = grid_triangles(rows, 2, wrap=False)
        j, w = rigid_weights(len(pos), head)
        part = MeshPart("hair", pos, tris, j, w)
        parts.append(part if x0 == 0.0 else mirror_too(part))  # the centre strand is symmetric itself
    return parts


def eyes(surface: FrontSurface, head_centre: np.ndarray, head: int, head_scale: float = 1.0) -> list[MeshPart]:
    s = head_scale
    out = []
    centre_y = head_centre[1] - 0.012 * s
    for name, rx, ry, lift in (("eye_white", 0.0135, 0.017, 0.0015), ("iris", 0.0095, 0.0135, 0.0025)):
        pos, tris = ellipse_disc((0.031 * s, centre_y, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), rx * s, ry * s, 20)
        pos[:, 2] = surface(pos[:, 0], pos[:, 1]) + lift * s
        j, w = rigid_weights(len(pos), head)
        out.append(mirror_too(MeshPart(name, pos, tris, j, w)))
    return out


# kind: base offset from the head centre, direction, length (m), radius at (base, widest, tip), flatness
_EARS = {
    "cat": ((0.046, 0.12, -0.012), (0.5, 1.0, 0.05), 0.1, (0.032, 0.032, 0.002), 0.45),
    "bunny": ((0.032, 0.128, -0.02), (0.18, 1.0, -0.12), 0.21, (0.02, 0.03, 0.004), 0.35),
    # (base, direction, length, (end radius, ball radius, -), flatness): a ball 10 cm across
    "buns": ((0.05, 0.085, -0.01), (0.9, 1.0, -0.1), 0.11, (0.004, 0.052, 0.0), 1.0),
}


def ears(kind: str, head_centre: np.ndarray, head: int, head_scale: float = 1.0) -> list[MeshPart]:
    """A pair of flattened, tapered animal ears in the hair's colour, rooted in the hair cap;
    or ``buns``: a pair of round hair buns on the top of the head, either side."""
    if kind == "none":
        return []
    base, direction, length, (r0, r1, r2), flat = _EARS[kind]
    s = head_scale
    direction = np.asarray(direction) / np.linalg.norm(direction)
    u = np.linspace(0.0, 1.0, 9)
    centre = head_centre + np.asarray(base) * s + (u * length * s)[:, None] * direction
    radii = s * np.interp(u, (0.0, 0.35, 1.0), (r0, r1, r2))
    if kind == "buns":  # a ball: the tube's radius follows a circle along its length
        radii = s * np.maximum(r1 * np.sqrt(np.clip(1.0 - (2.0 * u - 1.0) ** 2, 0.0, 1.0)), r0)
    sides = 8
    pos, tris = tube(centre, radii, sides=sides, reference=(0.0, 0.0, 1.0))
    rings = pos[: len(u) * sides].reshape(len(u), sides, 3)
    rings[..., 2] = centre[:, None, 2] + flat * (rings[..., 2] - centre[:, None, 2])  # flat front to back
    pos[: len(u) * sides] = rings.reshape(-1, 3)
    j, w = rigid_weights(len(pos), head)
    return [mirror_too(MeshPart("hair", pos, tris, j, w))]
