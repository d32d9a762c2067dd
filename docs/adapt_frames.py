#!/usr/bin/env python3
"""Make docs/adapt_<name>.png: a real drawing, fitted, rendered before and after `adapt`.

    python docs/adapt_frames.py                      # fits and adapts examples/drawn/{eileen,sylvie} (15 min each)
    python docs/adapt_frames.py --minutes 5 CHAR...  # character folders already fitted (adapt resumes)

Per character, the demo motion (frames 10, 25, 39) in four rows: the shipped lite weights,
the same with the drawn detail (the drawing's own pixels through the fitted UDP, what the
app renders for a character folder), the weights after ``avatar-app adapt`` alone, and
adapted with the drawn detail. The drawing itself is the first tile of each row.
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

REPO = Path(__file__).resolve().parents[1]
FRAMES = (10, 25, 39)
DRAWINGS = {"eileen": "happy.png", "sylvie": "green_normal.png"}
ROWS = ("shipped lite", "shipped lite + drawn detail", "adapted", "adapted + drawn detail")


def avatar_app(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "avatar_app.cli.main", *args], check=True, cwd=REPO)


def over(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return (rgba[..., :3] * alpha + 235.0 * (1.0 - alpha)).astype(np.uint8)


def tiles(folder: Path) -> list[np.ndarray]:
    return [over(cv2.imread(str(folder / f"frame_{k:06d}.png"), cv2.IMREAD_UNCHANGED)) for k in FRAMES]


def label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (40, 40, 40), 1, cv2.LINE_AA)
    return tile


def picture(character: Path, minutes: float, work: Path) -> np.ndarray:
    drawing = next((character / "sheet").glob("*.png"))
    size = 256
    thumb = cv2.imread(str(drawing), cv2.IMREAD_UNCHANGED)
    scale = size / max(thumb.shape[:2])
    thumb = cv2.resize(
        thumb, (round(thumb.shape[1] * scale), round(thumb.shape[0] * scale)), interpolation=cv2.INTER_AREA
    )
    canvas = np.zeros((size, size, 4), np.uint8)
    y, x = (size - thumb.shape[0]) // 2, (size - thumb.shape[1]) // 2
    canvas[y : y + thumb.shape[0], x : x + thumb.shape[1]] = thumb
    first = cv2.cvtColor(over(canvas), cv2.COLOR_BGR2RGB)
    shipped = str(REPO / "assets" / "weights" / "lite")
    runs = {}
    for row, extra in ((ROWS[0], ["--weights", shipped, "--no-drawn-detail"]), (ROWS[1], ["--weights", shipped])):
        runs[row] = work / row.replace(" ", "_")
        avatar_app("render", "--character", str(character), "--frames", "40", "--out", str(runs[row]), *extra)
    avatar_app("adapt", "--character", str(character), "--minutes", str(minutes))
    for row, extra in ((ROWS[2], ["--no-drawn-detail"]), (ROWS[3], [])):
        runs[row] = work / row.replace(" ", "_")
        avatar_app("render", "--character", str(character), "--frames", "40", "--out", str(runs[row]), *extra)
    lines = []
    for row in ROWS:
        frames = [cv2.cvtColor(t, cv2.COLOR_BGR2RGB) for t in tiles(runs[row])]
        lines.append(np.concatenate([label(first, "drawing"), label(frames[0], row), *frames[1:]], axis=1))
    return np.concatenate(lines, axis=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("characters", nargs="*", type=Path, help="fitted character folders (default: fit the examples)")
    parser.add_argument("--minutes", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folders = list(args.characters)
        if not folders:
            for name, file in DRAWINGS.items():
                drawings = Path(tmp) / f"{name}_drawing"
                drawings.mkdir()
                shutil.copy(REPO / "examples" / "drawn" / name / file, drawings)
                avatar_app("fit", "--sheet", str(drawings), "--out", str(Path(tmp) / name))
                folders.append(Path(tmp) / name)
        for character in folders:
            work = Path(tmp) / f"frames_{character.name}"
            out = REPO / "docs" / f"adapt_{character.name}.png"
            cv2.imwrite(str(out), cv2.cvtColor(picture(character, args.minutes, work), cv2.COLOR_RGB2BGR))
            print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
