"""Backend registry: what this machine can run, and why not."""

from __future__ import annotations

import importlib.util

import pytest

from avatar_app.core.errors import SettingError
from avatar_app.infer.registry import BACKENDS, available_backends, backend_status, get_backend


def test_lists_every_backend_with_a_reason():
    rows = available_backends()
    assert [r[0] for r in rows] == list(BACKENDS)
    assert all(isinstance(ok, bool) and reason for _, ok, reason in rows)
    assert backend_status("torch")[0] is True


def test_onnxruntime_available_when_importable():
    assert backend_status("onnxruntime")[0] is (importlib.util.find_spec("onnxruntime") is not None)


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed here")
def test_tensorrt_unavailable_says_the_package_is_missing():
    ok, reason = backend_status("tensorrt")
    assert not ok and reason == "TensorRT Python package not installed"
    with pytest.raises(SettingError, match="TensorRT Python package not installed"):
        get_backend("tensorrt")


def test_tensorrt_without_cuda_says_no_gpu(monkeypatch):
    import avatar_app.infer.registry as registry

    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(registry, "_cuda_available", lambda: False)
    assert backend_status("tensorrt") == (False, "no CUDA GPU")


def test_unknown_backend_and_missing_arguments_are_refused():
    with pytest.raises(SettingError, match="backend"):
        backend_status("openvino")
    with pytest.raises(SettingError, match="export_onnx"):
        get_backend("onnxruntime")
    with pytest.raises(SettingError, match="weights"):
        get_backend("torch")
