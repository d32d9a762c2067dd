#!/usr/bin/env python3
"""Draw docs/expressions.png: the default character's face blinking and talking in the demo motion.

    .venv/bin/python docs/expressions.py [--weights assets/weights/lite] [--out docs/expressions.png]

Row 1: the UDP map (xyz as RGB) of the face, bust framing, through the live view (decimated
mesh, face morphs from the demo's script). Row 2: the proxy's colours (``--renderer proxy``).
Row 3: the shipped ``lite`` weights at 512, full body (the framing they were trained on; the
face cut out and enlarged), with the sheet and its expression sheets (eyes_closed,
mouth_open) chosen per frame, as ``stream`` does. Columns: the first blink, then talking.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avatar_app.core.frames import UdpMap  # noqa: E402
from avatar_app.io.sheet import load_sheet  # noqa: E402
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, DEFAULT_WEIGHTS, load_character, load_networks  # noqa: E402
from avatar_app.pipeline.expression_sheets import load_expression_sheets  # noqa: E402
from avatar_app.pipeline.renderers import ConrRenderer  # noqa: E402
from avatar_app.raster.character_view import CharacterView  # noqa: E402
from avatar_app.rig import DemoMotion  # noqa: E402

TIMES_S = (1.20, 1.33, 1.36, 1.40, 1.46, 4.40, 4.50, 4.70, 4.80, 5.10)
SIZE = 256
CONR_SIZE = 512


def over_grey(premultiplied: np.ndarray) -> np.ndarray:
    rgb = premultiplied[..., :3] + 0.5 * (1.0 - premultiplied[..., 3:4])
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def face_crop(rgb: np.ndarray, box=(0.05, 0.55, 0.25, 0.75)) -> np.ndarray:
    """The face: top middle of a bust-framed view (``box`` = top, bottom, left, right fractions)."""
    h, w = rgb.shape[:2]
    crop = rgb[int(box[0] * h) : int(box[1] * h), int(box[2] * w) : int(box[3] * w)]
    return cv2.resize(crop, (SIZE // 2, SIZE // 2), interpolation=cv2.INTER_NEAREST)


FULL_BODY_FACE = (0.1, 0.32, 0.39, 0.61)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    p.add_argument("--out", default=str(ROOT / "docs" / "expressions.png"))
    args = p.parse_args(argv)
    character, motion = load_character(), DemoMotion()
    sheet_dir = DEFAULT_CHARACTER / "sheet"
    sheet = load_sheet(sheet_dir, size=CONR_SIZE, max_views=4)
    variants = load_expression_sheets(sheet_dir, CONR_SIZE, 4, sheet.num_views)
    rows = [[], [], []]
    with ConrRenderer(load_networks(args.weights), sheet, expression_sheets=variants) as conr:
        with CharacterView(character, SIZE, framing="bust") as bust, CharacterView(character, CONR_SIZE) as full:
            for k in range(int(TIMES_S[-1] * 30) + 1):  # every frame, so the springs and the camera settle
                t = k / 30
                face, pose = motion.expression_at(t), motion.pose_at(t)
                near = bust.render_pose(pose, 1 / 30, expression=face)
                far = full.render_pose(pose, 1 / 30, udp_only=True, expression=face)
                if not any(abs(t - s) < 1 / 60 for s in TIMES_S):
                    continue
                conr.express(face)
                rgba = conr.render(UdpMap(far.udp), None).data
                rows[0].append(face_crop(over_grey(np.clip(near.udp, 0, 1))))
                rows[1].append(face_crop(over_grey(near.color)))
                rows[2].append(face_crop(over_grey(rgba), FULL_BODY_FACE))
    strip = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    cv2.imwrite(args.out, cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} ({strip.shape[1]}x{strip.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
