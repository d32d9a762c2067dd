"""`avatar-app fit`: drawings -> a character folder (proxy body, framing, each view's UDP).

    avatar-app fit --sheet DRAWINGS --out CHAR [--size 256]

Then ``avatar-app render --character CHAR`` (or stream/udp/demo/the window with
``--character CHAR``) poses that body, framed like the drawings. Ctrl-C stops the fit and
leaves nothing behind.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from avatar_app.core.frames import check_model_size


def add_parser(sub) -> None:
    p = sub.add_parser("fit", help="fit a proxy body to your drawings and make a character folder for --character")
    p.add_argument("--sheet", required=True, help="a folder of drawings of one character (PNG/WebP with alpha)")
    p.add_argument("--out", required=True, help="the character folder to write (e.g. characters/NAME)")
    p.add_argument(
        "--size", type=int, default=256, help="the sheet size the views' UDP maps are aligned to (default 256)"
    )
    p.add_argument("--rounds", type=int, default=2, help="shape/view refinement rounds (default 2)")
    p.add_argument(
        "--weights",
        default=None,
        help="official CoNR weights: also fit the map from our UDP to theirs (saved beside the weights)",
    )
    p.add_argument(
        "--facing",
        action="append",
        default=[],
        metavar="VIEW=SIDE",
        help="which way a view is drawn, by file name: front, back, left, right (where the character looks "
        "in the picture) or degrees; repeat per view. Needed only when the fit asks (no face, no person found)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from avatar_app.core.errors import SettingError
    from avatar_app.fit.facing import parse_facing
    from avatar_app.fit.run import fit_folder

    size = check_model_size(args.size, "--size")
    facing = {}
    for item in args.facing:
        name, sep, side = item.partition("=")
        if not sep or not name.strip():
            raise SettingError(
                "--facing",
                "VIEW=SIDE (a view's file name, then front/back/left/right)",
                item,
                "e.g. --facing side=left",
            )
        facing[Path(name.strip()).stem] = parse_facing(side)
    cancel = threading.Event()
    t0 = time.perf_counter()
    try:
        result = fit_folder(
            Path(args.sheet),
            Path(args.out),
            size=size,
            rounds=args.rounds,
            weights=Path(args.weights) if args.weights else None,
            facing=facing,
            cancel=cancel,
            note=lambda text: print(text, file=sys.stderr, flush=True),
        )
    except KeyboardInterrupt:
        cancel.set()
        print("fit: stopped; nothing was written", file=sys.stderr)
        return 130
    for view in result.views:
        face = view.face.describe() if view.face is not None else "not looked at"
        print(f"  {view.drawing.name}: silhouette IoU {view.iou:.3f}, yaw {view.params.yaw:.0f} ({view.start}; {face})")
    print(
        f"fitted {len(result.views)} view(s) in {time.perf_counter() - t0:.1f} s: mean IoU {result.mean_iou:.3f}; "
        f"wrote {args.out} (look at {Path(args.out) / 'fit.png'})"
    )
    return 0
