"""Augmentations that make drawings of renders: premultiplied in, premultiplied out, style shared."""

from __future__ import annotations

import numpy as np

from avatar_app.training.augment import StyleJitter, augment_sample, degrade_view

S = 64


def _picture(color=(0.8, 0.3, 0.2)) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied float rgb [3,S,S] and alpha [1,S,S]: a flat disc with a 1-px dark line across."""
    yy, xx = np.mgrid[0:S, 0:S]
    alpha = ((xx - S / 2) ** 2 + (yy - S / 2) ** 2 < (0.4 * S) ** 2).astype(np.float32)[None]
    rgb = np.asarray(color, np.float32)[:, None, None] * alpha
    rgb[:, S // 2, 10:54] *= 0.3
    return rgb, alpha


def _uint8(rgb, alpha):
    return np.rint(rgb * 255).astype(np.uint8), np.rint(alpha * 255).astype(np.uint8)


def test_no_jitter_is_the_identity_and_jitter_stays_premultiplied():
    rgb, alpha = _picture()
    assert np.allclose(StyleJitter().apply(rgb, alpha), rgb, atol=1e-6)
    out = StyleJitter(hue_turn=0.2, saturation=1.3, brightness=1.1, contrast=1.2, line_darkening=0.5).apply(rgb, alpha)
    assert np.all(out <= alpha + 1e-6) and np.all(out >= 0)
    assert not out[:, alpha[0] == 0].any(), "the background stays transparent black"


def test_a_third_of_a_hue_turn_makes_red_green():
    rgb, alpha = _picture((0.9, 0.1, 0.1))
    out = StyleJitter(hue_turn=1.0 / 3.0).apply(rgb, alpha)
    assert np.argmax(out[:, S // 2 - 5, S // 2]) == 1


def test_line_darkening_darkens_lines_and_leaves_flat_colour_alone():
    rgb, alpha = _picture()
    out = StyleJitter(line_darkening=0.8).apply(rgb, alpha)
    assert out[0, S // 2, 30] < 0.6 * rgb[0, S // 2, 30], "the line got darker"
    assert np.allclose(out[:, S // 2 - 10, 30], rgb[:, S // 2 - 10, 30]), "flat colour away from it did not"


def test_degrading_a_view_keeps_it_premultiplied_close_and_reproducible():
    rgb, alpha = _uint8(*_picture())
    changed = 0
    for seed in range(12):
        out_rgb, out_alpha = degrade_view(rgb, alpha, np.random.default_rng(seed))
        assert out_rgb.dtype == np.uint8 and out_rgb.shape == rgb.shape and out_alpha.shape == alpha.shape
        assert np.all(out_rgb <= out_alpha)
        assert np.abs(out_rgb.astype(int) - rgb).mean() < 12
        changed += int(not np.array_equal(out_rgb, rgb))
        again = degrade_view(rgb, alpha, np.random.default_rng(seed))
        assert np.array_equal(again[0], out_rgb) and np.array_equal(again[1], out_alpha)
    assert changed >= 10


def test_sheet_views_and_target_get_the_same_colour_change():
    rgb, alpha = _picture()
    sheet_rgb, sheet_alpha = _uint8(rgb, alpha)
    target = np.concatenate([rgb, alpha])
    for seed in range(6):
        views, alphas, out = augment_sample(
            np.stack([sheet_rgb] * 2), np.stack([sheet_alpha] * 2), target, np.random.default_rng(seed)
        )
        inside = (alpha[0] > 0) & (np.abs(np.arange(S) - S // 2) > 3)[:, None]
        sheet_colour = np.median(views[0][:, inside].astype(np.float32) / 255, axis=1)
        target_colour = np.median(out[:3, inside], axis=1)
        assert np.abs(sheet_colour - target_colour).max() < 0.04, seed
        assert np.array_equal(out[3], target[3]), "the target's alpha is the UDP mask: never changed"
