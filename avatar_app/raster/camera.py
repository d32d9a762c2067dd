"""Cameras, automatic framing and the standard turntable views. Numpy only.

Conventions (shared with the rig): world y is up, characters stand on y = 0
and face +z. A *front* camera sits on the +z side and looks toward -z, so the
character's left hand (+x) appears on the image's right. Matrices follow
OpenGL: view space looks down -z, clip space is [-1, 1]^3 with y up; the
rasterizer flips y itself so image row 0 is the top of the picture.
Pixel (col i, row j) has its centre at (i + 0.5, j + 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from avatar_app.core.errors import SettingError

#: Named yaw angles (degrees) of the views a character sheet usually has.
#: Positive yaw swings the camera from the front toward +x, the character's left side.
VIEW_YAWS_DEG = {"front": 0.0, "three_quarter": 45.0, "side": 90.0, "back": 180.0}


def _vec3(value, setting: str) -> tuple[float, float, float]:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != (3,) or not np.isfinite(array).all():
        raise SettingError(setting, "three finite numbers (x, y, z)", repr(value), "pass a 3-vector, e.g. (0, 1, 2)")
    return tuple(float(v) for v in array)


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _basis(eye, target, up) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right, up and forward unit vectors of a camera at eye looking at target."""
    forward = _normalize(np.subtract(target, eye))
    right = _normalize(np.cross(forward, up))
    return right, np.cross(right, forward), forward


class _Camera:
    """Shared maths of both camera kinds (subclasses are frozen dataclasses)."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float]
    near: float
    far: float

    def _validate_pose(self) -> None:
        name = type(self).__name__
        object.__setattr__(self, "eye", _vec3(self.eye, f"{name}.eye"))
        object.__setattr__(self, "target", _vec3(self.target, f"{name}.target"))
        object.__setattr__(self, "up", _vec3(self.up, f"{name}.up"))
        view = np.subtract(self.target, self.eye)
        if np.linalg.norm(view) < 1e-12:
            raise SettingError(
                f"{name}.target", "a point different from eye", repr(self.target), "move the eye away from the target"
            )
        if np.linalg.norm(np.cross(_normalize(view), self.up)) < 1e-6:
            raise SettingError(
                f"{name}.up",
                "a direction not parallel to the viewing direction",
                repr(self.up),
                "use up=(0, 1, 0) for side views",
            )
        if not (math.isfinite(self.near) and math.isfinite(self.far) and self.far > self.near):
            raise SettingError(f"{name}.far", f"far > near ({self.near})", repr(self.far), "pass finite near < far")

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, up, forward) unit vectors in world space; forward points from eye to target."""
        return _basis(self.eye, self.target, self.up)

    def view_matrix(self) -> np.ndarray:
        """float64 [4, 4] world -> view (OpenGL: the camera looks down view-space -z)."""
        right, true_up, forward = self.basis()
        eye = np.asarray(self.eye)
        view = np.eye(4)
        view[0, :3], view[1, :3], view[2, :3] = right, true_up, -forward
        view[:3, 3] = -view[:3, :3] @ eye
        return view

    def projection_matrix(self, aspect: float) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def view_projection(self, aspect: float) -> np.ndarray:
        """float64 [4, 4] world -> clip; ``aspect`` is width / height."""
        return self.projection_matrix(aspect) @ self.view_matrix()

    def project(self, points, height: int, width: int) -> np.ndarray:
        """World points [N, 3] -> [N, 3] of (col, row, depth) in an image of height x width.

        col/row are continuous pixel coordinates (row 0 at the top, pixel
        centres at +0.5); depth is the distance in front of the camera along
        its viewing axis.
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)
        clip = homogeneous @ self.view_projection(width / height).T
        ndc = clip[:, :3] / clip[:, 3:4]
        depth = -(homogeneous @ self.view_matrix().T)[:, 2]
        return np.stack([(ndc[:, 0] + 1.0) * 0.5 * width, (1.0 - ndc[:, 1]) * 0.5 * height, depth], axis=1)


@dataclass(frozen=True)
class OrthographicCamera(_Camera):
    """Parallel projection; ``half_height`` is half the visible world height."""

    eye: tuple[float, float, float] = (0.0, 1.0, 10.0)
    target: tuple[float, float, float] = (0.0, 1.0, 0.0)
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    half_height: float = 1.0
    near: float = 0.1
    far: float = 100.0

    def __post_init__(self):
        self._validate_pose()
        if not (math.isfinite(self.half_height) and self.half_height > 0):
            raise SettingError(
                "OrthographicCamera.half_height",
                "a positive number",
                repr(self.half_height),
                "use auto_frame() or e.g. 1.0",
            )

    def projection_matrix(self, aspect: float) -> np.ndarray:
        half_width = self.half_height * aspect
        n, f = self.near, self.far
        proj = np.zeros((4, 4))
        proj[0, 0] = 1.0 / half_width
        proj[1, 1] = 1.0 / self.half_height
        proj[2, 2] = -2.0 / (f - n)
        proj[2, 3] = -(f + n) / (f - n)
        proj[3, 3] = 1.0
        return proj

    def pixel_rays(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Origins and unit directions [H, W, 3] of the rays through every pixel centre."""
        right, true_up, forward = self.basis()
        x, y = _pixel_centres_ndc(height, width)
        origins = (
            np.asarray(self.eye)
            + x[..., None] * (self.half_height * width / height) * right
            + y[..., None] * self.half_height * true_up
        )
        return origins, np.broadcast_to(forward, origins.shape).copy()


