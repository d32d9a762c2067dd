"""The drawn colours by body position, as a voxel grid filled once: a per-frame lookup that is two gathers.

`DrawnDetail` needs, for every visible pixel of a frame, the colour of the nearest drawn point
of the body (in UDP space, within ``reach``). A k-d tree answers that exactly, but per pixel on
the CPU: 24 ms at 512² with four views, and it grows with the output's pixels. The drawn points
lie on the body's surface, so the answer only matters in a thin shell around it: the shell is cut
into blocks of ``BLOCK``³ cells, each cell holds the colour the tree gives for its centre, and a
frame's pixel reads its cell: its block from a coarse index, its colour from the block. A block is
filled (its cells asked of the tree) the first time a frame reads it, so only the surface frames
show is ever filled: a few hundred ms on the first frame, almost nothing after. The answer is the
tree's for a point at most half a cell's diagonal away; cells must be at least as fine as the
output's pixels (``pipeline.drawn_details`` uses one per output pixel of body height, at least
256), or the drawing shows in blocks.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = ["BLOCK", "DEFAULT_CELLS", "UdpColourGrid"]

SHIFT = 2
BLOCK = 1 << SHIFT  # cells per block side: 64 cells of 4 bytes per block near the surface
RANKED = 4  # nearest points compared by rank
DEFAULT_CELLS = 256  # cells per UDP unit (the body's height) at the least; pipeline.drawn_details: one per output pixel


class UdpColourGrid:
    """``tree`` of the drawn points [K,3] in UDP space, ``colours`` [K,3] straight RGB in [0,1]; :meth:`lookup`
    per frame. ``lazy``: a block is filled when a frame first reads it (else all at once, here).
    ``rank`` [K] (e.g. each point's sheet view): where points of several ranks lie within a cell of
    the nearest, the lowest rank's nearest is taken. Two views that draw the same surface a little
    differently otherwise alternate pixel by pixel (a dotted mouth where front and side views meet)."""

    def __init__(
        self,
        tree: cKDTree,
        colours: np.ndarray,
        reach: float,
        cells: int = DEFAULT_CELLS,
        *,
        lazy: bool = True,
        rank: np.ndarray | None = None,
    ):
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
        self.corners = (np.argwhere(near) * BLOCK).astype(np.int32)  # [B,3] first cell of each block
        self.tree, self.reach = tree, float(reach)
        self.rank = None if rank is None else np.append(np.asarray(rank, np.int64), np.iinfo(np.int32).max)
        rgba = np.zeros((len(colours), 4), np.uint8)  # RGBA8 per drawn point, A = 255: in reach
        rgba[:, :3] = np.round(np.clip(colours, 0.0, 1.0) * 255.0)
        rgba[:, 3] = 255
        self.point_rgba = np.append(rgba.view(np.uint32).ravel(), np.uint32(0))  # [K+1]: K = none in reach
        # a block's cells are asked of the tree the first time a frame reads the block (np.zeros
        # maps pages on first write): the body's surface, not the whole shell around it
        self.blocks = np.zeros((nb + 1) * BLOCK**3, np.uint32)
        self.filled = np.zeros(nb + 1, bool)
        self.filled[nb] = True
        if not lazy:
            self._fill(np.arange(nb))

    @property
    def nbytes(self) -> int:
        """Bytes of the blocks filled so far and the index."""
        return int(self.filled.sum()) * BLOCK**3 * 4 + self.index.nbytes

    def _fill(self, ids: np.ndarray) -> None:
        offsets = np.stack(np.meshgrid(*[np.arange(BLOCK)] * 3, indexing="ij"), -1).reshape(-1, 3)
        centres = (self.corners[ids][:, None, :] + offsets[None]).reshape(-1, 3)
        centres = (centres + 0.5) / self.cells + self.lo
        if self.rank is None:
            _, nearest = self.tree.query(centres, k=1, distance_upper_bound=self.reach, workers=-1)
        else:  # of the 4 nearest, those within a cell of the nearest: the lowest rank's, then the nearest
            distance, nearest4 = self.tree.query(centres, k=RANKED, distance_upper_bound=self.reach, workers=-1)
            close = distance <= distance[:, :1] + 1.0 / self.cells
            key = np.where(close, self.rank[nearest4], self.rank[-1]) * RANKED + np.arange(RANKED)
            nearest = nearest4[np.arange(len(centres)), np.argmin(key, axis=1)]
        cells = (ids[:, None] * BLOCK**3 + np.arange(BLOCK**3)[None]).ravel()
        self.blocks[cells] = self.point_rgba[nearest]  # the tree answers K where none is in reach
        self.filled[ids] = True

    def _cell(self, xyz: np.ndarray) -> np.ndarray:
        return ((xyz - self.lo) * np.float32(self.cells)).astype(np.int32)

    def lookup(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For points [..., 3]: (straight colour float32 [..., 3], covered [...] bool)."""
        cell = np.clip(self._cell(xyz), 0, self.last_cell)
        block, local = cell >> SHIFT, cell & (BLOCK - 1)
        sy, sz = self.blocks_shape[1], self.blocks_shape[2]
        which = self.index[(block[..., 0] * sy + block[..., 1]) * sz + block[..., 2]]
        pending = ~self.filled[which]
        if pending.any():
            self._fill(np.unique(which[pending]))
        packed = self.blocks[
            (which << (3 * SHIFT)) + (local[..., 0] << (2 * SHIFT)) + (local[..., 1] << SHIFT) + local[..., 2]
        ]
        rgba = packed.view(np.uint8).reshape(*packed.shape, 4)
        return rgba[..., :3].astype(np.float32) * np.float32(1.0 / 255.0), rgba[..., 3] > 0
