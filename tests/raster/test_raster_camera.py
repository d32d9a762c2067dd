"""Cameras and framing: pure numpy, no GL."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avatar_app.core.errors import SettingError
from avatar_app.raster import (
    OrthographicCamera,
    PerspectiveCamera,
    auto_frame,
    yaw_cameras,
    yaw_view_dir,
)


def test_front_camera_looks_toward_minus_z_with_plus_x_on_the_right():
    camera = OrthographicCamera(eye=(0, 1, 5), target=(0, 1, 0), half_height=1.0)
    right, up, forward = camera.basis()
    np.testing.assert_allclose(forward, [0, 0, -1])
    np.testing.assert_allclose(right, [1, 0, 0])
    np.testing.assert_allclose(up, [0, 1, 0])
    view = camera.view_matrix()
    np.testing.assert_allclose(view @ [0, 1, 5, 1], [0, 0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(view @ [0, 1, 0, 1], [0, 0, -5, 1], atol=1e-12)


@pytest.mark.parametrize(
    "camera",
    [
        OrthographicCamera(eye=(0, 1, 5), target=(0, 1, 0), half_height=1.0),
        PerspectiveCamera(eye=(0, 1, 5), target=(0, 1, 0)),
    ],
    ids=["orthographic", "perspective"],
)
def test_project_puts_high_points_in_top_rows_and_plus_x_in_right_columns(camera):
    height, width = 128, 256
    centre, high, right, near = camera.project([[0, 1, 0], [0, 1.5, 0], [0.5, 1, 0], [0, 1, 1]], height, width)
    np.testing.assert_allclose(centre[:2], [width / 2, height / 2], atol=1e-9)
    assert high[1] < height / 2 and abs(high[0] - width / 2) < 1e-9
    assert right[0] > width / 2 and abs(right[1] - height / 2) < 1e-9
    assert near[2] < centre[2]  # +z is toward a front camera
    np.testing.assert_allclose(centre[2], 5.0)


@pytest.mark.parametrize(
    "camera",
    [
        OrthographicCamera(eye=(1, 2, 4), target=(0, 1, 0), half_height=0.7),
        PerspectiveCamera(eye=(-2, 1.5, 3), target=(0, 1, 0), fov_y_deg=50),
    ],
    ids=["orthographic", "perspective"],
)
def test_pixel_rays_pass_through_their_pixel_centres(camera):
    height, width = 4, 6
    origins, directions = camera.pixel_rays(height, width)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=-1), 1.0)
    points = (origins + 2.5 * directions).reshape(-1, 3)
    projected = camera.project(points, height, width)
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    np.testing.assert_allclose(projected[:, 0], cols.ravel(), atol=1e-9)
    np.testing.assert_allclose(projected[:, 1], rows.ravel(), atol=1e-9)


@pytest.mark.parametrize(
    ("factory", "setting"),
    [
        (lambda: OrthographicCamera(half_height=0), "OrthographicCamera.half_height"),
        (lambda: PerspectiveCamera(fov_y_deg=180), "PerspectiveCamera.fov_y_deg"),
        (lambda: PerspectiveCamera(near=0), "PerspectiveCamera.near"),
        (lambda: OrthographicCamera(eye=(0, 1, 0), target=(0, 1, 0)), "OrthographicCamera.target"),
        (lambda: OrthographicCamera(eye=(0, 5, 0), target=(0, 0, 0)), "OrthographicCamera.up"),
        (lambda: OrthographicCamera(near=5, far=1), "OrthographicCamera.far"),
        (lambda: auto_frame(np.zeros((3, 3)), 1.0, projection="fisheye"), "auto_frame(projection)"),
        (lambda: auto_frame(np.zeros((3, 3)), 1.0, margin=0.5), "auto_frame(margin)"),
    ],
)
def test_bad_camera_settings_are_rejected_with_the_setting_named(factory, setting):
    with pytest.raises(SettingError) as info:
        factory()
    assert info.value.source == setting
    assert "Fix:" in str(info.value)


def _inside_fraction(camera, points, height, width):
    projected = camera.project(points, height, width)
    cols, rows = projected[:, 0] / width, projected[:, 1] / height
    return cols, rows, projected[:, 2]


point_clouds = st.integers(0, 2**31 - 1).map(
    lambda seed: np.random.default_rng(seed).normal(size=(40, 3)) * [0.3, 0.8, 0.2] + [0.0, 0.8, 0.0]
)


@settings(max_examples=40, deadline=None)
@given(
    points=point_clouds,
    aspect=st.sampled_from([0.5, 1.0, 1.5, 3.0]),
    margin=st.sampled_from([0.0, 0.05, 0.2]),
    yaw=st.floats(-180, 180),
    projection=st.sampled_from(["orthographic", "perspective"]),
)
def test_auto_frame_keeps_every_vertex_inside_the_margin(points, aspect, margin, yaw, projection):
    height = 128
    width = int(height * aspect)
    camera = auto_frame(points, aspect, margin=margin, view_dir=yaw_view_dir(yaw), projection=projection)
    cols, rows, depth = _inside_fraction(camera, points, height, width)
    tolerance = 1e-9
    assert cols.min() >= margin - tolerance and cols.max() <= 1 - margin + tolerance
    assert rows.min() >= margin - tolerance and rows.max() <= 1 - margin + tolerance
    assert (depth > camera.near).all() and (depth < camera.far).all()
    # The framing is tight: some vertex touches the margin (orthographic: exactly).
    touch = min(cols.min() - margin, 1 - margin - cols.max(), rows.min() - margin, 1 - margin - rows.max())
    assert touch <= (1e-9 if projection == "orthographic" else 0.02)


def test_auto_frame_orthographic_centres_the_body_and_uses_full_height():
    # A 1.6 tall, 0.5 wide box standing on y = 0: height limits the frame.
    corners = np.array([[x, y, z] for x in (-0.25, 0.25) for y in (0.0, 1.6) for z in (-0.1, 0.1)])
    camera = auto_frame(corners, 1.0, margin=0.05)
    np.testing.assert_allclose(camera.target, [0, 0.8, 0], atol=1e-12)
    np.testing.assert_allclose(camera.half_height, 0.8 / 0.9)
    assert camera.eye[2] > camera.target[2]  # front view by default


def test_yaw_cameras_orbit_the_vertical_axis_with_one_shared_scale():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 3)) * [0.4, 0.8, 0.1] + [0, 0.8, 0]
    front, three_quarter, side, back = yaw_cameras(points, 1.0)
    assert front.half_height == three_quarter.half_height == side.half_height == back.half_height
    assert front.eye[2] > 0 and back.eye[2] < 0 and side.eye[0] > 0
    assert three_quarter.eye[0] > 0 and three_quarter.eye[2] > 0
    for camera in (front, three_quarter, side, back):
        cols, rows, _ = _inside_fraction(camera, points, 128, 128)
        assert cols.min() >= 0.05 - 1e-9 and cols.max() <= 0.95 + 1e-9
        assert rows.min() >= 0.05 - 1e-9 and rows.max() <= 0.95 + 1e-9


def test_yaw_cameras_perspective_share_one_distance():
    points = np.random.default_rng(1).normal(size=(100, 3)) * [0.4, 0.8, 0.1] + [0, 0.8, 0]
    cameras = yaw_cameras(points, 0.75, yaws=(0, 90, "back"), projection="perspective", fov_y_deg=25)
    distances = [np.linalg.norm(np.subtract(c.eye, c.target)) for c in cameras]
    np.testing.assert_allclose(distances, distances[0])
    for camera in cameras:
        cols, rows, _ = _inside_fraction(camera, points, 128, 96)
        assert cols.min() >= 0.05 - 1e-9 and cols.max() <= 0.95 + 1e-9
        assert rows.min() >= 0.05 - 1e-9 and rows.max() <= 0.95 + 1e-9


def test_unknown_view_name_is_rejected():
    with pytest.raises(SettingError, match="front"):
        yaw_cameras(np.zeros((2, 3)), 1.0, yaws=("frontal",))
