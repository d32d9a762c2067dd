"""The UDP counterpart of :func:`avatar_app.io.sheet.prepare_view`.

A sheet view's UDP map must go through the same crop, square padding and resize as its
colour, or UDP and colour stop lining up. Both the synthetic and the folder datasets
use this; it reuses the sheet loader's own crop (``crop_to_square``) so the two cannot drift apart.
"""

from __future__ import annotations

import cv2
import numpy as np

from avatar_app.io.sheet import crop_to_square

__all__ = ["prepare_udp_view"]


def prepare_udp_view(udp: np.ndarray, alpha: np.ndarray, size: int) -> np.ndarray:
    """A view's UDP float32 [H,W,4] -> [size,size,4], cropped and padded like ``prepare_view``.

    ``alpha`` is the view's straight alpha (uint8 [H,W]) as ``prepare_view`` got it: its
    bounding box decides the crop. Resized nearest-neighbour (as ``fit_udp``): blending
    coordinates gives points on no surface and fractional visibility.
    """
    if udp.shape[:2] != alpha.shape[:2]:
        raise ValueError(f"prepare_udp_view: UDP {udp.shape[:2]} and alpha {alpha.shape[:2]} differ in size")
    square = crop_to_square(udp, alpha)
    if square.shape[0] == size:
        return np.ascontiguousarray(square, dtype=np.float32)
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
