"""Exported graphs and TensorRT engines for a set of weights, made on demand (DESIGN.md §5).

The ONNX graphs carry their weights, so they are kept per set of weights, under the
checkout's ``engines/`` (DESIGN.md §2; ``~/.cache/avatar_app/deploy`` for an installed
package; ``AVATAR_APP_DEPLOY`` moves it):

    engines/<preset>-<weights hash>/
        onnx/       graphs for ONNX Runtime (InstanceNorm spelt out, see onnx_export.py)
        onnx-trt/   graphs for TensorRT (native InstanceNormalization nodes)
        engines/    TensorRT engines + sidecars (engine_cache.py), timing.cache

:func:`ensure_graphs` exports what is missing (about a minute for ``lite`` at 256² on two
cores); :func:`build_engines` exports the TensorRT graphs and builds an engine for each
(minutes). ``tools/export_onnx.py`` and ``tools/build_engine.py`` are the command-line
faces; the GUI's "Build engine…" and ``--backend onnxruntime`` use the same functions.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avatar_app.core.errors import AvatarAppError
from avatar_app.infer.engine_cache import DEFAULT_PROFILE, EngineSpec, engine_paths, lookup, write_sidecar

__all__ = [
    "DEPLOY_ENV",
    "RENDER_GRAPHS",
    "Deployment",
    "deploy_root",
    "ensure_graphs",
    "export_notes",
    "missing_requirements",
    "INSTALL_HINT",
    "build_engine",
    "build_engines",
    "BuildCancelled",
]

log = logging.getLogger(__name__)

DEPLOY_ENV = "AVATAR_APP_DEPLOY"
RENDER_GRAPHS = ("sheet_encoder", "frame_renderer")  # what rendering needs; the detector is optional
INSTALL_HINT = (
    "install TensorRT on a machine with an NVIDIA CUDA GPU and driver: `pip install tensorrt` "
    "(or `pip install -e '.[gpu]'`); meanwhile use --backend torch or onnxruntime"
)
KEEP_FP32 = ("InstanceNormalization", "GridSample")

Progress = Callable[[float, str], None]


def export_notes(say: Callable[[str], None]) -> Progress:
    """A ``Progress`` for the one-off graph export that tells ``say`` each step as a line for people
    (nothing once it is done): the CLI prints the lines, the window shows them as its phase."""

    def progress(fraction: float, text: str) -> None:
        if fraction < 1.0:
            say(f"{text} (once per weights and size)")

    return progress


class BuildCancelled(AvatarAppError):
    """The user cancelled an export or engine build."""


_CHECKOUT = Path(__file__).resolve().parents[2]


def deploy_root() -> Path:
    """``$AVATAR_APP_DEPLOY``, else the checkout's ``engines/``, else ``~/.cache/avatar_app/deploy``."""
    if os.environ.get(DEPLOY_ENV):
        return Path(os.environ[DEPLOY_ENV]).expanduser()
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "engines").is_dir():
        return _CHECKOUT / "engines"
    return Path.home() / ".cache" / "avatar_app" / "deploy"


@dataclass(frozen=True)
class Deployment:
    """The folders of one set of weights' graphs and engines."""

    folder: Path
    preset: str

    @classmethod
    def of(cls, networks, root=None) -> Deployment:
        """The folder under ``root`` (default :func:`deploy_root`) named by the preset and a hash
        of every weight (the graphs bake the weights in)."""
        from avatar_app.models.checkpoint import weights_fingerprint

        root = Path(root) if root is not None else deploy_root()
        return cls(root / f"{networks.cfg.name}-{weights_fingerprint(networks)[:16]}", networks.cfg.name)

    @property
    def onnx_dir(self) -> Path:
        return self.folder / "onnx"

    @property
    def trt_onnx_dir(self) -> Path:
        return self.folder / "onnx-trt"

    @property
    def engines_dir(self) -> Path:
        return self.folder / "engines"


_export_lock = threading.Lock()  # one export at a time per process (torch.onnx.export is not reentrant)


