"""The drawing's own pixels on the render: a per-frame pass after CoNR, through the fitted UDP.

CoNR (the shipped ``lite`` weights, and adapted ones after minutes on a CPU) paints a
character's colours in the right places but blurs what is a few pixels wide: eyes, line
art, the mouth. A character folder knows, for every drawn pixel, the point on the body it
shows (``sheet_udp/``, from ``avatar-app fit``). So wherever a point of the posed body is
drawn in some view, its colour can be taken from the drawing itself: each visible pixel of
the frame's UDP map looks up the nearest drawn pixel in UDP space (a k-d tree built once
per sheet), and where one lies within ``reach`` its colour replaces the network's, feathered
at the edge of the covered region. The network's alpha (the outline) is kept, and so is its
colour wherever the body shows a side the drawings do not (the back, under the arms).

Measured on held-out characters and the cost per frame: README ("Your own character").
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree

from avatar_app.core.errors import SettingError

__all__ = ["DEFAULT_REACH", "DrawnDetail"]

# How near a drawn point must be to stand for the frame's point, in UDP units (the body's
# height): 0.02 is about 3 cm; beyond it the point is hidden in every drawing.
DEFAULT_REACH = 0.02
SOLID_ALPHA = 200  # drawn pixels with less alpha (antialiased outline edges) are not used


class DrawnDetail:
    """Built from a prepared sheet (premultiplied ``rgb`` uint8 [V,3,S,S], ``alpha`` [V,1,S,S])
    and its views' UDP (float32 [V,4,S,S], same pixels); :meth:`apply` runs per frame."""

    def __init__(
        self, rgb: np.ndarray, alpha: np.ndarray, udp: np.ndarray, *, reach: float = DEFAULT_REACH, feather: int = 2
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

    def coverage(self, udp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For a UDP map [H,W,4]: (straight colour [H,W,3], covered [H,W] bool)."""
        h, w = udp.shape[:2]
        colour = np.zeros((h, w, 3), np.float32)
        covered = np.zeros((h, w), bool)
        visible = udp[..., 3] > 0.5
        if visible.any():
            distance, nearest = self.tree.query(udp[..., :3][visible], k=1, distance_upper_bound=self.reach)
            hit = np.isfinite(distance)
            ys, xs = np.nonzero(visible)
            colour[ys[hit], xs[hit]] = self.colours[nearest[hit]]
            covered[ys[hit], xs[hit]] = True
        return colour, covered

    def apply(self, frame: np.ndarray, udp: np.ndarray) -> np.ndarray:
        """Premultiplied RGBA [H,W,4] float32 from CoNR -> the same with the drawing's colours where drawn."""
        colour, covered = self.coverage(udp)
        if not covered.any():
            return frame
        weight = covered.astype(np.float32)
        if self.feather > 0:  # fade in from the edge of the covered region: no seam
            k = 2 * self.feather + 1
            weight = np.minimum(weight, cv2.blur(weight, (k, k)))
        alpha = frame[..., 3:4]
        out = frame.copy()
        w = weight[..., None]
        out[..., :3] = w * colour * alpha + (1.0 - w) * frame[..., :3]
        return out
