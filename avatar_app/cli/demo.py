"""`avatar-app demo`: the default character dancing the demo motion, rendered headless to a video.

    avatar-app demo                 # out/demo.mp4, 5 s at 256x256
    avatar-app demo --out clip.mp4 --seconds 10

It is `avatar-app stream --source demo --sink file:...` with the frame count worked out:
the same pipeline, renderer choice (CoNR when trained weights exist, else the proxy with
a warning), status lines and summary. The motion plays live at the frame rate, so a slow
renderer drops poses, not frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from avatar_app.cli.common import add_character_arguments
from avatar_app.core.errors import SettingError

DEFAULT_OUT = Path("out") / "demo.mp4"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="render a character (default: the built-in one) with the demo motion to a video (out/demo.mp4), headless",
    )
    p.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help=f"video file (.mp4/.avi) or a folder for PNG frames (default {DEFAULT_OUT})",
    )
    p.add_argument("--seconds", type=float, default=5.0, help="length of the video (default 5)")
    p.add_argument("--size", type=int, default=256, help="model resolution, a multiple of 128 (default 256)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate (default 30)")
    add_character_arguments(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from avatar_app.cli import stream

    if not args.seconds > 0:
        raise SettingError("--seconds", "a length above 0", repr(args.seconds), "use e.g. --seconds 5")
    frames = max(1, round(args.seconds * args.fps))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parser = argparse.ArgumentParser(prog="avatar-app")
    stream.add_parser(parser.add_subparsers())
    stream_args = parser.parse_args(
        [
            "stream",
            "--source",
            "demo",
            "--sink",
            f"file:{out}",
            "--frames",
            str(frames),
            "--size",
            str(args.size),
            "--fps",
            str(args.fps),
            *(["--character", args.character] if args.character else []),
            *(["--framing", args.framing] if args.framing else []),
        ]
    )
    code = stream.run(stream_args)
    if code == 0:
        print(f"demo video: {out.resolve()} ({frames} frames, {args.size}x{args.size} at {args.fps:g} fps)")
    return code
