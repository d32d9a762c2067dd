"""What the window offers (infer/options.py): the registry's backends, reasons and precisions, no Qt."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from avatar_app.core.errors import SettingError
from avatar_app.infer import registry
from avatar_app.infer.options import BackendOption, backend_options, engine_builder, precision_options


def _precisions(option) -> dict:
    return {p.key: p for p in precision_options(option)}


def test_every_backend_is_offered_with_the_registrys_reason():
    offered = {o.key: o for o in backend_options(cuda=False)}
    assert list(offered) == ["torch-cpu", "torch-cuda", "onnxruntime", "tensorrt"]
    assert offered["torch-cpu"].available and offered["torch-cpu"].reason == ""
    assert (offered["torch-cuda"].available, offered["torch-cuda"].reason) == (False, "no CUDA GPU")
    for key in ("onnxruntime", "tensorrt"):
        ok, reason = registry.backend_status(key, cuda=False)
        assert (offered[key].available, offered[key].reason) == (ok, "" if ok else reason), key
    has_ort = importlib.util.find_spec("onnxruntime") is not None
    assert offered["onnxruntime"].available is has_ort
    if importlib.util.find_spec("tensorrt") is None:
        assert offered["tensorrt"].reason == "TensorRT Python package not installed"


def test_the_placeholder_list_says_it_is_still_checking_for_cuda(monkeypatch):
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: object())  # as if TensorRT were installed
    offered = {o.key: o for o in backend_options(cuda=False, checking=True)}
    assert offered["torch-cuda"].reason == offered["tensorrt"].reason == "checking for a CUDA GPU…"
    assert not offered["tensorrt"].available


@pytest.mark.parametrize("cuda", [True, False])
def test_each_backend_offers_exactly_the_precisions_open_backend_accepts(cuda):
    for option in (o for o in backend_options(cuda=cuda) if o.available):
        for key, offer in _precisions(option).items():
            try:
                registry.check_precision(option.backend, key)
                accepted = not (key in registry.NEEDS_CUDA and option.device != "cuda")
            except SettingError:
                accepted = False
            assert offer.available is accepted, (option.key, key, offer)
            assert offer.available or offer.reason


def test_bf16_is_offered_with_torch_on_cpu_and_cuda_fp16_on_cuda_only():
    offered = {o.key: o for o in backend_options(cuda=True)}
    assert {k: p.available for k, p in _precisions(offered["torch-cuda"]).items()} == {
        "fp32": True,
        "fp16": True,
        "bf16": True,
    }
    cpu = _precisions(offered["torch-cpu"])
    assert cpu["bf16"].available and not cpu["fp16"].available and cpu["fp16"].reason == "fp16 needs a CUDA GPU"
    ort = _precisions(offered["onnxruntime"])
    assert (
        ort["fp32"].available
        and ort["bf16"].reason == "bf16 runs on torch"
        and ort["fp16"].reason == "fp16 runs on torch or TensorRT"
    )
    trt = _precisions(BackendOption("tensorrt", "TensorRT", True, backend="tensorrt", device="cuda"))
    assert {k: p.available for k, p in trt.items()} == {"fp32": True, "fp16": True, "bf16": False}
    no_gpu = {o.key: o for o in backend_options(cuda=False)}
    assert not _precisions(no_gpu["torch-cuda"])["fp16"].available


def test_engine_builder_builds_the_weights_engines_where_tensorrt_runs(monkeypatch, tmp_path):
    from avatar_app.infer import deploy

    no_trt = [BackendOption("tensorrt", "TensorRT", False, "no CUDA GPU", backend="tensorrt", device="cuda")]
    assert engine_builder(no_trt, "assets/weights/lite") == (None, "needs TensorRT and a CUDA GPU: no CUDA GPU")
    trt_here = [BackendOption("tensorrt", "TensorRT", True, backend="tensorrt", device="cuda")]
    assert engine_builder(trt_here, None) == (None, "needs trained CoNR weights to build engines from")
    calls = []

    def fake_build_engines(networks, size, precision, *, profile, progress, cancelled):
        calls.append((networks.cfg.name, size, precision, profile))
        progress(0.5, "TensorRT: Building engine 1/2")
        return {g: tmp_path / f"{g}.engine" for g in ("sheet_encoder", "frame_renderer", "udp_detector")}

    monkeypatch.setattr(deploy, "build_engines", fake_build_engines)
    builder, reason = engine_builder(trt_here, "assets/weights/lite")
    reports = []
    result = builder(size=256, views=2, precision="fp16", progress=lambda f, t: reports.append(t), cancelled=None)
    assert reason == "" and calls == [("lite", 256, "fp16", {"min": 1, "opt": 2, "max": 8})]
    assert result == f"3 engines for 256² fp16 in {tmp_path}" and "loading the weights" in reports[0]


def test_the_options_and_the_registry_import_no_qt():
    code = (
        "import sys, avatar_app.infer.options; sys.exit(any(m.split('.')[0].startswith('PyQt') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=120).returncode == 0, (
        "Qt belongs to avatar_app/gui only"
    )
