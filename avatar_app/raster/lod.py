"""Fewer triangles for live rasterization, over the same vertices.

llvmpipe's cost is mostly per triangle, and a UDP map at 256-512 px does not
need a 54k-triangle proxy. We simplify each mesh part with quadric edge
collapse (fast-simplification) and snap every surviving vertex back to the
nearest original one, so the reduced triangles index the *original* vertex
buffer: skinning, spring bones and the per-vertex UDP coordinates stay exact,
only the tessellation gets coarser.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

# Parts smaller than this keep every triangle (eyes, small hair strands).
MIN_PART_TRIANGLES = 400


def decimate_triangles(rest_positions, triangles, part_ids=None, reduction: float = 0.75) -> np.ndarray:
    """Triangles ``[F', 3]`` int32 over the same vertices, about ``(1 - reduction) * F`` of them.

    ``part_ids [V]`` keeps parts apart (no triangle is made across a part
    border that was not there); triangles that already span parts are kept.
    """
    import fast_simplification
    from scipy.spatial import cKDTree

    if not 0.0 <= reduction < 1.0:
        raise ValueError(f"decimate_triangles: reduction must be in [0, 1), got {reduction}")
    positions = np.asarray(rest_positions, dtype=np.float32)
    triangles = np.asarray(triangles, dtype=np.int64)
    if reduction == 0.0:
        return triangles.astype(np.int32)
    parts = np.zeros(len(positions), np.int64) if part_ids is None else np.asarray(part_ids, dtype=np.int64)
    tri_part = parts[triangles]
    single = np.all(tri_part == tri_part[:, :1], axis=1)
    out = [triangles[~single]]
    for pid in np.unique(tri_part[single, 0]):
        tri = triangles[single & (tri_part[:, 0] == pid)]
        if len(tri) < MIN_PART_TRIANGLES:
            out.append(tri)
            continue
        used = np.unique(tri)
        points, faces = fast_simplification.simplify(
            positions[used], np.searchsorted(used, tri), target_reduction=reduction
        )
        snapped = used[cKDTree(positions[used]).query(points)[1]][faces]
        keep = (snapped[:, 0] != snapped[:, 1]) & (snapped[:, 1] != snapped[:, 2]) & (snapped[:, 0] != snapped[:, 2])
        out.append(snapped[keep])
    result = np.concatenate(out).astype(np.int32)
    log.info("decimated %d -> %d triangles for live rasterization", len(triangles), len(result))
    return result
