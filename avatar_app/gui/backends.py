"""What the render settings can offer: each inference backend as available, or not with the reason.

Only the torch backend exists today (``avatar_app.infer``); ONNX Runtime and TensorRT come
with their own issue. `backend_options` is the one place that decides, so it can later be
pointed at the infer package's registry (``available_backends()`` in DESIGN.md §3)
without touching the widgets. Checking CUDA imports torch: call it off the UI thread.
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
    ort_reason = "ONNX Runtime not installed (pip install -e '.[deploy]')" if not _has_module("onnxruntime") else "not built yet"
    options.append(BackendOption("onnxruntime", "ONNX Runtime", False, ort_reason, backend="onnxruntime"))
    if not _has_module("tensorrt"):
        trt_reason = "TensorRT not installed"
    elif not cuda:
        trt_reason = no_cuda
    else:
        trt_reason = "not built yet"
    options.append(BackendOption("tensorrt", "TensorRT", False, trt_reason, backend="tensorrt", device="cuda"))
    return options


def precision_options(backend: BackendOption | None) -> list[PrecisionOption]:
    """fp32 everywhere; fp16 (convolutions in fp16, warps and norms in fp32) with torch on CUDA."""
    if backend is not None and backend.device == "cuda" and backend.backend == "torch" and backend.available:
        return [PrecisionOption("fp32", True), PrecisionOption("fp16", True)]
    fp16_reason = "fp16 needs a CUDA GPU" if backend is None or backend.device != "cuda" else "fp16 runs on the torch · CUDA backend"
    return [PrecisionOption("fp32", True), PrecisionOption("fp16", False, fp16_reason)]


def engine_builder(options: list[BackendOption]) -> tuple[Callable | None, str]:
    """(builder, reason): an engine builder, called off the UI thread as
    ``builder(size=, views=, precision=, progress=report(fraction, text), cancelled=Event)``.

    None with the reason while TensorRT or a CUDA GPU is missing, or the builder is not
    written yet; the Build-engine action shows the reason instead of failing.
    """
    trt = next((o for o in options if o.key == "tensorrt"), None)
    if trt is None or not trt.available:
        return None, f"needs TensorRT and a CUDA GPU: {trt.reason if trt else 'no TensorRT backend'}"
    return None, "the TensorRT engine builder is not built yet"
