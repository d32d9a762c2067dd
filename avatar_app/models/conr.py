"""CoNR: Collaborative Neural Rendering using Anime Character Sheets.

Paper: Lin et al., "Collaborative Neural Rendering using Anime Character Sheets"
(IJCAI 2023, arXiv:2207.05378). Original design and weights: MIT licence.
This is an independent implementation written from the paper and our
conformance kit (``../shared/conformance/README.md``); its state-dict keys and
shapes equal the official four checkpoint files, so they load strictly.

Four networks:

* ``udpparsernet`` - ResNet-50 + U-Net; rendering reads only its backbone pyramid
  of each sheet view (the U-Net head is the image-to-UDP detector).
* ``target_pose_encoder`` - ResNet-18 on the target UDP (xyz*a, a); backbone only.
* ``shader`` - six ``DecoderBlock`` s, coarse to fine, that predict flows, messages
  and per-view confidence masks; views exchange information only through the
  softmax-weighted aggregates between blocks.
* ``rgbadecodernet`` - one residual block and a 3x3 conv to premultiplied RGBA.

:meth:`CoNR.forward` is the plain, readable data flow of README §5 with all views
folded into the batch; ``avatar_app.infer`` has the split, cached version that the
app runs. File order (timm style): blocks -> model -> init -> checkpoint_filter_fn
-> builders.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from avatar_app.core.errors import SettingError
from avatar_app.models.backbones import ResNetUNet
from avatar_app.models.conr_config import PRESET_CONFIGS, CoNRConfig, LevelLayout, lite_config, official_config

__all__ = [
    "NETWORK_NAMES",
    "INPUT_MEAN",
    "INPUT_STD",
    "CoNRConfig",
    "LevelLayout",
    "DecoderBlock",
    "Shader",
    "RGBADecoder",
    "CoNR",
    "resize",
    "base_grid",
    "warp",
    "init_weights",
    "checkpoint_filter_fn",
    "conr_official",
    "conr_lite",
    "create_conr",
    "PRESETS",
]

NETWORK_NAMES = ("udpparsernet", "target_pose_encoder", "shader", "rgbadecodernet")
# Both encoders see (x - 0.6) / 0.297 (reference data_norm_image).
INPUT_MEAN = 0.6
INPUT_STD = 0.2970


# --------------------------------------------------------------------------- blocks


def resize(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear, align_corners=False, no antialias - what every shader resize is (pitfall 2).

    A resize to the same size is the identity and is skipped, like the reference.
    """
    size = tuple(size)
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def base_grid(h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Identity sampling grid ``[h, w, 2]`` (x, y) in [-1, 1] for align_corners=True."""
    ys = torch.linspace(-1.0, 1.0, h, device=device, dtype=dtype)
    xs = torch.linspace(-1.0, 1.0, w, device=device, dtype=dtype)
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)


def warp(x: torch.Tensor, flow: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """Backward warp ``out(p) = x(p + flow(p))``, flow in pixels, border padding (pitfall 4).

    With ``groups`` > 1, ``x`` is split into that many contiguous channel groups and
    group g follows flow channels (2g, 2g+1) (pitfall 5). Groups are folded into the
    batch so one ``grid_sample`` does all of them.
    """
    b, c, h, w = x.shape
    base = base_grid(h, w, x.device, x.dtype)
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=x.device, dtype=x.dtype)
    grid = base + flow.reshape(b * groups, 2, h, w).permute(0, 2, 3, 1) * scale
    out = F.grid_sample(
        x.reshape(b * groups, c // groups, h, w), grid, mode="bilinear", padding_mode="border", align_corners=True
    )
    return out.reshape(b, c, h, w)


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class DecoderBlock(nn.Module):
    """One shader level: /4 down (two stride-2 convs), residual groups, x4 up (two ConvT).

    No normalisation anywhere, so the block is per-sample and batches exactly over views.
    """

    def __init__(
        self, in_channels: int, out_channels: int, width: int = 224, groups: int = 1, convs_per_group: int = 6
    ):
        super().__init__()
        self.conv0 = nn.Sequential(
            _conv3x3(in_channels, width, 2), nn.PReLU(width), _conv3x3(width, width, 2), nn.PReLU(width)
        )
        layers = lambda: [m for _ in range(convs_per_group) for m in (_conv3x3(width, width), nn.PReLU(width))]  # noqa: E731
        self.convblocks = nn.ModuleList(nn.Sequential(*layers()) for _ in range(groups))
        self.conv_last = nn.Sequential(
            nn.ConvTranspose2d(width, width, 4, 2, 1), nn.PReLU(width), nn.ConvTranspose2d(width, out_channels, 4, 2, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv0(x)
        for group in self.convblocks:
            x = group(x) + x
        return self.conv_last(x)


class Shader(nn.Module):
    def __init__(self, cfg: CoNRConfig):
        super().__init__()
        self.decoder_blocks = nn.ModuleList(
            DecoderBlock(
                lv.in_channels, lv.out_channels, cfg.width(lv.p), cfg.residual_groups[lv.p], cfg.convs_per_group
            )
            for lv in cfg.levels
        )


class _ResBlock(nn.Module):
    # Registration order = checkpoint key order: conv1, conv2, norm1, norm2.
    # norm1/norm2 are 1x1 convolutions in the original (pitfall 14), not normalisation.
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.conv2 = _conv3x3(channels, channels)
        self.norm1 = nn.Conv2d(channels, channels, 1)
        self.norm2 = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.relu(self.norm1(x)))
        y = self.conv2(F.relu(self.norm2(y)))
        return x + y


class RGBADecoder(nn.Module):
    """Aggregated level-5 message -> premultiplied RGBA ``(rgb*a, a)``."""

    def __init__(self, channels: int = 64):
        super().__init__()
        self.conv_rgba = nn.Sequential(_conv3x3(channels, 4), nn.Sigmoid())
        self.bottleneck = nn.Sequential(OrderedDict(r0=_ResBlock(channels)))

    def forward(self, message: torch.Tensor) -> torch.Tensor:
        y = self.conv_rgba(self.bottleneck(message))
        a = y[:, 3:4]
        return torch.cat([y[:, :3] * a, a], dim=1)


# --------------------------------------------------------------------------- model


class CoNR(nn.Module):
    """The four CoNR networks under their checkpoint names, plus the config they were built from."""

    def __init__(self, cfg: CoNRConfig):
        super().__init__()
        self.cfg = cfg
        self.udpparsernet = ResNetUNet(cfg.parser)
        self.target_pose_encoder = ResNetUNet(cfg.target)
        self.shader = Shader(cfg)
        self.rgbadecodernet = RGBADecoder(cfg.level(5).msg)

    def network(self, name: str) -> nn.Module:
        if name not in NETWORK_NAMES:
            raise KeyError(f"unknown CoNR network {name!r}; expected one of {NETWORK_NAMES}")
        return getattr(self, name)

    @staticmethod
    def normalise(x: torch.Tensor) -> torch.Tensor:
        """What both encoders see: ``(x - 0.6) / 0.297`` (reference data_norm_image)."""
        return (x - INPUT_MEAN) / INPUT_STD

    @staticmethod
    def target_input(xyz: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """``x_target_sudp_a = cat(xyz * a, a)`` (README §3), before normalisation."""
        return torch.cat([xyz * alpha, alpha], dim=1)

    def forward(
        self,
        rgb: torch.Tensor,
        alpha: torch.Tensor,
        target: torch.Tensor,
        debug: dict | None = None,
        sheet_features: list[torch.Tensor] | None = None,
        flows: list | None = None,
    ) -> torch.Tensor:
        """Plain CoNR forward, every view in the batch.

        rgb ``[N,M,3,H,W]`` premultiplied in [0,1]; alpha ``[N,M,1,H,W]`` in [0,1];
        target ``[N,4,H,W]`` = :meth:`target_input`. Returns RGBA ``[N,4,H,W]``.
        ``debug`` (a dict) receives ``block{p}_residual_flow`` ``[M,N,2,h,w]``.
        ``sheet_features``: the parser pyramid of the ``N*M`` views if already computed
        (training decodes the same pyramid into the views' UDP). ``flows`` (a list)
        receives the accumulated flow ``A`` ``[N*M,2,h,w]`` after every block, in the
        graph (training supervises it).
        """
        n, m, _, h, w = rgb.shape
        nm = n * m
        rgb, alpha = rgb.reshape(nm, 3, h, w), alpha.reshape(nm, 1, h, w)
        feats = sheet_features or self.udpparsernet.forward_features(self.normalise(rgb))
        tfeats = self.target_pose_encoder.forward_features(self.normalise(target))
        tfeats = [t.repeat_interleave(m, dim=0) for t in tfeats]
        ref = torch.cat([alpha * rgb, alpha], dim=1)  # colour meets alpha a second time (README §3)
        sizes = [tuple(f.shape[-2:]) for f in feats] + [(h, w)]
        s0 = sizes[0]
        A = ref.new_zeros(nm, 2, *s0)
        W = resize(ref, s0)
        G, Abar, Wbar, Mbar, L = feats[0], A, W, None, None  # level-0 "aggregates" are per view
        per_frame = lambda x: x.reshape(n, m, *x.shape[1:])  # noqa: E731
        for lv, block in zip(self.cfg.levels, self.shader.decoder_blocks):
            p = lv.p
            x = [A, tfeats[p] if p < 5 else None, W, G, Abar, Wbar, Mbar, L]
            out = block(torch.cat([t for t in x if t is not None], dim=1))
            o = {k: out[:, s] for k, s in lv.outputs.items()}
            if debug is not None:
                debug[f"block{p}_residual_flow"] = per_frame(o["delta"]).transpose(0, 1).clone()
            size = sizes[min(p + 1, 5)]
            k = size[1] / out.shape[-1]
            up = (lambda f, size=size, k=k: resize(f, size) * k) if k != 1 else (lambda f: f)  # noqa: E731
            A = up(A + o["delta"])
            if flows is not None:
                flows.append(A)
            sigma = resize(torch.sigmoid(o["masks"]), size)
            msgs = warp(resize(o["msg"], size), up(o["msg_flow"]), self.cfg.flow_groups)
            L = warp(resize(o["local"], size), up(o["local_flow"]), self.cfg.flow_groups) if lv.local else None
            W = warp(resize(ref, size), A)
            G = warp(feats[p + 1], A) if p + 1 <= 4 else None
            # Views meet only here: weights sigma * softmax_v(sigma), not normalised (pitfall 9).
            sig = per_frame(sigma)
            wts = sig * torch.softmax(sig, dim=1)
            Abar = (wts[:, :, 0:1] * per_frame(A)).sum(1)
            Wbar = (wts[:, :, 0:1] * per_frame(W)).sum(1)
            Mbar = (wts[:, :, 2:] * per_frame(msgs)).sum(1)
            if p < 5:
                Abar, Wbar, Mbar = (t.repeat_interleave(m, dim=0) for t in (Abar, Wbar, Mbar))
        return self.rgbadecodernet(Mbar)


# --------------------------------------------------------------------------- init


def init_weights(module: nn.Module) -> None:
    """Initialisation for training from scratch (pretrained or synthetic weights overwrite it)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.InstanceNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.PReLU):
            nn.init.constant_(m.weight, 0.25)


# --------------------------------------------------------------------------- checkpoints


def checkpoint_filter_fn(state_dict: dict) -> dict:
    """Map a foreign state_dict of one network onto our keys (pure function).

    Unwraps ``{"state_dict": ...}`` / ``{"model": ...}`` containers and strips the
    ``module.`` prefix that ``nn.DataParallel`` / DDP training leaves on every key.
    """
    for wrapper in ("state_dict", "model"):
        if isinstance(state_dict.get(wrapper), dict) and not any(torch.is_tensor(v) for v in state_dict.values()):
            state_dict = state_dict[wrapper]
    out = OrderedDict()
    for k, v in state_dict.items():
        out[k[len("module.") :] if k.startswith("module.") else k] = v
    return out


# --------------------------------------------------------------------------- builders


PRESETS = PRESET_CONFIGS


def _build(cfg: CoNRConfig, init: bool) -> CoNR:
    if init:
        model = CoNR(cfg)
        init_weights(model)
    else:
        # Weights are about to be overwritten (checkpoint or synthetic): skip the ~3 s of
        # random init of 180M parameters by building on the meta device.
        with torch.device("meta"):
            model = CoNR(cfg)
        model = model.to_empty(device="cpu")
    return model.eval().requires_grad_(False)


def conr_official(init: bool = True, **overrides) -> CoNR:
    """The published sizes: loads the official four ``.pth`` files."""
    return _build(official_config(**overrides), init)


def conr_lite(init: bool = True, **overrides) -> CoNR:
    """A smaller network for live CPU use (needs its own trained weights)."""
    return _build(lite_config(**overrides), init)


def create_conr(preset: str | CoNRConfig = "official", init: bool = True) -> CoNR:
    """Build a CoNR from a preset name or a config.

    ``init=False`` leaves the weights uninitialised, for when a checkpoint or
    :func:`~avatar_app.models.fill.fill_networks` fills them next.
    """
    if isinstance(preset, CoNRConfig):
        return _build(preset, init)
    if preset not in PRESETS:
        raise SettingError(
            "preset", f"one of {sorted(PRESETS)}", repr(preset), "use --preset official or --preset lite"
        )
    return _build(PRESETS[preset](), init)
