"""What a training step minimises: the loss weights, the forward pass with the parser's UDP head, the loss terms.

The losses need no downloaded network:

* binary cross-entropy on the alpha *logits* and L1 on the premultiplied colour inside
  the target silhouette, the face's pixels weighted ``face`` times (the batch's
  ``face_mask``: the rig's face region, a few per cent of the pixels). (L1 on the sigmoid
  outputs, where ~90% of the pixels are background, drives the unnormalised shader to
  ever larger activations until the sigmoid saturates at alpha 0 and no gradient is left -
  within 20 steps at lr 1e-3 or 1e-4. Cross-entropy on the logits keeps pulling the
  silhouette up.)
* 1 - SSIM and a multi-scale gradient L1 on the premultiplied RGBA (edges, thin strands);
* the sheet parser's U-Net predicting each sheet view's UDP (what gives the parser
  features their meaning in CoNR), and the same U-Net predicting the target image's
  UDP: the image -> UDP detector.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from avatar_app.models import CoNR
from avatar_app.training.flow_targets import correspondence_flow, flow_loss
from avatar_app.training.metrics import gradient_loss, ssim

__all__ = ["LOSS_NAMES", "LossWeights", "TrainingForward", "compute_losses", "prepare_from_scratch"]


@dataclass
class LossWeights:
    rgb: float = 1.0
    alpha: float = 1.0
    ssim: float = 0.2
    gradient: float = 0.25
    sheet_udp: float = 0.5
    detector: float = 0.5
    flow: float = 0.0  # the shader's flows against UDP correspondences (flow_targets.py); needs sheet UDP
    face: float = 1.0  # weight of the face's pixels in the colour L1 (not a loss term; needs the batch's face_mask)


LOSS_NAMES = tuple(f.name for f in fields(LossWeights) if f.name != "face")  # the terms, in log.csv's column order


def _udp_target(udp: torch.Tensor) -> torch.Tensor:
    """``[..., 4, H, W]`` xyz + mask -> what the parser head predicts: ``(xyz * mask, mask)``."""
    return torch.cat([udp[..., :3, :, :] * udp[..., 3:4, :, :], udp[..., 3:4, :, :]], dim=-3)


class TrainingForward(nn.Module):
    """CoNR's forward plus the parser's UDP head, as one module (what DDP wraps).

    The sheet views and the target images share one parser pass: the views' features
    feed the renderer, and the U-Net head decodes every image into UDP (sheet views:
    the parser's own supervision; target images: the image -> UDP detector). The
    alpha logits (before the RGBA decoder's sigmoid) come back too, for the loss.
    """

    def __init__(self, conr: CoNR):
        super().__init__()
        self.conr = conr
        self._logits: list[torch.Tensor] = []
        conr.rgbadecodernet.conv_rgba[0].register_forward_hook(lambda _m, _i, out: self._logits.append(out))

    def forward(
        self, rgb, alpha, target_udp, target_rgb, flows: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, m, _, h, w = rgb.shape
        parser = self.conr.udpparsernet
        feats = parser.forward_features(CoNR.normalise(torch.cat([rgb.reshape(n * m, 3, h, w), target_rgb], dim=0)))
        udp_pred = parser.decode(feats)
        target = CoNR.target_input(target_udp[:, :3], target_udp[:, 3:4])
        self._logits.clear()
        pred = self.conr(rgb, alpha, target, sheet_features=[f[: n * m] for f in feats], flows=flows)
        return pred, udp_pred, self._logits.pop()[:, 3:4]


def prepare_from_scratch(model: CoNR) -> CoNR:
    """Start every shader block at "no flow, no message" (its last transposed conv zeroed).

    With random last layers the first steps already warp by random flows and the
    unnormalised blocks amplify each other; zeroed, the blocks start neutral and the
    gradient still reaches those layers through their (non-zero) inputs.
    """
    with torch.no_grad():
        for block in model.shader.decoder_blocks:
            last = block.conv_last[-1]
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()
    return model


def compute_losses(forward: nn.Module, batch: dict, weights: LossWeights) -> tuple[torch.Tensor, dict, torch.Tensor]:
    """Run a :class:`TrainingForward` (or its DDP wrapper) on a collated batch.

    Returns (total loss, {name: float}, predicted RGBA).
    """
    rgb, alpha = batch["sheet_rgb"], batch["sheet_alpha"]
    n, m, _, h, w = rgb.shape
    target_udp, gt = batch["target_udp"], batch["target_rgba"]
    flows = [] if weights.flow and batch.get("sheet_udp") is not None else None
    pred, udp_pred, alpha_logits = forward(rgb, alpha, target_udp, gt[:, :3], flows)

    gt_alpha = gt[:, 3:4]
    colour_weight = gt_alpha
    if weights.face != 1.0 and batch.get("face_mask") is not None:
        colour_weight = gt_alpha * (1.0 + (weights.face - 1.0) * batch["face_mask"])
    parts = {}
    parts["rgb"] = ((pred[:, :3] - gt[:, :3]).abs() * colour_weight).sum() / (3.0 * colour_weight.sum() + 1.0)
    parts["alpha"] = F.binary_cross_entropy_with_logits(alpha_logits, gt_alpha)
    parts["ssim"] = 1.0 - ssim(pred, gt).mean()
    parts["gradient"] = gradient_loss(pred, gt)
    if batch.get("sheet_udp") is not None:
        parts["sheet_udp"] = F.l1_loss(udp_pred[: n * m], _udp_target(batch["sheet_udp"].reshape(n * m, 4, h, w)))
    parts["detector"] = F.l1_loss(udp_pred[n * m :], _udp_target(target_udp))
    if flows is not None:
        targets = batch.get("flow_targets") or correspondence_flow(batch["sheet_udp"], target_udp)
        parts["flow"] = flow_loss(flows, *(t.to(flows[0].device) for t in targets))
    total = sum(getattr(weights, k) * v for k, v in parts.items())  # every part is a LOSS_NAMES term
    return total, {k: float(v.detach()) for k, v in parts.items()}, pred
