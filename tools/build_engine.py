#!/usr/bin/env python3
"""Build TensorRT engines for this GPU (TensorRT 10/11 Python API).

    python tools/build_engine.py --weights assets/weights/lite --size 256 [--fp16]     # all three graphs
    python tools/build_engine.py engines/frame_renderer_official_256.onnx [--fp16] [--out engines/]

With ``--weights``: exports the sheet encoder, frame renderer and UDP detector (native
InstanceNormalization nodes, which TensorRT maps to its normalisation layer and which the
FP16 conversion keeps in FP32 by op type) into the weights' deployment folder
(``engines/<preset>-<hash>/``, see ``avatar_app/infer/deploy.py``) and
builds an engine for each there, where ``--backend tensorrt`` and the GUI look. With an
ONNX file: builds that one graph's engine into ``--out``.

Strongly typed network from the ONNX parser (TRT 11 removed BuilderFlag.FP16: FP16 must
come from the ONNX graph; ``--fp16`` converts the graph first, keeping InstanceNorm and
GridSample in FP32). Optimisation profile over the view count: min 1 / opt 4 / max 8.
A timing cache file speeds up rebuilds. Engines are cached by ``engine_cache`` (ONNX hash +
profile + precision + TensorRT version + compute capability); a stale one is rebuilt and
the log says why. Without TensorRT or a CUDA GPU: exit code 2 and what to install.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar_app.core.errors import AvatarAppError  # noqa: E402
from avatar_app.infer.deploy import INSTALL_HINT, build_engine, build_engines, missing_requirements  # noqa: E402
from avatar_app.infer.engine_cache import DEFAULT_PROFILE  # noqa: E402

EXIT_MISSING = 2


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "onnx", type=Path, nargs="?", help="one ONNX graph from tools/export_onnx.py (or use --weights)"
    )
    parser.add_argument("--weights", type=Path, help="a CoNR weights folder: export and build all three graphs")
    parser.add_argument("--size", type=int, default=256, help="model size with --weights (default 256)")
    parser.add_argument(
        "--out", type=Path, default=Path("engines"), help="engine folder for a single ONNX file (default engines)"
    )
    parser.add_argument(
        "--fp16", action="store_true", help="FP16 via the ONNX graph (InstanceNorm, GridSample stay FP32)"
    )
    parser.add_argument("--min-views", type=int, default=DEFAULT_PROFILE["min"])
    parser.add_argument("--opt-views", type=int, default=DEFAULT_PROFILE["opt"])
    parser.add_argument("--max-views", type=int, default=DEFAULT_PROFILE["max"])
    parser.add_argument("--timing-cache", type=Path, default=None, help="default: timing.cache in the engine folder")
    parser.add_argument("--force", action="store_true", help="rebuild even if the cached engine matches")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every build step")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    if (args.onnx is None) == (args.weights is None):
        parser.error("give one ONNX file or --weights DIR")

    missing = missing_requirements(args.fp16)
    if missing:
        print(
            f"error: cannot build a TensorRT engine here: {'; '.join(missing)}.\nFix: {INSTALL_HINT}", file=sys.stderr
        )
        return EXIT_MISSING
    profile = {"min": args.min_views, "opt": args.opt_views, "max": args.max_views}
    if not 1 <= profile["min"] <= profile["opt"] <= profile["max"]:
        parser.error("need 1 <= --min-views <= --opt-views <= --max-views")
    if args.weights is not None:
        from avatar_app.models import load_weights_folder

        try:
            engines = build_engines(
                load_weights_folder(args.weights),
                args.size,
                "fp16" if args.fp16 else "fp32",
                profile=profile,
                force=args.force,
                timing_cache=args.timing_cache,
            )
        except AvatarAppError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        for graph, path in engines.items():
            print(f"{graph}: {path}")
        return 0
    if not args.onnx.is_file():
        print(f"error: {args.onnx}: no such ONNX file; run tools/export_onnx.py first", file=sys.stderr)
        return 1
    build_engine(args.onnx, args.out, args.fp16, profile, args.timing_cache, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
