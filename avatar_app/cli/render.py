"""`avatar-app render`: a UDP sequence + a character sheet -> video and/or PNG frames, offline."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from avatar_app.cli.common import print_export_progress
from avatar_app.core.frames import check_model_size
from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS, load_networks, parse_colour


def add_parser(sub) -> None:
    p = sub.add_parser("render", help="render a UDP pose sequence with a character sheet, offline")
    p.add_argument("--sheet", required=True, help="folder of character-sheet views (PNG/WebP with alpha)")
    p.add_argument("--poses", required=True, help="UDP file (.npz/.exr/16-bit .png) or a folder of them")
    p.add_argument("--weights", default=None, help="folder with the four CoNR .pth files (default: shipped weights)")
    p.add_argument("--size", type=int, default=256, help="model resolution, a multiple of 128 (default 256)")
    p.add_argument("--views", type=int, default=None, help="use at most this many sheet views")
    p.add_argument(
        "--out",
        action="append",
        required=True,
        help="output: a .mp4/.avi file (over --background) or a folder for RGBA PNGs; repeat for both",
    )
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--background", default="#00ff00", help="colour behind the avatar in videos (default #00ff00)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    p.add_argument(
        "--precision",
        choices=("fp32", "fp16", "bf16"),
        default="fp32",
        help="fp32 (default); fp16 (CUDA: torch or TensorRT) or bf16 (torch): convolutions in half precision, "
        "warps and norms in fp32; ONNX Runtime runs fp32 only",
    )
    p.add_argument("--cuda-graphs", action="store_true", help="replay each frame as a CUDA graph (CUDA only)")
    p.add_argument(
        "--backend",
        choices=("torch", "onnxruntime", "tensorrt"),
        default="torch",
        help="torch (default); onnxruntime (graphs exported into the weights' deployment folder on first use); "
        "tensorrt (engines from tools/build_engine.py --weights)",
    )
    p.add_argument(
        "--graphs",
        default=None,
        help="instead of the deployment folder: a folder of tools/export_onnx.py graphs "
        "(onnxruntime; tensorrt with --engines)",
    )
    p.add_argument(
        "--engines",
        default="engines",
        help="with --graphs: the folder of the engines built from them (tensorrt; default engines)",
    )
    p.add_argument("--cache-dir", default=None, help="sheet-feature cache folder (default ~/.cache/avatar_app/sheets)")
    p.set_defaults(func=run)


def _backend(args, size: int, cache):
    """The ``--backend`` for rendering. With ``--graphs`` the exported graphs carry their weights:
    only the preset is read from the weights folder, nothing is loaded. Without it, the weights'
    deployment folder is used (ONNX Runtime exports there once)."""
    from avatar_app.infer.registry import GraphFolders, open_backend
    from avatar_app.models.checkpoint import weights_preset

    options = {"device": args.device, "precision": args.precision, "cuda_graphs": args.cuda_graphs, "cache": cache}
    if args.backend == "torch" or not args.graphs:
        return open_backend(args.backend, load_networks(args.weights), size, progress=print_export_progress, **options)
    engines = Path(args.engines) if args.backend == "tensorrt" else None
    folders = GraphFolders(weights_preset(args.weights or DEFAULT_WEIGHTS), Path(args.graphs), engines)
    return open_backend(args.backend, None, size, deployment=folders, **options)


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from avatar_app.infer import SheetCache
    from avatar_app.infer.registry import check_precision
    from avatar_app.io.sheet import load_sheet
    from avatar_app.io.udp import fit_udp
    from avatar_app.io.udp_sequence import iter_udp_sequence
    from avatar_app.io.video import open_writer

    size = check_model_size(args.size, "--size")
    check_precision(args.backend, args.precision)
    background = parse_colour(args.background)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    sheet = load_sheet(args.sheet, size=size, max_views=args.views)
    poses = iter_udp_sequence(args.poses, fps=args.fps)
    cache = SheetCache(args.cache_dir) if args.cache_dir else SheetCache()  # the user cache folder, as stream
    with _backend(args, size, cache) as backend:
        t_load = time.perf_counter() - t0
        t1 = time.perf_counter()
        state = backend.encode(sheet)
        t_encode = time.perf_counter() - t1

        writers = [open_writer(Path(o), fps=args.fps, background_rgb=background) for o in args.out]
        frame_ms = []
        try:
            for udp in tqdm(poses, total=len(poses), desc="render", unit="frame"):
                t = time.perf_counter()
                frame = backend.render(state, fit_udp(udp, size))
                frame_ms.append(1000.0 * (time.perf_counter() - t))
                for w in writers:
                    w.write(frame)
        finally:
            for w in writers:
                w.close()
    ms = np.asarray(frame_ms)
    print(
        f"rendered {len(ms)} frames at {size}x{size} with {sheet.num_views} views ({backend.acceleration}):\n"
        f"  load {t_load:.2f} s, sheet encode {t_encode * 1000:.0f} ms, "
        f"per frame median {np.median(ms):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, "
        f"total {time.perf_counter() - t0:.1f} s\n" + "".join(f"  wrote {o}\n" for o in args.out),
        end="",
    )
    return 0
