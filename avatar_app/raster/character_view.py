"""A character posed frame by frame (FK + spring bones + skinning) and rasterized.

The glue between ``rig`` and the rasterizer that the ``udp`` command, the
default-avatar builder and the live pipeline share.
"""

from __future__ import annotations

import numpy as np

from avatar_app.raster.camera import OrthographicCamera, auto_frame, yaw_cameras
from avatar_app.raster.lod import decimate_triangles
from avatar_app.raster.mesh import RasterMesh
from avatar_app.raster.rasterizer import Rasterizer, RasterResult
from avatar_app.rig import Character, CharacterAnimator, rest_udp_coordinates

# Room above the rest pose for raised arms and jumps, as a fraction of the rest height:
# the target camera stays fixed for a whole sequence, so the avatar never "zooms".
HEADROOM = 0.18


# Live views drop this share of triangles (see lod.py); sheet views use the full mesh.
LIVE_REDUCTION = 0.75


def raster_mesh(character: Character, reduction: float = 0.0) -> RasterMesh:
    """The character's rest pose as a RasterMesh (positions are replaced per frame)."""
    mesh = character.mesh
    rest = character.rest_vertices()
    colors = None if mesh.colors is None else np.clip(mesh.colors, 0.0, 1.0)
    triangles = decimate_triangles(rest, mesh.triangles, mesh.part_ids, reduction) if reduction else mesh.triangles
    return RasterMesh(rest, rest_udp_coordinates(character), triangles, colors)


def target_camera(
    character: Character, aspect: float = 1.0, margin: float = 0.03, view_dir=(0.0, 0.0, 1.0)
) -> OrthographicCamera:
    """A fixed orthographic camera showing the whole body with headroom, from ``view_dir``."""
    lo, hi = character.rest_bounds()
    height = hi[1] - lo[1]
    half_width = max(abs(lo[0]), abs(hi[0]), 0.35 * height)
    envelope = np.array(
        [[sx * half_width, y, z] for sx in (-1, 1) for y in (lo[1], hi[1] + HEADROOM * height) for z in (lo[2], hi[2])]
    )
    return auto_frame(envelope, aspect, margin, view_dir)


def sheet_cameras(
    character: Character, aspect: float = 1.0, margin: float = 0.03, yaws=("front", "three_quarter", "side", "back")
):
    """Cameras for character-sheet views of the rest pose, one shared scale."""
    return yaw_cameras(character.rest_vertices(), aspect, yaws, margin)


class CharacterView:
    """Pose → rasterized UDP (+ flat colour) of one character from one camera.

    Spring-bone state lives in the animator, so call :meth:`render_pose` once
    per frame in time order. The returned result is owned by the caller.
    ``reduction`` thins the triangles for speed (0 = the exact mesh).
    """

    def __init__(
        self,
        character: Character,
        size,
        *,
        camera=None,
        springs: bool = True,
        color_samples: int = 0,
        ctx=None,
        reduction: float = LIVE_REDUCTION,
    ):
        self.character = character
        self.animator = CharacterAnimator(character, springs=springs)
        self.mesh = raster_mesh(character, reduction)
        self.rasterizer = Rasterizer(size, ctx=ctx, color_samples=color_samples)
        height, width = self.rasterizer.height, self.rasterizer.width
        self.camera = camera if camera is not None else target_camera(character, width / height)

    def render_pose(self, pose, frame_dt: float, *, udp_only: bool = False) -> RasterResult:
        self.mesh.update(self.animator.update(pose, frame_dt))
        return self.rasterizer.render(self.mesh, self.camera, udp_only=udp_only).copy()

    def render_vertices(self, vertices, camera=None, *, udp_only: bool = False) -> RasterResult:
        self.mesh.update(vertices)
        return self.rasterizer.render(self.mesh, camera or self.camera, udp_only=udp_only).copy()

    def close(self) -> None:
        self.rasterizer.close()

    def __enter__(self) -> CharacterView:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
