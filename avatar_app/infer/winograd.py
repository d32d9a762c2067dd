"""Winograd convolutions for the shader on CPU (fp32): fewer multiplications, same numbers.

The shader spends most of a frame in 3x3 stride-1 convs and 4x4/stride-2 transposed
convs at 224 channels, which oneDNN runs directly (9 and 16 multiply-adds per input
pixel per channel pair) close to the CPU's peak. Winograd's minimal filtering
(Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016; matrices
from the Toom-Cook construction) trades most multiplications for cheap linear transforms
of overlapping input tiles and of output tiles, leaving one batched GEMM per position
in the transformed tile:

* 3x3 conv, F(4x4, 3x3) (F(6x6, 3x3) on large images): 2.25 (1.78) MACs per output.
* 4x4/s2 transposed conv: each of the 4 output phases is a 2x2 conv of the input
  (flipped kernel, every other tap); F(4x4, 2x2) per phase: 6.25 MACs per input pixel.
  The phases share one input window copy and its row transform.

Three modules: ``winograd_plans.py`` builds the transforms and a layer's transformed
weights, ``winograd_engine.py`` runs a plan on an input (chunks of tiles on a private
pool of single-threaded workers), and this one holds the layers and the model walker.

The fast layers subclass ``nn.Conv2d`` / ``nn.ConvTranspose2d`` and share the original
``weight``/``bias`` parameters, so state_dict keys, attributes and ``isinstance`` checks
are unchanged. The fast path runs for 4-D fp32 CPU inputs of at least ``min_pixels``
pixels when no gradient is needed; anything else runs the stock convolution.
Measurements (2-core EPYC): ``tools/bench_winograd.py``.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from avatar_app.infer.winograd_engine import run_plan
from avatar_app.infer.winograd_plans import Plan, plan_conv3x3, plan_convt4x4

__all__ = ["Winograd3x3", "WinogradConvTranspose4x4", "accelerate_shader"]

log = logging.getLogger(__name__)

# Below these sizes the stock conv is as fast (tools/bench_winograd.py --extra): at 224
# channels 3x3 and ConvT tie at 4x4 input pixels and win from 8x8; 64->64 channels at
# 256x256 lose 20% (the transforms cost more than the multiplications they save).
MIN_PIXELS = 64
MIN_CHANNELS = 128
# F(6,3) beats F(4,3) only on large images (~10% at 64x64; tile padding loses at 32x32).
_F63_MIN_PIXELS = 48 * 48


# ---- layers --------------------------------------------------------------------------


class _FastPath:
    """Shared gatekeeping: which calls may take the Winograd path, and the lazily built plans.

    Plans are built on the first fast call (so layers that only ever see tiny inputs
    never pay the memory) and rebuilt when the weight is replaced or modified in place
    (``load_state_dict`` bumps the version counter; writes through ``.data`` do not,
    call :meth:`refresh` after those).
    """

    weight: torch.Tensor
    min_pixels: int

    def _init_fast_path(self, min_pixels: int) -> None:
        self.min_pixels = int(min_pixels)
        self._plans: dict[int, Plan] = {}
        self._plan_key = None

    def refresh(self) -> None:
        """Forget the transformed weights; the next fast call rebuilds them."""
        self._plans = {}
        self._plan_key = None

    def _fast_ok(self, x: torch.Tensor) -> bool:
        w = self.weight
        return (
            x.dim() == 4
            and x.dtype == torch.float32
            and x.device.type == "cpu"
            and w.dtype == torch.float32
            and w.device.type == "cpu"
            and x.shape[2] * x.shape[3] >= self.min_pixels
            and x.numel() > 0
            and not (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad))
            and not torch.jit.is_tracing()  # exporters must see the stock op, not our loop
            and not torch.compiler.is_compiling()
        )

    def _plan(self, m: int, build) -> Plan:
        w = self.weight
        key = (w.data_ptr(), None if w.is_inference() else w._version)
        if key != self._plan_key:
            self._plans = {}
            self._plan_key = key
        plan = self._plans.get(m)
        if plan is None:
            with torch.no_grad():
                plan = self._plans[m] = build(w, m)
        return plan


def _check(layer: nn.Module, **expected) -> None:
    for name, want in expected.items():
        got = getattr(layer, name)
        if got != want:
            raise ValueError(
                f"{layer!r}: expected {name}={want!r}, found {got!r}. "
                "Fix: only wrap layers that accelerate_shader() reports as eligible."
            )


class Winograd3x3(nn.Conv2d, _FastPath):
    """``nn.Conv2d(C_in, C_out, 3, stride=1, padding=1)`` computed with Winograd F(4,3)/F(6,3).

    Shares ``conv``'s parameters (no copy). Extra memory: the transformed weights,
    4x (F(4,3)) or 7.1x (F(6,3)) the weight, built on the first large-enough call.
    fp32 error vs ``F.conv2d``: ~2e-6 (F(4,3)) / ~1e-5 (F(6,3)) of the output's max abs.
    """

    def __init__(self, conv: nn.Conv2d, *, min_pixels: int = MIN_PIXELS):
        _check(conv, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, padding_mode="zeros")
        super().__init__(conv.in_channels, conv.out_channels, 3, padding=1, bias=conv.bias is not None, device="meta")
        self.weight = conv.weight
        self.bias = conv.bias
        self._init_fast_path(min_pixels)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, winograd=F(4|6,3), min_pixels={self.min_pixels}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._fast_ok(x):
            return super().forward(x)
        h, w = x.shape[2:]
        plan = self._plan(6 if h * w >= _F63_MIN_PIXELS else 4, plan_conv3x3)
        return run_plan(plan, x, self.bias, h, w)


class WinogradConvTranspose4x4(nn.ConvTranspose2d, _FastPath):
    """``nn.ConvTranspose2d(C_in, C_out, 4, stride=2, padding=1)`` as 4 phase-wise F(4,2) convs.

    Shares ``convt``'s parameters (no copy). Extra memory: the transformed weights,
    6.25x the weight, built on the first large-enough call. fp32 error vs
    ``F.conv_transpose2d``: ~4e-6 of the output's max abs.
    """

    def __init__(self, convt: nn.ConvTranspose2d, *, min_pixels: int = MIN_PIXELS):
        _check(
            convt,
            kernel_size=(4, 4),
            stride=(2, 2),
            padding=(1, 1),
            output_padding=(0, 0),
            dilation=(1, 1),
            groups=1,
            padding_mode="zeros",
        )
        super().__init__(convt.in_channels, convt.out_channels, 4, 2, 1, bias=convt.bias is not None, device="meta")
        self.weight = convt.weight
        self.bias = convt.bias
        self._init_fast_path(min_pixels)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, winograd=4 phases x F(4,2), min_pixels={self.min_pixels}"

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is not None or not self._fast_ok(x):
            return super().forward(x, output_size)
        h, w = x.shape[2:]
        return run_plan(self._plan(4, plan_convt4x4), x, self.bias, 2 * h, 2 * w)


# ---- the model walker ----------------------------------------------------------------


def _transformed_mb(layer: nn.Module) -> float:
    """Memory of the largest plan this layer can build, in MB (fp32)."""
    c_in, c_out = layer.in_channels, layer.out_channels
    per_pair = 64 if isinstance(layer, nn.Conv2d) else 4 * 25  # F(6,3) tile / 4 phases of F(4,2)
    return per_pair * c_in * c_out * 4 / 2**20


def _replacement(layer: nn.Module, min_pixels: int, min_channels: int, max_plan_mb: float):
    if type(layer) not in (nn.Conv2d, nn.ConvTranspose2d):  # exact types: subclasses may override forward
        return None
    if min(layer.in_channels, layer.out_channels) < min_channels:
        return None
    common = layer.groups == 1 and layer.dilation == (1, 1) and layer.padding_mode == "zeros"
    if type(layer) is nn.Conv2d:
        eligible = common and layer.kernel_size == (3, 3) and layer.stride == (1, 1) and layer.padding == (1, 1)
        cls = Winograd3x3
    elif type(layer) is nn.ConvTranspose2d:
        eligible = (
            common
            and layer.kernel_size == (4, 4)
            and layer.stride == (2, 2)
            and layer.padding == (1, 1)
            and layer.output_padding == (0, 0)
        )
        cls = WinogradConvTranspose4x4
    if not eligible or _transformed_mb(layer) > max_plan_mb:
        return None
    return cls(layer, min_pixels=min_pixels)


def accelerate_shader(
    module: nn.Module,
    *,
    min_pixels: int = MIN_PIXELS,
    min_channels: int = MIN_CHANNELS,
    max_plan_mb: float = 96.0,
) -> nn.Module:
    """Swap every eligible conv in ``module`` (in place) for its Winograd twin; returns ``module``.

    Eligible: exact ``nn.Conv2d`` 3x3/s1/p1 and ``nn.ConvTranspose2d`` 4x4/s2/p1/op0
    (dilation 1, groups 1, zero padding) with at least ``min_channels`` input and output
    channels, whose transformed weights would take at most ``max_plan_mb`` (this skips
    the shader's widest ConvTs, e.g. 224->1604/3140/6212 at levels 0-2: +144-556 MB each
    for layers that run at <= 16x16). Inputs with fewer than ``min_pixels`` pixels run
    the stock conv at call time. Parameters are shared, not copied; calling it twice is
    a no-op. Call it after loading weights (later in-place loads are detected too).
    """
    counts = {Winograd3x3: 0, WinogradConvTranspose4x4: 0}
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            new = _replacement(child, min_pixels, min_channels, max_plan_mb)
            if new is not None:
                setattr(parent, name, new)
                counts[type(new)] += 1
    log.info(
        "winograd: %d 3x3 convs and %d 4x4/s2 transposed convs replaced (min %d px, min %d channels, plans <= %.0f MB)",
        counts[Winograd3x3],
        counts[WinogradConvTranspose4x4],
        min_pixels,
        min_channels,
        max_plan_mb,
    )
    return module
