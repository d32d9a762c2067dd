"""The Winograd hook: applied to the renderer's private copy of the shader, within tolerance."""

from __future__ import annotations

import subprocess
import sys

import torch
from torch import nn

from avatar_app.infer import shader_runtime
from avatar_app.infer.torch_backend import FrameRenderer


class _Counting(nn.Module):
    calls = 0

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        _Counting.calls += 1
        return self.inner(x)


def _fake_accelerate(module):
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d) and child.kernel_size == (3, 3) and child.stride == (1, 1):
                setattr(parent, name, _Counting(child))
    return module


def test_accelerate_shader_swaps_layers_in_the_runtime_only(
    official_networks, encoder, make_sheet, make_target, monkeypatch
):
    monkeypatch.setattr(shader_runtime, "accelerate_shader", _fake_accelerate)
    fast = FrameRenderer(official_networks, fast=True)
    assert fast.acceleration == "winograd.accelerate_shader"
    assert not any(isinstance(m, _Counting) for m in official_networks.modules())
    state = encoder.encode(make_sheet(1, seed=31))
    plain = FrameRenderer(official_networks, fast=False).render_tensor(state, make_target())
    _Counting.calls = 0
    out = fast.render_tensor(state, make_target())
    assert _Counting.calls > 0
    assert torch.equal(out, plain)


def test_real_winograd_layers_keep_the_frame_within_tolerance(
    official_networks, encoder, renderer, make_sheet, make_target
):
    fast = FrameRenderer(official_networks, fast=True)
    state = encoder.encode(make_sheet(2, seed=32))
    a = fast.render_tensor(state, make_target())
    b = renderer.render_tensor(state, make_target())
    assert (a - b).abs().max() <= 2e-3


def test_importing_the_infer_package_does_not_import_torch():
    code = (
        "import sys, avatar_app.infer as i; assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'FrameRenderer' in dir(i)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
