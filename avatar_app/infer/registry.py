"""Which inference backends this machine can run, and how to get one.

``available_backends()`` lists ``(name, available, reason)``; nothing heavy is imported
unless asked for (``find_spec`` only), so start-up stays cheap. ``get_backend`` opens a
backend on given folders of graphs/engines; ``open_backend`` opens it for loaded weights,
from their deployment folder (``deploy.py``: ONNX graphs exported on first use, TensorRT
engines built beforehand).
"""

from __future__ import annotations

import importlib.util
import logging

from avatar_app.core.errors import SettingError

__all__ = ["BACKENDS", "PRECISIONS", "available_backends", "backend_status", "check_precision", "get_backend", "open_backend"]

log = logging.getLogger(__name__)

# What each backend runs: torch mixes precisions itself; the exported graphs are fp32 (ONNX
# Runtime on CPU) or compiled as fp32/fp16 engines (TensorRT).
PRECISIONS = {"torch": ("fp32", "fp16", "bf16"), "onnxruntime": ("fp32",), "tensorrt": ("fp32", "fp16")}


def check_precision(backend: str, precision: str) -> None:
    """Refuse a precision that ``backend`` would not run (rather than run another one silently)."""
    allowed = PRECISIONS.get(backend, ())
    if precision not in allowed:
        fix = "leave --precision out (fp32)" if backend == "onnxruntime" else f"use --precision {' or '.join(allowed)}"
        raise SettingError("--precision", f"{' or '.join(allowed)} with --backend {backend}", precision,
                           f"{fix}, or use --backend torch for {precision}")  # fmt: skip

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


def _require_installed(name: str) -> None:
    ok, reason = backend_status(name)
    if not ok:
        raise SettingError("backend", f"an installed backend ({name} is not)", reason, "choose the torch backend, or install what is missing")


def _ort_parts(paths: dict, *, cache=None, preset: str = "", intra_op_threads: int = 0) -> dict:
    """ONNX Runtime parts on the graph files ``paths`` (``{part: .onnx}``)."""
    from avatar_app.infer.onnxruntime_backend import OrtFrameRenderer, OrtSheetEncoder, OrtUDPDetector

    make = {"sheet_encoder": lambda p: OrtSheetEncoder(p, intra_op_threads, cache=cache, preset=preset),
            "frame_renderer": lambda p: OrtFrameRenderer(p, intra_op_threads),
            "udp_detector": lambda p: OrtUDPDetector(p, intra_op_threads)}  # fmt: skip
    return {part: make[part](path) for part, path in paths.items()}


def _trt_parts(onnx_dir, engines_dir, preset: str, size: int, parts, *, precision: str, device, detector_fallback=None) -> dict:
    """TensorRT parts on the engines in ``engines_dir`` built from ``onnx_dir``'s graphs; the
    detector comes from ``detector_fallback()`` where its graph was never exported."""
    from avatar_app.infer.onnx_export import graph_path
    from avatar_app.infer.tensorrt_backend import TrtFrameRenderer, TrtSheetEncoder, TrtUDPDetector

    device = device if str(device).startswith("cuda") else "cuda"
    where = (onnx_dir, engines_dir, preset, size)
    out = {}
    for part in parts:
        if part == "sheet_encoder":
            out[part] = TrtSheetEncoder.from_dirs(*where, precision=precision, device=device)
        elif part == "frame_renderer":
            out[part] = TrtFrameRenderer.from_dirs(*where, precision=precision, device=device, cuda_graphs=True)
        elif detector_fallback is None or graph_path(onnx_dir, part, preset, size).is_file():
            out[part] = TrtUDPDetector.from_dirs(*where, precision=precision, device=device)
        else:
            log.info("no TensorRT engine for the UDP detector in %s: it runs on torch", engines_dir)
            out[part] = detector_fallback()
    return out


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
    _require_installed(name)
    if name == "torch":
        if networks is None:
            raise SettingError("torch backend", "loaded CoNR networks", "None", "load the weights first")
        return open_backend("torch", networks, size, device=device, fast=fast)
    parts = ("sheet_encoder", "frame_renderer")
    if name == "onnxruntime":
        if engines_dir is None or not preset or not size:
            raise SettingError("onnxruntime backend", "engines_dir, preset and size of the exported graphs", f"{engines_dir!r}, {preset!r}, {size!r}", "run tools/export_onnx.py and pass its --out directory")
        from avatar_app.infer.onnx_export import graph_path

        return _ort_parts({p: graph_path(engines_dir, p, preset, size) for p in parts}, preset=preset, intra_op_threads=intra_op_threads)
    if engines_dir is None or not preset or not size:
        raise SettingError("tensorrt backend", "engines_dir, preset and size of the built engines", f"{engines_dir!r}, {preset!r}, {size!r}", "run tools/export_onnx.py and tools/build_engine.py, and pass their --out directories")
    return _trt_parts(onnx_dir or engines_dir, engines_dir, preset, size, parts, precision=precision, device=device)


