#!/usr/bin/env python3
"""Draw docs/expressions.png: the default character's face and a drawn one's, blinking and talking.

    .venv/bin/python docs/expressions.py [--weights assets/weights/lite] [--out docs/expressions.png]
                                         [--drawn CHAR]

Row 1: the UDP map (xyz as RGB) of the default character's face, bust framing, through the live
view (decimated mesh, face morphs from the demo's script). Row 2: the proxy's colours
(``--renderer proxy``). Row 3: the shipped ``lite`` weights at 512, full body (the face cut out
and enlarged), with the sheet and its expression sheets (eyes_closed, mouth_open) chosen per
frame and the drawn detail, as ``stream`` does. Row 4: the same for a drawn character, at 256
in its own framing: by default Eileen (``examples/drawn/eileen``, MIT) fitted from
``happy.png``, with ``very_happy_mouth_open.png`` as her ``mouth_open`` expression sheet
(``--drawn CHAR`` takes a character folder instead). Columns: the first blink, then talking.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avatar_app.core.frames import UdpMap  # noqa: E402
from avatar_app.io.sheet import load_sheet  # noqa: E402
from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS, load_character, load_networks, open_character_arg  # noqa: E402
from avatar_app.pipeline.drawn_details import drawn_details  # noqa: E402
from avatar_app.pipeline.expression_sheets import load_expression_sheets  # noqa: E402
from avatar_app.pipeline.renderers import ConrRenderer  # noqa: E402
from avatar_app.raster.character_view import CharacterView  # noqa: E402
from avatar_app.rig import DemoMotion  # noqa: E402

TIMES_S = (1.20, 1.33, 1.36, 1.40, 1.46, 4.40, 4.50, 4.70, 4.80, 5.10)
SIZE = 256
CONR_SIZE = 512
FULL_BODY_FACE = (0.1, 0.32, 0.39, 0.61)  # top, bottom, left, right fractions
DRAWN_FACE = (0.16, 0.47, 0.34, 0.66)  # Eileen's face in her knee-up framing


def over_grey(premultiplied: np.ndarray) -> np.ndarray:
    rgb = premultiplied[..., :3] + 0.5 * (1.0 - premultiplied[..., 3:4])
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def face_crop(rgb: np.ndarray, box=(0.05, 0.55, 0.25, 0.75)) -> np.ndarray:
    """The face: top middle of a bust-framed view (``box`` = top, bottom, left, right fractions)."""
    h, w = rgb.shape[:2]
    crop = rgb[int(box[0] * h) : int(box[1] * h), int(box[2] * w) : int(box[3] * w)]
    return cv2.resize(crop, (SIZE // 2, SIZE // 2), interpolation=cv2.INTER_NEAREST)


def conr(character_arg, size: int, weights: str) -> tuple:
    """(ConrRenderer with the expression sheets and the drawn detail, the character's body, its framing)."""
    choice = open_character_arg(character_arg)
    sheet = load_sheet(choice.sheet_dir, size=size, max_views=4)
    variants = load_expression_sheets(choice.sheet_dir, size, 4, sheet.num_views)
    detail, by_variant = drawn_details(choice.sheet_dir, sheet, variants, size, print)
    renderer = ConrRenderer(
        load_networks(weights), sheet, expression_sheets=variants, drawn_detail=detail, drawn_detail_variants=by_variant
    )
    return renderer, load_character(choice.body), choice.framing


def fit_eileen(tmp: Path) -> Path:
    drawings, folder = tmp / "eileen_drawing", tmp / "eileen"
    drawings.mkdir()
    shutil.copy(ROOT / "examples" / "drawn" / "eileen" / "happy.png", drawings)
    subprocess.run(
        [sys.executable, "-m", "avatar_app.cli.main", "fit", "--sheet", str(drawings), "--out", str(folder)], check=True
    )
    mouth_open = folder / "sheet" / "expressions" / "mouth_open"
    mouth_open.mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "drawn" / "eileen" / "very_happy_mouth_open.png", mouth_open / "happy.png")
    return folder


def strip(args, drawn: Path) -> np.ndarray:
    motion = DemoMotion()
    rows = [[], [], [], []]
    default, character, _ = conr(None, CONR_SIZE, args.weights)
    eileen, eileen_body, eileen_framing = conr(drawn, SIZE, args.weights)
    with default, eileen, CharacterView(character, SIZE, framing="bust") as bust:
        with (
            CharacterView(character, CONR_SIZE) as full,
            CharacterView(eileen_body, SIZE, framing=eileen_framing) as own,
        ):
            for k in range(int(TIMES_S[-1] * 30) + 1):  # every frame, so the springs and the camera settle
                t = k / 30
                face, pose = motion.expression_at(t), motion.pose_at(t)
                near = bust.render_pose(pose, 1 / 30, expression=face)
                far = full.render_pose(pose, 1 / 30, udp_only=True, expression=face)
                hers = own.render_pose(pose, 1 / 30, udp_only=True, expression=face)
                if not any(abs(t - s) < 1 / 60 for s in TIMES_S):
                    continue
                default.express(face)
                eileen.express(face)
                rows[0].append(face_crop(over_grey(np.clip(near.udp, 0, 1))))
                rows[1].append(face_crop(over_grey(near.color)))
                rows[2].append(face_crop(over_grey(default.render(UdpMap(far.udp), None).data), FULL_BODY_FACE))
                rows[3].append(face_crop(over_grey(eileen.render(UdpMap(hers.udp), None).data), DRAWN_FACE))
    return np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    p.add_argument("--out", default=str(ROOT / "docs" / "expressions.png"))
    p.add_argument("--drawn", type=Path, default=None, help="a fitted character folder (default: fit Eileen)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        picture = strip(args, args.drawn or fit_eileen(Path(tmp)))
    cv2.imwrite(args.out, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out} ({picture.shape[1]}x{picture.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
