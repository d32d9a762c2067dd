"""Synthetic meshes for the raster tests."""

from __future__ import annotations

import math

import numpy as np

from avatar_app.raster.mesh import RasterMesh


def ellipsoid_mesh(n_triangles: int, height: float = 1.6) -> RasterMesh:
    """A latitude/longitude ellipsoid standing on y = 0 with about ``n_triangles`` triangles.

    A standing character's proportions: framed full-body it covers about a fifth of the pixels.
    """
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