def open_backend(
    name: str, networks, size: int, *, device="cpu", precision: str = "fp32", fast: bool = True, cuda_graphs: bool = False,
    cache=None, deployment=None, parts=("sheet_encoder", "frame_renderer"), progress=None, cancelled=None,
) -> dict:
    """``{part: object}`` of backend ``name`` for ``networks`` at ``size``; ``parts`` from
    ``sheet_encoder``, ``frame_renderer`` and ``udp_detector``.

    torch runs the networks. onnxruntime exports the graphs into the weights' deployment
    folder the first time (``progress(fraction, text)`` hears about it). tensorrt loads the
    engines ``tools/build_engine.py --weights`` (or the GUI's Build engine) made for this GPU
    and says how to build them when there are none; without a detector engine the detector
    runs on torch. ``cache``: a ``SheetCache`` for the encoded sheets. ``cuda_graphs``: the torch
    renderer's (TensorRT engines always replay CUDA graphs).
    """
    from avatar_app.infer.deploy import Deployment, ensure_graphs
    from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder, UDPDetector

    _require_installed(name)
    check_precision(name, precision)
    unknown = set(parts) - {"sheet_encoder", "frame_renderer", "udp_detector"}
    if unknown:
        raise ValueError(f"unknown backend parts {sorted(unknown)}")
    if name == "torch":
        make = {"sheet_encoder": lambda: SheetEncoder(networks, device, cache=cache),
                "frame_renderer": lambda: FrameRenderer(networks, device, fast=fast, precision=precision, cuda_graphs=cuda_graphs),
                "udp_detector": lambda: UDPDetector(networks, device)}  # fmt: skip
        return {part: make[part]() for part in parts}
    deployment = deployment or Deployment.of(networks)
    preset = networks.cfg.name
    if name == "onnxruntime":
        paths = ensure_graphs(networks, size, deployment.onnx_dir, parts, progress=progress, cancelled=cancelled)
        return _ort_parts(paths, cache=cache, preset=preset)
    from avatar_app.infer.onnx_export import graph_path

    needed = [p for p in parts if p != "udp_detector" and not graph_path(deployment.trt_onnx_dir, p, preset, size).is_file()]
    if needed:
        flag = " --fp16" if precision == "fp16" else ""
        raise SettingError(
            "TensorRT engines", f"engines for {preset} at {size}x{size} built on this GPU ({', '.join(needed)})", f"none in {deployment.engines_dir}",
            f"build them once (minutes): python tools/build_engine.py --weights WEIGHTS --size {size}{flag}, or Render > Build engine... in the GUI",
        )
    return _trt_parts(deployment.trt_onnx_dir, deployment.engines_dir, preset, size, parts, precision=precision, device=device,
                      detector_fallback=lambda: UDPDetector(networks, device))  # fmt: skip
