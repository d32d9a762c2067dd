"""OpenGL rasterizer: posed proxy mesh + camera -> UDP map (and a toon colour image).

Typical use::

    mesh = RasterMesh(posed_positions, rest_udp, triangles, colors)   # once per character
    camera = auto_frame(mesh.positions, aspect=width / height)         # or yaw_cameras(...)
    with Rasterizer((height, width)) as rasterizer:
        for posed_positions in poses:
            mesh.update(posed_positions)                               # only positions re-upload
            result = rasterizer.render(mesh, camera)                   # result.udp, result.color

Conventions: world y up, characters on y = 0 facing +z; a front camera sits at
+z looking toward -z (+x on the image's right). Image row 0 is the top. UDP
background is exactly 0; covered pixels hold the nearest surface's rest UDP
with alpha 1. Colour is premultiplied RGBA. Cameras and meshes are numpy
only; moderngl is imported when a Rasterizer is made.
"""

from avatar_app.raster.camera import (
    VIEW_YAWS_DEG,
    Camera,
    OrthographicCamera,
    PerspectiveCamera,
    auto_frame,
    yaw_cameras,
    yaw_view_dir,
)
from avatar_app.raster.context import create_headless_context
from avatar_app.raster.mesh import RasterMesh
from avatar_app.raster.rasterizer import Rasterizer, RasterResult

__all__ = [
    "VIEW_YAWS_DEG",
    "Camera",
    "OrthographicCamera",
    "PerspectiveCamera",
    "RasterMesh",
    "RasterResult",
    "Rasterizer",
    "auto_frame",
    "create_headless_context",
    "yaw_cameras",
    "yaw_view_dir",
]
