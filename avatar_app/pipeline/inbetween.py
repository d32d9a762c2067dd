"""In-between frames: the output keeps the source's rate while the renderer is slower.

The rig rasterizes a UDP map for every source frame; CoNR renders only some of them. For
each UDP map the renderer could not take in time, the send stage gets an in-between made
from the newest render instead:

* ``repeat``: the newest render as it is (the avatar freezes between renders).
* ``warp``: the newest render moved by the UDP correspondence between the map it was
  rendered from and the current map. A UDP pixel names a rest-pose surface point, so the
  same point in both maps is the same piece of the character: for each current pixel the
  warp samples the render where that point was. The correspondence is a nearest-neighbour
  lookup on rest xyz over a coarse grid (every ``step``-th pixel, which keeps it a few ms);
  the coarse displacement is filled outwards from where a match exists (hair and clothes
  beyond the proxy's silhouette move with the body next to them) and resized to full
  resolution for one `cv2.remap`. Render pixels of the proxy's body that would land outside
  the current silhouette are cut (they would be a ghost of where a limb was), and CoNR's
  soft edge just past the proxy's body fades out over ``EDGE_PX`` (else a fringe of speckles).
  Known artefacts (docs/inbetween_strip.png): hair beyond the proxy can show a doubled
  outline, hems and sock edges go ragged by a pixel or two, and each new render replaces
  the warped one with a small pop (about the warp's error, 32-35 dB PSNR on the demo).

Frames reach the sinks in source order: a render that comes back after in-betweens of
newer poses were sent is not sent (it is the base of the next in-betweens instead).
"""

from __future__ import annotations

import dataclasses
import threading

import cv2
import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import RgbaFrame, UdpMap

INBETWEEN_MODES = ("repeat", "warp")
VISIBLE = 0.5  # a UDP pixel is body where its visibility is above this
EDGE_PX = 2  # how far CoNR's soft edge reaches past the proxy's silhouette (pixels at 256²)
MAX_MATCH_DIST = 0.03  # rest-xyz distance (unit cube) beyond which a surface point was not in the render


def check_inbetween(mode: str | None) -> str | None:
    if mode is not None and mode not in INBETWEEN_MODES:
        raise SettingError(
            "--inbetween", "repeat or warp (or leave it out)", repr(mode), "use --inbetween warp or --inbetween repeat"
        )
    return mode


def udp_sample_maps(
    rendered: UdpMap, current: UdpMap, step: int = 2, max_dist: float = MAX_MATCH_DIST
) -> tuple[np.ndarray, np.ndarray]:
    """(map_x, map_y) for `cv2.remap`: where each current pixel's surface point was in ``rendered``.

    Pixels with no match take the displacement of the nearest pixel that has one; with no
    match anywhere the maps are the identity (the render repeated).
    """
    from scipy.ndimage import distance_transform_edt
    from scipy.spatial import cKDTree

    h, w = current.size
    then, now = rendered.data[::step, ::step], current.data[::step, ::step]
    ys, xs = np.nonzero(then[..., 3] > VISIBLE)
    grid_y, grid_x = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.zeros((*now.shape[:2], 2), np.float32)  # (dy, dx) per coarse pixel, in full-res pixels
    body = now[..., 3] > VISIBLE
    if len(ys) and body.any():
        points = then[ys, xs, :3] / then[ys, xs, 3:4]  # xyz are premultiplied by visibility
        cy, cx = np.nonzero(body)
        dist, nearest = cKDTree(points).query(now[cy, cx, :3] / now[cy, cx, 3:4], distance_upper_bound=max_dist)
        hit = np.isfinite(dist)
        matched = np.zeros(body.shape, bool)
        matched[cy[hit], cx[hit]] = True
        flow[cy[hit], cx[hit], 0] = (ys[nearest[hit]] - cy[hit]) * step
        flow[cy[hit], cx[hit], 1] = (xs[nearest[hit]] - cx[hit]) * step
        if matched.any():
            _, (iy, ix) = distance_transform_edt(~matched, return_indices=True)
            flow = flow[iy, ix]
    if not flow.any():
        return grid_x, grid_y
    full = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
    return grid_x + full[..., 1], grid_y + full[..., 0]


def warp_render(rgba: RgbaFrame, rendered: UdpMap, current: UdpMap, step: int = 2) -> RgbaFrame:
    """``rgba`` (rendered from ``rendered``) moved to the pose of ``current``; premultiplied RGBA."""
    map_x, map_y = udp_sample_maps(rendered, current, step)
    out = cv2.remap(rgba.data, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # Render pixels of the proxy's body that land off the current silhouette are a limb's old
    # place: cut. CoNR's soft edge reaches a little past the proxy's body: those pixels fade out
    # over EDGE_PX off the silhouette, so they leave no fringe of speckles and the edge stays soft.
    body = (rendered.data[..., 3] > VISIBLE).astype(np.uint8)
    was_body = cv2.remap(body, map_x, map_y, cv2.INTER_NEAREST) > 0
    edge = np.ones((2 * EDGE_PX + 1, 2 * EDGE_PX + 1), np.uint8)
    was_near = cv2.remap(cv2.dilate(body, edge), map_x, map_y, cv2.INTER_NEAREST) > 0
    outside = current.data[..., 3] <= VISIBLE
    fade = np.clip(1.0 - (cv2.distanceTransform(outside.astype(np.uint8), cv2.DIST_L2, 3) - 1.0) / EDGE_PX, 0, 1)
    keep = np.where(was_body & outside, 0.0, np.where(was_near, fade, 1.0)).astype(np.float32)
    out *= keep[..., None]
    return RgbaFrame(out, timestamp=current.timestamp)


class Inbetweener:
    """The render stage's outbox, which also sends in-betweens into the same slot.

    The raster thread calls `after_raster`, the render thread `put`; both hand frames to the
    send stage through `_send`, which keeps them in source order under one lock (a render
    older than an in-between already sent is kept as the base, not sent).
    """

    def __init__(self, mode: str, outbox, stats):
        self.mode = check_inbetween(mode)
        self._outbox, self._stats = outbox, stats
        self._lock = threading.Lock()
        self._last: tuple[RgbaFrame, UdpMap] | None = None  # the newest render and its map, swapped whole
        self._last_t: float | None = None  # raster thread only
        self._sent_index = 0
        self.made = 0  # in-betweens sent
        self.overtaken = 0  # renders not sent because in-betweens of newer poses were

    def after_raster(self, frame, render_busy: bool, render_s: float | None) -> None:
        """Send an in-between for ``frame`` unless the renderer takes it and is back within a frame."""
        interval = None if self._last_t is None else frame.timestamp - self._last_t
        self._last_t = frame.timestamp
        last = self._last
        back_in_time = not render_busy and (render_s is None or interval is None or render_s <= interval)
        if last is None or back_in_time or frame.udp is None:
            return
        with self._stats.time("inbetween"):
            if self.mode == "repeat":
                rgba = RgbaFrame(last[0].data, timestamp=frame.timestamp)
            else:
                rgba = warp_render(last[0], last[1], frame.udp)
        if self._send(dataclasses.replace(frame, rgba=rgba, color=None)):
            self.made += 1

    def put(self, frame) -> None:
        """A finished render: the base of the next in-betweens, and sent unless already overtaken."""
        self._last = (frame.rgba, frame.udp)
        if not self._send(frame):
            self.overtaken += 1

    def _send(self, frame) -> bool:
        with self._lock:
            if frame.index <= self._sent_index:
                return False
            self._sent_index = frame.index
            self._outbox.put(frame)
            return True

    def close(self) -> None:
        self._outbox.close()
