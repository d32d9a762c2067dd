#!/usr/bin/env python3
"""A strip of in-between frames to judge by eye: docs/inbetween_strip.png.

The demo motion at 30 fps through the rig; the first frame is rendered by CoNR, and for
each later frame (``--gaps``, in source frames) three pictures: what CoNR renders of it,
the first render warped to it by the UDP maps (``--inbetween warp``), and the first render
repeated (``--inbetween repeat``). Prints each in-between's PSNR against the real render.

    python tools/inbetween_strip.py --weights assets/weights/lite --views 4
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 10.0 * np.log10(255.0**2 / max(mse, 1e-9))


def main(argv=None) -> int:
    from avatar_app.pipeline import PipelineSettings, build_pipeline
    from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, DEFAULT_WEIGHTS
    from avatar_app.pipeline.inbetween import warp_render
    from avatar_app.pipeline.specs import SourceSpec

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    p.add_argument("--views", type=int, default=4)
    p.add_argument(
        "--start",
        type=int,
        default=None,
        help="source frame the render is made of (default: where the demo's wave and dance move most)",
    )
    p.add_argument("--gaps", default="2,4,6,9", help="in-betweens this many source frames after the render")
    p.add_argument("--out", default="docs/inbetween_strip.png")
    args = p.parse_args(argv)
    gaps = [int(g) for g in args.gaps.split(",")]

    rasters = []
    last = (args.start if args.start is not None else 420) + max(gaps)
    demo = PipelineSettings(SourceSpec("demo"), size=256, max_frames=last + 1)

    def tap(stage, frame):
        if stage == "raster":
            rasters.append(frame.udp)

    with build_pipeline(replace(demo, renderer="udp"), [], tap=tap) as pipeline:  # every pose: nothing is slow
        pipeline.wait()
    conr = build_pipeline(
        replace(
            demo, renderer="conr", weights=Path(args.weights), sheet_dir=DEFAULT_CHARACTER / "sheet", views=args.views
        )
    )
    if args.start is None:  # the most silhouette change over the widest gap
        moved = [
            np.count_nonzero((rasters[i].visibility > 0.5) != (rasters[i + max(gaps)].visibility > 0.5))
            for i in range(120, len(rasters) - max(gaps))
        ]
        args.start = 120 + int(np.argmax(moved))
    try:
        renderer = conr.renderer
        base_udp = rasters[args.start]
        base = renderer.render(base_udp, None)
        rows = {"CoNR": [], "warp": [], "repeat": []}
        grey = (200, 200, 200)
        for gap in gaps:
            udp = rasters[args.start + gap]
            truth = renderer.render(udp, None).over(grey)
            warped = warp_render(base, base_udp, udp).over(grey)
            repeated = base.over(grey)
            rows["CoNR"].append(truth)
            rows["warp"].append(warped)
            rows["repeat"].append(repeated)
            print(
                f"+{gap} frames ({gap / 30 * 1000:.0f} ms): PSNR vs CoNR  warp {psnr(warped, truth):5.2f} dB"
                f"  repeat {psnr(repeated, truth):5.2f} dB"
            )
    finally:
        conr.close()
    lines = []
    for name, pictures in rows.items():
        strip = np.concatenate(pictures, axis=1)
        label = np.full((strip.shape[0], 90, 3), 255, np.uint8)
        cv2.putText(label, name, (6, strip.shape[0] // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
        lines.append(np.concatenate([label, strip], axis=1))
    header = np.full((24, lines[0].shape[1], 3), 255, np.uint8)
    for i, gap in enumerate(gaps):
        cv2.putText(header, f"+{gap} frames", (90 + 256 * i + 80, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    picture = np.concatenate([header, *lines], axis=0)
    picture = cv2.resize(picture, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)  # to see edges
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} (render of source frame {args.start}; rows: CoNR of that frame, warp, repeat)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
