"""The drawn colours by body position, as a voxel grid filled once: a per-frame lookup that is two gathers.

`DrawnDetail` needs, for every visible pixel of a frame, the colour of the nearest drawn point
of the body (in UDP space, within ``reach``). A k-d tree answers that exactly, but per pixel on
the CPU: 24 ms at 512² with four views, and it grows with the output's pixels. The drawn points
lie on the body's surface, so the answer only matters in a thin shell around it: the shell is cut
into blocks of ``BLOCK``³ cells, each cell holds the colour the tree gives for its centre (filled
once per character, with the tree), and a frame's pixel reads its cell: its block from a coarse
index, its colour from the block. The answer is the tree's for a point at most half a cell's
diagonal away: with cells of 1/512 of the body's height that is 1.7 thousandths, under a pixel of
a 512² drawing of the whole body.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["BLOCK", "DEFAULT_CELLS", "UdpColourGrid"]

SHIFT = 3
BLOCK = 1 << SHIFT  # cells per block side: 512 cells of 4 bytes = 2 KiB per block near the surface
DEFAULT_CELLS = 256  # cells per UDP unit (the body's height); finer than the sheet's UDP maps at 512²


class UdpColourGrid:
    """``points`` float32 [K,3] in UDP space, ``colours`` [K,3] straight RGB in [0,1]; :meth:`lookup` per frame."""

    def __init__(self, tree: cKDTree, colours: np.ndarray, reach: float, cells: int = DEFAULT_CELLS):
        points = tree.data
        self.cells = int(cells)
        pad = reach + BLOCK / cells  # a layer of empty blocks all round: a point outside reads one of those
        self.lo = (points.min(axis=0) - pad).astype(np.float32)
        shape = np.ceil((points.max(axis=0) + pad - self.lo) * cells).astype(int) + 1
        self.blocks_shape = tuple(int(n) for n in -(-shape // BLOCK))  # ceil
        self.last_cell = np.asarray(self.blocks_shape, np.int32) * BLOCK - 1
        # blocks within reach of a drawn point: those holding one, grown by reach (in blocks, rounded up)
        holding = np.zeros(self.blocks_shape, bool)
        b = self._cell(points) >> SHIFT
        holding[b[:, 0], b[:, 1], b[:, 2]] = True
        grow = int(np.ceil(reach * cells / BLOCK))
        near = ndimage.binary_dilation(holding, np.ones((2 * grow + 1,) * 3, bool)) if grow else holding
        near[[0, -1]], near[:, [0, -1]], near[:, :, [0, -1]] = False, False, False  # the empty layer
        nb = int(near.sum())
        index = np.full(self.blocks_shape, nb, np.int32)  # nb: the empty block appended last
        index[near] = np.arange(nb, dtype=np.int32)
        self.index = index.ravel()
        # every cell centre of those blocks, asked of the tree once
        corner = np.argwhere(near) * BLOCK  # [B,3] first cell of each block
        offsets = np.stack(np.meshgrid(*[np.arange(BLOCK)] * 3, indexing="ij"), -1).reshape(-1, 3)
        centres = (corner[:, None, :] + offsets[None]).reshape(-1, 3)
        centres = (centres + 0.5) / cells + self.lo
        distance, nearest = tree.query(centres, k=1, distance_upper_bound=reach, workers=-1)
        hit = np.isfinite(distance)
        packed = np.zeros((len(centres) + BLOCK**3, 4), np.uint8)  # RGBA8, A = 255 where a drawn point is in reach
        packed[: len(centres)][hit, :3] = np.round(np.clip(colours[nearest[hit]], 0.0, 1.0) * 255.0)
        packed[: len(centres)][hit, 3] = 255
        self.blocks = packed.view(np.uint32).ravel()
        self.nbytes = self.blocks.nbytes + self.index.nbytes

    def _cell(self, xyz: np.ndarray) -> np.ndarray:
        return ((xyz - self.lo) * np.float32(self.cells)).astype(np.int32)

    def lookup(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For points [..., 3]: (straight colour float32 [..., 3], covered [...] bool)."""
        cell = np.clip(self._cell(xyz), 0, self.last_cell)
        block, local = cell >> SHIFT, cell & (BLOCK - 1)
        sy, sz = self.blocks_shape[1], self.blocks_shape[2]
        which = self.index[(block[..., 0] * sy + block[..., 1]) * sz + block[..., 2]]
        packed = self.blocks[
            (which << (3 * SHIFT)) + (local[..., 0] << (2 * SHIFT)) + (local[..., 1] << SHIFT) + local[..., 2]
        ]
        rgba = packed.view(np.uint8).reshape(*packed.shape, 4)
        return rgba[..., :3].astype(np.float32) * np.float32(1.0 / 255.0), rgba[..., 3] > 0
