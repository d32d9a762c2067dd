"""A character posed frame by frame (FK + spring bones + skinning) and rasterized.

The glue between ``rig`` and the rasterizer that the ``udp`` command, the
default-avatar builder and the live pipeline share.
"""

from __future__ import annotations

import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.raster.camera import VIEW_YAWS_DEG, yaw_cameras, yaw_view_dir
from avatar_app.raster.framing import HEADROOM, FollowCamera, cut_height, drawing_camera, target_camera
from avatar_app.raster.lod import decimate_triangles
from avatar_app.raster.mesh import RasterMesh
from avatar_app.raster.rasterizer import Rasterizer, RasterResult
from avatar_app.rig import Character, CharacterAnimator, rest_udp_coordinates

# Live views drop this share of triangles (see lod.py); sheet views use the full mesh.
LIVE_REDUCTION = 0.75


def raster_mesh(character: Character, reduction: float = 0.0) -> RasterMesh:
    """The character's rest pose as a RasterMesh (positions are replaced per frame)."""
    mesh = character.mesh
    rest = character.rest_vertices()
    colors = None if mesh.colors is None else np.clip(mesh.colors, 0.0, 1.0)
    triangles = decimate_triangles(rest, mesh.triangles, mesh.part_ids, reduction) if reduction else mesh.triangles
    return RasterMesh(rest, rest_udp_coordinates(character, character.udp_calibration), triangles, colors)


__all__ = ["HEADROOM", "LIVE_REDUCTION", "CharacterView", "raster_mesh", "sheet_cameras", "target_camera"]


def sheet_cameras(
    character: Character,
    aspect: float = 1.0,
    margin: float = 0.03,
    yaws=("front", "three_quarter", "side", "back"),
    framings=None,
):
    """Cameras for character-sheet views of the rest pose, one shared scale.

    ``framings`` (one framing name per view, None = all ``"full"``) cuts views like
    drawings: a cut view is :func:`~avatar_app.raster.framing.drawing_camera` at that
    framing's cut, with its own scale (a sheet view is cropped and resized anyway).
    """
    rest = character.rest_vertices()
    cameras = yaw_cameras(rest, aspect, yaws, margin)
    if framings is None:
        return cameras
    if len(framings) != len(cameras):
        raise SettingError(
            "sheet_cameras(framings)", f"one framing per view ({len(cameras)})", repr(framings), "pass None or one each"
        )
    out = []
    for yaw, framing, camera in zip(yaws, framings, cameras):
        if framing == "full":
            out.append(camera)
            continue
        view_dir = yaw_view_dir(VIEW_YAWS_DEG[yaw] if isinstance(yaw, str) else yaw)
        out.append(drawing_camera(rest, cut_height(character, framing), aspect, margin, view_dir))
    return out


class CharacterView:
    """Pose → rasterized UDP (+ flat colour) of one character from one camera.

    Spring-bone state lives in the animator, so call :meth:`render_pose` once
    per frame in time order. The returned result is owned by the caller.
    ``reduction`` thins the triangles for speed (0 = the exact mesh).

    The camera is ``camera`` if given, else :func:`target_camera` (full body, still);
    ``framing`` (a framing name or a cut height, see :mod:`~avatar_app.raster.framing`)
    frames the avatar that way instead, with a :class:`FollowCamera` (``self.follow``)
    that :meth:`render_pose` moves with the body every frame.
    """

    def __init__(
        self,
        character: Character,
        size,
        *,
        camera=None,
        framing=None,
        springs: bool = True,
        color_samples: int = 0,
        ctx=None,
        reduction: float = LIVE_REDUCTION,
    ):
        if camera is not None and framing is not None:
            raise SettingError(
                "CharacterView(framing)",
                "either a camera or a framing",
                f"both (camera {type(camera).__name__}, framing {framing!r})",
                "pass camera= for a fixed camera or framing= for one that follows the body",
            )
        self.character = character
        self.animator = CharacterAnimator(character, springs=springs)
        self.mesh = raster_mesh(character, reduction)
        self.rasterizer = Rasterizer(size, ctx=ctx, color_samples=color_samples)
        aspect = self.rasterizer.width / self.rasterizer.height
        try:
            self.follow = None if framing is None else FollowCamera(character, framing, aspect)
        except SettingError:
            self.rasterizer.close()
            raise
        if camera is None:
            camera = self.follow.camera if self.follow is not None else target_camera(character, aspect)
        self.camera = camera

    def render_pose(self, pose, frame_dt: float, *, udp_only: bool = False, expression=None) -> RasterResult:
        """``expression`` (an ``rig.expressions.Expression``) drives the face morphs."""
        self.mesh.update(self.animator.update(pose, frame_dt, expression))
        if self.follow is not None:
            self.camera = self.follow.update(self.animator.world_matrices[:, :3, 3], frame_dt)
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
