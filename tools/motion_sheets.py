#!/usr/bin/env python3
"""Contact sheets of characters in motion: one row per character, one frame per second.

    python tools/motion_sheets.py --character characters/godette --character characters/coolgirl \\
        --motion /usr/share/assimp/models/BVH/01_01.bvh --motion turn --seconds 12 --out docs/motion_sheets.png

Each (character, motion) pair is rendered by ``avatar-app render`` (the app's own command,
CoNR with the drawn detail, the character's framing) at ``--fps 1`` into a temporary folder,
and the frames are laid out side by side over grey, a row per pair with its names. What a
person looks for: no part printed where it was drawn after it moved, no face on the back of
a head, the character in the picture in every frame. Debian's motion capture clips:
``apt-get download assimp-testmodels && dpkg -x assimp-testmodels_*.deb DIR`` (or install
the package); they land in ``DIR/usr/share/assimp/models/BVH/``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

TILE = 128
LABEL = 22


def render_row(character: str, motion: str, seconds: int, size: int) -> np.ndarray:
    """uint8 RGB [TILE + LABEL, seconds * TILE]: the pair's frames over grey, labelled."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable,
            "-m",
            "avatar_app.cli.main",
            "render",
            "--character",
            character,
            "--motion",
            motion,
            "--fps",
            "1",
            "--frames",
            str(seconds),
            "--size",
            str(size),
            "--out",
            tmp,
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"render failed for {character} with {motion}:\n{done.stderr[-2000:]}")
        tiles = []
        for path in sorted(Path(tmp).glob("*.png"))[:seconds]:
            frame = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.float32)
            alpha = frame[..., 3:4] / 255.0
            rgb = cv2.cvtColor((frame[..., :3] * alpha + 200.0 * (1.0 - alpha)).astype(np.uint8), cv2.COLOR_BGR2RGB)
            tiles.append(cv2.resize(rgb, (TILE, TILE), interpolation=cv2.INTER_AREA))
    while len(tiles) < seconds:
        tiles.append(np.full((TILE, TILE, 3), 255, np.uint8))
    row = np.concatenate(tiles, axis=1)
    label = np.full((LABEL, row.shape[1], 3), 255, np.uint8)
    text = f"{Path(character).name} / {Path(motion).name}: one frame a second"
    cv2.putText(label, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([label, row], axis=0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--character", action="append", required=True, help="a character folder (repeat)")
    p.add_argument("--motion", action="append", required=True, help="a .bvh file, demo or turn (repeat)")
    p.add_argument("--seconds", type=int, default=12, help="frames per row, one a second (default 12)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--out", required=True, help="the PNG to write")
    args = p.parse_args(argv)
    rows = []
    for motion in args.motion:
        for character in args.character:
            rows.append(render_row(character, motion, args.seconds, args.size))
            print(f"{Path(character).name} / {Path(motion).name}: done", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
