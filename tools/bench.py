#!/usr/bin/env python3
"""Benchmarks: prints a table per section and writes everything to JSON.

Timing lives here, never in pass/fail tests. Ratios are measured side by side in one run.

    python tools/bench.py                      # renderer (torch, 256², M=1,2,4)
    python tools/bench.py --big                # + 512², M=4
    python tools/bench.py --threads 2 --json out/bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _stats(samples_s: list[float]) -> dict:
    ms = np.asarray(samples_s) * 1000.0
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)), "min_ms": float(ms.min()), "n": int(ms.size)}


def _timed(fn, warmup: int, repeats: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def synthetic_inputs(size: int, views: int, seed: int = 0):
    """Blob-shaped sheet views (premultiplied, transparent background) and a blob-shaped target UDP."""
    from avatar_app.core.frames import CharacterSheet, UdpMap

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    rgb = np.zeros((views, 3, size, size), np.uint8)
    alpha = np.zeros((views, 1, size, size), np.uint8)
    for v in range(views):
        cx, cy = rng.uniform(0.4, 0.6, 2)
        inside = ((xx - cx) / 0.25) ** 2 + ((yy - cy) / 0.4) ** 2 < 1
        alpha[v, 0] = inside * 255
        for c in range(3):
            rgb[v, c] = (inside * (0.5 + 0.5 * np.sin(2 * np.pi * (rng.uniform(1, 4) * xx + rng.uniform(1, 4) * yy)))) * 255
    mask = (((xx - 0.5) / 0.25) ** 2 + ((yy - 0.5) / 0.42) ** 2 < 1).astype(np.float32)
    udp = np.stack([xx * mask, yy * mask, 0.5 * mask, mask], -1).astype(np.float32)
    return CharacterSheet(rgb, alpha), UdpMap(udp)


def bench_renderer(cases, threads: int, preset: str, repeats: int, fast_modes=(True,)) -> list[dict]:
    import torch

    from avatar_app.infer import FrameRenderer, SheetEncoder
    from avatar_app.models import create_conr, fill_networks

    torch.set_num_threads(threads)
    model = fill_networks(create_conr(preset, init=False)).eval()
    encoder = SheetEncoder(model)
    rows = []
    for size, views in cases:
        sheet, udp = synthetic_inputs(size, views)
        encode_s = _timed(lambda: encoder.encode_tensors(*_sheet_tensors(sheet)), 1, max(3, repeats // 2))
        state = encoder.encode_tensors(*_sheet_tensors(sheet))
        for fast in fast_modes:
            renderer = FrameRenderer(model, fast=fast)
            n = repeats if size <= 256 else max(3, repeats // 3)
            frame_s = _timed(lambda: renderer.render(state, udp), 1, n)
            row = {
                "section": "renderer", "backend": "torch-cpu", "preset": preset, "size": size, "views": views,
                "threads": threads, "acceleration": renderer.acceleration,
                "frame": _stats(frame_s), "sheet_encode": _stats(encode_s),
            }
            rows.append(row)
            print(
                f"| {preset:8s} | {size:4d} | {views} | {renderer.acceleration[:34]:34s} | "
                f"{row['frame']['median_ms']:8.0f} | {row['frame']['p95_ms']:8.0f} | {row['sheet_encode']['median_ms']:8.0f} |",
                flush=True,
            )
    return rows


def bench_rig(size: int, frames: int, fps: float = 30.0) -> list[dict]:
    """Default avatar, demo motion: FK + springs + skinning, UDP raster, and both, per frame."""
    from avatar_app.raster.character_view import CharacterView
    from avatar_app.rig import DemoMotion, build_default_avatar

    character = build_default_avatar()
    motion = DemoMotion()
    rows = []
    with CharacterView(character, size) as view:
        anim, mesh, raster = view.animator, view.mesh, view.rasterizer
        pose_s, raster_s, total_s = [], [], []
        for k in range(frames + 3):
            t0 = time.perf_counter()
            vertices = anim.update(motion.pose_at(k / fps), 1.0 / fps)
            t1 = time.perf_counter()
            mesh.update(vertices)
            raster.render(mesh, view.camera, udp_only=True)
            t2 = time.perf_counter()
            if k >= 3:
                pose_s.append(t1 - t0)
                raster_s.append(t2 - t1)
                total_s.append(t2 - t0)
    info = f"{character.mesh.positions.shape[0]} vertices, {character.mesh.triangles.shape[0]} triangles"
    for stage, samples in (("pose+springs+skinning", pose_s), (f"UDP raster {size}²", raster_s), ("rig frame total", total_s)):
        row = {"section": "rig", "stage": stage, "size": size, "mesh": info, **_stats(samples)}
        rows.append(row)
        print(f"| {stage:24s} | {row['median_ms']:7.2f} | {row['p95_ms']:7.2f} |", flush=True)
    return rows


def _sheet_tensors(sheet):
    from avatar_app.infer.torch_backend import sheet_tensors

    return sheet_tensors(sheet)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--preset", default="official")
    p.add_argument("--big", action="store_true", help="also 512², M=4 (slow on CPU)")
    p.add_argument("--views", default="1,2,4", help="view counts at 256² (default 1,2,4)")
    p.add_argument("--repeats", type=int, default=7, help="timed frames per case (after 1 warm-up)")
    p.add_argument("--compare-plain", action="store_true", help="also time the shader with plain convolutions")
    p.add_argument("--sections", default="rig,renderer", help="comma list of: rig, renderer")
    p.add_argument("--json", default="out/bench.json", help="where to write the results (default out/bench.json)")
    args = p.parse_args(argv)

    sections = set(args.sections.split(","))
    rows = []
    if "rig" in sections:
        print("# rig: default avatar, demo motion, 30 fps (springs substep at 1/120 s)")
        print("| stage                    | p50 ms  | p95 ms  |")
        print("|---|---:|---:|")
        rows += bench_rig(512, 60)
    if "renderer" in sections:
        cases = [(256, int(v)) for v in args.views.split(",") if v]
        if args.big:
            cases.append((512, 4))
        print(f"# renderer, torch CPU, {args.threads} threads, {platform.processor() or platform.machine()}")
        print("| preset   | size | M | shader convolutions                 | frame p50 ms | p95 ms | sheet ms |")
        print("|---|---:|---:|---|---:|---:|---:|")
        modes = (True, False) if args.compare_plain else (True,)
        rows += bench_renderer(cases, args.threads, args.preset, args.repeats, modes)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    out.write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
