"""The network at an internal size, the frame at the output size: the UDP map shrunk, the render grown.

What a frame shows in detail now comes from the drawing (``infer.drawn_detail``, looked up at the
output size); the network paints the outline, the shading and what no drawing shows, which does
not need the output's pixels, and its cost grows with them (62% of it is the last, full-size
shader level). So the network may run on a smaller UDP map and its render be grown back:

* the UDP map is point-sampled (nearest), as the raster would have drawn it at that size: the
  network was trained on rasterized maps, never on averaged ones (an average of a body pixel and
  the background is a point inside the body with partial visibility, which no raster makes);
* the premultiplied render is grown bilinearly (exact for premultiplied colour), then its alpha
  edge is made as sharp at the output size as the network drew it at its own: the ramp is
  steepened by the scale about one half, and the colour kept (premultiplied by the new alpha).
"""

from __future__ import annotations

import cv2
import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import RgbaFrame, UdpMap, check_model_size

__all__ = ["check_sizes", "default_internal_size", "enlarge_sheet_udp", "grow_frame", "shrink_udp"]


def check_sizes(output_size: int, internal_size: int) -> tuple[int, int]:
    """(output, internal) if the network can run at ``internal_size`` for frames of ``output_size``."""
    check_model_size(output_size, "--size")
    check_model_size(internal_size, "--internal-size")
    if internal_size > output_size:
        raise SettingError(
            "--internal-size",
            f"at most the output size --size {output_size}",
            str(internal_size),
            f"use --internal-size {output_size} or smaller (e.g. {max(128, output_size // 2)}), or a larger --size",
        )
    return output_size, internal_size


def shrink_udp(udp: UdpMap, size: int) -> UdpMap:
    """``udp`` point-sampled to ``size``² (the pixel centres nearest the small map's)."""
    if udp.data.shape[0] == size:
        return udp
    data = cv2.resize(udp.data, (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
    return UdpMap(data, timestamp=udp.timestamp)


def enlarge_sheet_udp(udp: np.ndarray, size: int) -> np.ndarray:
    """A sheet view's UDP map [H,W,4] enlarged to ``size``² for the drawn detail at a larger output size.

    Bilinear inside smooth body, so each pixel of the drawing at ``size`` stands for its own point
    (nearest-neighbour gives 2×2 pixels one point, and the frame shows the drawing in blocks);
    nearest at the outline and across folds and overlaps (where a 3×3 neighbourhood spans more
    than 0.02 of the body), so no drawn pixel stands for a point in mid-air."""
    near = cv2.resize(udp, (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
    if udp.shape[0] >= size:
        return near
    linear = cv2.resize(udp, (size, size), interpolation=cv2.INTER_LINEAR)
    k = np.ones((3, 3), np.uint8)
    body = cv2.erode((udp[..., 3] > 0.5).astype(np.uint8), k) > 0
    spread = np.max([cv2.dilate(udp[..., c], k) - cv2.erode(udp[..., c], k) for c in range(3)], axis=0)
    smooth = (body & (spread < 0.02)).astype(np.uint8)
    inside = cv2.resize(smooth, (size, size), interpolation=cv2.INTER_NEAREST_EXACT) > 0
    near[inside] = linear[inside]
    return near


def grow_frame(frame: RgbaFrame, size: int) -> RgbaFrame:
    """A premultiplied render grown to ``size``², its alpha edge steepened by the scale.

    Only the box around the avatar is grown (at a whole-number scale): the background is zero
    after the steepening anyway, and at 512² the rest of the frame is most of the work."""
    small = frame.data
    scale = size / small.shape[0]
    if scale == 1.0:
        return frame
    floor = 0.5 - 0.5 / scale  # alpha at or under it is 0 once steepened
    box = _box(small[..., 3] > floor, margin=2) if scale == int(scale) else None
    out = np.zeros((size, size, 4), np.float32)
    if box is None and scale == int(scale):
        return RgbaFrame(out, frame.timestamp, frame.timings_ms)  # nothing drawn
    k = int(scale)
    (y0, y1), (x0, x1) = box if box is not None else ((0, small.shape[0]), (0, small.shape[1]))
    grown = cv2.resize(small[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    alpha = grown[..., 3]
    sharp = np.clip((alpha - 0.5) * np.float32(scale) + 0.5, 0.0, 1.0)
    gain = sharp / np.maximum(alpha, np.float32(1e-4))
    grown[..., :3] *= gain[..., None]
    grown[..., 3] = sharp
    if box is None:
        return RgbaFrame(grown, frame.timestamp, frame.timings_ms)
    out[y0 * k : y1 * k, x0 * k : x1 * k] = grown
    return RgbaFrame(out, frame.timestamp, frame.timings_ms)


def _box(mask: np.ndarray, margin: int):
    """((y0, y1), (x0, x1)) around ``mask``'s pixels, grown by ``margin``; None if there are none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    h, w = mask.shape
    return (max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)), (
        max(0, cols[0] - margin),
        min(w, cols[-1] + 1 + margin),
    )


# The network's size when none is set, by measurement (README, Benchmarks): at 512² frames on a
# CPU, CoNR at 256² costs 0.17 dB on the drawn held-out set (128²: 0.78, over the half decibel we
# allow) for 2.8x the frames per second (tools/evaluate_internal_size.py, tools/bench.py
# --sections pipeline --pipeline-size 512). On a GPU (not measured yet: no device was lent) at
# most 512², where the network's cost is a few milliseconds.
CPU_INTERNAL_SIZE = 256


def default_internal_size(output_size: int, device: str = "cpu") -> int:
    """The internal size for frames of ``output_size`` on ``device`` (never above the output size)."""
    if str(device).startswith("cuda"):
        return min(output_size, 512)
    return min(output_size, CPU_INTERNAL_SIZE)
