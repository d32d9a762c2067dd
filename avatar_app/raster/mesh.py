"""The rasterizer's input: one triangle mesh whose vertex positions move per frame.

Plain numpy, GL-free, so the rig can build and update it without a context.
Everything except ``positions`` is fixed for the mesh's lifetime: the
rasterizer uploads it once and afterwards only re-uploads positions when
:meth:`RasterMesh.update` was called.
"""

from __future__ import annotations

import numpy as np

from avatar_app.core.errors import InputError

_UDP_FIX = "map rest-pose coordinates with x' = x/H + 0.5, y' = y/H, z' = z/H + 0.5 (DESIGN §4)"


def _float_array(value, name: str, columns: int, fix: str) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 2 or array.shape[1] != columns or not np.issubdtype(array.dtype, np.number):
        raise InputError(
            f"RasterMesh.{name}", f"a numeric array of shape [V, {columns}]", f"{array.dtype} {array.shape}", fix
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"RasterMesh.{name}", "finite values", "NaN or infinity", fix)
    return array


def _unit_range(array: np.ndarray, name: str, fix: str) -> None:
    low, high = float(array.min(initial=0.0)), float(array.max(initial=0.0))
    if low < 0.0 or high > 1.0:
        raise InputError(f"RasterMesh.{name}", "values in [0, 1]", f"values in [{low:.4g}, {high:.4g}]", fix)


class RasterMesh:
    """A posed triangle mesh plus what the rasterizer writes for each vertex.

    * ``positions``: float32 [V, 3], posed world coordinates (y up, feet on
      y = 0, the character facing +z). Changes every frame via :meth:`update`.
    * ``rest_udp``: float32 [V, 3] in [0, 1], the vertex's rest-pose UDP
      coordinate (DESIGN §4); the UDP pass interpolates it.
    * ``colors``: float32 [V, 4] straight (not premultiplied) RGBA in [0, 1],
      or None for a UDP-only mesh. Interpolated without lighting: give the
      vertices of one part one colour for a flat toon look.
    * ``triangles``: [F, 3] vertex indices (stored as uint32). Winding does not
      matter; both faces are drawn.

    All arrays are copied; the static ones are made read-only so a caller
    cannot change them behind the rasterizer's uploaded copy.
    """

    __slots__ = ("positions", "rest_udp", "colors", "triangles", "version", "__weakref__")

    def __init__(self, positions, rest_udp, triangles, colors=None):
        self.positions = _float_array(
            positions, "positions", 3, "pass posed vertex positions as an array [V, 3]"
        ).copy()
        num_vertices = self.positions.shape[0]
        if num_vertices == 0:
            raise InputError("RasterMesh.positions", "at least one vertex", "0 vertices", "pass a non-empty mesh")

        self.rest_udp = _float_array(rest_udp, "rest_udp", 3, _UDP_FIX).copy()
        if self.rest_udp.shape[0] != num_vertices:
            raise InputError(
                "RasterMesh.rest_udp",
                f"one row per vertex ({num_vertices})",
                f"{self.rest_udp.shape[0]} rows",
                _UDP_FIX,
            )
        _unit_range(self.rest_udp, "rest_udp", _UDP_FIX)

        if colors is None:
            self.colors = None
        else:
            color_fix = "pass straight RGBA floats in [0, 1] (divide 8-bit colours by 255), one row per vertex"
            self.colors = _float_array(colors, "colors", 4, color_fix).copy()
            if self.colors.shape[0] != num_vertices:
                raise InputError(
                    "RasterMesh.colors",
                    f"one row per vertex ({num_vertices})",
                    f"{self.colors.shape[0]} rows",
                    color_fix,
                )
            _unit_range(self.colors, "colors", color_fix)
            self.colors.setflags(write=False)

        tri = np.asarray(triangles)
        tri_fix = "pass triangles as integer vertex indices of shape [F, 3]"
        if tri.ndim != 2 or tri.shape[1] != 3 or tri.shape[0] == 0 or not np.issubdtype(tri.dtype, np.integer):
            raise InputError(
                "RasterMesh.triangles", "a non-empty integer array [F, 3]", f"{tri.dtype} {tri.shape}", tri_fix
            )
        low, high = int(tri.min()), int(tri.max())
        if low < 0 or high >= num_vertices:
            raise InputError(
                "RasterMesh.triangles",
                f"indices in [0, {num_vertices - 1}]",
                f"indices in [{low}, {high}]",
                "check the triangles belong to these vertices (0-based indices)",
            )
        self.triangles = np.ascontiguousarray(tri, dtype=np.uint32)

        self.rest_udp.setflags(write=False)
        self.triangles.setflags(write=False)
        # Bumped by update(); the rasterizer re-uploads positions when it differs
        # from the version it last uploaded.
        self.version = 0

    @property
    def num_vertices(self) -> int:
        return self.positions.shape[0]

    @property
    def num_triangles(self) -> int:
        return self.triangles.shape[0]

    @property
    def has_colors(self) -> bool:
        return self.colors is not None

    def update(self, positions) -> None:
        """Set this frame's posed positions (copied in place: no allocation)."""
        positions = np.asarray(positions)
        if positions.shape != self.positions.shape:
            raise InputError(
                "RasterMesh.update(positions)",
                f"shape {self.positions.shape}",
                f"shape {positions.shape}",
                "pass one posed position per vertex of the mesh the rasterizer was given",
            )
        np.copyto(self.positions, positions, casting="same_kind")
        self.version += 1
