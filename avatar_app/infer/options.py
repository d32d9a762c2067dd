"""What the render settings can offer: each backend on each device, available or not with the reason.

Derived from the registry's facts, so the window offers exactly what ``open_backend``
runs: the backends and reasons of :func:`registry.backend_status`, the precisions of
:data:`registry.PRECISIONS` (fp16 only on a CUDA GPU). :func:`engine_builder` hands the
Build-engine action ``deploy.build_engines`` where TensorRT can run. Looking for CUDA imports
torch: make :func:`backend_options` off the UI thread. No Qt here (the window draws these).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from avatar_app.infer import registry

__all__ = ["BackendOption", "PrecisionOption", "backend_options", "engine_builder", "precision_options"]

CHECKING_CUDA = "checking for a CUDA GPU…"


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


def backend_options(cuda: bool | None = None, *, checking: bool = False) -> list[BackendOption]:
    """Every backend, available or not with the reason. ``checking``: a placeholder list to show
    while the real one (which imports torch to look for CUDA) is made off the UI thread."""
    cuda = registry.cuda_available() if cuda is None else cuda

    def status(name: str) -> tuple[bool, str]:
        ok, reason = registry.backend_status(name, cuda=cuda)
        return ok, "" if ok else (CHECKING_CUDA if checking and reason == registry.NO_CUDA else reason)

    no_cuda = "" if cuda else (CHECKING_CUDA if checking else registry.NO_CUDA)
    return [
        BackendOption("torch-cpu", "torch · CPU", *status("torch")),
        BackendOption("torch-cuda", "torch · CUDA", cuda, no_cuda, device="cuda"),
        BackendOption("onnxruntime", "ONNX Runtime", *status("onnxruntime"), backend="onnxruntime"),
        BackendOption("tensorrt", "TensorRT", *status("tensorrt"), backend="tensorrt", device="cuda"),
    ]


def _runs_on(precision: str) -> str:
    """The backends that take ``precision``, for the reason it is greyed out elsewhere."""
    names = {"torch": "torch", "onnxruntime": "ONNX Runtime", "tensorrt": "TensorRT"}
    return " or ".join(names[b] for b, allowed in registry.PRECISIONS.items() if precision in allowed)


def precision_options(backend: BackendOption | None) -> list[PrecisionOption]:
    """Every precision any backend runs; available where ``backend`` runs it (``registry.PRECISIONS``),
    on a CUDA GPU where it needs one (``registry.NEEDS_CUDA``)."""
    every = dict.fromkeys(p for allowed in registry.PRECISIONS.values() for p in allowed)
    out = []
    for precision in every:
        if backend is not None and precision not in registry.PRECISIONS[backend.backend]:
            out.append(PrecisionOption(precision, False, f"{precision} runs on {_runs_on(precision)}"))
        elif precision in registry.NEEDS_CUDA and (
            backend is None or backend.device != "cuda" or not backend.available
        ):
            out.append(PrecisionOption(precision, False, f"{precision} needs a CUDA GPU"))
        else:
            out.append(PrecisionOption(precision, True))
    return out


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
        weights = load_weights_folder(weights_folder)
        engines = build_engines(weights, size, precision, profile=profile, progress=progress, cancelled=cancelled)
        return f"{len(engines)} engines for {size}² {precision} in {next(iter(engines.values())).parent}"

    return build, ""
