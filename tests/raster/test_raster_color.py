"""The colour pass: premultiplied flat colours from the same camera as the UDP."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.raster import OrthographicCamera, RasterMesh

FRONT = OrthographicCamera(eye=(0, 0, 10), target=(0, 0, 0), half_height=1.0, near=1.0, far=20.0)
RECTANGLE = np.array([[0, 1, 2], [0, 2, 3]])


def rectangle_points(x0, x1, y0, y1, z=0.0):
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]])


def pixel_centres(size):
    centres = (np.arange(size) + 0.5) / size * 2 - 1
    return np.meshgrid(centres, -centres)


def test_colour_is_premultiplied_and_covers_exactly_the_udp(make_rasterizer):
    rasterizer = make_rasterizer(128)
    points = rectangle_points(-0.5, 0.25, -0.25, 0.5)
    straight = np.tile([0.8, 0.4, 0.2, 0.5], (4, 1))
    result = rasterizer.render(RasterMesh(points, np.full((4, 3), 0.5), RECTANGLE, straight), FRONT)

    covered = result.udp[..., 3] == 1
    assert covered.sum() == 48 * 48
    np.testing.assert_allclose(
        result.color[covered], np.tile([0.4, 0.2, 0.1, 0.5], (covered.sum(), 1)), rtol=0, atol=1e-6
    )
    assert not result.color[~covered].any(), "background must be transparent black"
    assert result.color.dtype == np.float32 and result.color.shape == (128, 128, 4)


def test_a_second_frame_leaves_nothing_of_the_first(make_rasterizer):
    rasterizer = make_rasterizer(128)
    big = RasterMesh(rectangle_points(-0.9, 0.9, -0.9, 0.9), np.full((4, 3), 0.5), RECTANGLE, np.ones((4, 4)))
    small = RasterMesh(rectangle_points(-0.25, 0.25, -0.25, 0.25), np.full((4, 3), 0.5), RECTANGLE, np.ones((4, 4)))
    rasterizer.render(big, FRONT)
    result = rasterizer.render(small, FRONT)
    covered = result.udp[..., 3] == 1
    assert covered.sum() == 32 * 32
    assert not result.color[~covered].any() and not result.udp[~covered].any()


def test_vertex_colours_interpolate_affinely(make_rasterizer):
    rasterizer = make_rasterizer(128)
    points = rectangle_points(-0.75, 0.75, -0.75, 0.75)
    rgb = lambda x, y: np.stack([0.5 + 0.5 * x, 0.5 + 0.5 * y, 0.5 - 0.25 * x - 0.25 * y], -1)  # noqa: E731
    colors = np.column_stack([rgb(points[:, 0], points[:, 1]), np.ones(4)])
    color = rasterizer.render(RasterMesh(points, np.full((4, 3), 0.5), RECTANGLE, colors), FRONT).color

    x, y = pixel_centres(128)
    inside = (np.abs(x) < 0.75) & (np.abs(y) < 0.75)
    np.testing.assert_allclose(color[inside][:, :3], rgb(x, y)[inside], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(color[inside][:, 3], 1.0)


def test_nearer_surface_colour_wins(make_rasterizer):
    rasterizer = make_rasterizer(128)
    far = rectangle_points(-0.5, 0.5, -0.5, 0.5, z=-0.3)
    near = rectangle_points(0.0, 0.75, 0.0, 0.75, z=0.3)
    blue, red = [0, 0, 1, 1], [1, 0, 0, 1]
    colors = np.concatenate([np.tile(blue, (4, 1)), np.tile(red, (4, 1))])  # near blue, far red
    mesh = RasterMesh(
        np.concatenate([near, far]), np.full((8, 3), 0.5), np.concatenate([RECTANGLE, RECTANGLE + 4]), colors
    )
    color = rasterizer.render(mesh, FRONT).color
    np.testing.assert_array_equal(color[32, 80], blue)  # (x, y) = (0.26, 0.49): both cover it, the near one wins
    np.testing.assert_array_equal(color[80, 40], red)  # (x, y) = (-0.37, -0.26): only the far one


def test_udp_only_skips_the_colour_pass(make_rasterizer):
    rasterizer = make_rasterizer(128)
    mesh = RasterMesh(rectangle_points(-0.5, 0.5, -0.5, 0.5), np.full((4, 3), 0.5), RECTANGLE, np.ones((4, 4)))
    assert rasterizer.render(mesh, FRONT, udp_only=True).color is None
    uncoloured = RasterMesh(rectangle_points(-0.5, 0.5, -0.5, 0.5), np.full((4, 3), 0.5), RECTANGLE)
    assert rasterizer.render(uncoloured, FRONT).color is None


@pytest.mark.parametrize("color_samples", [0, 4], ids=["no-aa", "msaa4"])
def test_antialiasing_softens_only_the_colour_outline(make_rasterizer, color_samples):
    rasterizer = make_rasterizer(128, color_samples=color_samples)
    points = np.array([[-0.8, -0.7, 0.0], [0.7, -0.8, 0.0], [0.1, 0.8, 0.0]])  # slanted edges
    straight = np.tile([0.6, 0.3, 0.9, 1.0], (3, 1))
    result = rasterizer.render(RasterMesh(points, np.full((3, 3), 0.25), [[0, 1, 2]], straight), FRONT)

    alpha = result.color[..., 3]
    partial = (alpha > 0) & (alpha < 1)
    if color_samples:
        assert partial.sum() > 100
        # Premultiplied edge pixels: rgb = alpha * straight rgb.
        np.testing.assert_allclose(
            result.color[partial][:, :3], alpha[partial, None] * [0.6, 0.3, 0.9], rtol=0, atol=1e-6
        )
    else:
        assert not partial.any()
        np.testing.assert_array_equal(alpha, result.udp[..., 3])
    full = alpha == 1
    np.testing.assert_allclose(result.color[full], np.tile([0.6, 0.3, 0.9, 1.0], (full.sum(), 1)), rtol=0, atol=1e-6)
    assert set(np.unique(result.udp[..., 3])) == {0.0, 1.0}
    np.testing.assert_array_equal(result.udp[result.udp[..., 3] == 1][:, :3], 0.25)
