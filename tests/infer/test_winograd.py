"""Winograd layers: same numbers as the stock convolutions, replaced only where eligible.

Error bound: fp32 Winograd differs from ``F.conv2d`` by ~2e-6 (F(4,3)), ~1e-5 (F(6,3))
and ~4e-6 (ConvT, F(4,2)) of the output's max abs on 224-channel layers (measured by
tools/bench_winograd.py); the direct conv itself is ~1e-6 from a float64 reference.
Tests assert ``max|y - ref| <= BOUND * max|ref|`` against a float64 reference with a
margin over those numbers.
"""

from __future__ import annotations

import copy
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from avatar_app.infer import winograd_engine
from avatar_app.infer.winograd import Winograd3x3, WinogradConvTranspose4x4, accelerate_shader
from avatar_app.infer.winograd_plans import toom_cook

BOUND = 3e-5


def _rel_err(y: torch.Tensor, ref: torch.Tensor) -> float:
    return ((y.double() - ref).abs().max() / ref.abs().max()).item()


def _conv(c_in, c_out, bias=True, seed=0, **kw) -> nn.Conv2d:
    torch.manual_seed(seed)
    return nn.Conv2d(c_in, c_out, kw.pop("kernel_size", 3), padding=kw.pop("padding", 1), bias=bias, **kw)


def _convt(c_in, c_out, bias=True, seed=0, **kw) -> nn.ConvTranspose2d:
    torch.manual_seed(seed)
    return nn.ConvTranspose2d(
        c_in, c_out, kw.pop("kernel_size", 4), kw.pop("stride", 2), kw.pop("padding", 1), bias=bias, **kw
    )


def _input(n, c, h, w, channels_last=False, seed=1) -> torch.Tensor:
    torch.manual_seed(seed)
    x = F.leaky_relu(torch.randn(n, c, h, w), 0.25)  # post-PReLU-like: skewed, mostly positive
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


# ---- transforms ----------------------------------------------------------------------


@pytest.mark.parametrize("m,r", [(4, 3), (6, 3), (4, 2)])
def test_transform_matrices_compute_1d_correlation(m, r):
    at, g, bt = toom_cook(m, r)
    torch.manual_seed(0)
    d, k = torch.randn(m + r - 1, dtype=torch.float64), torch.randn(r, dtype=torch.float64)
    ref = torch.stack([d[i : i + r] @ k for i in range(m)])
    assert torch.allclose(at @ ((g @ k) * (bt @ d)), ref, atol=1e-12)
    assert torch.equal(bt, bt.round()), "input transform coefficients should be small integers"


# ---- Winograd3x3 ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "n,c_in,c_out,h,w",
    [(1, 8, 8, 4, 4), (2, 16, 24, 9, 13), (3, 24, 16, 7, 5), (1, 5, 3, 1, 1), (2, 32, 32, 50, 49)],
    ids=["one-tile", "odd-hw", "batch3-cin>cout", "single-pixel", "large-F63"],
)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
def test_winograd3x3_matches_conv2d(n, c_in, c_out, h, w, bias, channels_last):
    conv = _conv(c_in, c_out, bias)
    fast = Winograd3x3(conv, min_pixels=0)
    x = _input(n, c_in, h, w, channels_last)
    ref = F.conv2d(x.double(), conv.weight.double(), None if conv.bias is None else conv.bias.double(), padding=1)
    with torch.inference_mode():
        y = fast(x)
    assert y.shape == ref.shape
    assert _rel_err(y, ref) <= BOUND
    fmt = torch.channels_last if channels_last and h * w > 1 else torch.contiguous_format
    assert y.is_contiguous(memory_format=fmt)


def test_small_inputs_take_the_stock_conv():
    conv = _conv(16, 16)
    fast = Winograd3x3(conv, min_pixels=64)
    x = _input(2, 16, 7, 9)  # 63 pixels
    with torch.no_grad():
        assert torch.equal(fast(x), conv(x))
    assert fast._plans == {}, "no transformed weights for layers that never take the fast path"


def test_autograd_calls_take_the_stock_conv():
    conv = _conv(8, 8)
    fast = Winograd3x3(conv, min_pixels=0)
    x = _input(1, 8, 12, 12).requires_grad_()
    y = fast(x)
    assert y.requires_grad and torch.equal(y, conv(x))


def test_reloaded_weights_rebuild_the_transformed_weights():
    conv = _conv(8, 12)
    fast = Winograd3x3(conv, min_pixels=0)
    x = _input(1, 8, 10, 10)
    with torch.no_grad():
        fast(x)
        other = _conv(8, 12, seed=5)
        fast.load_state_dict(other.state_dict())
        assert _rel_err(fast(x), F.conv2d(x.double(), other.weight.double(), other.bias.double(), padding=1)) <= BOUND


def test_chunks_on_worker_threads_match_and_leave_thread_settings_alone(monkeypatch):
    monkeypatch.setattr(winograd_engine, "_pool", None)
    conv = _conv(8, 8)
    fast = Winograd3x3(conv, min_pixels=0)
    x = _input(4, 8, 16, 16, channels_last=True)  # 64 tiles: 2 chunks, one per worker
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch.no_grad():  # grad mode, not inference mode: the workers must follow the caller
            y = fast(x)
        assert winograd_engine._pool is not None, "expected the chunks to run on the worker pool"
        assert torch.get_num_threads() == 2
        seen = []
        fresh = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        fresh.start()
        fresh.join()
        assert seen == [2], "a new thread must not inherit the workers' single-thread setting"
    finally:
        torch.set_num_threads(before)
    assert _rel_err(y, F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=1)) <= BOUND


