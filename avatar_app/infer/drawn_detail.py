"""The drawing's own pixels on the render: a per-frame pass after CoNR, through the fitted UDP.

CoNR (the shipped ``lite`` weights, and adapted ones after minutes on a CPU) paints a
character's colours in the right places but blurs what is a few pixels wide: eyes, line
art, the mouth. A character folder knows, for every drawn pixel, the point on the body it
shows (``sheet_udp/``, from ``avatar-app fit``). So wherever a point of the posed body is
drawn in some view, its colour can be taken from the drawing itself: each visible pixel of
the frame's UDP map looks up the nearest drawn pixel in UDP space (a k-d tree built once
per sheet, read per frame from a voxel grid filled from it once, ``infer.udp_grid``), and where
one lies within ``reach`` its colour replaces the network's, feathered
at the edge of the covered region. The network's alpha (the outline) is kept, and so is its
colour wherever the body shows a side the drawings do not (the back, under the arms).

Measured on held-out characters and the cost per frame: README ("Your own character").
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree

from avatar_app.core.errors import SettingError
from avatar_app.infer.udp_grid import DEFAULT_CELLS, UdpColourGrid

__all__ = ["DEFAULT_REACH", "DrawnDetail"]

# How near a drawn point must be to stand for the frame's point, in UDP units (the body's
# height): 0.02 is about 3 cm; beyond it the point is hidden in every drawing.
DEFAULT_REACH = 0.02
SOLID_ALPHA = 200  # drawn pixels with less alpha (antialiased outline edges) are not used


class DrawnDetail:
    """Built from a prepared sheet (premultiplied ``rgb`` uint8 [V,3,S,S], ``alpha`` [V,1,S,S])
    and its views' UDP (float32 [V,4,S,S], same pixels); :meth:`apply` runs per frame."""

    def __init__(
        self,
        rgb: np.ndarray,
        alpha: np.ndarray,
        udp: np.ndarray,
        *,
        reach: float = DEFAULT_REACH,
        feather: int = 2,
        grid_cells: int | None = DEFAULT_CELLS,
    ):
        if udp.shape[0] != rgb.shape[0] or udp.shape[-2:] != rgb.shape[-2:] or udp.shape[1] != 4:
            raise SettingError(
                "sheet_udp",
                f"one UDP map [4,{rgb.shape[-2]},{rgb.shape[-1]}] per sheet view ({rgb.shape[0]})",
                f"shape {tuple(udp.shape)}",
                "run avatar-app fit again so sheet_udp matches the sheet",
            )
        if not (0.0 < reach < 0.5):
            raise SettingError("drawn detail reach", "a UDP distance in (0, 0.5)", repr(reach), "use 0.02")
        keep = (udp[:, 3] > 0.5) & (alpha[:, 0] >= SOLID_ALPHA)
        self.points = keep.sum()
        if self.points == 0:
            raise SettingError(
                "sheet_udp", "UDP maps that cover the drawings", "no drawn pixel with UDP", "run avatar-app fit again"
            )
        self.tree = cKDTree(udp[:, :3].transpose(0, 2, 3, 1)[keep])
        straight = rgb.astype(np.float32) / np.maximum(alpha.astype(np.float32), 1.0)
        self.colours = np.clip(straight, 0.0, 1.0).transpose(0, 2, 3, 1)[keep]  # [K,3] straight rgb
        self.reach, self.feather = float(reach), int(feather)
        # the per-frame lookup: a voxel grid filled once from the tree (None: the tree per pixel)
        self.grid = None
        if grid_cells:  # ranked by view: where views overlap, the first view's drawing (the front, then the fills)
            view = np.nonzero(keep)[0]
            self.grid = UdpColourGrid(self.tree, self.colours, self.reach, grid_cells, rank=view)

    def coverage(self, udp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For a UDP map [H,W,4]: (straight colour [H,W,3], covered [H,W] bool)."""
        h, w = udp.shape[:2]
        colour = np.zeros((h, w, 3), np.float32)
        covered = np.zeros((h, w), bool)
        box = _visible_box(udp)
        if box is not None:
            colour[box], covered[box] = self._coverage(udp[box])
        return colour, covered

    def _coverage(self, udp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        visible = udp[..., 3] > 0.5
        if self.grid is not None:  # every pixel of the box: no gather of the visible ones first
            colour, covered = self.grid.lookup(udp[..., :3])
            return colour, covered & visible
        colour = np.zeros((*udp.shape[:2], 3), np.float32)
        covered = np.zeros(udp.shape[:2], bool)
        distance, nearest = self.tree.query(udp[..., :3][visible], k=1, distance_upper_bound=self.reach)
        hit = np.isfinite(distance)
        ys, xs = np.nonzero(visible)
        colour[ys[hit], xs[hit]] = self.colours[nearest[hit]]
        covered[ys[hit], xs[hit]] = True
        return colour, covered

    def apply(self, frame: np.ndarray, udp: np.ndarray) -> np.ndarray:
        """Premultiplied RGBA [H,W,4] float32 from CoNR -> the same with the drawing's colours where drawn."""
        box = _visible_box(udp, margin=self.feather + 1)
        if box is None:
            return frame
        colour, covered = self._coverage(udp[box])
        if not covered.any():
            return frame
        weight = covered.astype(np.float32)
        if self.feather > 0:  # fade in from the edge of the covered region: no seam
            k = 2 * self.feather + 1
            weight = np.minimum(weight, cv2.blur(weight, (k, k)))
        out = frame.copy()
        inside = frame[box]
        # inside + weight * (colour * alpha - inside), in place in the lookup's own colour array
        colour *= inside[..., 3:4]
        colour -= inside[..., :3]
        colour *= weight[..., None]
        colour += inside[..., :3]
        out[box][..., :3] = colour
        return out


def _visible_box(udp: np.ndarray, margin: int = 0):
    """The slices of the rows and columns with a visible pixel (grown by ``margin``), or None."""
    visible = udp[..., 3] > 0.5
    rows, cols = np.flatnonzero(visible.any(axis=1)), np.flatnonzero(visible.any(axis=0))
    if len(rows) == 0:
        return None
    h, w = visible.shape
    return (
        slice(max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)),
        slice(max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)),
    )
