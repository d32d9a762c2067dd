"""The drawn-detail pass: the drawing's own colours on the frame wherever UDP says the point is drawn."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.infer.drawn_detail import DrawnDetail

S = 32


def colour_of(xyz: np.ndarray) -> np.ndarray:
    """A colour that is a function of the surface point: any correct lookup reproduces it."""
    return np.stack([xyz[..., 0], xyz[..., 1], 0.5 * np.ones_like(xyz[..., 0])], axis=-1)


def sheet_view(offset: float = 0.0):
    """One view whose pixel (y, x) shows the surface point (x/S, y/S, 0.5 + offset), coloured by it."""
    ys, xs = np.mgrid[0:S, 0:S].astype(np.float32)
    xyz = np.stack([xs / S, ys / S, np.full_like(xs, 0.5 + offset)], axis=-1)
    udp = np.concatenate([xyz, np.ones((S, S, 1), np.float32)], axis=-1)
    udp[:, : S // 4] = 0.0  # the left quarter: body without UDP (no proxy there)
    alpha = np.full((S, S), 255, np.uint8)
    rgb = np.round(colour_of(xyz) * 255).astype(np.uint8)  # premultiplied = straight at alpha 1
    return rgb.transpose(2, 0, 1)[None], alpha[None, None], udp.transpose(2, 0, 1)[None]


def test_a_posed_frame_gets_the_drawings_colour_of_each_point():
    rgb, alpha, udp = sheet_view()
    detail = DrawnDetail(rgb, alpha, udp, feather=0)
    # the frame shows the same surface mirrored and shifted: every point is found by its UDP
    frame_udp = udp[0].transpose(1, 2, 0)[:, ::-1][:, :, :].copy()
    frame = np.zeros((S, S, 4), np.float32)
    frame[..., 3] = frame_udp[..., 3]  # the network's outline
    frame[..., :3] = 0.9 * frame[..., 3:4]  # and a wrong, flat colour
    out = detail.apply(frame, frame_udp)
    visible = frame_udp[..., 3] > 0.5
    want = colour_of(frame_udp[..., :3])[visible]
    assert np.abs(out[..., :3][visible] - want).max() < 1.5 / 255 + 1e-6
    assert np.array_equal(out[..., 3], frame[..., 3])  # the outline is the network's
    assert np.array_equal(out[~visible], frame[~visible])


def test_points_no_drawing_shows_keep_the_networks_colour():
    rgb, alpha, udp = sheet_view()
    detail = DrawnDetail(rgb, alpha, udp, reach=0.02, feather=0)
    back = udp[0].transpose(1, 2, 0).copy()
    back[..., 2] = np.where(back[..., 3] > 0.5, 0.1, 0.0)  # the same x, y on the far side: 0.4 away
    frame = np.zeros((S, S, 4), np.float32)
    frame[..., 3] = 1.0
    frame[..., :3] = 0.25
    out = detail.apply(frame, back)
    assert np.array_equal(out, frame)


def test_the_seam_is_feathered_and_half_transparent_pixels_stay_premultiplied():
    rgb, alpha, udp = sheet_view()
    detail = DrawnDetail(rgb, alpha, udp, feather=2)
    frame_udp = udp[0].transpose(1, 2, 0).copy()
    frame = np.zeros((S, S, 4), np.float32)
    frame[..., 3] = 0.5
    out = detail.apply(frame, frame_udp)
    inside = out[S // 2, S // 2, :3]
    assert np.allclose(inside, 0.5 * colour_of(frame_udp[S // 2, S // 2, :3]), atol=1.5 / 255)
    edge = out[S // 2, S // 4, :3]  # the first covered column: partly the network's (zero) colour
    full = 0.5 * colour_of(frame_udp[S // 2, S // 4, :3])
    assert 0.0 < edge[0] < full[0] - 1e-3


def test_antialiased_outline_pixels_of_the_drawing_are_not_used():
    rgb, alpha, udp = sheet_view()
    alpha[:] = 100  # only half-covered pixels: none is solid enough to stand for the surface
    with pytest.raises(SettingError, match="no drawn pixel"):
        DrawnDetail(rgb, alpha, udp)


def test_a_udp_map_that_does_not_match_the_sheet_is_refused():
    rgb, alpha, udp = sheet_view()
    with pytest.raises(SettingError, match="run avatar-app fit again"):
        DrawnDetail(rgb, alpha, udp[:, :, :16])
