#!/usr/bin/env python3
"""Write synthetic training data in the folder format of docs/dataset.md.

    python tools/make_dataset.py --out DATA --characters 8 --poses 32 --size 256 [--split val] [--seed 0]

Per character (``syn<style seed>``): ``sheet/{0_front,1_three_quarter,2_side,3_back}.png``
(straight RGBA at twice ``--size``, as rendered), ``sheet_udp/<view>.npz``,
``poses/<frame>.npz`` (target UDP), ``images/<frame>.png`` (target RGBA, straight alpha)
and ``meta.json`` (the style and each frame's yaw, time, ...). The same arguments always
write the same files; ``FolderDataset(DATA, size)`` reads them back as the samples of
``SyntheticDataset(size, split, characters, seed)`` (views in file order).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar_app.core.frames import RgbaFrame
from avatar_app.io.udp import save_udp
from avatar_app.training.synthetic import SyntheticDataset


def write_dataset(out: Path, characters: int, poses: int, size: int, split: str = "train", seed: int = 0) -> list[Path]:
    """Write the folders; returns the character folders."""
    dataset = SyntheticDataset(size=size, split=split, num_characters=characters, seed=seed, length=characters * poses)
    folders = []
    try:
        for k in range(characters):
            cached = dataset.character(k)
            folder = out / cached.character_id
            for sub in ("sheet", "sheet_udp", "poses", "images"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            for name, rgba, udp in dataset.sheet_views(k):
                _write_png(folder / "sheet" / f"{name}.png", rgba)
                save_udp(folder / "sheet_udp" / f"{name}.npz", udp)
            frames = {}
            for j in range(poses):
                sample = dataset[k + j * characters]  # item i shows character i % characters
                frame = f"{j:04d}"
                save_udp(folder / "poses" / f"{frame}.npz", np.ascontiguousarray(sample.target_udp.transpose(1, 2, 0)))
                rgba = RgbaFrame(np.ascontiguousarray(sample.target_rgba.transpose(1, 2, 0))).to_straight_rgba8()
                _write_png(folder / "images" / f"{frame}.png", rgba)
                frames[frame] = {key: value for key, value in sample.meta.items() if key != "sheet_yaws"}
            meta = {
                "character": cached.character_id,
                "split": split,
                "seed": seed,
                "size": size,
                "style": cached.style.describe(),
                "frames": frames,
            }
            (folder / "meta.json").write_text(json.dumps(meta, indent=1))
            folders.append(folder)
    finally:
        dataset.close()
    return folders


def _write_png(path: Path, rgba: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    if not ok:
        raise OSError(f"{path}: OpenCV could not encode the PNG")
    path.write_bytes(encoded.tobytes())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="dataset folder (created; existing files are overwritten)")
    p.add_argument(
        "--characters", type=int, default=8, help="characters of the split's pool, from the first (default 8)"
    )
    p.add_argument("--poses", type=int, default=32, help="target poses per character (default 32)")
    p.add_argument("--size", type=int, default=256, help="model size, a multiple of 128 (default 256)")
    p.add_argument("--split", choices=("train", "val"), default="train", help="val characters never appear in train")
    p.add_argument("--seed", type=int, default=0, help="poses, cameras and view orders (not the characters)")
    args = p.parse_args(argv)
    started = time.perf_counter()
    folders = write_dataset(Path(args.out), args.characters, args.poses, args.size, args.split, args.seed)
    print(
        f"wrote {len(folders)} characters x {args.poses} poses at {args.size}x{args.size} ({args.split} split) "
        f"to {args.out} in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
