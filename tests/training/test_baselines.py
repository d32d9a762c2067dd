"""The two network-free baselines on hand-made samples whose right answer is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.core.errors import InputError
from avatar_app.training.baselines import (
    nearest_view_index,
    nearest_view_paste,
    sheet_view_rgba,
    udp_lookup,
)
from avatar_app.training.sample import Sample

S = 32
RECTS = [(4, 20, 6, 18), (8, 28, 10, 22), (2, 14, 16, 30)]  # y0, y1, x0, x1 per view


def _sheet_udp(view: int) -> np.ndarray:
    """x, y from the pixel position, z per view: every sheet pixel has its own xyz."""
    y0, y1, x0, x1 = RECTS[view]
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32) / S
    mask = np.zeros((S, S), np.float32)
    mask[y0:y1, x0:x1] = 1
    return np.stack([xx * mask, yy * mask, (0.2 + 0.3 * view) * mask, mask])


def make_sample(
    target_view: int = 1, yaws=(0.0, 90.0, 180.0), target_yaw: float | None = 100.0, seed: int = 0
) -> Sample:
    """Three rectangular views with random premultiplied colours; the target is view ``target_view``."""
    rng = np.random.default_rng(seed)
    m = len(RECTS)
    alpha = np.zeros((m, 1, S, S), np.uint8)
    for v, (y0, y1, x0, x1) in enumerate(RECTS):
        alpha[v, 0, y0:y1, x0:x1] = rng.integers(128, 256, (y1 - y0, x1 - x0))
    rgb = (rng.integers(0, 256, (m, 3, S, S)).astype(np.uint16) * alpha // 255).astype(np.uint8)
    sheet_udp = np.stack([_sheet_udp(v) for v in range(m)])
    meta = {} if target_yaw is None else {"target_yaw": target_yaw, "sheet_yaws": list(yaws)}
    return Sample(
        sheet_rgb=rgb,
        sheet_alpha=alpha,
        sheet_udp=sheet_udp,
        target_udp=sheet_udp[target_view].copy(),
        target_rgba=np.concatenate([rgb[target_view], alpha[target_view]]).astype(np.float32) / 255,
        character="hand-made",
        meta=meta,
    )


def test_nearest_view_paste_picks_the_nearest_yaw_and_pastes_it_unchanged():
    sample = make_sample(target_yaw=100.0)
    out = nearest_view_paste(sample)
    assert out.dtype == np.float32 and out.shape == (4, S, S)
    np.testing.assert_array_equal(out[:3], sample.sheet_rgb[1] / np.float32(255))
    np.testing.assert_array_equal(out[3:], sample.sheet_alpha[1] / np.float32(255))
    np.testing.assert_array_equal(out, sample.target_rgba)


@pytest.mark.parametrize(
    "target_yaw, expected",
    [(350.0, 0), (-10.0, 0), (44.0, 0), (46.0, 1), (200.0, 2), (-170.0, 2), (135.0, 1)],  # 135: tie -> first
)
def test_nearest_view_uses_circular_yaw_distance(target_yaw, expected):
    assert nearest_view_index(make_sample(target_yaw=target_yaw)) == expected


def test_nearest_view_without_yaws_takes_the_view_overlapping_the_target_mask_most():
    for target_view in range(3):
        assert nearest_view_index(make_sample(target_view=target_view, target_yaw=None)) == target_view


def test_nearest_view_rejects_yaws_out_of_step_with_the_views():
    sample = make_sample(yaws=(0.0, 90.0))
    with pytest.raises(InputError, match="one yaw per sheet view"):
        nearest_view_paste(sample)


@pytest.mark.parametrize("target_view", [0, 1, 2])
def test_udp_lookup_reproduces_the_view_whose_udp_is_the_target(target_view):
    sample = make_sample(target_view=target_view)
    out = udp_lookup(sample)
    np.testing.assert_array_equal(out, sheet_view_rgba(sample, target_view))
    np.testing.assert_array_equal(out, sample.target_rgba)


def test_udp_lookup_takes_the_nearest_coordinate_and_leaves_the_outside_empty():
    sample = make_sample(target_view=0)
    rng = np.random.default_rng(1)
    mask = sample.target_udp[3:4]
    sample.target_udp[:3] += rng.uniform(-0.4 / S, 0.4 / S, (3, S, S)).astype(np.float32) * mask  # under half a pixel
    sample.target_udp[3, 0, 0] = 0  # nothing there anyway
    out = udp_lookup(sample)
    np.testing.assert_array_equal(out, sheet_view_rgba(sample, 0))


def test_udp_lookup_ignores_sheet_pixels_without_udp():
    sample = make_sample(target_view=1)
    sample.sheet_udp[1, 3] = 0  # view 1 has no UDP: its pixels must not be used
    out = udp_lookup(sample)
    visible = sample.target_udp[3] > 0.5
    assert (out[3][~visible] == 0).all()
    assert not np.array_equal(out, sheet_view_rgba(sample, 1))
    # every colour used comes from a view that has UDP (0 or 2)
    used = {tuple(c) for c in out.transpose(1, 2, 0)[visible]}
    allowed = {
        tuple(c) for v in (0, 2) for c in sheet_view_rgba(sample, v).transpose(1, 2, 0)[sample.sheet_udp[v, 3] > 0.5]
    }
    assert used <= allowed


def test_udp_lookup_without_sheet_udp_says_what_is_missing():
    sample = make_sample()
    sample.sheet_udp = None
    with pytest.raises(InputError, match="sheet_udp"):
        udp_lookup(sample)


def test_udp_lookup_of_an_empty_target_is_empty():
    sample = make_sample()
    sample.target_udp[:] = 0
    assert not udp_lookup(sample).any()
