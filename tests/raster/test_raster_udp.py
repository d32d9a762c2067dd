"""The UDP pass against analytic expectations: known geometry -> known values at pixel centres.

Orthographic scenes use half_height 1 and heights that are powers of two, so
pixel edges fall on exactly representable world coordinates and rectangles
whose corners sit on pixel edges have an exact expected coverage mask.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from avatar_app.raster import OrthographicCamera, PerspectiveCamera, RasterMesh, auto_frame

FRONT = OrthographicCamera(eye=(0, 0, 10), target=(0, 0, 0), half_height=1.0, near=1.0, far=20.0)
BACK = OrthographicCamera(eye=(0, 0, -10), target=(0, 0, 0), half_height=1.0, near=1.0, far=20.0)
RECTANGLE = np.array([[0, 1, 2], [0, 2, 3]])


def affine_udp(points, matrix=None, offset=(0.5, 0.5, 0.5)):
    """A generic affine map that keeps |coordinates| <= 1 inside [0, 1]."""
    if matrix is None:
        matrix = [[0.15, 0.05, 0.10], [0.025, 0.175, -0.05], [-0.10, 0.05, 0.15]]
    return np.asarray(points, np.float64) @ np.asarray(matrix).T + offset


def rectangle(x0, x1, y0, y1, depth=lambda x, y: 0.0 * x, udp=affine_udp, colors=None, reverse=False):
    """A rectangle in x/y with z = depth(x, y) (planar when depth is affine)."""
    xy = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    points = np.column_stack([xy, depth(xy[:, 0], xy[:, 1])])
    triangles = RECTANGLE[:, ::-1] if reverse else RECTANGLE
    return points, RasterMesh(points, udp(points), triangles, colors)


def pixel_centres(height, width, half_height=1.0):
    """World x, y of every pixel centre under a front orthographic camera at the origin."""
    half_width = half_height * width / height
    x = ((np.arange(width) + 0.5) / width * 2 - 1) * half_width
    y = (1 - (np.arange(height) + 0.5) / height * 2) * half_height
    return np.meshgrid(x, y)


def test_affine_rest_udp_is_reproduced_exactly_at_pixel_centres(make_rasterizer):
    rasterizer = make_rasterizer(256)
    tilt = lambda x, y: 0.3 + 0.2 * x - 0.1 * y  # noqa: E731
    _, mesh = rectangle(-0.5, 0.75, -0.25, 0.5, depth=tilt)
    udp = rasterizer.render(mesh, FRONT).udp

    x, y = pixel_centres(256, 256)
    inside = (x > -0.5) & (x < 0.75) & (y > -0.25) & (y < 0.5)
    expected = affine_udp(np.stack([x, y, tilt(x, y)], axis=-1))
    assert inside.sum() == 160 * 96
    np.testing.assert_array_equal(udp[..., 3], inside.astype(np.float32))
    np.testing.assert_allclose(udp[inside][:, :3], expected[inside], rtol=0, atol=1e-6)
    assert not udp[~inside].any(), "background must be exactly 0 in all four channels"


@pytest.fixture(scope="module")
def rasterizer_128(make_rasterizer):
    return make_rasterizer(128)


@settings(max_examples=20, deadline=None)
@given(
    edges=st.tuples(*[st.lists(st.integers(0, 128), min_size=2, max_size=2, unique=True) for _ in range(2)]),
    matrix=st.lists(st.floats(-0.16, 0.16), min_size=9, max_size=9),
    slope=st.tuples(st.floats(-0.4, 0.4), st.floats(-0.4, 0.4)),
)
def test_any_pixel_aligned_rectangle_renders_its_affine_udp(rasterizer_128, edges, matrix, slope):
    rasterizer = rasterizer_128
    (c0, c1), (r0, r1) = sorted(edges[0]), sorted(edges[1])
    x0, x1 = c0 / 64 - 1, c1 / 64 - 1
    y0, y1 = 1 - r1 / 64, 1 - r0 / 64
    depth = lambda x, y: slope[0] * x + slope[1] * y  # noqa: E731
    udp_map = lambda p: affine_udp(p, np.reshape(matrix, (3, 3)))  # noqa: E731
    _, mesh = rectangle(x0, x1, y0, y1, depth=depth, udp=udp_map)
    udp = rasterizer.render(mesh, FRONT).udp

    inside = np.zeros((128, 128), bool)
    inside[r0:r1, c0:c1] = True
    x, y = pixel_centres(128, 128)
    np.testing.assert_array_equal(udp[..., 3], inside.astype(np.float32))
    np.testing.assert_allclose(
        udp[inside][:, :3], udp_map(np.stack([x, y, depth(x, y)], -1))[inside], rtol=0, atol=1e-6
    )
    assert not udp[~inside].any()


@pytest.mark.parametrize("near_first", [True, False], ids=["near-drawn-first", "far-drawn-first"])
def test_only_the_nearer_surface_shows_whatever_the_draw_order(make_rasterizer, near_first):
    rasterizer = make_rasterizer(128)
    near_udp, far_udp = (0.1, 0.2, 0.3), (0.7, 0.8, 0.9)
    near, _ = rectangle(-0.5, 0.25, -0.5, 0.5, depth=lambda x, y: 0 * x + 0.5)
    far, _ = rectangle(-0.25, 0.75, -0.75, 0.25, depth=lambda x, y: 0 * x - 0.2)
    parts = [(near, near_udp), (far, far_udp)] if near_first else [(far, far_udp), (near, near_udp)]
    points = np.concatenate([p for p, _ in parts])
    udp_values = np.concatenate([np.tile(u, (4, 1)) for _, u in parts])
    mesh = RasterMesh(points, udp_values, np.concatenate([RECTANGLE, RECTANGLE + 4]))
    udp = rasterizer.render(mesh, FRONT).udp

    x, y = pixel_centres(128, 128)
    in_near = (x > -0.5) & (x < 0.25) & (y > -0.5) & (y < 0.5)
    in_far = (x > -0.25) & (x < 0.75) & (y > -0.75) & (y < 0.25)
    np.testing.assert_array_equal(udp[in_near], np.tile([*near_udp, 1.0], (in_near.sum(), 1)).astype(np.float32))
    only_far = in_far & ~in_near
    np.testing.assert_array_equal(udp[only_far], np.tile([*far_udp, 1.0], (only_far.sum(), 1)).astype(np.float32))
    assert not udp[~(in_near | in_far)].any()


def test_intersecting_planes_show_whichever_is_nearer_per_pixel(make_rasterizer):
    rasterizer = make_rasterizer(128)
    rising, _ = rectangle(-0.75, 0.75, -0.75, 0.75, depth=lambda x, y: 0.4 * x)
    falling, _ = rectangle(-0.75, 0.75, -0.75, 0.75, depth=lambda x, y: -0.4 * x)
    udp_values = np.concatenate([np.tile([0.25, 0.5, 0.75], (4, 1)), np.tile([0.75, 0.5, 0.25], (4, 1))])
    mesh = RasterMesh(np.concatenate([rising, falling]), udp_values, np.concatenate([RECTANGLE, RECTANGLE + 4]))
    udp = rasterizer.render(mesh, FRONT).udp

    x, y = pixel_centres(128, 128)
    inside = (np.abs(x) < 0.75) & (np.abs(y) < 0.75)
    np.testing.assert_array_equal(udp[inside & (x > 0)][:, 0], 0.25)  # the rising plane is nearer where x > 0
    np.testing.assert_array_equal(udp[inside & (x < 0)][:, 0], 0.75)


def test_an_empty_view_is_exactly_zero(make_rasterizer):
    rasterizer = make_rasterizer(128)
    _, mesh = rectangle(2.0, 3.0, 2.0, 3.0, udp=lambda p: np.full_like(p, 0.5))  # outside the frame
    udp = rasterizer.render(mesh, FRONT).udp
    assert udp.shape == (128, 128, 4) and udp.dtype == np.float32
    assert not udp.any()


def test_perspective_interpolation_matches_the_ray_plane_intersection(make_rasterizer):
    """A steeply tilted parallelogram: UDP at each pixel centre = affine UDP of where that pixel's ray hits it.

    Screen-space (noperspective) interpolation is off by up to ~0.04 here, so 1e-6 is a sharp test.
    """
    size = 256
    rasterizer = make_rasterizer(size)
    camera = PerspectiveCamera(eye=(0.3, 0.4, 2.5), target=(0, 0, 0), fov_y_deg=45, near=0.5, far=10)
    origin = np.array([-0.8, -0.5, 0.6])
    edge_u = np.array([1.6, 0.0, -1.2])  # recedes steeply from the camera
    edge_v = np.array([0.0, 1.2, -0.4])
    corners = np.array([origin, origin + edge_u, origin + edge_u + edge_v, origin + edge_v])
    mesh = RasterMesh(corners, affine_udp(corners), RECTANGLE)
    udp = rasterizer.render(mesh, camera).udp

    origins, directions = camera.pixel_rays(size, size)
    normal = np.cross(edge_u, edge_v)
    t = ((origin - origins) @ normal) / (directions @ normal)
    hits = origins + t[..., None] * directions
    # Parallelogram coordinates (u, v) of each hit: hit = origin + u * edge_u + v * edge_v.
    gram = np.array([[edge_u @ edge_u, edge_u @ edge_v], [edge_v @ edge_u, edge_v @ edge_v]])
    offsets = hits - origin
    u, v = np.moveaxis(
        np.linalg.solve(gram, np.stack([offsets @ edge_u, offsets @ edge_v], -1)[..., None])[..., 0], -1, 0
    )
    clearly_inside = (u > 0.002) & (u < 0.998) & (v > 0.002) & (v < 0.998)
    clearly_outside = (u < -0.01) | (u > 1.01) | (v < -0.01) | (v > 1.01)
    assert clearly_inside.sum() > 5000

    assert (udp[clearly_inside][:, 3] == 1).all()
    assert not udp[clearly_outside].any()
    np.testing.assert_allclose(udp[clearly_inside][:, :3], affine_udp(hits[clearly_inside]), rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(128, 384), (384, 128), (256, 128)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_non_square_images_keep_square_pixels_and_orientation(make_rasterizer, shape):
    height, width = shape
    rasterizer = make_rasterizer(shape)
    # A square in the upper right quadrant, inside the frame at every aspect; edges on pixel edges.
    _, mesh = rectangle(0.0625, 0.25, 0.0625, 0.25)
    udp = rasterizer.render(mesh, FRONT).udp
    assert udp.shape == (height, width, 4)

    x, y = pixel_centres(height, width)
    inside = (x > 0.0625) & (x < 0.25) & (y > 0.0625) & (y < 0.25)
    np.testing.assert_array_equal(udp[..., 3], inside.astype(np.float32))
    rows, cols = np.nonzero(inside)
    assert rows.max() < height / 2, "higher world y must appear nearer the top (row 0)"
    assert cols.min() >= width / 2, "+x must appear on the right for a front camera"
    pixel = 2.0 / height
    assert (rows.max() - rows.min() + 1) == (cols.max() - cols.min() + 1) == round(0.1875 / pixel)


def test_a_back_camera_mirrors_left_and_right(make_rasterizer):
    rasterizer = make_rasterizer(128)
    _, mesh = rectangle(0.25, 0.75, 0.25, 0.75)
    rows, cols = np.nonzero(rasterizer.render(mesh, BACK).udp[..., 3])
    assert cols.max() < 64 and rows.max() < 64


def test_triangles_are_drawn_from_both_sides(make_rasterizer):
    rasterizer = make_rasterizer(128)
    _, front_wound = rectangle(-0.5, 0.5, -0.5, 0.5)
    _, back_wound = rectangle(-0.5, 0.5, -0.5, 0.5, reverse=True)
    expected = rasterizer.render(front_wound, FRONT).copy().udp
    assert expected[..., 3].sum() == 64 * 64
    np.testing.assert_array_equal(rasterizer.render(back_wound, FRONT).udp, expected)
    np.testing.assert_array_equal(rasterizer.render(front_wound, BACK).udp[..., 3], expected[..., 3])


@pytest.mark.parametrize("color_samples", [0, 4], ids=["no-aa", "colour-msaa4"])
def test_udp_never_blends_across_an_edge(make_rasterizer, color_samples):
    """Two triangles with unrelated constant UDPs share a diagonal edge through many pixels."""
    rasterizer = make_rasterizer(128, color_samples=color_samples)
    corners = np.array([[-0.7, -0.6, 0.0], [0.6, -0.7, 0.0], [0.7, 0.65, 0.0], [-0.65, 0.7, 0.0]])
    points = corners[[0, 1, 2, 0, 2, 3]]
    values = np.array([[0.1, 0.9, 0.3]] * 3 + [[0.8, 0.2, 0.6]] * 3)
    colors = np.tile([1.0, 0.5, 0.25, 1.0], (6, 1))
    mesh = RasterMesh(points, values, np.arange(6).reshape(2, 3), colors)
    result = rasterizer.render(mesh, FRONT)

    covered = result.udp[..., 3] == 1
    assert set(np.unique(result.udp[..., 3])) == {0.0, 1.0}
    first = (result.udp[..., :3] == np.float32([0.1, 0.9, 0.3])).all(-1)
    second = (result.udp[..., :3] == np.float32([0.8, 0.2, 0.6])).all(-1)
    assert first.sum() > 1000 and second.sum() > 1000
    np.testing.assert_array_equal(covered, first | second)
    if color_samples:
        alpha = result.color[..., 3]
        assert ((alpha > 0) & (alpha < 1)).sum() > 50, "the colour image should be antialiased at the outline"


def test_update_moves_the_mesh_without_reuploading_static_buffers(make_rasterizer, monkeypatch):
    import moderngl

    rasterizer = make_rasterizer(128)
    points, mesh = rectangle(-0.5, 0.0, -0.25, 0.25)
    before = rasterizer.render(mesh, FRONT).copy().udp

    created, written = [], []
    original_buffer, original_write = moderngl.Context.buffer, moderngl.Buffer.write
    monkeypatch.setattr(
        moderngl.Context, "buffer", lambda self, *a, **k: created.append(1) or original_buffer(self, *a, **k)
    )
    monkeypatch.setattr(
        moderngl.Buffer, "write", lambda self, *a, **k: written.append(1) or original_write(self, *a, **k)
    )

    rasterizer.render(mesh, FRONT)
    assert written == [], "positions must not be re-uploaded when update() was not called"
    mesh.update(points + [0.25, 0.0, 0.0])  # 16 pixels to the right
    after = rasterizer.render(mesh, FRONT).udp
    assert created == [] and len(written) == 1

    np.testing.assert_array_equal(after[:, 16:, 3], before[:, :-16, 3])
    np.testing.assert_allclose(after[:, 16:], before[:, :-16], rtol=0, atol=1e-6)  # rest UDP moves with the body
    assert not after[:, :16].any()


def test_auto_framed_body_fills_the_frame_inside_the_margin(make_rasterizer):
    from raster_meshes import ellipsoid_mesh

    height, width = 256, 128
    rasterizer = make_rasterizer((height, width))
    mesh = ellipsoid_mesh(2000)
    camera = auto_frame(mesh.positions, width / height, margin=0.1)
    rows, cols = np.nonzero(rasterizer.render(mesh, camera).udp[..., 3])
    assert rows.min() >= 0.1 * height - 1 and rows.max() <= 0.9 * height
    assert cols.min() >= 0.1 * width - 1 and cols.max() <= 0.9 * width
    # Height is the limiting axis: the body spans the full height inside the margin.
    assert rows.min() <= 0.1 * height + 1 and rows.max() >= 0.9 * height - 2