@dataclass(frozen=True)
class PerspectiveCamera(_Camera):
    """Pinhole projection; ``fov_y_deg`` is the full vertical field of view."""

    eye: tuple[float, float, float] = (0.0, 1.0, 4.0)
    target: tuple[float, float, float] = (0.0, 1.0, 0.0)
    up: tuple[float, float, float] = (0.0, 1.0, 0.0)
    fov_y_deg: float = 30.0
    near: float = 0.1
    far: float = 100.0

    def __post_init__(self):
        self._validate_pose()
        if not (0.0 < self.fov_y_deg < 180.0):
            raise SettingError(
                "PerspectiveCamera.fov_y_deg", "degrees in (0, 180)", repr(self.fov_y_deg), "use e.g. 30"
            )
        if not self.near > 0:
            raise SettingError("PerspectiveCamera.near", "a positive distance", repr(self.near), "use e.g. 0.1")

    def projection_matrix(self, aspect: float) -> np.ndarray:
        focal = 1.0 / math.tan(math.radians(self.fov_y_deg) / 2.0)
        n, f = self.near, self.far
        proj = np.zeros((4, 4))
        proj[0, 0] = focal / aspect
        proj[1, 1] = focal
        proj[2, 2] = (f + n) / (n - f)
        proj[2, 3] = 2.0 * f * n / (n - f)
        proj[3, 2] = -1.0
        return proj

    def pixel_rays(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Origins and unit directions [H, W, 3] of the rays through every pixel centre."""
        right, true_up, forward = self.basis()
        tan_half = math.tan(math.radians(self.fov_y_deg) / 2.0)
        x, y = _pixel_centres_ndc(height, width)
        directions = forward + x[..., None] * (tan_half * width / height) * right + y[..., None] * tan_half * true_up
        directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
        return np.broadcast_to(np.asarray(self.eye), directions.shape).copy(), directions


Camera = OrthographicCamera | PerspectiveCamera


def _pixel_centres_ndc(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    cols = (np.arange(width) + 0.5) / width * 2.0 - 1.0
    rows = 1.0 - (np.arange(height) + 0.5) / height * 2.0
    return np.meshgrid(cols, rows)


def yaw_view_dir(yaw_deg: float) -> np.ndarray:
    """Unit vector from the character toward a camera orbiting the y axis (0 = front, +z)."""
    yaw = math.radians(yaw_deg)
    return np.array([math.sin(yaw), 0.0, math.cos(yaw)])


def auto_frame(
    positions,
    aspect: float,
    margin: float = 0.05,
    view_dir=(0.0, 0.0, 1.0),
    up=(0.0, 1.0, 0.0),
    projection: str = "orthographic",
    fov_y_deg: float = 30.0,
) -> Camera:
    """A camera looking along -view_dir that shows every vertex, ``margin`` of the image kept free on each side.

    ``aspect`` is width / height. Orthographic: centred on the bounding box in
    the image plane, the limiting axis exactly at the margin. Perspective: the
    camera backs off along view_dir until every vertex fits the field of view.
    """
    points = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if points.shape[0] == 0 or not np.isfinite(points).all():
        raise SettingError(
            "auto_frame(positions)",
            "finite vertex positions [V, 3]",
            f"shape {points.shape}",
            "pass the posed mesh vertices",
        )
    if not (0.0 <= margin < 0.5):
        raise SettingError("auto_frame(margin)", "a fraction in [0, 0.5)", repr(margin), "use e.g. 0.05")
    if not (math.isfinite(aspect) and aspect > 0):
        raise SettingError("auto_frame(aspect)", "width / height > 0", repr(aspect), "pass width / height of the image")
    towards_camera = _normalize(np.asarray(_vec3(view_dir, "auto_frame(view_dir)")))
    up = _vec3(up, "auto_frame(up)")
    if np.linalg.norm(np.cross(towards_camera, up)) < 1e-6:
        raise SettingError(
            "auto_frame(up)",
            "a direction not parallel to view_dir",
            repr(up),
            "use up=(0, 1, 0) and a horizontal view_dir",
        )
    right, true_up, _ = _basis(np.zeros(3), -towards_camera, up)

    a, b, c = points @ right, points @ true_up, points @ towards_camera
    centre = np.array([a.min() + a.max(), b.min() + b.max(), c.min() + c.max()]) / 2.0
    target = centre[0] * right + centre[1] * true_up + centre[2] * towards_camera
    x, y, z = a - centre[0], b - centre[1], c - centre[2]
    extent = max(np.abs(x).max(), np.abs(y).max(), np.abs(z).max(), 1e-6)
    fill = 1.0 - 2.0 * margin

    if projection == "orthographic":
        half_height = max(np.abs(y).max(), np.abs(x).max() / aspect, 1e-6) / fill
        half_depth = np.abs(z).max()
        pad = 0.1 * extent
        distance = half_depth + 2.0 * pad + half_height
        return OrthographicCamera(
            eye=tuple(target + distance * towards_camera),
            target=tuple(target),
            up=up,
            half_height=float(half_height),
            near=float(distance - half_depth - pad),
            far=float(distance + half_depth + pad),
        )
    if projection == "perspective":
        if not (0.0 < fov_y_deg < 180.0):
            raise SettingError("auto_frame(fov_y_deg)", "degrees in (0, 180)", repr(fov_y_deg), "use e.g. 30")
        tan_half = math.tan(math.radians(fov_y_deg) / 2.0)
        # A vertex at (x, y, z) fits when |y| <= tan_half * fill * (distance - z), likewise x with aspect.
        needed = np.maximum(np.abs(y) / (tan_half * fill), np.abs(x) / (tan_half * aspect * fill)) + z
        distance = max(float(needed.max()), float(z.max()) + 0.1 * extent)
        return _perspective_at(target, towards_camera, up, fov_y_deg, distance, z)
    raise SettingError(
        "auto_frame(projection)", "'orthographic' or 'perspective'", repr(projection), "pass projection='orthographic'"
    )


def _perspective_at(target, towards_camera, up, fov_y_deg, distance, z) -> PerspectiveCamera:
    nearest, farthest = distance - float(z.max()), distance - float(z.min())
    return PerspectiveCamera(
        eye=tuple(target + distance * towards_camera),
        target=tuple(target),
        up=up,
        fov_y_deg=fov_y_deg,
        near=0.5 * nearest,
        far=1.05 * farthest + 1e-6,
    )


def yaw_cameras(
    positions,
    aspect: float,
    yaws=("front", "three_quarter", "side", "back"),
    margin: float = 0.05,
    projection: str = "orthographic",
    fov_y_deg: float = 30.0,
) -> list[Camera]:
    """Cameras orbiting the vertical axis, one per yaw (degrees or a VIEW_YAWS_DEG name).

    All views share one scale (the largest any view needs), so the character
    has the same size in every view, as on a character sheet.
    """
    cameras = []
    for yaw in yaws:
        if isinstance(yaw, str):
            if yaw not in VIEW_YAWS_DEG:
                raise SettingError(
                    "yaw_cameras(yaws)",
                    f"degrees or one of {sorted(VIEW_YAWS_DEG)}",
                    repr(yaw),
                    "use e.g. 'front' or 45",
                )
            yaw = VIEW_YAWS_DEG[yaw]
        cameras.append(auto_frame(positions, aspect, margin, yaw_view_dir(yaw), (0.0, 1.0, 0.0), projection, fov_y_deg))

    if projection == "orthographic":
        half_height = max(camera.half_height for camera in cameras)
        return [replace(camera, half_height=half_height) for camera in cameras]
    # Perspective: back every camera off to the largest distance (projections only shrink).
    points = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    distance = max(float(np.linalg.norm(np.subtract(c.eye, c.target))) for c in cameras)
    unified = []
    for camera in cameras:
        towards_camera = _normalize(np.subtract(camera.eye, camera.target))
        z = (points - np.asarray(camera.target)) @ towards_camera
        unified.append(_perspective_at(np.asarray(camera.target), towards_camera, camera.up, fov_y_deg, distance, z))
    return unified
