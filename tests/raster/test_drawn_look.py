"""The drawn look: per-fragment colour from the rest position, contour lines, the UDP untouched."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.raster import OrthographicCamera, RasterMesh
from avatar_app.raster.character_view import raster_mesh, target_camera
from avatar_app.raster.drawn_look import MATERIALS, DrawnStyle, drawn_look, face_geometry, simple_look
from avatar_app.raster.framing import cut_height, drawing_camera

FRONT = OrthographicCamera(eye=(0, 0, 10), target=(0, 0, 0), half_height=1.0, near=1.0, far=20.0)
QUAD = np.array([[0, 1, 2], [0, 2, 3]])
PLAIN = DrawnStyle(line_weight=0.0, shadow_steps=0, trims=False, hair_strands=0, hair_shine=False)


def _quad(x0, x1, y0, y1, z):
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], dtype=np.float64)


def _two_quads():
    """A big grey quad at z=0 and a small white one 0.5 in front of it, the right half overlapping."""
    points = np.concatenate([_quad(-0.8, 0.8, -0.8, 0.8, 0.0), _quad(0.0, 0.5, -0.3, 0.3, 0.5)])
    triangles = np.concatenate([QUAD, QUAD + 4])
    materials = np.array([MATERIALS.index("top")] * 4 + [MATERIALS.index("skin")] * 4)
    mesh = RasterMesh(points, np.clip(points / 2 + 0.5, 0, 1), triangles)
    return mesh, points, triangles, materials


@pytest.fixture(scope="module")
def avatar():
    pytest.importorskip("mannequin", reason="needs mannequin-x: pip install mannequin-x (the 'tools' extra)")
    from avatar_app.rig.default_avatar import AvatarStyle, Pattern, build_default_avatar
    from avatar_app.rig.proxy_body import body_landmarks

    style = AvatarStyle(top_pattern=Pattern("stripes_h", (0.1, 0.2, 0.7), 0.05, 0.1), head_scale=1.3)
    character = build_default_avatar(style)
    landmarks = body_landmarks()
    head_y = character.skeleton.rest_world_matrices[character.humanoid["head"], 1, 3]
    chin_y = head_y + style.head_scale * (landmarks.chin_y - landmarks.head_joint_y)
    return style, character, face_geometry(character, chin_y)


def test_contour_lines_are_drawn_where_depth_jumps_and_nowhere_else(make_rasterizer):
    rasterizer = make_rasterizer(128)
    mesh, points, triangles, materials = _two_quads()
    palette = {"top": (0.5, 0.5, 0.5), "skin": (1.0, 1.0, 1.0)}
    style = DrawnStyle(line_weight=4.0, line_color=(0.0, 0.0, 0.0), line_tint=0.0, shadow_steps=0)
    color = rasterizer.render(mesh, FRONT, look=simple_look(points, triangles, materials, palette, style)).color
    row = color[64, :, :3].mean(axis=1)  # the middle row crosses the front quad from x = 0 to 0.5
    # x = 0 is column 64, x = 0.5 column 96: the back quad's pixels just left of the front quad are line
    assert row[62] < 0.05 and row[63] < 0.05, row[58:68]
    assert row[96] < 0.05 and row[97] < 0.05, row[92:102]
    assert np.allclose(row[16:62], 0.5) and np.allclose(row[64:96], 1.0), "lines only at contours"
    assert np.allclose(row[98:113], 0.5)
    assert row[13] < 0.05 and row[14] < 0.05 and row[12] == 0, "the silhouette is outlined inside"
    assert color[64, 64:96, 3].min() == 1.0

    no_lines = DrawnStyle(line_weight=0.0, shadow_steps=0)
    plain = rasterizer.render(mesh, FRONT, look=simple_look(points, triangles, materials, palette, no_lines)).color
    assert plain[64, :, :3][plain[64, :, 3] > 0].min() == pytest.approx(0.5)


def test_the_udp_is_the_same_with_a_look_and_alpha_is_its_mask(make_rasterizer):
    rasterizer = make_rasterizer(128)
    mesh, points, triangles, materials = _two_quads()
    udp = rasterizer.render(mesh, FRONT).udp.copy()
    result = rasterizer.render(mesh, FRONT, look=simple_look(points, triangles, materials, {}))
    assert np.array_equal(result.udp, udp)
    assert np.array_equal(result.color[..., 3], udp[..., 3])


def test_a_material_border_runs_through_triangles_not_along_them(make_rasterizer):
    """One quad, left vertices skin and right ones top: per-vertex colours blend across the whole
    quad; the drawn look puts one crisp border half way."""
    rasterizer = make_rasterizer(128)
    points = _quad(-0.5, 0.5, -0.5, 0.5, 0.0)
    materials = np.array([MATERIALS.index(m) for m in ("skin", "top", "top", "skin")])
    palette = {"skin": (1.0, 0.0, 0.0), "top": (0.0, 0.0, 1.0)}
    mesh = RasterMesh(points, np.full((4, 3), 0.5), QUAD)
    color = rasterizer.render(mesh, FRONT, look=simple_look(points, QUAD, materials, palette, PLAIN)).color
    row = color[64, 32:96, :3]
    assert np.all((row[:, 0] == 1.0) ^ (row[:, 2] == 1.0)), "every pixel is one material's colour"
    assert np.all(row[:30, 0] == 1.0) and np.all(row[34:, 2] == 1.0)


def test_per_fragment_stripes_are_sharper_than_per_vertex_colours_on_the_same_mesh(make_rasterizer, avatar):
    style, character, face = avatar
    rasterizer = make_rasterizer(256)
    mesh = raster_mesh(character)
    camera = drawing_camera(character.rest_vertices(), cut_height(character, "waist"), 1.0, 0.03, (0, 0, 1))
    look = drawn_look(character, style, PLAIN, face)
    vertex = rasterizer.render(mesh, camera).color.copy()
    drawn = rasterizer.render(mesh, camera, look=look).color.copy()
    chest = character.skeleton.rest_world_matrices[character.humanoid["chest"], :3, 3]
    col, row, _ = camera.project(chest, 256, 256)[0]
    box = (slice(int(row) - 30, int(row) + 10), slice(int(col) - 12, int(col) + 12))
    colours = np.array([style.palette["top"], style.top_pattern.color])

    def blended_share(image):
        pixels = image[box][..., :3].reshape(-1, 3)
        distance = np.abs(pixels[:, None, :] - colours[None]).max(axis=2).min(axis=1)
        return float((distance > 0.03).mean())

    assert blended_share(drawn) < 0.01  # every pixel is the top's colour or the stripe's
    assert blended_share(vertex) > 0.2  # per vertex, stripes 2.5 cm wide smear over 1 cm triangles
    both = drawn[box][..., :3].reshape(-1, 3)
    assert (np.abs(both - colours[1]).max(axis=1) < 0.03).mean() > 0.3, "the stripes are there"


def test_the_eyes_are_drawn_on_the_rig_s_eye_discs(make_rasterizer, avatar):
    style, character, face = avatar
    rasterizer = make_rasterizer(256)
    mesh = raster_mesh(character)
    camera = drawing_camera(character.rest_vertices(), cut_height(character, "bust"), 1.0, 0.03, (0, 0, 1))
    look = drawn_look(character, style, DrawnStyle(shadow_steps=0), face)
    color = rasterizer.render(mesh, camera, look=look).color
    iris = np.asarray(look.uniforms["iris_color"])
    is_iris = np.abs(color[..., :3] - iris).max(axis=2) < 0.02
    rows, cols = np.nonzero(is_iris)
    assert len(rows) > 20
    centre = np.asarray(face.eye_centre)
    for side in (1.0, -1.0):
        col, row, _ = camera.project(centre * np.array([side, 1.0, 1.0]), 256, 256)[0]
        mine = np.abs(cols - col) < 12
        assert mine.sum() > 10, f"an iris at the {side:+.0f} eye"
        assert np.abs(rows[mine] - row).max() < 12 and np.abs(cols[mine] - col).max() < 12
    assert len(rows) == sum(
        (np.abs(cols - c) < 12).sum()
        for c in camera.project(np.stack([centre, centre * np.array([-1.0, 1.0, 1.0])]), 256, 256)[:, 0]
    ), "iris colour only in the eyes"
    white = np.abs(color[..., :3] - np.asarray(look.uniforms["colors"][7])).max(axis=2) < 0.02
    assert white.sum() > 10, "the eye whites"


def test_a_look_of_another_mesh_is_refused_with_the_fix(make_rasterizer):
    from avatar_app.core.errors import InputError

    rasterizer = make_rasterizer(128)
    mesh, points, triangles, materials = _two_quads()
    look = simple_look(points[:4], triangles[:2], materials[:4], {})
    with pytest.raises(InputError, match="DrawnLook of this mesh"):
        rasterizer.render(mesh, FRONT, look=look)


def test_target_camera_renders_a_whole_drawn_character(make_rasterizer, avatar):
    style, character, face = avatar
    rasterizer = make_rasterizer(128)
    mesh = raster_mesh(character)
    result = rasterizer.render(mesh, target_camera(character), look=drawn_look(character, style, DrawnStyle(), face))
    covered = result.udp[..., 3] == 1
    assert covered.sum() > 1000
    dark = result.color[..., :3].max(axis=2) < 0.3
    assert 0.05 < (dark & covered).sum() / covered.sum() < 0.6, "lines, but not a silhouette filled with ink"