# ---- WinogradConvTranspose4x4 --------------------------------------------------------


@pytest.mark.parametrize(
    "n,c_in,c_out,h,w",
    [(1, 8, 8, 4, 4), (2, 16, 24, 9, 13), (3, 24, 12, 5, 3), (1, 6, 4, 1, 2)],
    ids=["one-tile", "odd-hw", "batch3-cin>cout", "tiny"],
)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "nhwc"])
def test_winograd_convtranspose_matches_conv_transpose2d(n, c_in, c_out, h, w, bias, channels_last):
    convt = _convt(c_in, c_out, bias)
    fast = WinogradConvTranspose4x4(convt, min_pixels=0)
    x = _input(n, c_in, h, w, channels_last)
    b = None if convt.bias is None else convt.bias.double()
    ref = F.conv_transpose2d(x.double(), convt.weight.double(), b, stride=2, padding=1)
    with torch.inference_mode():
        y = fast(x)
    assert y.shape == ref.shape == (n, c_out, 2 * h, 2 * w)
    assert _rel_err(y, ref) <= BOUND


def test_convtranspose_with_output_size_takes_the_stock_path():
    convt = _convt(8, 8)
    fast = WinogradConvTranspose4x4(convt, min_pixels=0)
    x = _input(1, 8, 6, 6)
    with torch.no_grad():
        assert torch.equal(fast(x, output_size=[13, 13]), convt(x, output_size=[13, 13]))


@pytest.mark.parametrize(
    "layer",
    [
        nn.Conv2d(8, 8, 3, stride=2, padding=1),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2),
        nn.Conv2d(8, 8, 3, padding=1, groups=2),
        nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect"),
    ],
    ids=["stride2", "dilated", "grouped", "reflect"],
)
def test_ineligible_conv_is_rejected_with_reason(layer):
    with pytest.raises(ValueError, match="expected"):
        Winograd3x3(layer)


# ---- accelerate_shader ---------------------------------------------------------------


class _Block(nn.Module):
    """A miniature shader block with the layer kinds accelerate_shader must tell apart."""

    def __init__(self, width=128):
        super().__init__()
        self.down = nn.Sequential(nn.Conv2d(8, width, 3, 2, 1), nn.PReLU(width))  # stride 2: left alone
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.PReLU(width), nn.Conv2d(width, width, 3, padding=1)
        )
        self.mix = nn.Conv2d(width, width, 1)  # 1x1: left alone
        self.narrow = nn.Conv2d(width, 64, 3, padding=1)  # too few output channels: left alone
        self.up = nn.Sequential(
            nn.ConvTranspose2d(64, width, 4, 2, 1), nn.PReLU(width), nn.ConvTranspose2d(width, width, 4, 2, 1)
        )
        self.up_odd = nn.ConvTranspose2d(width, width, 4, 2, 1, output_padding=1)  # left alone

    def forward(self, x):
        y = self.down(x)
        y = self.narrow(self.mix(self.body(y) + y))
        return self.up_odd(self.up(y))


def test_accelerate_shader_replaces_exactly_the_eligible_layers():
    torch.manual_seed(0)
    block = _Block()
    originals = dict(block.named_modules())
    assert accelerate_shader(block) is block
    kinds = {name: type(mod) for name, mod in block.named_modules()}
    assert kinds["body.0"] is Winograd3x3 and kinds["body.2"] is Winograd3x3
    assert kinds["up.2"] is WinogradConvTranspose4x4
    assert kinds["up.0"] is nn.ConvTranspose2d  # 64 input channels < MIN_CHANNELS
    for name in ("down.0", "mix", "narrow", "up_odd"):
        assert kinds[name] is type(originals[name]), name
    assert block.body[0].weight is originals["body.0"].weight, "parameters are shared, not copied"


def test_accelerated_module_matches_the_original():
    torch.manual_seed(0)
    block = _Block().eval()
    reference = copy.deepcopy(block)
    accelerate_shader(block, min_pixels=16)
    x = _input(2, 8, 20, 18, channels_last=True)
    with torch.inference_mode():
        ref, y = reference(x), block(x)
    assert _rel_err(y, ref.double()) <= BOUND
    assert block.state_dict().keys() == reference.state_dict().keys()


def test_accelerate_shader_twice_is_a_no_op():
    block = accelerate_shader(_Block())
    before = [(n, type(m), m) for n, m in block.named_modules()]
    accelerate_shader(block)
    assert [(n, type(m), m) for n, m in block.named_modules()] == before


def test_layers_with_huge_transformed_weights_are_left_alone():
    block = _Block()
    accelerate_shader(block, max_plan_mb=1.0)  # 128x128 F(4,2) plans take 6.25 MB
    assert not any(isinstance(m, (Winograd3x3, WinogradConvTranspose4x4)) for m in block.modules())
