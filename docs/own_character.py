#!/usr/bin/env python3
"""Make docs/own_character_*.png: a real drawing, fitted, rendered by the shipped weights.

    python docs/own_character.py           # fits examples/drawn/{eileen,sylvie} (about 2 min each here)

For each character ``fit.png`` is copied as ``docs/fit_<name>.png``; for Eileen the demo motion is rendered
twice with the shipped lite weights alone (no drawn detail): before (``--sheet`` alone: the default body, full body)
and after (``--character``: its fitted proxy and framing), frames 10, 25 and 39 side by side.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
FRAMES = (10, 25, 39)


def avatar_app(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "avatar_app.cli.main", *args], check=True, cwd=REPO)


def strip(folder: Path) -> np.ndarray:
    tiles = []
    for k in FRAMES:
        rgba = cv2.imread(str(folder / f"frame_{k:06d}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32)
        alpha = rgba[..., 3:4] / 255.0
        tiles.append((rgba[..., :3] * alpha + 235.0 * (1.0 - alpha)).astype(np.uint8))
    return np.concatenate(tiles, axis=1)


def main() -> int:
    for name in ("eileen", "sylvie"):
        drawings = REPO / "examples" / "drawn" / name
        with tempfile.TemporaryDirectory() as tmp:
            character = Path(tmp) / name
            avatar_app("fit", "--sheet", str(drawings), "--out", str(character))
            shutil.copyfile(character / "fit.png", REPO / "docs" / f"fit_{name}.png")
            if name != "eileen":  # README shows one before/after
                continue
            before, after = Path(tmp) / "before", Path(tmp) / "after"
            plain = ("--frames", "40", "--no-drawn-detail")  # the network alone: docs/adapt_frames.py shows the rest
            avatar_app("render", "--sheet", str(drawings), *plain, "--out", str(before))
            avatar_app("render", "--character", str(character), *plain, "--out", str(after))
            picture = np.concatenate([strip(before), strip(after)], axis=0)
            cv2.imwrite(str(REPO / "docs" / f"own_character_{name}.png"), picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
