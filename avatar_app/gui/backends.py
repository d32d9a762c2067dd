"""What the render settings can offer: each inference backend as available, or not with the reason.

`backend_options` is the one place that decides (what is installed, whether there is a CUDA
GPU); `engine_builder` hands the Build-engine action ``infer.deploy.build_engines`` where
TensorRT can run. Checking CUDA imports torch: call it off the UI thread.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class BackendOption:
    key: str  # what the settings file stores
    label: str
    available: bool
    reason: str = ""  # why not, when not available
    backend: str = "torch"  # the backend family (the CLI's --backend)
    device: str = "cpu"


@dataclass(frozen=True)
class PrecisionOption:
    key: str
    available: bool
    reason: str = ""


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def backend_options(cuda: bool | None = None, *, checking: bool = False) -> list[BackendOption]:
    """Every backend, available or not with the reason. ``checking``: a placeholder list to show
    while the real one (which imports torch to look for CUDA) is made off the UI thread."""
    cuda = cuda_available() if cuda is None else cuda
    no_cuda = "checking for a CUDA GPU…" if checking else "no CUDA GPU"
    options = [
        BackendOption("torch-cpu", "torch · CPU", True),
        BackendOption("torch-cuda", "torch · CUDA", cuda, "" if cuda else no_cuda, device="cuda"),
    ]
    ort = _has_module("onnxruntime")
    options.append(BackendOption("onnxruntime", "ONNX Runtime", ort, "" if ort else "ONNX Runtime not installed (pip install -e '.[deploy]')",
                                 backend="onnxruntime"))  # fmt: skip
    trt = _has_module("tensorrt")
    trt_reason = "TensorRT not installed" if not trt else ("" if cuda else no_cuda)
    options.append(BackendOption("tensorrt", "TensorRT", trt and cuda, trt_reason, backend="tensorrt", device="cuda"))
    return options


def precision_options(backend: BackendOption | None) -> list[PrecisionOption]:
    """fp32 everywhere; fp16 (convolutions in fp16, warps and norms in fp32) with torch or TensorRT on CUDA."""
    if backend is not None and backend.device == "cuda" and backend.backend in ("torch", "tensorrt") and backend.available:
        return [PrecisionOption("fp32", True), PrecisionOption("fp16", True)]
    fp16_reason = "fp16 needs a CUDA GPU" if backend is None or backend.device != "cuda" else "fp16 runs on torch · CUDA or TensorRT"
    return [PrecisionOption("fp32", True), PrecisionOption("fp16", False, fp16_reason)]


def engine_builder(options: list[BackendOption], weights_folder=None) -> tuple[Callable | None, str]:
    """(builder, reason): an engine builder, called off the UI thread as
    ``builder(size=, views=, precision=, progress=report(fraction, text), cancelled=Event)``.

    It exports the weights' three graphs and builds a TensorRT engine for each
    (``infer.deploy.build_engines``; minutes). None with the reason while TensorRT, a CUDA
    GPU or trained weights are missing; the Build-engine action shows the reason instead.
    """
    trt = next((o for o in options if o.key == "tensorrt"), None)
    if trt is None or not trt.available:
        return None, f"needs TensorRT and a CUDA GPU: {trt.reason if trt else 'no TensorRT backend'}"
    if weights_folder is None:
        return None, "needs trained CoNR weights to build engines from"

    def build(*, size: int, views: int | None, precision: str, progress, cancelled) -> str:
        from avatar_app.infer.deploy import build_engines
        from avatar_app.models import load_weights_folder

        progress(0.0, f"loading the weights from {weights_folder}…")
        profile = {"min": 1, "opt": max(1, min(views or 4, 8)), "max": 8}
        engines = build_engines(load_weights_folder(weights_folder), size, precision, profile=profile, progress=progress, cancelled=cancelled)
        return f"{len(engines)} engines for {size}² {precision} in {next(iter(engines.values())).parent}"

    return build, ""
