"""The skirt (and a dress's skirt): a flared, double-sided ring on spring chains around the hips.

The ring follows the body: per row and direction it stands 14 mm off the widest trunk point
around the hips' vertical axis (arms excluded, made symmetric), never narrows going down, and
flares by ``0.42 * flare`` metres per metre below the waist. Twelve four-joint chains (one
every 30 degrees, the first 15 degrees left of the front) carry it; between two chains a
vertex blends them by angle. A dress adds a bodice above the waist: rows from under the chest
that follow the torso joints, which hang the same ring from higher up.

Everything is vectorized: the fitter builds hundreds of skirts.
"""

from __future__ import annotations

import numpy as np

from avatar_app.rig.mesh_parts import JointList, MeshPart, chain_weights, grid_triangles, mirror_joints

SKIRT_CHAINS = 12
SKIRT_COLUMNS = 48
_MIRROR = np.array([-1.0, 1.0, 1.0])
_COS_WINDOW = np.cos(np.radians(12))


def radial_profile(height, ang, rad, ys, phi, band: float = 0.025) -> np.ndarray:
    """[rows, cols] largest ``rad`` within ``band`` metres of each ``ys`` and 12 degrees of each ``phi``.

    ``phi`` is [cols] (the same directions on every row) or [rows, cols].
    """
    phi = np.broadcast_to(phi, (len(ys), np.shape(phi)[-1]))
    out = np.zeros(phi.shape)
    order = np.argsort(height, kind="stable")
    height, ang, rad = height[order], ang[order], rad[order]
    starts = np.searchsorted(height, np.asarray(ys) - band - 1e-9)  # a window around each row, then the exact test
    stops = np.searchsorted(height, np.asarray(ys) + band + 1e-9, side="right")
    for r, y in enumerate(ys):
        h, a, d = height[starts[r] : stops[r]], ang[starts[r] : stops[r]], rad[starts[r] : stops[r]]
        near_row = np.abs(h - y) < band
        a, d = a[near_row], d[near_row]
        near = np.cos(a[:, None] - phi[r][None, :]) > _COS_WINDOW  # within 12 degrees, either way round
        out[r] = np.where(near, d[:, None], 0.0).max(axis=0, initial=0.0)
    return out


