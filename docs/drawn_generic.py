#!/usr/bin/env python3
"""Make docs/drawn_generic.png: real drawings rendered by generic weights, before any adaptation.

    python docs/drawn_generic.py WEIGHTS...     # e.g. assets/weights/lite runs/mix256/weights

Each drawing of ``examples/drawn/{eileen,sylvie}`` (fitted first, about 2 min each; pass
``--characters DIR`` to keep the fits between runs) is held out: the network gets the other
views of the sheet and the held-out view's fitted UDP map (its own pose and camera) and has
to draw it. One row per drawing: the drawing, then each weights folder's render (the network
alone, no drawn detail), then the UDP lookup (each pixel copies the other views' pixel with the
nearest fitted UDP: no network), each with the PSNR against the drawing inside its silhouette.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZE = 256


def over(rgba: np.ndarray) -> np.ndarray:
    """Premultiplied float RGBA [H,W,4] over light grey, BGR uint8 for OpenCV."""
    rgb = rgba[..., :3] + 0.92 * (1.0 - rgba[..., 3:4])
    return (np.clip(rgb[..., ::-1], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (40, 40, 40), 1, cv2.LINE_AA)
    return tile


def psnr_inside(pred: np.ndarray, truth: np.ndarray) -> float:
    inside = truth[..., 3] > 0.5
    mse = float(np.mean((pred[inside, :3] - truth[inside, :3]) ** 2))
    return 10.0 * np.log10(1.0 / max(mse, 1e-10))


def rows_for(character: Path, weights: list[Path]) -> list[np.ndarray]:
    from avatar_app.core.frames import UdpMap
    from avatar_app.infer.registry import open_backend
    from avatar_app.io.sheet import load_sheet
    from avatar_app.io.sheet_udp import load_sheet_udp
    from avatar_app.models import load_weights_folder
    from avatar_app.training.baselines import udp_lookup
    from avatar_app.training.sample import Sample

    sheet = load_sheet(character / "sheet", size=SIZE)
    udps, missing = load_sheet_udp(character / "sheet_udp", sheet.names, SIZE)
    assert udps is not None, f"{character}: no sheet_udp for {missing}"
    rgba = np.concatenate([sheet.rgb_premultiplied, sheet.alpha], axis=1).astype(np.float32) / 255.0
    truths = list(rgba.transpose(0, 2, 3, 1))
    tiles = [[label(over(t), Path(n).stem)] for t, n in zip(truths, sheet.names)]
    for folder in weights:
        backend = open_backend("torch", load_weights_folder(folder), SIZE)
        state = backend.encode(sheet)
        for v, truth in enumerate(truths):
            others = [i for i in range(len(sheet.names)) if i != v]
            frame = backend.render(state.subset(others), UdpMap(np.ascontiguousarray(udps[v].transpose(1, 2, 0))))
            score = psnr_inside(frame.data, truth)
            tiles[v].append(label(over(frame.data), f"{folder.parent.name}/{folder.name}: {score:.2f} dB"))
            print(f"{character.name} {sheet.names[v]} {folder}: {score:.2f} dB inside the drawing", flush=True)
        backend.close()
    for v, truth in enumerate(truths):
        others = [i for i in range(len(sheet.names)) if i != v]
        sample = Sample(
            sheet.rgb_premultiplied[others], sheet.alpha[others], udps[others], udps[v], truth.transpose(2, 0, 1)
        )
        lookup = udp_lookup(sample).transpose(1, 2, 0)
        tiles[v].append(label(over(lookup), f"UDP lookup: {psnr_inside(lookup, truth):.2f} dB"))
    return [np.concatenate(row, axis=1) for row in tiles]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="+", type=Path)
    p.add_argument("--characters", type=Path, default=None, help="keep the fitted character folders here")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "drawn_generic.png")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = a.characters or Path(tmp)
        rows = []
        for name in ("eileen", "sylvie"):
            character = home / name
            if not (character / "character.json").is_file():
                drawings = REPO / "examples" / "drawn" / name
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "avatar_app.cli.main",
                        "fit",
                        "--sheet",
                        str(drawings),
                        "--out",
                        str(character),
                    ],
                    check=True,
                    cwd=REPO,
                )
            rows += rows_for(character, a.weights)
        cv2.imwrite(str(a.out), np.concatenate(rows, axis=0))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