def ensure_graphs(
    networks,
    size: int,
    out_dir,
    graphs=RENDER_GRAPHS,
    *,
    stable_norm: bool = True,
    progress: Progress | None = None,
    cancelled: threading.Event | None = None,
) -> dict[str, Path]:
    """``{graph: path}`` of ``networks``' graphs at ``size`` in ``out_dir``, exporting the missing ones.

    Graphs are exported into a private folder beside and moved in when complete, so an
    interrupted export is redone next time rather than loaded half-written.
    """
    from avatar_app.infer.onnx_export import export_all, graph_path

    out_dir = Path(out_dir)
    paths = {g: graph_path(out_dir, g, networks.cfg.name, size) for g in graphs}
    todo = [g for g, p in paths.items() if not p.is_file()]
    if not todo:
        return paths

    def before_each(i: int, graph: str) -> None:
        if cancelled is not None and cancelled.is_set():
            raise BuildCancelled(f"export of {graph} cancelled")
        if progress:
            progress(i / len(todo), f"exporting {graph} ({i + 1}/{len(todo)}) to ONNX…")

    out_dir.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=out_dir))
    try:
        with _export_lock:
            t0 = time.perf_counter()
            done = export_all(networks, size, partial, graphs=todo, stable_norm=stable_norm, before_each=before_each)
        for graph, path in done.items():
            os.replace(path, paths[graph])
        log.info(
            "exported %s for %s@%d in %.0f s into %s",
            ", ".join(todo),
            networks.cfg.name,
            size,
            time.perf_counter() - t0,
            out_dir,
        )
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    if progress:
        progress(1.0, "graphs exported")
    return paths


# ---- TensorRT engines --------------------------------------------------------------------


def missing_requirements(fp16: bool = False) -> list[str]:
    """What this machine lacks to build an engine (empty: nothing)."""
    missing = []
    if fp16 and importlib.util.find_spec("onnxconverter_common") is None:
        missing.append("onnxconverter-common not installed (needed for --fp16: pip install onnxconverter-common)")
    if importlib.util.find_spec("tensorrt") is None:
        missing.append("TensorRT Python package not installed")
    try:
        import torch

        if not torch.cuda.is_available():
            missing.append("no CUDA GPU (torch.cuda.is_available() is False)")
    except ImportError:
        missing.append("PyTorch not installed (needed to query the GPU)")
    return missing


def to_fp16_onnx(src: Path, dst: Path) -> Path:
    """FP16 in the graph itself, InstanceNorm and GridSample kept in FP32 (inputs/outputs stay FP32)."""
    import onnx
    from onnxconverter_common import float16  # pip install onnxconverter-common

    model = onnx.load(str(src))
    model = float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=list(KEEP_FP32))
    onnx.save(model, str(dst))
    return dst


def _progress_monitor(trt, progress: Progress | None, cancelled: threading.Event | None, span=(0.0, 1.0)):
    """TensorRT's IProgressMonitor: logs phases, reports the top phase's steps, cancels on request."""
    base = trt.IProgressMonitor
    lo, hi = span

    class Monitor(base):
        def __init__(self):
            base.__init__(self)
            self.top: str | None = None
            self.steps = 1

        def phase_start(self, parent, name, steps):
            log.info("phase %s (%d steps)", name, steps)
            if parent is None and self.top is None:
                self.top, self.steps = name, max(int(steps), 1)

        def step_complete(self, name, step):
            log.debug("  %s step %d", name, step)
            if progress and name == self.top:
                progress(lo + (hi - lo) * (step + 1) / self.steps, f"TensorRT: {name} {step + 1}/{self.steps}")
            return not (cancelled is not None and cancelled.is_set())  # False cancels the build

        def phase_finish(self, name):
            log.info("phase %s done", name)
            if name == self.top:
                self.top = None

    return Monitor()


