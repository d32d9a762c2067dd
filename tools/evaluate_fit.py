#!/usr/bin/env python3
"""How well ``avatar-app fit`` recovers a character: held-out synthetic characters as drawings.

    python tools/evaluate_fit.py [--count 20] [--seed 0] [--rounds 2] [--json out/evaluate_fit.json]

Each case is one validation-split character (``AvatarStyle.random`` of a seed the training
split never uses, so drawn from the whole shape vocabulary) in a random standing pose (half
with the arms down, the rest with the arms where the outline cannot see them: ``ARM_POSES``,
crossed, a hand on the belly, hands behind the back, or on the hips) and
a random framing (full, knee, waist, bust), seen from a random side (``SIDES``: the front up
to 25 degrees off, a 3/4 turn either way, or the back), drawn
with the rig's antialiased colour pass at 512x512 as its "drawing" (straight alpha, cut off
at the picture's bottom edge for the cut framings, as real art is). The fitter sees only
that PNG, exactly as ``fit`` does: landmarks, start, shape search, refinement.

Prints one line per case, then the distribution of the fitted silhouette IoU (mean,
percentiles, a histogram), how often the facing was right (the fitted yaw within
``FACING_TOLERANCE`` of the true one) and how often the fit asked for it instead (no face,
no person, a file name without a side: ``fit --facing``), how often the framing was found,
how often mediapipe found the person, and the arms' part IoU (the visible arm pixels of the
fitted proxy against the drawn character's, in the fit's square), per arm pose; everything
goes to the JSON file, rewritten after each case. ``--cases 3,7`` runs only those cases.
Exit status 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from avatar_app.core.frames import RgbaFrame
from avatar_app.fit.drawing import load_drawings
from avatar_app.fit.facing import FacingUnknown
from avatar_app.fit.outputs import view_framing
from avatar_app.fit.proxy import ProxyModel, Silhouettes, ViewParams, hair_marked_mesh
from avatar_app.fit.run import FIT_SIZE, find_landmarks
from avatar_app.fit.search import fit_views
from avatar_app.io.sheet import prepare_view
from avatar_app.raster.camera import yaw_view_dir
from avatar_app.raster.character_view import raster_mesh
from avatar_app.raster.framing import FRAMINGS, cut_height, drawing_camera
from avatar_app.raster.rasterizer import Rasterizer
from avatar_app.rig.avatar_style import AvatarStyle

# (share of cases, yaw range in degrees): square on, a 3/4 turn to either side, the back
SIDES = ((0.5, (-25.0, 25.0)), (0.1, (35.0, 65.0)), (0.1, (-65.0, -35.0)), (0.3, (155.0, 205.0)))
FACING_TOLERANCE = 35.0
SEED_OFFSET = 2_000_000  # beyond the training split (0..N) and the dataset's val styles (1_000_000..)
DRAW_SIZE = 512
# (share of cases, arm pose): each pose draws both arms' (angle below horizontal, elbow, upper
# arm's and forearm's tilt towards the front) from these ranges (ViewParams)
ARM_POSES = {
    "down": (0.5, None),
    "crossed": (0.15, ((75.0, 85.0), (90.0, 105.0), (25.0, 40.0), (0.0, 15.0))),
    "front": (0.1, ((80.0, 88.0), (45.0, 70.0), (20.0, 35.0), (30.0, 45.0))),
    "behind": (0.15, ((75.0, 85.0), (50.0, 70.0), (-30.0, -20.0), (-45.0, -35.0))),
    "hips": (0.1, ((40.0, 55.0), (80.0, 100.0), (0.0, 0.0), (0.0, 0.0))),
}


def make_case(k: int, seed: int) -> dict:
    rng = np.random.default_rng([seed, k])
    style = AvatarStyle.random(np.random.default_rng(SEED_OFFSET + seed * 10_000 + k))
    framing = FRAMINGS[int(rng.integers(len(FRAMINGS)))]
    side = int(rng.choice(len(SIDES), p=[share for share, _ in SIDES]))
    params = ViewParams(
        yaw=float(rng.uniform(*SIDES[side][1])),
        left_arm=float(rng.uniform(45.0, 85.0)),
        right_arm=float(rng.uniform(45.0, 85.0)),
        left_elbow=float(rng.uniform(-10.0, 30.0)),
        right_elbow=float(rng.uniform(-10.0, 30.0)),
        legs=float(rng.uniform(0.0, 6.0)),
        head_tilt=float(rng.uniform(-8.0, 8.0)),
    )
    names = list(ARM_POSES)
    arms = names[int(rng.choice(len(names), p=[ARM_POSES[n][0] for n in names]))]
    ranges = ARM_POSES[arms][1]
    if ranges is not None:
        values = {}
        for side in ("left", "right"):
            for field, span in zip(("arm", "elbow", "arm_forward", "elbow_forward"), ranges):
                values[f"{side}_{field}"] = float(rng.uniform(*span))
        params = params.with_values(**values)
    return {"index": k, "style": style, "framing": framing, "params": params, "arms": arms}


def draw(case: dict, rasterizer: Rasterizer, arms: bool = False) -> np.ndarray:
    """Straight RGBA uint8 of the case's character, as a drawing; with ``arms``, the same
    picture's alpha with white where an arm is seen and black elsewhere."""
    model = ProxyModel(case["style"])
    vertices = model.vertices(case["params"])
    cut = None if case["framing"] == "full" else cut_height(model.character, case["framing"])
    camera = drawing_camera(vertices, cut, view_dir=yaw_view_dir(case["params"].yaw))
    mesh = raster_mesh(model.character)
    mesh.update(vertices)
    color = rasterizer.render(mesh, camera).color
    if arms:
        marked = hair_marked_mesh(model.character)
        marked.update(vertices)
        seen = rasterizer.render(marked, camera).color[..., 1:2]
        color = np.concatenate([np.repeat(seen, 3, axis=-1), color[..., 3:4]], axis=-1)
    return RgbaFrame(np.ascontiguousarray(color)).to_straight_rgba8()


