"""Which sheet views a frame needs: the few whose drawn surface covers most of what it shows.

The shader's cost grows with the views it reads (lite at 256² on 2 cores: 34 ms with one,
98 ms with four), and a pose seen from the front gains little from the back view. Given each
view's UDP map (``sheet_udp/``, or a synthetic sheet's exact one), a frame's visible
surface points (a fixed subsample of its UDP map) are looked up in each view's points: a
point is covered by a view that drew a point within ``reach`` (UDP units, as the drawn
detail's). Views are then taken greedily, each the one covering most of what the ones
before left uncovered (ties to the one covering most in all), and returned in sheet order.
What it costs in quality is measured, not assumed: ``tools/evaluate.py --views-per-frame K``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["ViewChoice"]


class ViewChoice:
    """``choose(udp)``: the ``keep`` most useful of the sheet's views for a UDP map ``[H, W, 4]``.

    ``sheet_udp``: ``[M, 4, S, S]`` float (xyz in 0..1, then the mask) per sheet view.
    """

    def __init__(self, sheet_udp: np.ndarray, keep: int, reach: float = 0.02, samples: int = 1500, points: int = 6000):
        sheet_udp = np.asarray(sheet_udp, np.float32)
        if sheet_udp.ndim != 4 or sheet_udp.shape[1] != 4:
            raise ValueError(f"sheet UDP: expected [views, 4, S, S], found {sheet_udp.shape}")
        self.views = sheet_udp.shape[0]
        self.keep = max(1, min(int(keep), self.views))
        self.reach, self.samples = float(reach), int(samples)
        self.trees = []
        for view in sheet_udp:
            drawn = view[:3, view[3] > 0.5].T
            step = max(1, len(drawn) // points)
            self.trees.append(cKDTree(drawn[::step]) if len(drawn) else None)

    def coverage(self, udp: np.ndarray) -> np.ndarray:
        """``[M, P]`` bool: which of the frame's sampled visible points each view covers."""
        udp = np.asarray(udp)
        shown = udp[..., :3][udp[..., 3] > 0.5]
        shown = shown[:: max(1, len(shown) // self.samples)]
        out = np.zeros((self.views, len(shown)), bool)
        for v, tree in enumerate(self.trees):
            if tree is not None and len(shown):
                distance, _ = tree.query(shown, distance_upper_bound=self.reach)
                out[v] = np.isfinite(distance)
        return out

    def choose(self, udp: np.ndarray) -> tuple[int, ...]:
        if self.keep >= self.views:
            return tuple(range(self.views))
        covered = self.coverage(udp)
        total = covered.sum(axis=1)
        have = np.zeros(covered.shape[1], bool)
        chosen: list[int] = []
        for _ in range(self.keep):
            gain = (covered & ~have).sum(axis=1).astype(np.float64) + total / (covered.shape[1] + 1.0)
            gain[chosen] = -1.0
            best = int(np.argmax(gain))
            chosen.append(best)
            have |= covered[best]
        return tuple(sorted(chosen))