def build_engine(
    onnx_path,
    out_dir,
    fp16: bool,
    profile: dict | None = None,
    timing_cache=None,
    force: bool = False,
    *,
    progress: Progress | None = None,
    cancelled: threading.Event | None = None,
    span=(0.0, 1.0),
) -> Path:
    """One engine for ``onnx_path`` on this GPU, reused when the cache says it still fits.

    Strongly typed network (TensorRT 11 removed BuilderFlag.FP16: FP16 comes from the ONNX
    graph, converted here with InstanceNorm and GridSample kept in FP32), one optimisation
    profile over the view count, a timing cache beside the engines.
    """
    import tensorrt as trt
    import torch

    onnx_path, out_dir = Path(onnx_path), Path(out_dir)
    profile = dict(profile or DEFAULT_PROFILE)
    timing_cache = Path(timing_cache) if timing_cache is not None else out_dir / "timing.cache"
    major, minor = torch.cuda.get_device_capability()
    precision = "fp16" if fp16 else "fp32"
    spec = EngineSpec.for_onnx(onnx_path, precision, trt.__version__, f"{major}.{minor}", profile)
    engine_path, reasons = lookup(out_dir, spec)
    if not reasons and not force:
        log.info("engine up to date: %s", engine_path)
        return engine_path
    log.info("building %s because: %s", engine_path.name, "; ".join(reasons) or "--force")

    out_dir.mkdir(parents=True, exist_ok=True)
    source = to_fp16_onnx(onnx_path, out_dir / (onnx_path.stem + ".fp16.onnx")) if fp16 else onnx_path
    logger = trt.Logger(trt.Logger.INFO)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(source)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"ONNX parser failed on {source}: {errors}")

    config = builder.create_builder_config()
    config.progress_monitor = _progress_monitor(trt, progress, cancelled, span)
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    opt = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = list(tensor.shape)
        if shape[0] == -1:  # the view dimension
            opt.set_shape(tensor.name, *([profile[k]] + shape[1:] for k in ("min", "opt", "max")))
    config.add_optimization_profile(opt)
    log.info(
        "network: %d layers, %d inputs, precision %s, profile %s",
        network.num_layers,
        network.num_inputs,
        precision,
        profile,
    )

    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        if cancelled is not None and cancelled.is_set():
            raise BuildCancelled(f"engine build for {onnx_path.name} cancelled")
        raise RuntimeError("TensorRT build failed (see the log above)")
    seconds = time.perf_counter() - t0
    engine_path.write_bytes(bytes(serialized))
    timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    write_sidecar(engine_paths(out_dir, spec)[1], spec, build_seconds=round(seconds, 1), onnx=str(onnx_path))
    log.info("built %s in %.1f s", engine_path, seconds)
    return engine_path


def build_engines(
    networks,
    size: int,
    precision: str = "fp16",
    *,
    deployment: Deployment | None = None,
    graphs=("sheet_encoder", "frame_renderer", "udp_detector"),
    profile: dict | None = None,
    force: bool = False,
    progress: Progress | None = None,
    cancelled: threading.Event | None = None,
    timing_cache=None,
) -> dict[str, Path]:
    """Export ``networks``' TensorRT graphs at ``size`` and build an engine for each: ``{graph: engine}``.

    ``timing_cache``: a file the builds share (default: ``timing.cache`` beside the engines).

    Raises :class:`~avatar_app.core.errors.SettingError` saying what is missing when this
    machine has no TensorRT or CUDA GPU.
    """
    from avatar_app.core.errors import SettingError

    missing = missing_requirements(precision == "fp16")
    if missing:
        raise SettingError("TensorRT engine build", "TensorRT and a CUDA GPU", "; ".join(missing), INSTALL_HINT)
    deployment = deployment or Deployment.of(networks)
    n = len(graphs)

    export_progress = (lambda f, text: progress(f / (n + 1), text)) if progress else None
    onnx = ensure_graphs(
        networks,
        size,
        deployment.trt_onnx_dir,
        graphs,
        stable_norm=False,
        progress=export_progress,
        cancelled=cancelled,
    )
    engines = {}
    for i, graph in enumerate(graphs, start=1):
        if progress:
            progress(i / (n + 1), f"building the {graph} engine ({i}/{n})…")
        engines[graph] = build_engine(
            onnx[graph],
            deployment.engines_dir,
            precision == "fp16",
            profile,
            timing_cache,
            force=force,
            progress=progress,
            cancelled=cancelled,
            span=(i / (n + 1), (i + 1) / (n + 1)),
        )
    if progress:
        progress(1.0, f"{n} engine(s) ready in {deployment.engines_dir}")
    return engines
