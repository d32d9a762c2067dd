#!/usr/bin/env python3
"""Draw docs/lite_frames.png: the default character in the demo motion, ground truth next to CoNR.

    .venv/bin/python docs/lite_frames.py [--weights assets/weights/lite] [--out docs/lite_frames.png]

Ground truth is the rig's own colour render of the pose (the sheet was rendered from the
same character, so this is what a perfect renderer would draw); below it, the shipped
``lite`` weights rendering the shipped sheet from the same UDP map, through the app's
inference path (``SheetEncoder`` + ``FrameRenderer``). The default character is one of
neither the training nor the validation characters of the synthetic data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avatar_app.infer import FrameRenderer, SheetEncoder  # noqa: E402
from avatar_app.io.sheet import load_sheet  # noqa: E402
from avatar_app.models import load_weights_folder  # noqa: E402
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, DEFAULT_WEIGHTS, load_character  # noqa: E402
from avatar_app.raster.character_view import CharacterView  # noqa: E402
from avatar_app.rig import DemoMotion  # noqa: E402

TIMES_S = (1.0, 4.5, 8.0, 11.5, 14.5)
FPS = 30.0


def over_grey(premultiplied: np.ndarray) -> np.ndarray:
    """[H,W,4] premultiplied float -> RGB uint8 over mid grey."""
    rgb = premultiplied[..., :3] + 0.5 * (1.0 - premultiplied[..., 3:4])
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--out", default=str(ROOT / "docs" / "lite_frames.png"))
    args = p.parse_args(argv)

    character = load_character()
    model = load_weights_folder(args.weights)
    state = SheetEncoder(model).encode(load_sheet(DEFAULT_CHARACTER / "sheet", args.size))
    renderer = FrameRenderer(model)
    motion = DemoMotion()
    truth, ours = [], []
    with CharacterView(character, args.size, color_samples=4) as view:
        frame = 0
        for t in TIMES_S:
            while frame / FPS < t:  # run the springs through the motion up to t
                result = view.render_pose(motion.pose_at(frame / FPS), 1.0 / FPS)
                frame += 1
            truth.append(over_grey(result.color))
            ours.append(over_grey(renderer.render(state, result.udp_map()).data))
    grid = np.concatenate([np.concatenate(truth, axis=1), np.concatenate(ours, axis=1)], axis=0)
    cv2.imwrite(args.out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    print(
        f"wrote {args.out} (top: rig ground truth, bottom: CoNR {model.cfg.name}, "
        f"t = {', '.join(f'{t:g}' for t in TIMES_S)} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