def arm_iou(case: dict, rasterizer: Rasterizer, result) -> tuple[float, float]:
    """The visible arms' IoU, fitted against drawn, in the fit's square (NaN with no arm seen):
    as fitted, and with the arms kept in the frontal plane (every ``*_forward`` tilt zeroed:
    the fit before ``fit.arm_depth``)."""
    marked = draw(case, rasterizer, arms=True)
    square = prepare_view(marked, FIT_SIZE).astype(np.float32) / 255.0
    drawn = square[..., 0] > 0.5 * np.maximum(square[..., 3], 1e-3)
    drawn &= square[..., 3] > 0.5
    params = result.views[0].params
    frontal = params.with_values(
        **{f"{side}_{seg}_forward": 0.0 for side in ("left", "right") for seg in ("arm", "elbow")}
    )
    scores = []
    with Silhouettes(FIT_SIZE) as silhouettes:
        for pose in (params, frontal):
            fitted = silhouettes.render_parts(result.model, pose)[2] > 0.5
            union = (drawn | fitted).sum()
            scores.append(float((drawn & fitted).sum() / union) if union else float("nan"))
    return scores[0], scores[1]


def run_case(case: dict, rasterizer: Rasterizer, folder: Path, rounds: int) -> dict:
    path = folder / f"case_{case['index']:03d}.png"
    cv2.imwrite(str(path), cv2.cvtColor(draw(case, rasterizer), cv2.COLOR_RGBA2BGRA))
    t0 = time.perf_counter()
    drawings = load_drawings(path, FIT_SIZE)
    landmarks = find_landmarks(drawings)
    true_yaw = case["params"].yaw
    try:
        result = fit_views(drawings, landmarks, rounds=rounds)
    except FacingUnknown:
        return {
            "index": case["index"],
            "framing": case["framing"],
            "yaw": round(true_yaw, 1),
            "asked": True,
            "arms": case["arms"],
            "facing_ok": False,
            "landmarks": landmarks[0] is not None,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    view = result.views[0]
    arms, frontal_arms = arm_iou(case, rasterizer, result)
    found = view_framing(result, view)
    error = abs((view.params.yaw - true_yaw + 180.0) % 360.0 - 180.0)
    return {
        "index": case["index"],
        "framing": case["framing"],
        "found_framing": found,
        "framing_ok": found == case["framing"],
        "yaw": round(true_yaw, 1),
        "found_yaw": round(view.params.yaw, 1),
        "yaw_error": round(error, 1),
        "asked": False,
        "facing_ok": error <= FACING_TOLERANCE,
        "face": view.face.kind if view.face is not None else None,
        "iou": round(view.iou, 4),
        "arms": case["arms"],
        "arm_iou": None if np.isnan(arms) else round(arms, 4),
        "arm_iou_frontal": None if np.isnan(frontal_arms) else round(frontal_arms, 4),
        "landmarks": view.landmarks is not None,
        "seconds": round(time.perf_counter() - t0, 1),
        "true": {k: v for k, v in case["style"].describe().items() if not isinstance(v, (list, dict, tuple))},
        "fitted": {k: v for k, v in result.style.describe().items() if not isinstance(v, (list, dict, tuple))},
    }


def _mean(values: list) -> float:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def summarize(rows: list[dict]) -> dict:
    facing = {
        "facing_right": float(np.mean([r["facing_ok"] for r in rows])),
        "asked": float(np.mean([r["asked"] for r in rows])),
        "per_side": {
            side: {
                "cases": len(picked),
                "right": sum(r["facing_ok"] for r in picked),
                "asked": sum(r["asked"] for r in picked),
            }
            for side, picked in (
                ("front", [r for r in rows if abs(r["yaw"]) <= 25.0]),
                ("3/4", [r for r in rows if 25.0 < abs(r["yaw"]) < 90.0]),
                ("back", [r for r in rows if abs(r["yaw"]) >= 90.0]),
            )
        },
    }
    rows = [r for r in rows if not r["asked"]]  # the fit stopped to ask: no IoU, no framing
    if not rows:
        return {"cases": 0, **facing}
    ious = np.array([r["iou"] for r in rows])
    histogram, edges = np.histogram(ious, bins=[0.0, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0001])
    return {
        "cases": len(rows),
        **facing,
        "mean_iou": float(ious.mean()),
        "percentiles": {str(p): float(np.percentile(ious, p)) for p in (0, 10, 25, 50, 75, 90, 100)},
        "histogram": {f"{edges[i]:.2f}-{min(edges[i + 1], 1.0):.2f}": int(n) for i, n in enumerate(histogram)},
        "framing_found": float(np.mean([r["framing_ok"] for r in rows])),
        "mean_arm_iou": _mean([r.get("arm_iou") for r in rows]),
        "mean_arm_iou_frontal": _mean([r.get("arm_iou_frontal") for r in rows]),
        "per_arm_pose": {
            pose: {
                "cases": sum(r.get("arms") == pose for r in rows),
                "mean_arm_iou": _mean([r.get("arm_iou") for r in rows if r.get("arms") == pose]),
                "mean_arm_iou_frontal": _mean([r.get("arm_iou_frontal") for r in rows if r.get("arms") == pose]),
                "mean_iou": _mean([r["iou"] for r in rows if r.get("arms") == pose]),
            }
            for pose in ARM_POSES
        },
        "landmarks_found": float(np.mean([r["landmarks"] for r in rows])),
        "per_framing": {
            f: {
                "cases": sum(r["framing"] == f for r in rows),
                "found": sum(r["framing_ok"] for r in rows if r["framing"] == f),
                "mean_iou": float(np.mean([r["iou"] for r in rows if r["framing"] == f] or [float("nan")])),
            }
            for f in FRAMINGS
        },
    }


def format_summary(summary: dict) -> str:
    sides = ", ".join(
        f"{side} {s['right']}/{s['cases']} (asked {s['asked']})" for side, s in summary["per_side"].items()
    )
    lines = [
        f"facing right (within {FACING_TOLERANCE:.0f} degrees) {100 * summary['facing_right']:.0f}%, "
        f"asked {100 * summary['asked']:.0f}%: {sides}",
    ]
    if not summary["cases"]:
        return "\n".join(lines)
    lines += [
        f"fitted cases {summary['cases']}: mean IoU {summary['mean_iou']:.3f}, "
        f"framing found {100 * summary['framing_found']:.0f}%, "
        f"mediapipe found the person {100 * summary['landmarks_found']:.0f}%",
        "IoU percentiles: " + ", ".join(f"p{p} {v:.3f}" for p, v in summary["percentiles"].items()),
        "IoU histogram:   " + ", ".join(f"{k}: {v}" for k, v in summary["histogram"].items()),
    ]
    for f, s in summary["per_framing"].items():
        lines.append(f"  {f:5s}: {s['found']}/{s['cases']} framings found, mean IoU {s['mean_iou']:.3f}")
    lines.append(
        f"arm part IoU: mean {summary['mean_arm_iou']:.3f} "
        f"(the arms kept in the frontal plane: {summary['mean_arm_iou_frontal']:.3f})"
    )
    for pose, s in summary["per_arm_pose"].items():
        lines.append(
            f"  arms {pose:7s}: {s['cases']} cases, arm IoU {s['mean_arm_iou']:.3f} "
            f"(frontal {s['mean_arm_iou_frontal']:.3f}), silhouette IoU {s['mean_iou']:.3f}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--cases", default=None, help="only these case numbers, e.g. 3,7 (a rerun)")
    p.add_argument("--json", default=None, help="write every case and the summary here (after each case)")
    args = p.parse_args(argv)
    picked = range(args.count) if args.cases is None else [int(k) for k in args.cases.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Rasterizer(DRAW_SIZE, color_samples=4) as rasterizer:
        for k in picked:
            row = run_case(make_case(k, args.seed), rasterizer, Path(tmp), args.rounds)
            rows.append(row)
            if args.json:
                _write_json(Path(args.json), rows)
            if row["asked"]:
                print(f"case {k:3d}: yaw {row['yaw']:6.1f}: the fit asked which way it faces", flush=True)
                continue
            arm = "-" if row["arm_iou"] is None else f"{row['arm_iou']:.3f}"
            print(
                f"case {k:3d}: yaw {row['yaw']:6.1f} -> {row['found_yaw']:6.1f} ({row['face']}) "
                f"{row['framing']:5s} -> {row['found_framing']:5s} "
                f"IoU {row['iou']:.3f} arms {row['arms']} {arm} "
                f"landmarks {'yes' if row['landmarks'] else 'no '} ({row['seconds']} s)",
                flush=True,
            )
    print(format_summary(summarize(rows)))
    return 0


def _write_json(path: Path, rows: list[dict]) -> None:
    """The cases so far and their summary, replaced whole (a stopped run leaves its last good file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"summary": summarize(rows), "cases": rows}, indent=2))
    partial.replace(path)


if __name__ == "__main__":
    sys.exit(main())
