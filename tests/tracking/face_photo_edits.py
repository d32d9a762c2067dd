"""Still photographs of one real face with the eyes shut and the mouth open, made from one.

The astronaut photograph in scikit-image's wheel (NASA, public domain) smiles with open eyes.
The other states are painted into it along its own face mesh: per eye, the skin above the
upper lid stretched down over the eye to just below the lower lid, with a thin lash line
(a shut eye); the lower lip and the chin moved down by half the mouth's width and the gap
filled with the dark inside of a mouth (an open mouth). The tests then run the face mesh
afresh on the new pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from avatar_app.tracking.face_mesh import MOUTH

# lid contours from the outer to the inner corner (the person's right eye) and inner to outer (left)
_RIGHT_UPPER = [33, 246, 161, 160, 159, 158, 157, 173, 133]
_RIGHT_LOWER = [33, 7, 163, 144, 145, 153, 154, 155, 133]
_LEFT_UPPER = [362, 398, 384, 385, 386, 387, 388, 466, 263]
_LEFT_LOWER = [362, 382, 381, 380, 374, 373, 390, 249, 263]
# inner lip contours, from one corner to the other
_LIP_UPPER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
_LIP_LOWER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]


def _identity_maps(shape) -> tuple[np.ndarray, np.ndarray]:
    h, w = shape[:2]
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


def close_eyes(rgb: np.ndarray, points_px: np.ndarray) -> np.ndarray:
    """``rgb`` with both eyes shut; ``points_px`` [468, 2]: the face mesh in image pixels."""
    out = rgb.copy()
    for upper_ids, lower_ids in ((_RIGHT_UPPER, _RIGHT_LOWER), (_LEFT_UPPER, _LEFT_LOWER)):
        upper, lower = points_px[upper_ids], points_px[lower_ids]
        height = float((lower[:, 1] - upper[:, 1]).max())
        band = 1.3 * height  # the lid skin above the eye
        mapx, mapy = _identity_maps(out.shape)
        for x in range(int(upper[:, 0].min()) - 4, int(upper[:, 0].max()) + 5):
            top = np.interp(x, upper[:, 0], upper[:, 1]) - 0.3 * height - band
            bottom = np.interp(x, lower[:, 0], lower[:, 1]) + 0.35 * height
            ys = np.arange(int(top), int(np.ceil(bottom)) + 1)
            mapy[ys, x] = top + (ys - top) / max(bottom - top, 1.0) * band
        out = cv2.remap(out, mapx, mapy, cv2.INTER_LINEAR)
        lash = np.column_stack([lower[:, 0], lower[:, 1] + 0.1 * height]).astype(np.int32)
        cv2.polylines(out, [lash], False, (60, 45, 42), 1, cv2.LINE_AA)
    return out


def open_mouth(rgb: np.ndarray, points_px: np.ndarray, amount: float = 0.5) -> np.ndarray:
    """``rgb`` with the jaw dropped by ``amount`` of the mouth's width and the mouth's inside showing."""
    left, right = points_px[MOUTH["corners"][0]], points_px[MOUTH["corners"][1]]
    width = float(np.linalg.norm(right - left))
    upper, lower = points_px[_LIP_UPPER], points_px[_LIP_LOWER]
    drop, centre = amount * width, 0.5 * (left[0] + right[0])

    def across(x):
        return np.clip(1.0 - (np.abs(x - centre) / (0.62 * width)) ** 2, 0.0, 1.0)

    mapx, mapy = _identity_maps(rgb.shape)
    below = mapy - np.interp(mapx, lower[:, 0], lower[:, 1])
    down = np.where(below < -1, 0.0, np.where(below < drop, 1.0, np.clip(1 - (below - drop) / (1.4 * width), 0, 1)))
    out = cv2.remap(rgb, mapx, (mapy - drop * across(mapx) * down).astype(np.float32), cv2.INTER_LINEAR)
    xs = np.linspace(lower[:, 0].min(), lower[:, 0].max(), 30)
    gap = [(x, np.interp(x, lower[:, 0], lower[:, 1]) + drop * across(x)) for x in xs]
    gap += [(x, np.interp(x, upper[:, 0], upper[:, 1])) for x in xs[::-1]]
    cv2.fillPoly(out, [np.array(gap, np.int32)], (55, 18, 22), cv2.LINE_AA)
    return out
