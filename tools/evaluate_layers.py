#!/usr/bin/env python3
"""How well the body under the arms is filled (``fit.layers``): each fill against the truth.

    python tools/evaluate_layers.py [--count 12] [--json out/evaluate_layers.json] [--picture PATH]

Each case is a held-out synthetic character (``tools/evaluate_fit.py``'s cases, those with the
arms crossed, in front of the body or on the hips), rendered by the rig straight into the fit's
square at ``SIZE`` as its drawing. The proxy is the character itself, so what is measured is
the fill alone: the body under the arms is rendered with the arms taken off (the truth), and
each fill (``fit.layers.FILLS``) is scored on the hidden pixels by the mean absolute colour
error (8-bit RGB) and the share of pixels within 24 levels in every channel, beside a flat
fill with the body's mean colour (what a smear is worth). A table on stdout, everything to
the JSON file; ``--picture`` writes drawing | truth | each fill of the first cases.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

from avatar_app.fit.layers import FILLS, fill_hidden, hidden_by_arms
from avatar_app.fit.proxy import ProxyModel, Silhouettes, arm_vertices
from avatar_app.raster.character_view import raster_mesh
from avatar_app.raster.mesh import RasterMesh
from avatar_app.raster.rasterizer import Rasterizer

SIZE = 256
POSES = ("crossed", "front", "hips")
NEAR = 24


def _straight(color: np.ndarray) -> np.ndarray:
    a = color[..., 3:4]
    rgb = np.where(a > 1e-6, color[..., :3] / np.maximum(a, 1e-6), 0.0)
    return (np.clip(np.concatenate([rgb, a], axis=-1), 0, 1) * 255 + 0.5).astype(np.uint8)


def render_case(case: dict, rasterizer: Rasterizer, silhouettes: Silhouettes):
    """(drawing straight RGBA, its UDP, the body under the arms' UDP, that body's true colours)."""
    model = ProxyModel(case["style"])
    params = case["params"]
    params = params.with_values(half_height=0.95, centre_y=0.85, centre_x=0.0)
    mesh = raster_mesh(model.character)
    vertices = model.vertices(params)
    mesh.update(vertices)
    drawing = _straight(rasterizer.render(mesh, params.camera()).color)
    keep = ~arm_vertices(model.character)[mesh.triangles].any(axis=1)
    body = RasterMesh(mesh.positions, mesh.rest_udp, mesh.triangles[keep], mesh.colors)
    body.update(vertices)
    truth = _straight(rasterizer.render(body, params.camera()).color)
    return drawing, silhouettes.render(model, params), silhouettes.render_under_arms(model, params), truth


def score(filled: np.ndarray, truth: np.ndarray, hidden: np.ndarray) -> dict:
    error = np.abs(filled[hidden].astype(np.float32) - truth[hidden, :3].astype(np.float32))
    return {"mae": float(error.mean()), "near": float((error.max(axis=1) <= NEAR).mean())}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    p.add_argument("--picture", default=None, help="a PNG of the first four cases")
    args = p.parse_args(argv)
    import evaluate_fit  # the held-out cases (tools/ is on sys.path when run as a script)

    cases = []
    k = 0
    while len(cases) < args.count:
        case = evaluate_fit.make_case(k, args.seed)
        k += 1
        if case["arms"] in POSES:
            cases.append(case)
    rows, strips = [], []
    with Rasterizer(SIZE, color_samples=4) as rasterizer, Silhouettes(SIZE) as silhouettes:
        for case in cases:
            drawing, udp, under, truth = render_case(case, rasterizer, silhouettes)
            hidden, shown = hidden_by_arms(udp, under, drawing[..., 3])
            hidden &= truth[..., 3] >= 200
            if hidden.sum() < 20:
                continue
            row = {"index": case["index"], "arms": case["arms"], "hidden_pixels": int(hidden.sum())}
            flat = drawing[..., :3].copy()
            flat[hidden] = drawing[shown, :3].mean(axis=0).astype(np.uint8)
            row["flat"] = score(flat, truth, hidden)
            pictures = [drawing[..., :3], truth[..., :3]]
            for method in FILLS:
                filled = fill_hidden(drawing[..., :3], hidden, shown, method)
                row[method] = score(filled, truth, hidden)
                pictures.append(filled)
            rows.append(row)
            if len(strips) < 4:
                strips.append(np.concatenate(pictures, axis=1))
            print(
                f"case {row['index']:3d} {row['arms']:7s} hidden {row['hidden_pixels']:5d} px: "
                + "  ".join(f"{m} {row[m]['mae']:5.1f} ({100 * row[m]['near']:3.0f}%)" for m in ("flat", *FILLS)),
                flush=True,
            )
    summary = {
        m: {"mae": float(np.mean([r[m]["mae"] for r in rows])), "near": float(np.mean([r[m]["near"] for r in rows]))}
        for m in ("flat", *FILLS)
    }
    print(f"{len(rows)} cases; mean absolute error (8-bit), share within {NEAR} levels:")
    for m, s in summary.items():
        print(f"  {m:8s} {s['mae']:5.1f}  {100 * s['near']:3.0f}%")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"summary": summary, "cases": rows}, indent=2))
    if args.picture and strips:
        picture = np.concatenate(strips, axis=0)
        cv2.imwrite(args.picture, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return 0


if __name__ == "__main__":
    sys.exit(main())
