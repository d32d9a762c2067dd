"""Image and UDP metrics give known values on known inputs, and SSIM matches scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from avatar_app.training.metrics import (
    PSNR_CAP_DB,
    alpha_iou,
    gradient_loss,
    psnr,
    ssim,
    udp_error,
)


def _random_rgba(n=2, s=32, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 4, s, s, generator=g, dtype=dtype)


def _structured(s=48):
    """Smooth gradients, a hard-edged disc and stripes: images with real structure."""
    yy, xx = np.mgrid[0:s, 0:s] / s
    disc = (((xx - 0.4) ** 2 + (yy - 0.6) ** 2) < 0.08).astype(np.float64)
    a = np.stack([xx, yy * disc, 0.5 + 0.5 * np.sin(12 * xx), disc])
    b = np.stack([xx**1.5, yy * np.roll(disc, 3, 1), 0.5 + 0.5 * np.sin(12 * xx + 0.4), np.roll(disc, 2, 0)])
    return a, b


def _skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=0
    )


# ------------------------------------------------------------------ psnr


def test_psnr_of_a_constant_offset_of_0_1_is_20_db():
    target = _random_rgba(dtype=torch.float64) * 0.8
    assert torch.allclose(psnr(target + 0.1, target), torch.full((2,), 20.0, dtype=torch.float64), atol=1e-9)
    target32 = target.float()
    assert torch.allclose(psnr(target32 - 0.1, target32), torch.full((2,), 20.0), atol=1e-4)


def test_psnr_of_identical_images_is_capped_not_inf():
    x = _random_rgba()
    out = psnr(x, x)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, torch.full((2,), PSNR_CAP_DB))


def test_psnr_counts_every_channel_per_sample():
    target = torch.zeros(2, 4, 8, 8)
    pred = target.clone()
    pred[0, 3] = 0.2  # only alpha wrong, on one sample: mse = 0.04 / 4 = 0.01
    pred[1] = 0.1
    assert torch.allclose(psnr(pred, target), torch.tensor([20.0, 20.0]), atol=1e-4)


def test_psnr_rejects_mismatched_shapes_naming_both():
    with pytest.raises(ValueError, match=r"\(1, 4, 8, 8\) and \(1, 3, 8, 8\)"):
        psnr(torch.zeros(1, 4, 8, 8), torch.zeros(1, 3, 8, 8))


# ------------------------------------------------------------------ ssim


def test_ssim_matches_skimage_on_random_images():
    a, b = _random_rgba(1, 40, seed=1, dtype=torch.float64), _random_rgba(1, 40, seed=2, dtype=torch.float64)
    b = 0.6 * a + 0.4 * b  # correlated, so the value is not near 0
    ours = ssim(a, b).item()
    ref = _skimage_ssim(a[0].numpy(), b[0].numpy())
    assert abs(ours - ref) < 1e-6, (ours, ref)


def test_ssim_matches_skimage_on_structured_images_in_float32():
    a, b = _structured()
    ours = ssim(torch.from_numpy(a)[None].float(), torch.from_numpy(b)[None].float()).item()
    ref = _skimage_ssim(a, b)
    assert abs(ours - ref) < 1e-3, (ours, ref)
    assert 0.2 < ref < 0.99  # the test images are neither identical nor unrelated


def test_ssim_is_one_for_identical_images_and_per_sample():
    x = _random_rgba(3, 24)
    y = x.clone()
    y[1] = 1 - y[1]
    out = ssim(x, y)
    assert out.shape == (3,)
    assert torch.allclose(out[[0, 2]], torch.ones(2), atol=1e-5)
    assert out[1] < 0.5


def test_ssim_is_differentiable():
    a = _random_rgba(1, 24).requires_grad_(True)
    loss = 1 - ssim(a, _random_rgba(1, 24, seed=5)).mean()
    loss.backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


def test_ssim_refuses_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 8, 8))


# ------------------------------------------------------------------ alpha iou


def _rect_alpha(s, y0, y1, x0, x1):
    x = torch.zeros(1, 4, s, s)
    x[0, 3, y0:y1, x0:x1] = 1.0
    return x


def test_alpha_iou_of_two_known_rectangles():
    a = _rect_alpha(20, 0, 10, 0, 10)  # 100 px
    b = _rect_alpha(20, 5, 15, 5, 15)  # 100 px, overlap 25
    assert alpha_iou(a, b).item() == pytest.approx(25 / 175)
    assert alpha_iou(a, a).item() == 1.0


def test_alpha_iou_of_two_empty_masks_is_one():
    assert alpha_iou(torch.zeros(2, 4, 8, 8), torch.zeros(2, 4, 8, 8)).tolist() == [1.0, 1.0]
    assert alpha_iou(_rect_alpha(8, 0, 2, 0, 2), torch.zeros(1, 4, 8, 8)).item() == 0.0


def test_alpha_iou_thresholds_soft_alpha():
    a = _rect_alpha(8, 0, 4, 0, 8) * 0.6
    b = _rect_alpha(8, 0, 4, 0, 8) * 0.4
    assert alpha_iou(a, a, threshold=0.5).item() == 1.0
    assert alpha_iou(a, b, threshold=0.5).item() == 0.0
    assert alpha_iou(a, b, threshold=0.3).item() == 1.0


# ------------------------------------------------------------------ gradient loss


def test_gradient_loss_is_zero_for_identical_images_and_a_constant_shift():
    x = _random_rgba(2, 32)
    assert gradient_loss(x, x).item() == 0.0
    assert gradient_loss(x + 0.25, x).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_loss_is_positive_otherwise_and_differentiable():
    x = _random_rgba(2, 32)
    y = _random_rgba(2, 32, seed=9).requires_grad_(True)
    per_sample = gradient_loss(y, x, reduction="none")
    assert per_sample.shape == (2,) and (per_sample > 0).all()
    loss = gradient_loss(y, x, scales=3)
    assert loss.ndim == 0 and loss.item() == pytest.approx(per_sample.mean().item())
    loss.backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_gradient_loss_sees_a_blur_at_coarse_scales():
    """An edge moved by one pixel: every scale contributes."""
    a = _rect_alpha(32, 8, 24, 8, 24)
    b = _rect_alpha(32, 8, 24, 9, 25)
    one, three = gradient_loss(a, b, scales=1).item(), gradient_loss(a, b, scales=3).item()
    assert one > 0 and three > 0 and one != three


# ------------------------------------------------------------------ udp error


def _udp(s=16):
    yy, xx = np.mgrid[0:s, 0:s] / s
    mask = np.zeros((s, s), np.float32)
    mask[4:12, 2:10] = 1  # 64 visible pixels
    return torch.from_numpy(np.stack([xx * mask, yy * mask, 0.5 * mask, mask]).astype(np.float32))[None]


def test_udp_error_is_the_mean_xyz_error_over_visible_pixels():
    target = _udp()
    pred = target.clone()
    pred[:, 0] += 0.3  # x off by 0.3 everywhere, also outside the mask (must not count)
    pred[:, 2] -= 0.15
    out = udp_error(pred, target)
    assert out["xyz_l1"].item() == pytest.approx((0.3 + 0.15) / 3, abs=1e-6)
    assert out["mask_iou"].item() == 1.0


def test_udp_error_mask_iou_uses_the_predicted_mask():
    target = _udp()
    pred = target.clone()
    pred[:, 3] = 0
    pred[:, 3, 4:12, 2:6] = 0.9  # half the true mask
    out = udp_error(pred, target)
    assert out["mask_iou"].item() == pytest.approx(0.5)
    assert out["xyz_l1"].item() == pytest.approx(0.0, abs=1e-7)


def test_udp_error_is_nan_without_visible_pixels():
    target = torch.zeros(1, 4, 8, 8)
    out = udp_error(torch.rand(1, 4, 8, 8), target)
    assert torch.isnan(out["xyz_l1"]).all()
