"""`avatar-app render`: a UDP sequence (or the demo motion) + a character sheet -> video and/or PNG frames, offline.

avatar-app render --sheet DRAWINGS --poses out/udp --out clip.mp4
avatar-app render --character CHAR --out clip.mp4     # the demo motion on CHAR's own body and framing
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from avatar_app.cli.common import ROOT_HELP, ROOT_MODES, add_character_arguments, load_motion, print_export_progress
from avatar_app.core.errors import SettingError
from avatar_app.core.frames import check_model_size
from avatar_app.pipeline.defaults import (
    DEFAULT_WEIGHTS,
    load_character,
    load_networks,
    open_character_arg,
    parse_colour,
    udp_map_for,
)


def add_parser(sub) -> None:
    p = sub.add_parser("render", help="render a UDP pose sequence with a character sheet, offline")
    p.add_argument(
        "--sheet", default=None, help="folder of character-sheet views (PNG/WebP with alpha; default: --character's)"
    )
    p.add_argument(
        "--poses",
        default=None,
        help="UDP file (.npz/.exr/16-bit .png) or a folder of them "
        "(default: --motion on the --character's body, in its framing)",
    )
    add_character_arguments(p)
    p.add_argument(
        "--motion",
        default="demo",
        help="without --poses: a .bvh file, 'demo' (default) or 'turn' (a slow turn on the spot)",
    )
    p.add_argument("--root", choices=ROOT_MODES, default="follow", help=ROOT_HELP)
    p.add_argument("--frames", type=int, default=None, help="without --poses: frames to render (default: the motion)")
    p.add_argument(
        "--no-drawn-detail",
        action="store_true",
        help="skip laying the drawing's own pixels over each frame (used when the sheet has sheet_udp/ beside it)",
    )
    p.add_argument(
        "--views-per-frame",
        type=int,
        default=None,
        metavar="K",
        help="each frame reads the K sheet views that cover most of its pose (needs sheet_udp/, torch backend)",
    )
    p.add_argument(
        "--weights",
        default=None,
        help="folder with the four CoNR .pth files (default: the --character's weights/, else the shipped ones)",
    )
    p.add_argument("--size", type=int, default=256, help="the frames' size, a multiple of 128 (default 256)")
    p.add_argument(
        "--internal-size",
        type=int,
        default=None,
        help="CoNR's own size, at most --size: its render is grown to --size, the drawing's pixels laid over "
        "at --size (default: 256 on a CPU, at most 512 on CUDA)",
    )
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


def _renderer(args, sheet, size: int, cache, variants, detail, detail_variants, view_choice):
    """The live pipeline's ``ConrRenderer`` for ``--backend``, frames at ``size``. With ``--graphs``
    the exported graphs carry their weights: only the preset is read from the weights folder,
    nothing is loaded. Without it, the weights' deployment folder is used (ONNX Runtime exports
    there once)."""
    from avatar_app.infer.registry import GraphFolders
    from avatar_app.models.checkpoint import weights_preset
    from avatar_app.pipeline.renderers import ConrRenderer

    networks, folders = None, None
    if args.backend == "torch" or not args.graphs:
        networks = load_networks(args.weights)
    else:
        engines = Path(args.engines) if args.backend == "tensorrt" else None
        folders = GraphFolders(weights_preset(args.weights or DEFAULT_WEIGHTS), Path(args.graphs), engines)
    return ConrRenderer(
        networks,
        sheet,
        args.device,
        backend=args.backend,
        cache=cache,
        precision=args.precision,
        deployment=folders,
        progress=print_export_progress,
        expression_sheets=variants,
        drawn_detail=detail,
        drawn_detail_variants=detail_variants,
        view_choice=view_choice,
        output_size=size,
        cuda_graphs=args.cuda_graphs,
    )


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from avatar_app.infer import SheetCache
    from avatar_app.infer.registry import check_precision
    from avatar_app.io.sheet import load_sheet
    from avatar_app.io.udp import fit_udp
    from avatar_app.io.udp_sequence import iter_udp_sequence
    from avatar_app.io.video import open_writer
    from avatar_app.pipeline.expression_sheets import load_expression_sheets

    size, internal = _sizes(args)
    check_precision(args.backend, args.precision)
    background = parse_colour(args.background)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    choice = open_character_arg(args.character)
    if args.sheet is None and args.character is None:
        raise SettingError(
            "--sheet", "a sheet folder, or --character CHAR", "neither", "pass --sheet DRAWINGS or --character CHAR"
        )
    if args.weights is None and choice.weights is not None:
        args.weights = str(choice.weights)
    sheet_dir = args.sheet or choice.sheet_dir
    sheet = load_sheet(sheet_dir, size=internal, max_views=args.views)
    variants = {} if args.poses else load_expression_sheets(sheet_dir, internal, args.views, sheet.num_views)
    detail, detail_variants = None, {}
    if not args.no_drawn_detail:  # the drawing's own pixels at the output size, as stream lays them
        from avatar_app.pipeline.drawn_details import drawn_details

        drawn, drawn_variants = sheet, variants
        if internal != size:
            drawn = load_sheet(sheet_dir, size=size, max_views=args.views)
            drawn_variants = {} if args.poses else load_expression_sheets(sheet_dir, size, args.views, drawn.num_views)
        say = lambda text: print(f"render: {text}", file=sys.stderr)  # noqa: E731
        detail, detail_variants = drawn_details(sheet_dir, drawn, drawn_variants, size, say)
    if args.poses:
        poses = WithoutExpressions(iter_udp_sequence(args.poses, fps=args.fps))
    else:
        framing = choice.framing_or(args.framing)
        chosen = f" (--framing {args.framing})" if args.framing else ""
        print(f"render: {args.motion} motion on {choice.describe()}{chosen}", file=sys.stderr)
        character = load_character(choice.body)
        udp_map = udp_map_for(args.weights)
        if udp_map is not None:
            print(f"render: UDP map of the weights: {udp_map.summary()}", file=sys.stderr)
            character = character.with_udp_map(udp_map)
        poses = MotionPoses(character, load_motion(args.motion), size, args.fps, framing, args.frames)
    cache = SheetCache(args.cache_dir) if args.cache_dir else SheetCache()  # the user cache folder, as stream
    views_for = _view_choice(args, sheet_dir, sheet, internal)
    # the live pipeline's renderer: the same view choice, expression sheets, sizes and drawn detail
    with _renderer(args, sheet, size, cache, variants, detail, detail_variants, views_for) as renderer:
        t_load = time.perf_counter() - t0
        writers = [open_writer(Path(o), fps=args.fps, background_rgb=background) for o in args.out]
        frame_ms = []
        try:
            for udp, face in tqdm(poses, total=len(poses), desc="render", unit="frame"):
                t = time.perf_counter()
                renderer.express(face)
                frame = renderer.render(fit_udp(udp, size), None)
                frame_ms.append(1000.0 * (time.perf_counter() - t))
                for w in writers:
                    w.write(frame)
        finally:
            for w in writers:
                w.close()
    ms = np.asarray(frame_ms)
    print(
        f"rendered {len(ms)} frames at {size}x{size} with {sheet.num_views} views "
        f"(CoNR at {internal}x{internal}, {renderer.acceleration}):\n"
        f"  load {t_load:.2f} s (sheet encode {renderer.encode_ms:.0f} ms), "
        f"per frame median {np.median(ms):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, "
        f"total {time.perf_counter() - t0:.1f} s\n" + "".join(f"  wrote {o}\n" for o in args.out),
        end="",
    )
    return 0


def _sizes(args) -> tuple[int, int]:
    """(output size, CoNR's internal size) from ``--size`` and ``--internal-size``."""
    from avatar_app.infer.resample import check_sizes, default_internal_size

    check_model_size(args.size, "--size")
    internal = args.internal_size or default_internal_size(args.size, args.device)
    return check_sizes(args.size, internal)


def _view_choice(args, sheet_dir, sheet, size: int):
    """``--views-per-frame``: the ViewChoice over the sheet's UDP maps (None without the flag)."""
    if args.views_per_frame is None:
        return None
    from avatar_app.io.sheet_udp import sheet_udp_dir
    from avatar_app.pipeline.builder import sheet_view_choice

    if args.views_per_frame < 1:
        raise SettingError("--views-per-frame", "at least 1", str(args.views_per_frame), "use e.g. --views-per-frame 2")
    choice, missing = sheet_view_choice(sheet_dir, sheet, size, args.views_per_frame)
    if choice is None:
        raise SettingError(
            "--views-per-frame",
            f"a UDP map per sheet view in {sheet_udp_dir(sheet_dir)}",
            f"none for {', '.join(missing)}",
            "run avatar-app fit for the character, or leave out --views-per-frame",
        )
    return choice


class WithoutExpressions:
    """UDP files as (UDP map, no expression) per frame, read as they are needed."""

    def __init__(self, sequence):
        self.sequence = sequence

    def __len__(self) -> int:
        return len(self.sequence)

    def __iter__(self):
        return ((udp, None) for udp in self.sequence)


class MotionPoses:
    """A motion on a character, framed: (UDP map, expression) per frame, the maps ``udp`` writes."""

    def __init__(self, character, motion, size: int, fps: float, framing, frames: int | None):
        if frames is not None and frames < 1:
            raise SettingError("--frames", "at least 1", repr(frames), "use e.g. --frames 60")
        self.character, self.motion, self.size, self.fps, self.framing = character, motion, size, fps, framing
        self.frames = frames if frames is not None else max(1, int(round(motion.duration * fps)))

    def __len__(self) -> int:
        return self.frames

    def __iter__(self):
        from avatar_app.core.frames import UdpMap
        from avatar_app.raster.character_view import CharacterView
        from avatar_app.rig.expressions import motion_expression

        with CharacterView(self.character, self.size, framing=self.framing) as view:
            for k in range(self.frames):
                t = k / self.fps
                face = motion_expression(self.motion, t)
                result = view.render_pose(self.motion.pose_at(t), 1.0 / self.fps, udp_only=True, expression=face)
                yield UdpMap(result.udp, timestamp=k / self.fps), face
