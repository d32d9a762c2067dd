"""Which inference backends this machine can run, and how to get one.

``available_backends()`` lists ``(name, available, reason)``; nothing heavy is imported
unless asked for (``find_spec`` only), so start-up stays cheap.
"""

from __future__ import annotations

import importlib.util
import logging

from avatar_app.core.errors import SettingError

__all__ = ["BACKENDS", "available_backends", "backend_status", "get_backend"]

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnxruntime", "tensorrt")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def backend_status(name: str) -> tuple[bool, str]:
    """``(available, reason)``; the reason says what is missing, or what will be used."""
    if name == "torch":
        return True, "PyTorch (always available)"
    if name == "onnxruntime":
        if importlib.util.find_spec("onnxruntime") is None:
            return False, "onnxruntime not installed (pip install onnxruntime)"
        return True, "onnxruntime importable"
    if name == "tensorrt":
        if importlib.util.find_spec("tensorrt") is None:
            return False, "TensorRT Python package not installed"
        if not _cuda_available():
            return False, "no CUDA GPU"
        return True, "TensorRT with a CUDA GPU"
    raise SettingError("backend", f"one of {', '.join(BACKENDS)}", repr(name), "pick a listed backend")


def available_backends() -> list[tuple[str, bool, str]]:
    return [(name, *backend_status(name)) for name in BACKENDS]


def get_backend(
    name: str, networks=None, *, engines_dir=None, onnx_dir=None, preset: str = "", size: int = 0, device="cpu",
    intra_op_threads: int = 0, fast: bool = True, precision: str = "fp16",
) -> dict:
    """``{"sheet_encoder": ..., "frame_renderer": ...}`` for backend ``name``.

    torch needs ``networks``; onnxruntime needs ``engines_dir``, ``preset`` and ``size`` (the
    exported graphs); tensorrt needs the same, with the built engines in ``engines_dir`` and
    the graphs they were built from in ``onnx_dir`` (default: ``engines_dir``). Raises
    :class:`SettingError` naming what is missing.
    """
    ok, reason = backend_status(name)
    if not ok:
        raise SettingError("backend", f"an installed backend ({name} is not)", reason, "choose --backend torch, or install what is missing")
    if name == "torch":
        if networks is None:
            raise SettingError("torch backend", "loaded CoNR networks", "None", "load the weights first")
        from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder

        return {"sheet_encoder": SheetEncoder(networks, device), "frame_renderer": FrameRenderer(networks, device, fast=fast)}
    if name == "onnxruntime":
        if engines_dir is None or not preset or not size:
            raise SettingError("onnxruntime backend", "engines_dir, preset and size of the exported graphs", f"{engines_dir!r}, {preset!r}, {size!r}", "run tools/export_onnx.py and pass its --out directory")
        from avatar_app.infer.onnxruntime_backend import OrtFrameRenderer, OrtSheetEncoder

        return {
            "sheet_encoder": OrtSheetEncoder.from_dir(engines_dir, preset, size, intra_op_threads),
            "frame_renderer": OrtFrameRenderer.from_dir(engines_dir, preset, size, intra_op_threads),
        }
    if engines_dir is None or not preset or not size:
        raise SettingError("tensorrt backend", "engines_dir, preset and size of the built engines", f"{engines_dir!r}, {preset!r}, {size!r}", "run tools/export_onnx.py and tools/build_engine.py, and pass their --out directories")
    from avatar_app.infer.tensorrt_backend import TrtFrameRenderer, TrtSheetEncoder

    device = device if str(device).startswith("cuda") else "cuda"
    where = (onnx_dir or engines_dir, engines_dir, preset, size)
    return {
        "sheet_encoder": TrtSheetEncoder.from_dirs(*where, precision=precision, device=device),
        "frame_renderer": TrtFrameRenderer.from_dirs(*where, precision=precision, device=device, cuda_graphs=True),
    }
