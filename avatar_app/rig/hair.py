"""Hair below the cap: twin tails, a ponytail, and curtains of hair (bob, shoulder, long).

* Tails (twin or pony) are tapered tubes on six-joint spring chains under the head.
* A curtain is a double-sided sheet around the head's vertical axis, open at the face: per
  row and direction it stands off the widest point of head and body within 12 degrees (so it
  rests on the shoulders and hangs down the back), never narrows going down, and is shaped
  per style (a bob bulges and turns in at the hem; long hair widens towards it; wavy hair
  waves and has a scalloped hem). Below the chin its front edge moves behind the shoulders.
  A bob is rigid on the head; shoulder-length and long hair hang from the head on four
  four-joint spring chains per side, blended by angle like the skirt's.

The builder places the hem (``hair_length`` within the style's range of
:data:`~avatar_app.rig.avatar_style.HAIR_LENGTH_RANGES`): a bob ends between mouth and jaw,
shoulder hair on the shoulders, long hair between the chest and the thighs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatar_app.rig.head_parts import mirror_too
from avatar_app.rig.mesh_parts import JointList, MeshPart, chain_weights, grid_triangles, mirror_joints, rigid_weights
from avatar_app.rig.mesh_parts import tube as tube_mesh
from avatar_app.rig.skirt import radial_profile

HAIR_STYLES = ("twin_tails", "ponytail", "short", "bob", "shoulder", "long_straight", "long_wavy")
CURTAIN_STYLES = ("bob", "shoulder", "long_straight", "long_wavy")
HAIR_LENGTH_RANGES = {
    "bob": (-0.15, 0.12),
    "shoulder": (0.12, 0.4),
    "long_straight": (0.4, 1.3),
    "long_wavy": (0.4, 1.3),
}
CURTAIN_CHAINS = 4  # per side
_COLUMNS = 12  # per side
_MIRROR = np.array([-1.0, 1.0, 1.0])


@dataclass(frozen=True)
class _Shape:
    face_deg: float  # half-angle of the face opening, beside the eyes
    back_deg: float  # the front edge below the neck: behind the shoulders
    bulge: float  # extra stand-off mid-way, metres at hair_volume 1
    turn_in: float  # hem pulled in, metres
    flare: float  # widening towards the hem, metres at hair_volume 1
    wave: float  # wave amplitude, metres at hair_volume 1
    rigid: bool  # on the head (no chains)


_SHAPES = {
    "bob": _Shape(50.0, 50.0, 0.012, 0.014, 0.0, 0.0, True),
    "shoulder": _Shape(56.0, 112.0, 0.006, 0.0, 0.012, 0.0, False),
    "long_straight": _Shape(60.0, 115.0, 0.0, 0.0, 0.03, 0.0, False),
    "long_wavy": _Shape(60.0, 115.0, 0.006, 0.0, 0.045, 0.012, False),
}


def twin_tails(joints: JointList, head: int, head_centre, length: float = 1.0, thickness: float = 1.0, scale=1.0):
    """Six-joint chains from the sides of the head (the last joint is the tip), and a tapered tube."""
    base = head_centre + np.array([0.085, 0.095, -0.05]) * scale
    steps = np.array(
        [
            [0.045, -0.06, -0.035],
            [0.035, -0.14, -0.045],
            [0.012, -0.15, -0.03],
            [0.0, -0.15, -0.01],
            [-0.005, -0.14, 0.0],
        ]
    )
    points = np.concatenate([base[None], base + np.cumsum(steps * length, axis=0)])
    chains = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        chains[side] = _chain(joints, f"hairTail{side}_", head, points * (sign, 1.0, 1.0))
    return chains, [mirror_too(_tail_tube(points, chains["L"], thickness))]


def ponytail(joints: JointList, head: int, head_centre, length: float = 1.0, thickness: float = 1.0, scale=1.0):
    """One six-joint chain from high on the back of the head, and a tapered tube (its own mirror image)."""
    base = head_centre + np.array([0.0, 0.075, -0.125]) * scale
    steps = np.array(
        [[0.0, 0.0, -0.05], [0.0, -0.12, -0.035], [0.0, -0.15, -0.01], [0.0, -0.15, 0.0], [0.0, -0.14, 0.005]]
    )
    points = np.concatenate([base[None], base + np.cumsum(steps * length, axis=0)])
    chain = _chain(joints, "ponytail_", head, points)
    return {"C": chain}, [_tail_tube(points, chain, 0.85 * thickness, reference=(1.0, 0.0, 0.0))]


def _chain(joints: JointList, prefix: str, parent: int, points) -> list[int]:
    chain = []
    for k, p in enumerate(points):
        parent = joints.add(f"{prefix}{k}", parent, p)
        chain.append(parent)
    return chain


def _tail_tube(points: np.ndarray, chain: list[int], thickness: float, reference=(0.0, 0.0, 1.0)) -> MeshPart:
    """``reference`` must not be along the tube: (1, 0, 0) keeps a tube in the x = 0 plane symmetric."""
    per_segment = 5
    s = np.linspace(0.0, len(points) - 1, (len(points) - 1) * per_segment + 1)
    seg = np.minimum(np.floor(s).astype(int), len(points) - 2)
    centre = points[seg] + (s - seg)[:, None] * (points[seg + 1] - points[seg])
    u = s / s[-1]
    radii = (0.018 + 0.05 * np.sin(np.pi * np.clip(u * 1.4, 0.0, 1.0)) ** 0.8 * (1.0 - u) ** 0.6 + 0.003) * thickness
    pos, tris = tube_mesh(centre, radii, sides=12, reference=reference)
    ring_s = np.repeat(s, 12)
    vertex_s = np.concatenate([ring_s, [s[0], s[-1]]])
    j, w = chain_weights(vertex_s, chain)
    return MeshPart("hair", pos, tris, j, w)


def curtain(
    joints: JointList,
    obstacle: np.ndarray,
    head_centre: np.ndarray,
    head: int,
    style: str,
    chin_y: float,
    hem_y: float,
    volume: float = 1.0,
    gap: float = 0.016,
    head_scale: float = 1.0,
):
    """Chains {(side, k): joints} and the sheet's outer and inner MeshParts; adds joints to ``joints``.

    ``obstacle`` [N,3]: the points the hair rests on (head and trunk), ``gap`` metres off them.
    """
    shape = _SHAPES[style]
    s = head_scale
    axis = np.array([0.0, 0.0, head_centre[2]])
    top_y = head_centre[1] + 0.10 * s
    rows = max(8, int(np.ceil((top_y - hem_y) / (0.018 * s))) + 1)
    t = np.linspace(0.0, 1.0, rows)  # down the sheet
    ys = top_y + (hem_y - top_y) * t
    u = np.arange(_COLUMNS) / (_COLUMNS - 0.5)  # left half; the last column is half a step from the back seam
    neck = np.clip((chin_y + 0.01 * s - ys) / (0.07 * s), 0.0, 1.0)
    neck = neck * neck * (3.0 - 2.0 * neck)
    front = np.radians(shape.face_deg + (shape.back_deg - shape.face_deg) * neck)
    theta = front[:, None] + u[None, :] * (np.pi - front[:, None])  # [rows, cols]; 0 = front, pi/2 = +x
    pts = obstacle - axis
    pts = np.concatenate([pts, pts * _MIRROR])
    rest_on = radial_profile(
        pts[:, 1], np.arctan2(pts[:, 0], pts[:, 2]), np.hypot(pts[:, 0], pts[:, 2]), ys, theta, 0.015
    )
    radius = np.maximum.accumulate(rest_on + gap, axis=0)
    below_chin = np.clip((chin_y - ys) / max(chin_y - hem_y, 1e-6), 0.0, 1.0)[:, None]
    radius = radius + volume * (shape.bulge * s * np.sin(np.pi * t)[:, None] + shape.flare * below_chin)
    radius = radius + volume * shape.wave * np.sin(2 * np.pi * (chin_y - ys) / 0.11)[:, None] * below_chin
    turn = np.clip((t - 0.75) / 0.25, 0.0, 1.0)[:, None] ** 2
    radius = np.maximum(radius - shape.turn_in * s * turn, rest_on + 0.004)
    y_grid = np.broadcast_to(ys[:, None], radius.shape).copy()
    if shape.wave:  # a scalloped hem: every other lock a little longer
        y_grid[-1] -= volume * 0.03 * (0.5 + 0.5 * np.cos(7.0 * theta[-1]))
    grid = axis + np.stack([radius * np.sin(theta), y_grid - axis[1], radius * np.cos(theta)], axis=-1)

    chains = {}
    if shape.rigid:
        vj, vw = rigid_weights(rows * _COLUMNS, head)
        vj, vw = vj.reshape(rows, _COLUMNS, 4), vw.reshape(rows, _COLUMNS, 4)
    else:
        root = int(np.argmin(np.abs(ys - (chin_y + 0.02 * s))))
        joint_rows = np.round(np.linspace(root, rows - 1, 4)).astype(int)
        chain_cols = np.round((np.arange(CURTAIN_CHAINS) + 0.5) / CURTAIN_CHAINS * (_COLUMNS - 1)).astype(int)
        for k, c in enumerate(chain_cols):
            for side, sign in (("L", 1.0), ("R", -1.0)):
                chains[(side, k)] = _chain(joints, f"hair{side}_{k}_", head, grid[joint_rows, c] * (sign, 1.0, 1.0))
        vj, vw = _curtain_weights(ys, joint_rows, chain_cols, chains, head)
    mirror = joints.mirror_map()
    full = np.concatenate([grid, (grid * _MIRROR)[:, ::-1]], axis=1)  # left front edge, back, right front edge
    full_j = np.concatenate([vj, mirror_joints(vj, mirror)[:, ::-1]], axis=1).reshape(-1, 4)
    full_w = np.concatenate([vw, vw[:, ::-1]], axis=1).reshape(-1, 4)
    sheet = full.reshape(-1, 3)
    horizontal = (sheet - axis) * (1.0, 0.0, 1.0)
    inner = sheet - 0.003 * horizontal / np.maximum(np.linalg.norm(horizontal, axis=1, keepdims=True), 1e-9)
    tris = grid_triangles(rows, 2 * _COLUMNS, wrap=False)
    p = sheet[tris]
    normals = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    if np.sum(normals * ((p.mean(axis=1) - axis) * (1.0, 0.0, 1.0))) < 0:
        tris = tris[:, ::-1].copy()
    return chains, [
        MeshPart("hair", sheet, tris, full_j, full_w),
        MeshPart("hair", inner, tris[:, ::-1].copy(), full_j.copy(), full_w.copy()),
    ]


def _curtain_weights(ys, joint_rows, chain_cols, chains, head: int) -> tuple[np.ndarray, np.ndarray]:
    """[rows, cols, 4]: rigid on the head above the chains' roots, below them two chains blended by column."""
    rows, cols = len(ys), _COLUMNS
    along = np.interp(np.arange(rows), joint_rows, np.arange(len(joint_rows)))  # chain parameter per row
    seam = 2 * cols - 1 - chain_cols[-1]  # the right side's last chain, in left-half column units
    anchor_cols = np.concatenate([chain_cols, [seam]]).astype(np.float64)
    names = [("L", k) for k in range(len(chain_cols))] + [("R", len(chain_cols) - 1)]
    c = np.clip(np.arange(cols, dtype=np.float64), anchor_cols[0], anchor_cols[-1])
    lo = np.clip(np.searchsorted(anchor_cols, c, side="right") - 1, 0, len(anchor_cols) - 2)
    frac = (c - anchor_cols[lo]) / (anchor_cols[lo + 1] - anchor_cols[lo])
    vj = np.zeros((rows, cols, 4), dtype=np.int64)
    vw = np.zeros((rows, cols, 4))
    chain_ids = np.array([chains[n] for n in names])  # [anchors, joints]
    steps = list(range(chain_ids.shape[1]))
    idx, w = chain_weights(along, steps)  # [rows, 2] positions along a chain
    for slot, (which, share) in enumerate(((lo, 1.0 - frac), (lo + 1, frac))):
        for i in (0, 1):
            vj[:, :, 2 * slot + i] = chain_ids[which][:, idx[:, i]].T
            vw[:, :, 2 * slot + i] = w[:, i, None] * share[None, :]
    on_head = np.arange(rows) < joint_rows[0]
    vj[on_head] = (head, 0, 0, 0)
    vw[on_head] = (1.0, 0.0, 0.0, 0.0)
    return vj, vw / vw.sum(axis=-1, keepdims=True)
