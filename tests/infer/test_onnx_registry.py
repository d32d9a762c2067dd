"""Backend registry: what this machine can run, and why not; open_backend's refusals."""

from __future__ import annotations

import importlib.util

import pytest

from avatar_app.core.errors import SettingError
from avatar_app.infer import registry
from avatar_app.infer.registry import BACKENDS, GraphFolders, available_backends, backend_status, open_backend

HAS_ORT = importlib.util.find_spec("onnxruntime") is not None
HAS_TRT = importlib.util.find_spec("tensorrt") is not None


def test_lists_every_backend_with_a_reason():
    rows = available_backends()
    assert [r[0] for r in rows] == list(BACKENDS)
    assert all(isinstance(ok, bool) and reason for _, ok, reason in rows)
    assert backend_status("torch") == (True, "PyTorch (always available)")


def test_onnxruntime_status_matches_what_is_installed():
    expected = (
        (True, "onnxruntime importable")
        if HAS_ORT
        else (False, "ONNX Runtime not installed (pip install -e '.[deploy]')")
    )
    assert backend_status("onnxruntime") == expected


def test_onnxruntime_missing_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    assert backend_status("onnxruntime") == (False, "ONNX Runtime not installed (pip install -e '.[deploy]')")
    with pytest.raises(SettingError, match=r"installed backend \(onnxruntime is not\).*pip install -e '\.\[deploy\]'"):
        open_backend("onnxruntime", None, 128)


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed here")
def test_tensorrt_unavailable_says_the_package_is_missing():
    ok, reason = backend_status("tensorrt")
    assert not ok and reason == "TensorRT Python package not installed"
    with pytest.raises(SettingError, match="TensorRT Python package not installed"):
        open_backend("tensorrt", None, 128)


def test_tensorrt_without_cuda_says_no_gpu(monkeypatch):
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(registry, "cuda_available", lambda: False)
    assert backend_status("tensorrt") == (False, "no CUDA GPU")
    assert backend_status("tensorrt", cuda=True) == (True, "TensorRT with a CUDA GPU")


def test_unknown_backends_parts_and_precisions_are_refused(lite_networks):
    with pytest.raises(SettingError, match="backend: expected one of torch, onnxruntime, tensorrt, found 'openvino'"):
        backend_status("openvino")
    with pytest.raises(SettingError, match="backend: expected one of torch, onnxruntime, tensorrt, found 'openvino'"):
        open_backend("openvino", lite_networks, 128)
    with pytest.raises(
        SettingError,
        match=r"backend parts: expected one or more of sheet_encoder, frame_renderer, udp_detector, found 'shader'",
    ):
        open_backend("torch", lite_networks, 128, parts=("sheet_encoder", "shader"))
    with pytest.raises(SettingError, match=r"backend parts: .*found none"):
        open_backend("torch", lite_networks, 128, parts=())
    with pytest.raises(
        SettingError, match=r"--precision: expected fp32 or fp16 or bf16 with --backend torch, found int8"
    ):
        open_backend("torch", lite_networks, 128, precision="int8")


def test_without_networks_torch_and_missing_graphs_are_refused_with_the_fix(tmp_path):
    with pytest.raises(SettingError, match=r"torch backend: expected loaded CoNR networks.*load the weights first"):
        open_backend("torch", None, 128)
    if not HAS_ORT:
        pytest.skip("onnxruntime not installed")
    with pytest.raises(
        SettingError, match=r"onnxruntime backend: expected loaded CoNR networks, or the folders.*GraphFolders"
    ):
        open_backend("onnxruntime", None, 128)
    with pytest.raises(
        SettingError,
        match=r"ONNX Runtime graphs: expected graphs for lite at 128x128 \(sheet_encoder, frame_renderer\), "
        r"found none in .*Fix: export them: python tools/export_onnx.py",
    ):
        open_backend("onnxruntime", None, 128, deployment=GraphFolders("lite", tmp_path))


def test_tensorrt_without_networks_needs_every_engine_even_the_detectors(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "backend_status", lambda name: (True, "pretend TensorRT and a GPU are here"))
    with pytest.raises(
        SettingError, match=r"TensorRT engines: expected engines for lite at 128x128 built on this GPU \(udp_detector\)"
    ):
        open_backend(
            "tensorrt", None, 128, deployment=GraphFolders("lite", tmp_path, tmp_path), parts=("udp_detector",)
        )
