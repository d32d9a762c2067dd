"""Rasterizer timing on a synthetic body-sized mesh (called by tools/bench.py).

Each timed frame is what the live loop does: write new posed positions,
render, read back. The mesh is a closed ellipsoid of a standing character's
proportions framed full-body, so about a fifth of the pixels are covered and
half the triangles face away (they are still rasterized: culling is off).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from avatar_app.raster.camera import auto_frame
from avatar_app.raster.mesh import RasterMesh
from avatar_app.raster.rasterizer import Rasterizer


def ellipsoid_mesh(n_triangles: int, height: float = 1.6) -> RasterMesh:
    """A latitude/longitude ellipsoid standing on y = 0 with about ``n_triangles`` triangles."""
    rings = max(3, int(round(math.sqrt(n_triangles / 4.0))))
    segments = max(3, int(round(n_triangles / (2.0 * rings))))
    theta = np.linspace(0.0, math.pi, rings + 1)
    phi = np.linspace(0.0, 2.0 * math.pi, segments + 1)
    theta, phi = np.meshgrid(theta, phi, indexing="ij")
    unit = np.stack([np.sin(theta) * np.cos(phi), np.cos(theta), np.sin(theta) * np.sin(phi)], axis=-1).reshape(-1, 3)
    positions = unit * np.array([0.25 * height, 0.5 * height, 0.12 * height]) + np.array([0.0, 0.5 * height, 0.0])

    grid = np.arange((rings + 1) * (segments + 1)).reshape(rings + 1, segments + 1)
    a, b = grid[:-1, :-1].ravel(), grid[1:, :-1].ravel()
    c, d = grid[1:, 1:].ravel(), grid[:-1, 1:].ravel()
    triangles = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])

    rest_udp = np.clip(positions / height + np.array([0.5, 0.0, 0.5]), 0.0, 1.0)
    colors = np.concatenate([0.3 + 0.7 * rest_udp, np.ones((len(positions), 1))], axis=1)
    return RasterMesh(positions, rest_udp, triangles, colors)


def _time_frames(rasterizer: Rasterizer, mesh: RasterMesh, camera, poses, repeats: int, udp_only: bool) -> tuple[float, float]:
    for pose in poses[:2]:  # warm up: upload, shader compile, first-touch of buffers
        mesh.update(pose)
        rasterizer.render(mesh, camera, udp_only=udp_only)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        mesh.update(poses[i % len(poses)])
        rasterizer.render(mesh, camera, udp_only=udp_only)
        times.append(time.perf_counter() - start)
    times_ms = np.asarray(times) * 1e3
    return float(np.median(times_ms)), float(times_ms.min())


def bench_raster(size: int = 512, n_triangles: int = 50_000, repeats: int = 30, color_samples: int = 4) -> dict:
    """Median and best milliseconds per frame for UDP only, UDP + colour, and UDP + MSAA colour.

    Keys: udp_ms, udp_min_ms, udp_color_ms, udp_color_min_ms, and with
    ``color_samples`` > 0 also udp_color_msaa_ms, udp_color_msaa_min_ms.
    """
    mesh = ellipsoid_mesh(n_triangles)
    rest = mesh.positions.copy()
    # Two slightly different poses so every frame really re-uploads positions.
    poses = [rest, rest * np.float32(1.001)]
    camera = auto_frame(rest, 1.0)
    results = {}
    with Rasterizer(size) as rasterizer:
        results["udp_ms"], results["udp_min_ms"] = _time_frames(rasterizer, mesh, camera, poses, repeats, True)
        results["udp_color_ms"], results["udp_color_min_ms"] = _time_frames(rasterizer, mesh, camera, poses, repeats, False)
    if color_samples:
        with Rasterizer(size, color_samples=color_samples) as rasterizer:
            median, best = _time_frames(rasterizer, mesh, camera, poses, repeats, False)
            results["udp_color_msaa_ms"], results["udp_color_msaa_min_ms"] = median, best
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--triangles", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--color-samples", type=int, default=4)
    args = parser.parse_args(argv)
    mesh = ellipsoid_mesh(args.triangles)
    report = {"size": args.size, "triangles": mesh.num_triangles}
    report.update(bench_raster(args.size, args.triangles, args.repeats, args.color_samples))
    print(json.dumps(report, indent=2))  # script entry point: printing is its job


if __name__ == "__main__":
    main()