def skirt(
    joints: JointList,
    positions: np.ndarray,
    trunk: np.ndarray,
    hips: int,
    length: float = 1.0,
    flare_factor: float = 1.0,
    part: str = "skirt",
    bodice: tuple[float, list[tuple[int, float]]] | None = None,
):
    """Chains {(side, k): joints} and the ring's outer and inner MeshParts; adds joints to ``joints``.

    ``bodice = (top_y, [(joint, y), ...])`` starts the ring at ``top_y`` (a dress): rows above
    the waist are skinned to the torso joints, blended linearly by height between the listed
    (joint, y) anchors, so the dress bends with the spine above the chains.
    """
    hips_rest = joints.world[hips]
    axis = np.array([0.0, 0.0, hips_rest[2]])
    waist_y, hem_y = hips_rest[1] + 0.06, hips_rest[1] - 0.27 * length
    segments, sub = 3, 3
    rows = np.linspace(0.0, segments, segments * sub + 1)
    ys = waist_y + (hem_y - waist_y) * rows / segments
    above = 0
    if bodice is not None:
        top_y = bodice[0]
        above = max(1, int(np.ceil((top_y - waist_y) / (ys[0] - ys[1]))))
        ys = np.concatenate([np.linspace(top_y, waist_y, above + 1)[:-1], ys])
    pts = positions[trunk] - axis
    pts = np.concatenate([pts, pts * _MIRROR])
    half_cols = SKIRT_COLUMNS // 2
    phi = (np.arange(half_cols) + 0.5) * np.pi / half_cols  # left half, 0 = front, pi/2 = +x
    radius = radial_profile(
        pts[:, 1] + axis[1], np.arctan2(pts[:, 0], pts[:, 2]), np.hypot(pts[:, 0], pts[:, 2]), ys, phi
    )
    radius += 0.014
    flare = radius[above] + np.outer(np.maximum(waist_y - ys, 0.0), np.full(half_cols, 0.42 * flare_factor))
    radius = np.maximum.accumulate(np.maximum(radius, flare), axis=0)
    # a chain every 30 degrees, starting 15 degrees left of the front
    chain_phi = (np.arange(SKIRT_CHAINS // 2) + 0.5) * 2 * np.pi / SKIRT_CHAINS
    chains = {}
    joint_rows = rows[::sub].astype(int)
    for k, a in enumerate(chain_phi):
        r_at = np.array([np.interp(a, phi, radius[above + r * sub]) for r in joint_rows])
        for side, sign in (("L", 1.0), ("R", -1.0)):
            chain = []
            parent = hips
            for r, rr in zip(joint_rows, r_at):
                p = axis + np.array([sign * rr * np.sin(a), ys[above + r * sub] - axis[1], rr * np.cos(a)])
                parent = joints.add(f"skirt{side}_{k}_{r}", parent, p)  # "L_"/"R_": see JointList.mirror_map
                chain.append(parent)
            chains[(side, k)] = chain
    # left half of the ring (columns phi); the right half is its exact mirror image
    grid = axis + np.stack(
        [radius * np.sin(phi), np.broadcast_to(ys[:, None] - axis[1], radius.shape), radius * np.cos(phi)], axis=-1
    )
    vj, vw = _ring_weights(rows, phi, chain_phi, chains, hips)
    if above:
        bj, bw = _bodice_weights(ys[:above], bodice[1], half_cols)
        vj, vw = np.concatenate([bj, vj]), np.concatenate([bw, vw])
    mirror = joints.mirror_map()
    full = np.concatenate([grid, (grid * _MIRROR)[:, ::-1]], axis=1)  # angular order, wraps at the front
    full_j = np.concatenate([vj, mirror_joints(vj, mirror)[:, ::-1]], axis=1).reshape(-1, 4)
    full_w = np.concatenate([vw, vw[:, ::-1]], axis=1).reshape(-1, 4)
    full_w /= full_w.sum(axis=1, keepdims=True)
    ring = full.reshape(-1, 3)
    inner = axis + (ring - axis) * (1.0 - 0.004 / np.linalg.norm((ring - axis)[:, [0, 2]], axis=1))[:, None]
    tris = grid_triangles(len(ys), 2 * half_cols, wrap=True)
    if not _outward(ring, tris, axis):
        tris = tris[:, ::-1].copy()
    outer_part = MeshPart(part, ring, tris, full_j, full_w)
    inner_part = MeshPart(part, inner, tris[:, ::-1].copy(), full_j.copy(), full_w.copy())
    return chains, [outer_part, inner_part]


def _ring_weights(rows, phi, chain_phi, chains, hips: int) -> tuple[np.ndarray, np.ndarray]:
    """[rows, cols, 4] joints and weights: two neighbouring chains blended by angle, the waistband on the hips.

    Per vertex the (joint, weight) pairs of both chains are merged and sorted by weight, then joint.
    """
    half_cols = len(phi)
    width = 2 * np.pi / SKIRT_CHAINS
    pos_k = (phi - chain_phi[0]) / width
    lo = np.floor(pos_k).astype(int)
    frac = pos_k - lo

    def chain_of(k: int) -> list[int]:  # chain k counted from the front on the left; past the seams, the mirrored ones
        if 0 <= k < SKIRT_CHAINS // 2:
            return chains[("L", k)]
        return chains[("R", -k - 1 if k < 0 else SKIRT_CHAINS - 1 - k)]

    chain_a = np.array([chain_of(k) for k in lo])  # [cols, joints per chain]
    chain_b = np.array([chain_of(k + 1) for k in lo])
    steps = np.arange(chain_a.shape[1])
    along, along_w = chain_weights(rows, list(steps))  # the chain joint (by position) and weight, per row
    same = along[:, 0] == along[:, 1]  # on the first segment both influences are the first joint
    share_a, share_b = 1.0 - frac, frac
    js, ws, valid = [], [], []
    for chain, share in ((chain_a, share_a), (chain_b, share_b)):
        for i in (0, 1):
            js.append(chain[:, along[:, i]].T)  # [rows, cols]
            ws.append(along_w[:, i, None] * share[None, :])
            valid.append(np.broadcast_to(~same[:, None] if i == 1 else True, (len(rows), half_cols)))
    js, ws, valid = np.stack(js, axis=-1), np.stack(ws, axis=-1), np.stack(valid, axis=-1)
    ws[..., 0] = np.where(same[:, None], ws[..., 0] + ws[..., 1], ws[..., 0])  # merged (adds an exact 0)
    ws[..., 2] = np.where(same[:, None], ws[..., 2] + ws[..., 3], ws[..., 2])
    waistband = rows == 0.0
    js[waistband] = hips
    ws[waistband, :, 0] = share_a + share_b
    valid[waistband] = (True, False, False, False)
    key = np.where(valid, -ws, 1.0)  # invalid entries sort last
    order = np.lexsort((js, key), axis=-1)
    vj = np.where(np.take_along_axis(valid, order, -1), np.take_along_axis(js, order, -1), 0)
    vw = np.where(np.take_along_axis(valid, order, -1), np.take_along_axis(ws, order, -1), 0.0)
    return vj.astype(np.int64), vw


def _bodice_weights(ys, anchors: list[tuple[int, float]], cols: int) -> tuple[np.ndarray, np.ndarray]:
    """[rows, cols, 4]: each row between the two torso joints whose anchor heights bracket it."""
    joint_ids = np.array([j for j, _ in anchors])
    heights = np.array([y for _, y in anchors])  # descending
    vj = np.zeros((len(ys), cols, 4), dtype=np.int64)
    vw = np.zeros((len(ys), cols, 4))
    for r, y in enumerate(ys):
        k = int(np.clip(np.searchsorted(-heights, -y) - 1, 0, len(heights) - 2))
        t = float(np.clip((heights[k] - y) / (heights[k] - heights[k + 1]), 0.0, 1.0))
        vj[r, :, :2] = joint_ids[k], joint_ids[k + 1]
        vw[r, :, :2] = 1.0 - t, t
    return vj, vw


def _outward(pos: np.ndarray, tris: np.ndarray, axis: np.ndarray) -> bool:
    p = pos[tris]
    n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    out = p.mean(axis=1) - axis
    out[:, 1] = 0.0
    return float(np.sum(n * out)) > 0
