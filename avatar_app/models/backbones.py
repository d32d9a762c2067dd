"""ResNet encoders with a U-Net decoder, laid out like CoNR's checkpoints.

Both CoNR encoders (the sheet parser ``udpparsernet`` and ``target_pose_encoder``)
are a torchvision-style ResNet ("v1.5": stride on the 3x3 conv) flattened into a
``Sequential`` named ``backbone`` (``0`` stem conv, ``1`` stem norm, ``2`` ReLU,
``3`` stem pooling, ``4..7`` layer1..layer4), followed by a U-Net decoder
(``upsample_blocks.i``, ``final_conv``). Every norm is an affine InstanceNorm
without running statistics, wrapped in a module whose attribute is ``norm`` so
the state-dict keys read ``...bn1.norm.weight`` (conformance README §1).

Written from the paper and the conformance kit (MIT-licensed original design).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BackboneConfig",
    "InstanceNorm",
    "reference_instance_norm",
    "BasicBlock",
    "Bottleneck",
    "UpBlock",
    "ResNetUNet",
]


@dataclass(frozen=True)
class BackboneConfig:
    """Sizes of one ResNet + U-Net encoder.

    ``block`` is ``"basic"`` (ResNet-18/34) or ``"bottleneck"`` (ResNet-50);
    ``stem_pool`` is ``"max"`` (torchvision) or ``"conv"`` (CoNR's parser replaces
    the max-pool by a 3x3 stride-2 conv without bias).
    """

    in_channels: int = 3
    block: str = "bottleneck"
    layers: tuple[int, ...] = (3, 4, 6, 3)
    widths: tuple[int, ...] = (64, 128, 256, 512)
    stem_width: int = 64
    stem_pool: str = "conv"
    decoder_filters: tuple[int, ...] = (512, 384, 256, 128, 32)
    out_channels: int = 4

    def __post_init__(self):
        if self.block not in ("basic", "bottleneck"):
            raise ValueError(f"block must be 'basic' or 'bottleneck', got {self.block!r}")
        if self.stem_pool not in ("max", "conv"):
            raise ValueError(f"stem_pool must be 'max' or 'conv', got {self.stem_pool!r}")
        if len(self.layers) != 4 or len(self.widths) != 4 or len(self.decoder_filters) != 5:
            raise ValueError("a backbone has 4 stages and a decoder has 5 upsample blocks")

    @property
    def expansion(self) -> int:
        return 4 if self.block == "bottleneck" else 1

    @property
    def feature_channels(self) -> tuple[int, ...]:
        """Channels of the feature pyramid, deepest first: layer4..layer1, stem."""
        e = self.expansion
        return (self.widths[3] * e, self.widths[2] * e, self.widths[1] * e, self.widths[0] * e, self.stem_width)


_cpu_group_norm = True  # InstanceNorm's CPU fast path; off inside reference_instance_norm()


@contextlib.contextmanager
def reference_instance_norm():
    """Run every :class:`InstanceNorm` through ``nn.InstanceNorm2d``, as the reference code does.

    For benchmarks that time the reference's data flow: without this it would get our
    faster kernel too and the ratio would understate what we gain.
    """
    global _cpu_group_norm
    previous, _cpu_group_norm = _cpu_group_norm, False
    try:
        yield
    finally:
        _cpu_group_norm = previous


class InstanceNorm(nn.Module):
    """Affine InstanceNorm2d held as ``.norm`` (that is where the checkpoint keys put it).

    No running statistics: per-sample, per-channel statistics in train and eval,
    so results do not depend on batch composition (safe to fold views into the batch).

    On CPU, NCHW fp32 input goes through ``group_norm`` with one channel per group: the
    same normalisation, but PyTorch's ``instance_norm`` runs ``batch_norm`` on a reshaped
    input with repeated weights, and the group-norm kernel makes the official sheet
    encode ~20% faster (``tools/bench.py``). Its channels-last kernel sums squares in one
    pass (10x the error here), so other layouts, ONNX export (which must see
    InstanceNormalization) and a swapped-in ``norm`` keep the plain module.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=True, track_running_stats=False, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in (torch.float16, torch.bfloat16):  # an FP32 island under mixed precision
            with torch.autocast(x.device.type, enabled=False):
                return self.norm(x.float()).to(x.dtype)
        norm = self.norm
        if (
            _cpu_group_norm
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and x.dim() == 4
            and x.is_contiguous()
            and type(norm) is nn.InstanceNorm2d
            and not torch.onnx.is_in_onnx_export()
        ):
            return F.group_norm(x, norm.num_features, norm.weight, norm.bias, norm.eps)
        return norm(x)


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = _conv(cin, width, 3, stride)
        self.bn1 = InstanceNorm(width)
        self.conv2 = _conv(width, cout, 3)
        self.bn2 = InstanceNorm(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(_conv(cin, cout, 1, stride), InstanceNorm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In place where autograd allows it: a norm's backward needs its input, not its output.
        y = self.bn1(self.conv1(x)).relu_()
        y = self.bn2(self.conv2(y))
        skip = x if self.downsample is None else self.downsample(x)
        return y.add_(skip).relu_()


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = _conv(cin, width, 1)
        self.bn1 = InstanceNorm(width)
        self.conv2 = _conv(width, width, 3, stride)  # v1.5: the stride sits on the 3x3
        self.bn2 = InstanceNorm(width)
        self.conv3 = _conv(width, cout, 1)
        self.bn3 = InstanceNorm(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(_conv(cin, cout, 1, stride), InstanceNorm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In place where autograd allows it: a norm's backward needs its input, not its output.
        y = self.bn1(self.conv1(x)).relu_()
        y = self.bn2(self.conv2(y)).relu_()
        y = self.bn3(self.conv3(y))
        skip = x if self.downsample is None else self.downsample(x)
        return y.add_(skip).relu_()


class UpBlock(nn.Module):
    """U-Net decoder step: ConvT 4x4/s2 -> IN -> ReLU, concat skip, conv 3x3 -> IN -> ReLU."""

    def __init__(self, cin: int, skip_channels: int, cout: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False)
        self.bn1 = InstanceNorm(cout)
        self.conv2 = _conv(cout + skip_channels, cout, 3)
        self.bn2 = InstanceNorm(cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        x = F.relu(self.bn1(self.up(x)))
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return F.relu(self.bn2(self.conv2(x)))


def _make_backbone(cfg: BackboneConfig) -> nn.Sequential:
    block = Bottleneck if cfg.block == "bottleneck" else BasicBlock
    stem = [
        nn.Conv2d(cfg.in_channels, cfg.stem_width, 7, stride=2, padding=3, bias=False),
        InstanceNorm(cfg.stem_width),
        nn.ReLU(inplace=True),
        _conv(cfg.stem_width, cfg.stem_width, 3, 2) if cfg.stem_pool == "conv" else nn.MaxPool2d(3, 2, 1),
    ]
    stages, cin = [], cfg.stem_width
    for i, (n, width) in enumerate(zip(cfg.layers, cfg.widths)):
        blocks = []
        for j in range(n):
            blocks.append(block(cin, width, 2 if (j == 0 and i > 0) else 1))
            cin = width * block.expansion
        stages.append(nn.Sequential(*blocks))
    return nn.Sequential(*stem, *stages)


class ResNetUNet(nn.Module):
    """A ResNet encoder whose pyramid CoNR reads, plus the U-Net head it was trained with.

    Rendering needs only :meth:`forward_features`; :meth:`forward` adds the U-Net
    decoder (the UDP detector output of the sheet parser).
    """

    def __init__(self, cfg: BackboneConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone = _make_backbone(cfg)
        feats = cfg.feature_channels
        skips = (feats[1], feats[2], feats[3], feats[4], 0)  # layer3, layer2, layer1, stem, none
        blocks, cin = [], feats[0]
        for skip, cout in zip(skips, cfg.decoder_filters):
            blocks.append(UpBlock(cin, skip, cout))
            cin = cout
        self.upsample_blocks = nn.ModuleList(blocks)
        self.final_conv = nn.Conv2d(cin, cfg.out_channels, 1)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature pyramid deepest first: layer4 (H/32), layer3, layer2, layer1 (H/4), stem ReLU (H/2)."""
        b = self.backbone
        stem = b[2](b[1](b[0](x)))
        x = b[3](stem)
        out = []
        for stage in b[4:]:
            x = stage(x)
            out.append(x)
        return [out[3], out[2], out[1], out[0], stem]

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[0]
        skips = list(features[1:]) + [None]
        for block, skip in zip(self.upsample_blocks, skips):
            x = block(x, skip)
        return self.final_conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.forward_features(x))
