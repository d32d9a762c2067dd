#!/usr/bin/env python3
"""A contact sheet of random synthetic characters: what the renderer is trained on, at a glance.

    python tools/contact_sheet.py                                   # docs/drawn_characters.png
    python tools/contact_sheet.py --family toon --out out/toon.png  # the shipped weights' family
    python tools/contact_sheet.py --what sheet                      # each character's front sheet view

Each cell is one character of the dataset's pool (character k is sample k): by default the
target picture of its first sample (a random pose, yaw and framing, as the network must draw
it), over white paper; ``--what sheet`` shows the first sheet view of that sample instead
(a drawing, augmented like the training data).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from avatar_app.training.drawn_family import FAMILIES
from avatar_app.training.synthetic import SyntheticDataset


def cell_image(sample, what: str, cell: int) -> np.ndarray:
    """RGB uint8 [cell, cell, 3] of one sample over white."""
    if what == "sheet":
        rgb = sample.sheet_rgb[0].astype(np.float32) / 255.0
        alpha = sample.sheet_alpha[0].astype(np.float32) / 255.0
    else:
        rgb, alpha = sample.target_rgba[:3], sample.target_rgba[3:]
    over_white = (rgb + (1.0 - alpha)).transpose(1, 2, 0)
    image = np.rint(np.clip(over_white, 0.0, 1.0) * 255).astype(np.uint8)
    return cv2.resize(image, (cell, cell), interpolation=cv2.INTER_AREA)


def contact_sheet(dataset: SyntheticDataset, count: int, columns: int, cell: int, what: str) -> np.ndarray:
    rows = -(-count // columns)
    sheet = np.full((rows * cell, columns * cell, 3), 255, np.uint8)
    for k in range(count):
        r, c = divmod(k, columns)
        sheet[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = cell_image(dataset[k], what, cell)
    sheet[::cell, :] = 200  # thin grid lines between cells
    sheet[:, ::cell] = 200
    return sheet


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", default="drawn", choices=sorted(FAMILIES))
    parser.add_argument("--split", default="train", choices=("train", "val"))
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--size", type=int, default=256, help="model size the samples are rendered at")
    parser.add_argument("--cell", type=int, default=192, help="pixels per cell in the PNG")
    parser.add_argument("--what", default="target", choices=("target", "sheet"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/drawn_characters.png"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with SyntheticDataset(
        size=args.size,
        split=args.split,
        num_characters=args.count,
        seed=args.seed,
        family=args.family,
        max_cached=1,
    ) as dataset:
        sheet = contact_sheet(dataset, args.count, args.columns, args.cell, args.what)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}: {args.count} {args.family} characters in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
