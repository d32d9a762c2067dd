"""Sheet views for training: drawn from a rig, and prepared with their UDP maps.

A sheet view's UDP map must go through the same crop, square padding and resize as its
colour, or UDP and colour stop lining up: :func:`prepare_udp_view` is the UDP counterpart
of :func:`avatar_app.io.sheet.prepare_view`. Both the synthetic and the folder datasets
use it; it reuses the sheet loader's own crop (``crop_to_square``) so the two cannot drift apart.
"""

from __future__ import annotations

import cv2
import numpy as np

from avatar_app.core.frames import RgbaFrame
from avatar_app.io.sheet import crop_to_square, prepare_view
from avatar_app.raster.character_view import sheet_cameras

__all__ = ["prepare_udp_view", "prepared_sheet", "render_rest_views"]


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


def render_rest_views(
    rasterizer, character, mesh, views, framings=None, *, look=None, proxy=None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The rest pose from each of ``views`` (yaw names), as drawn files would hold them:
    ``(name, straight RGBA uint8 [S,S,4], UDP float32 [S,S,4])``, named ``0_front`` ....

    ``framings`` (one per view, None = all ``"full"``) cuts views knee-up or waist-up
    like drawings (see ``sheet_cameras``). ``look`` draws the colour with a DrawnLook of
    ``mesh``. ``proxy`` (``(character, mesh)``) takes the UDP from another body in the
    same cameras, as a drawing's UDP comes from its fitted proxy, not from the drawing.
    ``rasterizer``'s context must be current.
    """
    mesh.update(character.rest_vertices())
    if proxy is not None:
        proxy[1].update(proxy[0].rest_vertices())
    out = []
    for k, (view, camera) in enumerate(zip(views, sheet_cameras(character, yaws=views, framings=framings))):
        result = rasterizer.render(mesh, camera, look=look)
        rgba = RgbaFrame(result.color).to_straight_rgba8()
        udp = result.udp.copy() if proxy is None else rasterizer.render(proxy[1], camera, udp_only=True).udp.copy()
        out.append((f"{k}_{view}", rgba, udp))
    return out


def prepared_sheet(drawn, size: int, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``render_rest_views`` output -> premultiplied rgb uint8 [V,3,S,S], alpha [V,1,S,S] and
    UDP float32 [V,4,S,S], each view through ``prepare_view`` as the app loads a sheet."""
    views = [prepare_view(rgba, size, source=source) for _, rgba, _ in drawn]
    udps = [prepare_udp_view(udp, rgba[..., 3], size) for _, rgba, udp in drawn]
    stacked = np.stack(views)
    return (
        np.ascontiguousarray(stacked[..., :3].transpose(0, 3, 1, 2)),
        np.ascontiguousarray(stacked[..., 3:].transpose(0, 3, 1, 2)),
        np.ascontiguousarray(np.stack(udps).transpose(0, 3, 1, 2)),
    )
