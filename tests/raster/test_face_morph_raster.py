"""Face morphs as the UDP raster sees them: a closed lid shows its own rest coordinates, an open mouth its inside."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.raster.camera import OrthographicCamera
from avatar_app.raster.character_view import LIVE_REDUCTION, CharacterView
from avatar_app.rig import build_default_avatar, rest_udp_coordinates
from avatar_app.rig.avatar_style import AvatarStyle
from avatar_app.rig.expressions import Expression
from avatar_app.rig.face_morphs import EYE_DY, EYE_RY, EYE_X, MOUTH_COLOR
from avatar_app.rig.humanoid import HumanoidPose

SIZE = 256
HALF_HEIGHT_M = 0.12


@pytest.fixture(scope="module")
def face(gl_context):
    pytest.importorskip("mannequin")
    character = build_default_avatar(AvatarStyle(bangs=False))  # bangs would hide the brows
    head_y = float(character.skeleton.rest_world_matrices[character.humanoid["head"], 1, 3])
    centre_y = head_y + 0.03
    camera = OrthographicCamera(eye=(0.0, centre_y, 3.0), target=(0.0, centre_y, 0.0), half_height=HALF_HEIGHT_M)
    gl_context.__enter__()
    # the live view's decimated mesh: the face must survive it
    view = CharacterView(character, SIZE, camera=camera, springs=False, reduction=LIVE_REDUCTION, ctx=gl_context)

    def render(**values):
        vertices = view.animator.update(HumanoidPose.identity(), 1 / 30, Expression.of(**values))
        return view.render_vertices(vertices)

    def pixel(x_m, y_m):  # column, row of a world point on the front view
        metres_per_px = 2 * HALF_HEIGHT_M / SIZE
        return int(SIZE / 2 - (y_m - centre_y) / metres_per_px), int(SIZE / 2 + x_m / metres_per_px)

    yield character, render, pixel
    view.close()


def _eye_centre(character):
    mesh = character.mesh
    whites = character.rest_vertices()[mesh.part_ids == mesh.part_names.index("eye_white")]
    left = whites[whites[:, 0] > 0]
    return 0.5 * (left.min(axis=0) + left.max(axis=0))


def test_a_closed_lid_covers_the_eye_with_the_lids_rest_coordinates(face):
    character, render, pixel = face
    eye = _eye_centre(character)
    row, col = pixel(eye[0], eye[1])
    open_, closed = render(), render(blinkLeft=1.0)
    height = character.rest_height()
    eye_top_y = (eye[1] + 0.017) / height  # the disc's upper rim in UDP y
    assert open_.udp[row, col, 1] < eye_top_y  # the eye itself
    assert closed.udp[row, col, 1] > eye_top_y  # skin from above the eye: the lid's rest coordinates
    changed = np.any(np.abs(closed.udp - open_.udp) > 1e-6, axis=-1)
    rows, cols = np.nonzero(changed)
    _, mirror_col = pixel(-eye[0], eye[1])
    assert not changed[:, : (col + mirror_col) // 2].any()  # the right eye stays open
    metres_per_px = 2 * HALF_HEIGHT_M / SIZE
    assert (rows.max() - rows.min()) * metres_per_px < 0.05 and (cols.max() - cols.min()) * metres_per_px < 0.045


def test_an_open_mouth_shows_its_inside_and_none_of_it_at_rest(face):
    character, render, pixel = face
    mesh = character.mesh
    mouth = character.rest_vertices()[mesh.part_ids == mesh.part_names.index("mouth")]
    row, col = pixel(0.0, float(mouth[:, 1].mean()) - 0.003)
    rest, open_ = render(), render(aa=1.0)
    colour = np.asarray(MOUTH_COLOR)
    rest_rgb = rest.color[..., :3] / np.maximum(rest.color[..., 3:], 1e-6)
    open_rgb = open_.color[..., :3] / np.maximum(open_.color[..., 3:], 1e-6)
    assert not np.any(np.all(np.abs(rest_rgb - colour) < 0.02, axis=-1))  # hidden behind the skin at rest
    inside = np.all(np.abs(open_rgb - colour) < 0.02, axis=-1)
    assert inside[row, col] and 30 < inside.sum() < 1500
    mouth_udp = rest_udp_coordinates(character)[mesh.part_ids == mesh.part_names.index("mouth")]
    got = open_.udp[row, col, :3]
    assert np.min(np.linalg.norm(mouth_udp - got, axis=1)) < 0.004  # the UDP shows the mouth's own coordinates


def test_surprise_moves_the_brows_and_nothing_below_the_nose(face):
    character, render, pixel = face
    rest, surprised = render(), render(surprised=1.0)
    head_y = float(character.skeleton.rest_world_matrices[character.humanoid["head"], 1, 3])
    brow_row, brow_col = pixel(EYE_X, head_y + 0.02 + EYE_DY + 1.9 * EYE_RY)
    assert np.abs(surprised.udp[brow_row, brow_col] - rest.udp[brow_row, brow_col]).max() > 1e-4
    changed = np.any(np.abs(surprised.udp - rest.udp) > 1e-6, axis=-1)
    chin_row, _ = pixel(0.0, head_y - 0.04)
    below = changed[chin_row:]
    assert not below.any()  # the mouth opens a little, the chin and neck do not move


def test_render_pose_takes_the_motions_face(face, gl_context):
    from avatar_app.rig import DemoMotion
    from avatar_app.rig.expressions import motion_expression

    character, _, _ = face
    motion = DemoMotion()
    assert motion_expression(motion, 1.36)["blink"] == 1.0  # the demo's first scripted blink
    assert motion_expression(object(), 1.36) is None
    gl_context.__enter__()
    with CharacterView(character, 128, springs=False, framing="bust", ctx=gl_context) as view:
        pose = motion.pose_at(1.36)
        shut = view.render_pose(pose, 1 / 30, expression=motion_expression(motion, 1.36)).udp
        view.animator.reset()
        open_ = view.render_pose(pose, 1 / 30).udp
    changed = np.any(np.abs(shut - open_) > 1e-6, axis=-1)
    assert 0 < changed.sum() < 0.01 * changed.size
