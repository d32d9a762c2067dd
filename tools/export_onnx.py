#!/usr/bin/env python3
"""Export CoNR's sheet encoder, frame renderer and UDP detector to ONNX.

    python tools/export_onnx.py --weights DIR --preset official --size 256 --out engines/
    python tools/export_onnx.py --synthetic --preset lite --size 128 --out engines/

One fixed size per export (a multiple of 128); the view count is a dynamic dimension.
Opset 17 by default (17-19 allowed; not 20, see DESIGN.md §5). Writes
``<graph>_<preset>_<size>.onnx`` and checks every GridSample node afterwards.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar_app.core.errors import AvatarAppError  # noqa: E402
from avatar_app.infer.onnx_export import ALLOWED_OPSETS, GRAPH_NAMES, OPSET, check_grid_samples, export_all  # noqa: E402
from avatar_app.models import PRESETS, create_conr, fill_networks, load_conr_weights  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--weights", type=Path, help="folder with the four CoNR checkpoint files")
    src.add_argument("--synthetic", action="store_true", help="use the deterministic synthetic weights")
    parser.add_argument("--preset", default="official", choices=sorted(PRESETS))
    parser.add_argument("--size", type=int, default=256, help="model size, a multiple of 128")
    parser.add_argument("--out", type=Path, default=Path("engines"))
    parser.add_argument("--opset", type=int, default=OPSET, choices=ALLOWED_OPSETS)
    parser.add_argument(
        "--graphs", default=",".join(GRAPH_NAMES), help=f"comma-separated subset of {','.join(GRAPH_NAMES)}"
    )
    parser.add_argument(
        "--native-instance-norm",
        action="store_true",
        help="keep ONNX InstanceNormalization nodes (for TensorRT); "
        "default: an explicit two-pass form ONNX Runtime computes accurately",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for noisy in ("onnxscript", "onnx_ir", "torch.onnx", "torch._export"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    graphs = [g.strip() for g in args.graphs.split(",") if g.strip()]
    unknown = [g for g in graphs if g not in GRAPH_NAMES]
    if unknown:
        parser.error(f"unknown graph(s) {unknown}; choose from {', '.join(GRAPH_NAMES)}")
    try:
        t0 = time.perf_counter()
        if args.synthetic:
            networks = fill_networks(create_conr(args.preset, init=False))
        else:
            networks = load_conr_weights(create_conr(args.preset, init=False), args.weights)
        paths = export_all(networks, args.size, args.out, args.opset, graphs, stable_norm=not args.native_instance_norm)
    except AvatarAppError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    failed = False
    for path in paths.values():
        problems = check_grid_samples(path)
        status = "GridSample ok" if not problems else "BAD GridSample: " + "; ".join(problems)
        failed |= bool(problems)
        print(f"{path}  {path.stat().st_size / 1e6:.1f} MB  {status}")
    print(f"exported {len(paths)} graph(s) in {time.perf_counter() - t0:.1f} s")
    return 3 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
