"""The body under the arms (fit.layers): found where the arms hide it, filled near the truth.

The drawing is the rig's own character rendered with its arms crossed; the truth for the
hidden body is the same character rendered with its arms taken off.
"""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.fit.layers import fill_hidden, hidden_by_arms, layers_picture, view_fill
from avatar_app.fit.proxy import ProxyModel, Silhouettes, ViewParams, arm_vertices
from avatar_app.raster.character_view import raster_mesh
from avatar_app.raster.mesh import RasterMesh
from avatar_app.raster.rasterizer import Rasterizer
from avatar_app.rig.avatar_style import AvatarStyle

SIZE = 256
CROSSED = ViewParams(
    half_height=0.95,
    centre_y=0.85,
    left_arm=80.0,
    right_arm=80.0,
    left_elbow=100.0,
    right_elbow=95.0,
    left_arm_forward=35.0,
    right_arm_forward=30.0,
    left_elbow_forward=5.0,
    right_elbow_forward=15.0,
)


def _straight(color: np.ndarray) -> np.ndarray:
    a = color[..., 3:4]
    rgb = np.where(a > 1e-6, color[..., :3] / np.maximum(a, 1e-6), 0.0)
    return (np.clip(np.concatenate([rgb, a], axis=-1), 0, 1) * 255 + 0.5).astype(np.uint8)


@pytest.fixture(scope="module")
def crossed():
    """(model, drawing straight RGBA, its UDP, the true body under the arms, straight RGBA)."""
    model = ProxyModel(AvatarStyle(lower="trousers", hair_style="short"))
    mesh = raster_mesh(model.character)
    vertices = model.vertices(CROSSED)
    mesh.update(vertices)
    keep = ~arm_vertices(model.character)[mesh.triangles].any(axis=1)
    body = RasterMesh(mesh.positions, mesh.rest_udp, mesh.triangles[keep], mesh.colors)
    body.update(vertices)
    with Rasterizer(SIZE, color_samples=4) as rasterizer, Silhouettes(SIZE) as silhouettes:
        drawing = _straight(rasterizer.render(mesh, CROSSED.camera()).color)
        truth = _straight(rasterizer.render(body, CROSSED.camera()).color)
        udp = silhouettes.render(model, CROSSED)
        fill = view_fill(silhouettes, model, CROSSED, drawing, udp)
    return model, drawing, udp, truth, fill


def test_the_hidden_body_is_where_the_crossed_forearms_are(crossed):
    _, drawing, udp, truth, fill = crossed
    assert fill is not None
    rgba, fill_udp = fill
    hidden = rgba[..., 3] == 255
    # the forearms cross the chest: the middle column, between the shoulders and the waist
    rows = np.nonzero(hidden[:, SIZE // 2])[0]
    assert len(rows) >= 4
    assert (fill_udp[..., 3] > 0.5).sum() == hidden.sum()
    # where hidden, the drawing shows something else than the body the fill stands for
    differs = np.abs(drawing[hidden, :3].astype(int) - truth[hidden, :3].astype(int)).max(axis=1) > 24
    assert differs.mean() > 0.6


def test_the_fill_is_nearer_the_true_body_than_one_flat_colour_or_the_arm_left_in_place(crossed):
    """Scored against the rig's body with the arms off (the truth), on the hidden pixels."""
    _, drawing, _, truth, fill = crossed
    hidden = (fill[0][..., 3] == 255) & (truth[..., 3] >= 200)

    def error(rgb):
        return float(np.abs(rgb[hidden].astype(np.float32) - truth[hidden, :3]).mean())

    shown = (drawing[..., 3] >= 200) & ~hidden
    flat = np.broadcast_to(drawing[shown, :3].mean(axis=0), drawing[..., :3].shape)
    filled = fill[0][..., :3]
    assert error(filled) < 0.5 * error(flat)
    assert error(filled) < 0.5 * error(drawing[..., :3])  # the arm's own pixels printed on the chest


def test_the_regions_fill_takes_the_nearest_shown_colour():
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[:, :3] = (200, 0, 0)
    rgb[:, 4:] = (0, 0, 200)
    shown = np.ones((5, 7), bool)
    shown[:, 2:5] = False
    hidden = ~shown
    out = fill_hidden(rgb, hidden, shown, "regions")
    assert (out[:, 2] == (200, 0, 0)).all() and (out[:, 4] == (0, 0, 200)).all()
    np.testing.assert_array_equal(out[shown], rgb[shown])
    with pytest.raises(ValueError, match="fill method"):
        fill_hidden(rgb, hidden, shown, "blur")


def test_arms_held_away_from_the_body_hide_little(crossed):
    """Only the shoulders under the sleeves' tops (about 1% of the body); crossed arms hide many times more."""
    model = ProxyModel(AvatarStyle())
    params = ViewParams(half_height=0.95, centre_y=0.85, left_arm=10.0, right_arm=10.0)
    with Silhouettes(SIZE) as silhouettes:
        udp = silhouettes.render(model, params)
        under = silhouettes.render_under_arms(model, params)
    hidden, shown = hidden_by_arms(udp, under, (udp[..., 3] * 255).astype(np.uint8))
    assert hidden.sum() < 0.02 * shown.sum()
    assert (crossed[4][0][..., 3] == 255).sum() > 3 * hidden.sum()


def test_the_layers_picture_shows_each_view_drawn_and_filled(crossed):
    _, drawing, _, _, fill = crossed
    picture = layers_picture([("front", drawing, fill[0]), ("side", drawing, None)], height=160)
    assert picture.shape == (160 + 24, 4 * 160, 3)
    assert not np.array_equal(picture[:160, :160], picture[:160, 160:320])  # the filled panel differs
