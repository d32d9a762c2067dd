"""Image and UDP metrics, batched in torch; the differentiable ones double as training losses.

Every function takes ``[N,C,H,W]`` tensors (premultiplied RGBA in [0,1] for the
renderer's output). Metrics return one value per sample, so evaluation can report
per-sample numbers and a training loop can take ``.mean()``; the one pure loss,
:func:`gradient_loss`, reduces to a scalar by default like torch's losses.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["PSNR_CAP_DB", "alpha_iou", "gradient_loss", "psnr", "ssim", "udp_error"]

# psnr of identical images: a cap instead of inf, so a mean over a dataset stays finite.
PSNR_CAP_DB = 100.0

SSIM_C1 = 0.01**2  # (K1 * data_range)^2 with data_range = 1
SSIM_C2 = 0.03**2


def _check_pair(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if pred.ndim != 4 or pred.shape != target.shape:
        raise ValueError(
            f"{name}: expected pred and target of one shape [N,C,H,W], "
            f"found {tuple(pred.shape)} and {tuple(target.shape)}"
        )


def psnr(pred: torch.Tensor, target: torch.Tensor, max_val: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB over all channels (RGBA: alpha counts too) ``-> [N]``.

    Computed in float64 so that a constant offset of 0.1 reads 20 dB to ~1e-12.
    Identical images give :data:`PSNR_CAP_DB` (100 dB) rather than inf.
    """
    _check_pair(pred, target, "psnr")
    mse = (pred.double() - target.double()).pow(2).flatten(1).mean(1)
    floor = max_val**2 * 10.0 ** (-PSNR_CAP_DB / 10.0)
    return (10.0 * torch.log10(max_val**2 / mse.clamp_min(floor))).to(pred.dtype)


def _gaussian_kernel(window: int, sigma: float, dtype, device) -> torch.Tensor:
    x = torch.arange(window, dtype=torch.float64) - (window - 1) / 2.0
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    return (g / g.sum()).to(dtype=dtype, device=device)


def ssim(pred: torch.Tensor, target: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity ``-> [N]``, per channel then averaged; differentiable.

    Gaussian window (``window`` taps, ``sigma``), C1 = 0.01², C2 = 0.03² for data
    in [0,1], population (not sample) covariances. Filtering is "valid": the
    SSIM map covers only pixels whose whole window lies inside the image. That is
    exactly the region scikit-image averages (it filters with reflect padding,
    then crops ``(window - 1) // 2`` from each border), so the two agree to
    float precision.
    """
    _check_pair(pred, target, "ssim")
    n, c, h, w = pred.shape
    if h < window or w < window:
        raise ValueError(f"ssim: expected images of at least {window}x{window} (the window), found {h}x{w}")
    g = _gaussian_kernel(window, sigma, pred.dtype, pred.device)
    gx, gy = g.view(1, 1, 1, window), g.view(1, 1, window, 1)

    def blur(x: torch.Tensor) -> torch.Tensor:  # separable, per channel
        x = x.reshape(n * c, 1, h, w)
        return F.conv2d(F.conv2d(x, gx), gy)

    mu_x, mu_y = blur(pred), blur(target)
    var_x = blur(pred * pred) - mu_x * mu_x
    var_y = blur(target * target) - mu_y * mu_y
    cov = blur(pred * target) - mu_x * mu_y
    num = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_x * mu_x + mu_y * mu_y + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return (num / den).reshape(n, -1).mean(1)


def _alpha(x: torch.Tensor) -> torch.Tensor:
    """Alpha is the last channel (RGBA ``[N,4,H,W]``, or a mask ``[N,1,H,W]``)."""
    return x[:, -1]


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    inter = (a & b).flatten(1).sum(1).double()
    union = (a | b).flatten(1).sum(1).double()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def alpha_iou(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """IoU of ``alpha > threshold`` between pred and target ``-> [N]``; both empty counts as 1."""
    _check_pair(pred, target, "alpha_iou")
    return _iou(_alpha(pred) > threshold, _alpha(target) > threshold).float()


def gradient_loss(pred: torch.Tensor, target: torch.Tensor, scales: int = 3, reduction: str = "mean") -> torch.Tensor:
    """Multi-scale L1 between image gradients (finite differences); differentiable.

    A loss, so by default a scalar (``reduction="mean"`` over the batch, like
    torch's losses); ``reduction="none"`` gives ``[N]``.

    Scale ``s`` compares gradients after ``2**s`` average pooling, so edges are
    matched both sharply and over a wider neighbourhood; the per-scale means are
    averaged. Blind to a constant offset by construction (that is the point: it
    complements an L1 on the colours).
    """
    _check_pair(pred, target, "gradient_loss")
    if scales < 1:
        raise ValueError(f"gradient_loss: expected scales >= 1, found {scales}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"gradient_loss: expected reduction 'mean' or 'none', found {reduction!r}")
    total = pred.new_zeros(pred.shape[0])
    used = 0
    for s in range(scales):
        if s:
            if min(pred.shape[-2:]) < 4:  # nothing left to difference at coarser scales
                break
            pred, target = F.avg_pool2d(pred, 2), F.avg_pool2d(target, 2)
        d = pred - target
        dx = (d[..., :, 1:] - d[..., :, :-1]).abs().flatten(1).mean(1)
        dy = (d[..., 1:, :] - d[..., :-1, :]).abs().flatten(1).mean(1)
        total = total + dx + dy
        used += 1
    per_sample = total / used
    return per_sample.mean() if reduction == "mean" else per_sample


def udp_error(pred_udp: torch.Tensor, target_udp: torch.Tensor) -> dict[str, torch.Tensor]:
    """UDP prediction vs ground truth, both ``[N,4,H,W]`` (xyz in the [0,1] cube + mask).

    * ``xyz_l1`` ``[N]``: mean |xyz error| (over the 3 coordinates) on pixels visible
      in the ground truth (mask > 0.5); differentiable in ``pred_udp``; NaN for a
      sample with no visible pixel (use ``nanmean`` across samples).
    * ``mask_iou`` ``[N]``: IoU of ``pred mask > 0.5`` and ``target mask > 0.5``.
    """
    _check_pair(pred_udp, target_udp, "udp_error")
    if pred_udp.shape[1] != 4:
        raise ValueError(f"udp_error: expected 4 channels (xyz + mask), found {pred_udp.shape[1]}")
    visible = (target_udp[:, 3:4] > 0.5).to(pred_udp.dtype)
    err = ((pred_udp[:, :3] - target_udp[:, :3]).abs() * visible).flatten(1).sum(1)
    count = visible.flatten(1).sum(1) * 3
    xyz_l1 = torch.where(count > 0, err / count.clamp_min(1), torch.full_like(err, math.nan))
    mask_iou = _iou(pred_udp[:, 3] > 0.5, target_udp[:, 3] > 0.5).to(pred_udp.dtype)
    return {"xyz_l1": xyz_l1, "mask_iou": mask_iou}
