#!/usr/bin/env python3
"""Fit every character in ``../shared/drawn/`` (real drawings by outside artists) and tabulate it.

    python tools/fit_drawn.py [--drawn ../shared/drawn] [--out out/drawn_fits] [--only NAME ...]
                              [--rounds 2] [--json out/drawn_fits.json] [--picture docs/drawn_fits.png]

Each folder is fitted exactly as ``avatar-app fit --sheet FOLDER`` does (expression variants
split off, landmarks, face, search). Per view the table says the yaw found and whether it is
the side the drawing is drawn from (``EXPECTED`` below: what the drawings' README says of
each file, read by a person, not by the fitter), the silhouette IoU, the framing (and whether
it is the drawn one), and the seconds the character took. ``--picture`` stacks the fit.png of
the characters named by ``--picture-of`` for README.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from avatar_app.fit.outputs import view_framing
from avatar_app.fit.run import fit_folder

REPO = Path(__file__).resolve().parents[1]
# (yaw range in degrees the view is drawn from, framings that are right) per folder and view.
# yaw > 0 turns the face towards the picture's left. "front" allows the slight 3/4 turns these
# sprites have; godette's side view looks to the picture's left, her back view is a 3/4 back.
FRONT = (-35.0, 35.0)
EXPECTED = {
    "coolgirl": {"front": (FRONT, ("knee", "waist"))},  # thigh-up
    "deuzi": {"front": (FRONT, ("full",))},
    "deuzi_school": {"front": (FRONT, ("full",))},
    "eileen": {"happy": (FRONT, ("knee", "waist"))},  # knee-up / thigh-up
    "godette": {
        "front": (FRONT, ("full",)),
        "side": ((55.0, 125.0), ("full",)),
        "back": ((110.0, 250.0), ("full",)),
    },
    "jane": {"front": (FRONT, ("full",))},
    "marco": {"front": (FRONT, ("full",))},
    "marco_school": {"front": (FRONT, ("full",))},
}
PICTURE_HEIGHT = 300


def yaw_in(yaw: float, low: float, high: float) -> bool:
    """``yaw`` (any turn) inside [low, high], both read modulo 360."""
    span = (high - low) % 360.0
    return (yaw - low) % 360.0 <= span


def fit_one(folder: Path, out: Path, rounds: int) -> dict:
    t0 = time.perf_counter()
    notes: list[str] = []
    result = fit_folder(folder, out, rounds=rounds, note=notes.append)
    seconds = time.perf_counter() - t0
    expected = EXPECTED.get(folder.name, {})
    info = json.loads((out / "character.json").read_text())
    views = []
    for view in result.views:
        yaw = float(view.params.yaw)
        framing = view_framing(result, view)
        want = expected.get(view.drawing.name)
        views.append(
            {
                "view": view.drawing.name,
                "yaw": round(yaw, 1),
                "face": view.face.describe() if view.face is not None else None,
                "facing_ok": None if want is None else yaw_in(yaw, *want[0]),
                "iou": round(view.iou, 4),
                "framing": framing,
                "framing_ok": None if want is None else framing in want[1],
            }
        )
    missing = sorted(set(expected) - {v["view"] for v in views})
    return {
        "character": folder.name,
        "files": len(list(folder.glob("*.png"))),
        "views": views,
        "views_ok": not missing and len(views) == len(expected) if expected else None,
        "expressions": sorted(info.get("expressions", {})),
        "seconds": round(seconds, 1),
        "seconds_per_view": round(seconds / max(len(views), 1), 1),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| character | files → views + expressions | view | yaw (side right?) | IoU | framing (right?) | s / view |",
        "|---|---|---|---|---|---|---|",
    ]
    mark = {True: "yes", False: "**no**", None: "?"}
    for row in rows:
        split = f"{row['files']} → {len(row['views'])} + {len(row['expressions'])}"
        if row["views_ok"] is False:
            split += " (**wrong views**)"
        for k, v in enumerate(row["views"]):
            lines.append(
                f"| {row['character'] if k == 0 else ''} | {split if k == 0 else ''} | {v['view']} | "
                f"{v['yaw']:.0f}° ({mark[v['facing_ok']]}) | {v['iou']:.3f} | "
                f"{v['framing']} ({mark[v['framing_ok']]}) | "
                f"{row['seconds_per_view'] if k == 0 else ''} |"
            )
    return "\n".join(lines)


def summary(rows: list[dict]) -> dict:
    views = [v for r in rows for v in r["views"]]
    return {
        "characters": len(rows),
        "views": len(views),
        "facing_right": sum(bool(v["facing_ok"]) for v in views),
        "framing_right": sum(bool(v["framing_ok"]) for v in views),
        "views_right": sum(bool(r["views_ok"]) for r in rows),
        "mean_iou": float(np.mean([v["iou"] for v in views])) if views else math.nan,
        "iou_at_least_0.85": sum(v["iou"] >= 0.85 for v in views),
        "seconds_per_view": float(np.mean([r["seconds_per_view"] for r in rows])) if rows else math.nan,
    }


def picture(out: Path, names: list[str], path: Path) -> None:
    rows = []
    for name in names:
        image = cv2.imread(str(out / name / "fit.png"))
        if image is None:
            continue
        scale = PICTURE_HEIGHT / image.shape[0]
        rows.append(cv2.resize(image, (int(image.shape[1] * scale), PICTURE_HEIGHT), interpolation=cv2.INTER_AREA))
    if rows:
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.concatenate(rows, axis=1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--drawn", type=Path, default=REPO.parent / "shared" / "drawn")
    p.add_argument("--out", type=Path, default=REPO / "out" / "drawn_fits")
    p.add_argument("--only", nargs="*", default=None, help="folder names (default: every folder)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--picture", type=Path, default=None)
    p.add_argument("--picture-of", nargs="*", default=["marco", "godette", "coolgirl"])
    args = p.parse_args(argv)
    folders = sorted(f for f in args.drawn.iterdir() if f.is_dir() and any(f.glob("*.png")))
    if args.only:
        folders = [f for f in folders if f.name in args.only]
    rows = []
    for folder in folders:
        row = fit_one(folder, args.out / folder.name, args.rounds)
        rows.append(row)
        print(f"{folder.name}: {json.dumps(row['views'])}", file=sys.stderr, flush=True)
    print(table(rows))
    result = {"rows": rows, "summary": summary(rows)}
    print(json.dumps(result["summary"], indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    if args.picture:
        picture(args.out, args.picture_of, args.picture)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
