"""The backbones' InstanceNorm wrapper: its CPU fast path (group_norm) computes instance norm."""

import pytest
import torch
import torch.nn.functional as F

from avatar_app.models.backbones import InstanceNorm, reference_instance_norm


def _norm(channels=16, seed=0):
    torch.manual_seed(seed)
    norm = InstanceNorm(channels)
    with torch.no_grad():
        norm.norm.weight.uniform_(0.5, 2.0)
        norm.norm.bias.uniform_(-1.0, 1.0)
    return norm


def _reference(norm, x):
    n = norm.norm
    return F.instance_norm(x, weight=n.weight, bias=n.bias, eps=n.eps)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_forward_and_gradients_match_instance_norm(layout):
    norm = _norm()
    x = (torch.randn(3, 16, 24, 20) * 3 + 5).contiguous(memory_format=layout).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    out, ref = norm(x), _reference(norm, x_ref)
    assert (out - ref).abs().max() < 1e-5
    grad = torch.randn_like(out)
    (gx, gw, gb) = torch.autograd.grad(out, (x, norm.norm.weight, norm.norm.bias), grad)
    (rx, rw, rb) = torch.autograd.grad(ref, (x_ref, norm.norm.weight, norm.norm.bias), grad)
    assert (gx - rx).abs().max() < 1e-5
    assert (gw - rw).abs().max() < 1e-3 and (gb - rb).abs().max() < 1e-3  # sums over 3*24*20 terms


def test_statistics_are_per_sample_so_batching_views_changes_nothing():
    norm = _norm(8, seed=1)
    x = torch.randn(4, 8, 16, 16)
    together = norm(x)
    alone = torch.cat([norm(x[i : i + 1]) for i in range(4)])
    assert (together - alone).abs().max() < 1e-6


def test_onnx_export_keeps_instance_normalization_nodes(tmp_path):
    """TensorRT's graphs (stable_norm=False) rely on native InstanceNormalization nodes."""
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "norm.onnx"
    torch.onnx.export(_norm(4).eval(), (torch.rand(1, 4, 8, 8),), str(path), opset_version=18, dynamo=True)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "InstanceNormalization" in ops and "GroupNormalization" not in ops, ops


def test_reference_instance_norm_runs_the_plain_module_and_restores_the_fast_path(monkeypatch):
    calls = []
    norm = _norm(4)
    original = torch.nn.InstanceNorm2d.forward
    monkeypatch.setattr(torch.nn.InstanceNorm2d, "forward", lambda self, x: calls.append(1) or original(self, x))
    x = torch.randn(2, 4, 8, 8)
    norm(x)
    assert calls == []  # the CPU fast path
    with reference_instance_norm():
        inside = norm(x)
    assert calls == [1]
    norm(x)
    assert calls == [1]
    assert (inside - _reference(norm, x)).abs().max() < 1e-6
