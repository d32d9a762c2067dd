"""Which inference backends this machine can run, and the one way to open one.

``available_backends()`` lists ``(name, available, reason)``; nothing heavy is imported
unless asked for (``find_spec`` only), so start-up stays cheap. :func:`open_backend`
returns a :class:`~avatar_app.infer.backend.Backend` for loaded weights, from their
deployment folder (``deploy.py``: ONNX graphs exported on first use, TensorRT engines built
beforehand), or, without the weights, on graphs and engines that already exist
(:class:`GraphFolders`: what ``tools/export_onnx.py`` / ``tools/build_engine.py`` wrote).
``options.py`` turns the same facts into what the window offers.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from avatar_app.core.errors import SettingError
from avatar_app.infer.backend import PARTS, Backend, close_all

__all__ = [
    "BACKENDS",
    "NEEDS_CUDA",
    "NO_CUDA",
    "PRECISIONS",
    "GraphFolders",
    "available_backends",
    "backend_status",
    "check_precision",
    "cuda_available",
    "open_backend",
]

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnxruntime", "tensorrt")
# What each backend runs: torch mixes precisions itself; the exported graphs are fp32 (ONNX
# Runtime on CPU) or compiled as fp32/fp16 engines (TensorRT).
PRECISIONS = {"torch": ("fp32", "fp16", "bf16"), "onnxruntime": ("fp32",), "tensorrt": ("fp32", "fp16")}
NEEDS_CUDA = ("fp16",)  # torch's fp16 autocast is CUDA-only (bf16 runs on the CPU too)
NO_CUDA = "no CUDA GPU"


def check_precision(backend: str, precision: str) -> None:
    """Refuse a precision that ``backend`` would not run (rather than run another one silently)."""
    allowed = PRECISIONS.get(backend, ())
    if precision not in allowed:
        fix = "leave --precision out (fp32)" if backend == "onnxruntime" else f"use --precision {' or '.join(allowed)}"
        raise SettingError(
            "--precision",
            f"{' or '.join(allowed)} with --backend {backend}",
            precision,
            f"{fix}, or use --backend torch for {precision}",
        )


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (imports torch: call it off the UI thread)."""
    import torch

    return bool(torch.cuda.is_available())


def _check_name(name: str) -> None:
    if name not in BACKENDS:
        raise SettingError("backend", f"one of {', '.join(BACKENDS)}", repr(name), "pick a listed backend")


def backend_status(name: str, cuda: bool | None = None) -> tuple[bool, str]:
    """``(available, reason)``; the reason says what is missing, or what will be used.
    ``cuda``: whether there is a CUDA GPU, when the caller knows (None: ask torch)."""
    _check_name(name)
    if name == "torch":
        return True, "PyTorch (always available)"
    if name == "onnxruntime":
        if importlib.util.find_spec("onnxruntime") is None:
            return False, "ONNX Runtime not installed (pip install -e '.[deploy]')"
        return True, "onnxruntime importable"
    # tensorrt
    if importlib.util.find_spec("tensorrt") is None:
        return False, "TensorRT Python package not installed"
    if not (cuda_available() if cuda is None else cuda):
        return False, NO_CUDA
    return True, "TensorRT with a CUDA GPU"


def available_backends() -> list[tuple[str, bool, str]]:
    return [(name, *backend_status(name)) for name in BACKENDS]


def _require_installed(name: str) -> None:
    ok, reason = backend_status(name)
    if not ok:
        raise SettingError(
            "backend",
            f"an installed backend ({name} is not)",
            reason,
            "choose the torch backend, or install what is missing",
        )


@dataclass(frozen=True)
class GraphFolders:
    """Graphs exported (and engines built) beforehand into folders of one's choosing: the
    ``--out`` of ``tools/export_onnx.py`` (``onnx_dir``) and of ``tools/build_engine.py``
    (``engines_dir``). Passed as ``open_backend(..., deployment=)`` in place of a
    :class:`~avatar_app.infer.deploy.Deployment`, it opens them without the weights (the
    graphs carry them)."""

    preset: str
    onnx_dir: Path
    engines_dir: Path | None = None

    @property
    def trt_onnx_dir(self) -> Path:
        return Path(self.onnx_dir)


def _open_each(makers: dict) -> dict:
    """``{part: maker()}``; where one fails, the parts already opened are closed again."""
    opened = {}
    try:
        for part, make in makers.items():
            opened[part] = make()
    except BaseException:
        close_all(opened.values())
        raise
    return opened


def _ort_makers(paths: dict, *, cache=None, preset: str = "") -> dict:
    """ONNX Runtime parts on the graph files ``paths`` (``{part: .onnx}``)."""
    from avatar_app.infer.onnxruntime_backend import OrtFrameRenderer, OrtSheetEncoder, OrtUDPDetector

    make = {
        "sheet_encoder": lambda p: OrtSheetEncoder(p, cache=cache, preset=preset),
        "frame_renderer": OrtFrameRenderer,
        "udp_detector": OrtUDPDetector,
    }
    return {part: (lambda part=part, path=path: make[part](path)) for part, path in paths.items()}


