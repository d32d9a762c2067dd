"""The network at an internal size: the UDP map point-sampled down, the render grown with a sharp alpha edge."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import RgbaFrame, UdpMap
from avatar_app.infer.resample import check_sizes, default_internal_size, grow_frame, shrink_udp


def test_sizes_are_checked_with_the_setting_and_the_fix():
    assert check_sizes(512, 256) == (512, 256)
    with pytest.raises(SettingError, match="--internal-size") as bigger:
        check_sizes(256, 512)
    assert "at most the output size" in str(bigger.value)
    with pytest.raises(SettingError, match="--internal-size"):
        check_sizes(512, 200)
    with pytest.raises(SettingError, match="--size"):
        check_sizes(500, 256)
    assert default_internal_size(128) == 128  # never above the output
    assert default_internal_size(512) <= 512


def test_the_udp_map_is_point_sampled_never_averaged():
    """Every pixel of the small map is a pixel of the large one: no point inside the body with half
    visibility (an average of body and background) that no raster draws."""
    rng = np.random.default_rng(1)
    big = np.zeros((512, 512, 4), np.float32)
    big[100:400, 150:330] = np.concatenate([rng.uniform(0.2, 0.8, (300, 180, 3)), np.ones((300, 180, 1))], -1)
    small = shrink_udp(UdpMap(big, timestamp=2.0), 128)
    assert small.data.shape == (128, 128, 4) and small.timestamp == 2.0
    assert set(np.unique(small.data[..., 3])) <= {0.0, 1.0}
    found = {tuple(p) for p in big.reshape(-1, 4)}
    assert all(tuple(p) in found for p in small.data.reshape(-1, 4)[::37])


def _disc(size: int, radius: float) -> np.ndarray:
    """A disc's coverage, antialiased over about one pixel (as a network draws an outline)."""
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    distance = np.hypot(xs - size / 2, ys - size / 2)
    return np.clip(radius - distance + 0.5, 0.0, 1.0).astype(np.float32)


def test_the_grown_renders_edge_is_as_sharp_as_the_network_drew_it_and_its_colour_kept():
    small = 128
    alpha = _disc(small, 40.0)
    colour = np.array([0.8, 0.3, 0.1], np.float32)
    frame = RgbaFrame(np.concatenate([alpha[..., None] * colour, alpha[..., None]], -1), 1.0, {"render_ms": 3.0})
    grown = grow_frame(frame, 512)
    a = grown.data[..., 3]
    assert grown.data.shape == (512, 512, 4) and grown.timings_ms == {"render_ms": 3.0}
    ramp = (a > 0.02) & (a < 0.98)
    row = ramp[256]  # through the centre: two edges
    assert row.sum() <= 2 * 3  # at most ~1.5 output pixels per edge (bilinear alone: ~5)
    edge = np.flatnonzero(a[256] > 0.5)
    assert abs(edge[0] - (256 - 160)) <= 1 and abs(edge[-1] - (256 + 160 - 1)) <= 1  # where the network put it
    inside = a > 0.02
    straight = grown.data[..., :3][inside] / a[inside][:, None]
    np.testing.assert_allclose(straight, np.broadcast_to(colour, straight.shape), atol=1e-4)
    assert grow_frame(frame, small) is frame


def test_growing_only_the_avatars_box_gives_the_whole_frames_answer():
    """The crop is a speed-up only: the same pixels as growing and steepening the whole frame."""
    import cv2

    rng = np.random.default_rng(2)
    alpha = _disc(128, 30.0)
    rgba = np.concatenate([alpha[..., None] * rng.uniform(0, 1, (128, 128, 3)), alpha[..., None]], -1)
    rgba = rgba.astype(np.float32)
    whole = cv2.resize(rgba, (512, 512), interpolation=cv2.INTER_LINEAR)
    steep = np.clip((whole[..., 3] - 0.5) * 4 + 0.5, 0, 1)
    whole[..., :3] *= (steep / np.maximum(whole[..., 3], 1e-4))[..., None]
    whole[..., 3] = steep
    np.testing.assert_allclose(grow_frame(RgbaFrame(rgba, 0.0), 512).data, whole, atol=1e-6)
    empty = grow_frame(RgbaFrame(np.zeros((128, 128, 4), np.float32), 0.0), 512)
    assert empty.data.shape == (512, 512, 4) and not empty.data.any()


def test_a_sheets_udp_is_enlarged_smoothly_inside_and_never_into_mid_air():
    """Inside smooth body every enlarged pixel stands for its own point (bilinear); at the outline
    and across a fold (an arm 0.2 in front of the chest) the points are the map's own (nearest)."""
    from avatar_app.infer.resample import enlarge_sheet_udp

    size = 64
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    udp = np.zeros((size, size, 4), np.float32)
    udp[8:56, 8:56, 0] = xs[8:56, 8:56] / 256
    udp[8:56, 8:56, 1] = ys[8:56, 8:56] / 256
    udp[8:56, 8:56, 2] = np.where(xs[8:56, 8:56] < 32, 0.5, 0.7)  # the fold at x = 32
    udp[8:56, 8:56, 3] = 1.0
    big = enlarge_sheet_udp(udp, 128)
    assert big.shape == (128, 128, 4)
    assert set(np.unique(big[..., 3])) <= {0.0, 1.0}  # the outline: no half-visible pixel
    z = big[..., 2][big[..., 3] > 0]
    assert np.minimum(np.abs(z - 0.5), np.abs(z - 0.7)).max() < 1e-5  # no point between the arm and the chest
    inner = big[40:60, 30:50, 0]  # smooth body: distinct points, a step of half a source pixel
    assert len(np.unique(inner)) == inner.shape[1]
    assert np.allclose(np.diff(inner[0]), 0.5 / 256, atol=1e-6)
