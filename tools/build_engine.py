#!/usr/bin/env python3
"""Build a TensorRT engine from an exported ONNX graph (TensorRT 10/11 Python API).

    python tools/export_onnx.py --weights DIR --preset official --size 256 --native-instance-norm --out engines/
    python tools/build_engine.py engines/frame_renderer_official_256.onnx [--fp16] [--out engines/]

(``--native-instance-norm`` keeps InstanceNormalization nodes, which TensorRT maps to its
normalisation layer and which the FP16 conversion keeps in FP32 by op type; the default
export spells the norm out for ONNX Runtime's accuracy.)

Strongly typed network from the ONNX parser (TRT 11 removed BuilderFlag.FP16: FP16 must
come from the ONNX graph; ``--fp16`` converts the graph first, keeping InstanceNorm and
GridSample in FP32). Optimisation profile over the view count: min 1 / opt 4 / max 8.
A timing cache file speeds up rebuilds. Engines are cached by ``engine_cache`` (ONNX hash +
profile + precision + TensorRT version + compute capability); a stale one is rebuilt and
the log says why. Without TensorRT or a CUDA GPU: exit code 2 and what to install.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar_app.infer.engine_cache import DEFAULT_PROFILE, EngineSpec, engine_paths, lookup, write_sidecar  # noqa: E402

log = logging.getLogger("build_engine")

EXIT_MISSING = 2
INSTALL_HINT = (
    "TensorRT engines need an NVIDIA CUDA GPU with its driver and the TensorRT Python package: "
    "`pip install tensorrt` (on a machine with a CUDA GPU and driver). Meanwhile use --backend onnxruntime or torch."
)
KEEP_FP32 = ("InstanceNormalization", "GridSample")


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


class _LayerProgress:
    """Per-layer/phase progress log, hooked in as TensorRT's IProgressMonitor."""

    def __init__(self, trt):
        base = trt.IProgressMonitor

        class Monitor(base):
            def __init__(self):
                base.__init__(self)

            def phase_start(self, parent, name, steps):
                log.info("phase %s (%d steps)", name, steps)

            def step_complete(self, name, step):
                log.debug("  %s step %d", name, step)
                return True  # False would cancel the build

            def phase_finish(self, name):
                log.info("phase %s done", name)

        self.monitor = Monitor()


def build(onnx_path: Path, out_dir: Path, fp16: bool, profile: dict, timing_cache: Path, force: bool) -> Path:
    import tensorrt as trt
    import torch

    major, minor = torch.cuda.get_device_capability()
    precision = "fp16" if fp16 else "fp32"
    spec = EngineSpec.for_onnx(onnx_path, precision, trt.__version__, f"{major}.{minor}", profile)
    engine_path, reasons = lookup(out_dir, spec)
    if not reasons and not force:
        log.info("engine up to date: %s", engine_path)
        return engine_path
    log.info("building %s because: %s", engine_path.name, "; ".join(reasons) or "--force")

    source = onnx_path
    if fp16:
        source = to_fp16_onnx(onnx_path, out_dir / (onnx_path.stem + ".fp16.onnx"))
    logger = trt.Logger(trt.Logger.INFO)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(source)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"ONNX parser failed on {source}: {errors}")

    config = builder.create_builder_config()
    config.progress_monitor = _LayerProgress(trt).monitor
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    opt = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = list(tensor.shape)
        if shape[0] == -1:  # the view dimension
            dims = [[profile[k]] + shape[1:] for k in ("min", "opt", "max")]
            opt.set_shape(tensor.name, *dims)
    config.add_optimization_profile(opt)
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        log.debug("layer %d %s %s", i, layer.type, layer.name)
    log.info("network: %d layers, %d inputs, precision %s, profile %s", network.num_layers, network.num_inputs, precision, profile)

    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT build failed (see the log above)")
    seconds = time.perf_counter() - t0
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(bytes(serialized))
    timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    write_sidecar(engine_paths(out_dir, spec)[1], spec, build_seconds=round(seconds, 1), onnx=str(onnx_path))
    log.info("built %s in %.1f s", engine_path, seconds)
    return engine_path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx", type=Path, help="an ONNX graph from tools/export_onnx.py")
    parser.add_argument("--out", type=Path, default=Path("engines"))
    parser.add_argument("--fp16", action="store_true", help="FP16 via the ONNX graph (InstanceNorm, GridSample stay FP32)")
    parser.add_argument("--min-views", type=int, default=DEFAULT_PROFILE["min"])
    parser.add_argument("--opt-views", type=int, default=DEFAULT_PROFILE["opt"])
    parser.add_argument("--max-views", type=int, default=DEFAULT_PROFILE["max"])
    parser.add_argument("--timing-cache", type=Path, default=None, help="default: <out>/timing.cache")
    parser.add_argument("--force", action="store_true", help="rebuild even if the cached engine matches")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every layer and build step")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")

    missing = missing_requirements(args.fp16)
    if missing:
        print(f"error: cannot build a TensorRT engine here: {'; '.join(missing)}.\n{INSTALL_HINT}", file=sys.stderr)
        return EXIT_MISSING
    if not args.onnx.is_file():
        print(f"error: {args.onnx}: no such ONNX file; run tools/export_onnx.py first", file=sys.stderr)
        return 1
    profile = {"min": args.min_views, "opt": args.opt_views, "max": args.max_views}
    if not 1 <= profile["min"] <= profile["opt"] <= profile["max"]:
        parser.error("need 1 <= --min-views <= --opt-views <= --max-views")
    build(args.onnx, args.out, args.fp16, profile, args.timing_cache or args.out / "timing.cache", args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