def _trt_makers(where, parts, *, precision: str, device, cache=None, detector_fallback=None) -> dict:
    """TensorRT parts on the engines ``where`` = (graphs folder, engines folder, preset, size)
    says; the detector comes from ``detector_fallback()`` where its graph was never exported."""
    from avatar_app.infer.onnx_export import graph_path
    from avatar_app.infer.tensorrt_backend import TrtFrameRenderer, TrtSheetEncoder, TrtUDPDetector

    device = device if str(device).startswith("cuda") else "cuda"
    opts = {"precision": precision, "device": device}
    make = {
        "sheet_encoder": lambda: TrtSheetEncoder.from_dirs(*where, **opts, cache=cache),
        "frame_renderer": lambda: TrtFrameRenderer.from_dirs(*where, **opts, cuda_graphs=True),
        "udp_detector": lambda: TrtUDPDetector.from_dirs(*where, **opts),
    }
    onnx_dir, engines_dir, preset, size = where
    no_detector_graph = not graph_path(onnx_dir, "udp_detector", preset, size).is_file()
    if "udp_detector" in parts and detector_fallback is not None and no_detector_graph:
        log.info("no TensorRT engine for the UDP detector in %s: it runs on torch", engines_dir)
        make["udp_detector"] = detector_fallback
    return {part: make[part] for part in parts}


def _missing_graphs(name: str, graphs_dir, preset: str, size: int, parts, networks) -> list[str]:
    """The parts whose graph is not in ``graphs_dir`` and cannot be made here. With the weights
    ONNX Runtime exports what is missing and a torch detector stands in for TensorRT's."""
    from avatar_app.infer.onnx_export import graph_path

    def missing(part: str) -> bool:
        return not graph_path(graphs_dir, part, preset, size).is_file()

    if networks is None:
        return [p for p in parts if missing(p)]
    if name == "onnxruntime":
        return []  # exported on first use
    return [p for p in parts if p != "udp_detector" and missing(p)]


def open_backend(
    name: str,
    networks,
    size: int,
    *,
    device="cpu",
    precision: str = "fp32",
    fast: bool = True,
    cuda_graphs: bool = False,
    cache=None,
    deployment=None,
    parts=("sheet_encoder", "frame_renderer"),
    progress=None,
    cancelled=None,
) -> Backend:
    """The :class:`Backend` ``name`` for ``networks`` at ``size``, with ``parts`` (some of
    ``sheet_encoder``, ``frame_renderer``, ``udp_detector``) open. Close it when done.

    torch runs the networks. onnxruntime exports the graphs into the weights' deployment
    folder the first time (``progress(fraction, text)`` hears about it; ``cancelled``, an
    Event, stops it). tensorrt loads the engines ``tools/build_engine.py --weights`` (or the
    GUI's Build engine) made for this GPU and says how to build them when there are none;
    without a detector engine the detector runs on torch. ``deployment``: where the graphs and
    engines are (default: the weights' ``Deployment``); with ``networks=None`` they must exist
    already (a ``Deployment`` or :class:`GraphFolders`). ``cache``: a ``SheetCache`` for the
    encoded sheets. ``cuda_graphs``: the torch renderer's (TensorRT engines always replay CUDA
    graphs). Raises :class:`SettingError` saying what is missing.
    """
    _check_name(name)
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise SettingError(
            "backend parts",
            f"one or more of {', '.join(PARTS)}",
            ", ".join(map(repr, unknown)) or "none",
            "ask for listed parts only",
        )
    _require_installed(name)
    check_precision(name, precision)
    if name == "torch":
        if networks is None:
            raise SettingError(
                "torch backend", "loaded CoNR networks", "None", "load the weights first (models.load_weights_folder)"
            )
        from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder, UDPDetector

        make = {
            "sheet_encoder": lambda: SheetEncoder(networks, device, cache=cache),
            "frame_renderer": lambda: FrameRenderer(
                networks, device, fast=fast, precision=precision, cuda_graphs=cuda_graphs
            ),
            "udp_detector": lambda: UDPDetector(networks, device),
        }
        return Backend(name, precision, size, _open_each({p: make[p] for p in parts}))

    if deployment is None:
        if networks is None:
            raise SettingError(
                f"{name} backend",
                "loaded CoNR networks, or the folders of graphs exported from them",
                "neither",
                "load the weights, or pass deployment=GraphFolders(preset, graphs folder, engines folder)",
            )
        from avatar_app.infer.deploy import Deployment

        deployment = Deployment.of(networks)
    preset = networks.cfg.name if networks is not None else deployment.preset
    graphs_dir = deployment.onnx_dir if name == "onnxruntime" else deployment.trt_onnx_dir
    missing = _missing_graphs(name, graphs_dir, preset, size, parts, networks)
    if name == "onnxruntime":
        if missing:
            raise SettingError(
                "ONNX Runtime graphs",
                f"graphs for {preset} at {size}x{size} ({', '.join(missing)})",
                f"none in {graphs_dir}",
                f"export them: python tools/export_onnx.py --weights WEIGHTS --size {size} --out {graphs_dir}, "
                "or give the weights so they are exported on first use",
            )
        if networks is None:
            from avatar_app.infer.onnx_export import graph_path

            paths = {p: graph_path(graphs_dir, p, preset, size) for p in parts}
        else:
            from avatar_app.infer.deploy import ensure_graphs

            paths = ensure_graphs(networks, size, graphs_dir, parts, progress=progress, cancelled=cancelled)
        return Backend(name, precision, size, _open_each(_ort_makers(paths, cache=cache, preset=preset)))

    if missing:
        flag = " --fp16" if precision == "fp16" else ""
        raise SettingError(
            "TensorRT engines",
            f"engines for {preset} at {size}x{size} built on this GPU ({', '.join(missing)})",
            f"none in {deployment.engines_dir}",
            f"build them once (minutes): python tools/build_engine.py --weights WEIGHTS --size {size}{flag}, "
            "or Render > Build engine... in the GUI",
        )
    fallback = None
    if networks is not None:
        from avatar_app.infer.torch_backend import UDPDetector

        def fallback():
            return UDPDetector(networks, device)

    where = (graphs_dir, deployment.engines_dir or graphs_dir, preset, size)
    makers = _trt_makers(where, parts, precision=precision, device=device, cache=cache, detector_fallback=fallback)
    return Backend(name, precision, size, _open_each(makers))
