"""`avatar-app udp`: a motion (BVH or the demo) on a character -> a UDP sequence `render` reads."""

from __future__ import annotations

import time
from pathlib import Path

from avatar_app.cli.common import ROOT_HELP, ROOT_MODES, add_character_arguments, load_motion
from avatar_app.core.errors import SettingError
from avatar_app.core.frames import check_model_size
from avatar_app.pipeline.defaults import load_character, open_character_arg


def add_parser(sub) -> None:
    p = sub.add_parser("udp", help="turn a motion file (or the demo motion) into a UDP pose sequence")
    p.add_argument(
        "--motion",
        required=True,
        help="a .bvh file, 'demo' for the built-in motion or 'turn' (a slow turn on the spot)",
    )
    p.add_argument("--root", choices=ROOT_MODES, default="follow", help=ROOT_HELP)
    p.add_argument("--frames", type=int, default=None, help="frames to write (default: the whole motion)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    p.add_argument("--size", type=int, default=256, help="UDP map size, a multiple of 128 (default 256)")
    add_character_arguments(p)
    p.add_argument("--no-springs", action="store_true", help="switch spring-bone physics off")
    p.add_argument("--preview", default=None, help="also write the proxy rig's flat colours to this .mp4 or folder")
    p.add_argument("--out", required=True, help="folder for frame_NNNNNN.npz (key 'i', float32 [H,W,4])")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    from tqdm import tqdm

    from avatar_app.core.frames import RgbaFrame
    from avatar_app.io.udp import save_udp
    from avatar_app.io.video import open_writer
    from avatar_app.raster.character_view import CharacterView
    from avatar_app.rig.expressions import motion_expression

    size = check_model_size(args.size, "--size")
    if args.fps <= 0:
        raise SettingError("--fps", "a positive number", repr(args.fps), "use e.g. --fps 30")
    motion = load_motion(args.motion, args.root)
    choice = open_character_arg(args.character)
    character = load_character(choice.body)
    framing = choice.framing_or(args.framing)
    frames = args.frames if args.frames is not None else max(1, int(round(motion.duration * args.fps)))
    if frames < 1:
        raise SettingError("--frames", "at least 1", repr(frames), "use e.g. --frames 60")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    preview = open_writer(Path(args.preview), fps=args.fps) if args.preview else None
    t0 = time.perf_counter()
    try:
        with CharacterView(character, size, springs=not args.no_springs, framing=framing) as view:
            for k in tqdm(range(frames), desc="udp", unit="frame"):
                t, only = k / args.fps, preview is None
                face = motion_expression(motion, t)
                result = view.render_pose(motion.pose_at(t), 1.0 / args.fps, udp_only=only, expression=face)
                save_udp(out / f"frame_{k:06d}.npz", result.udp)
                if preview is not None:
                    preview.write(RgbaFrame(np.ascontiguousarray(result.color), timestamp=k / args.fps))
    finally:
        if preview is not None:
            preview.close()
    print(f"wrote {frames} UDP frames ({size}x{size}) to {out} in {time.perf_counter() - t0:.1f} s")
    return 0
