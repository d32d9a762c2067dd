"""The preview pictures: alpha over a checkerboard, UDP maps as colour, landmarks drawn."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from avatar_app.pipeline import pictures
from avatar_app.tracking.pose_layout import INDEX, NUM_LANDMARKS


def test_transparent_pixels_show_the_checkerboard_and_opaque_ones_their_colour():
    frame = np.zeros((32, 32, 4), np.float32)
    frame[:, :16] = (1.0, 0.0, 0.0, 1.0)
    frame[:, 16:24] = (0.25, 0.0, 0.0, 0.5)  # premultiplied half-transparent red
    rgb = pictures.over_checkerboard(frame)
    assert rgb.dtype == np.uint8 and rgb.shape == (32, 32, 3) and rgb.flags.c_contiguous
    assert (rgb[:, :16] == (255, 0, 0)).all()
    right = rgb[:, 24:]
    assert set(np.unique(right[..., 0])) == {round(255 * pictures.CHECKER_DARK), round(255 * pictures.CHECKER_LIGHT)}
    assert (right[..., 0] == right[..., 1]).all(), "the board is grey"
    half = rgb[0, 16].astype(int)
    assert half[0] > half[1] and half[1] == round(255 * 0.5 * pictures.CHECKER_LIGHT)


def test_udp_map_picture_is_xyz_as_rgb():
    udp = np.zeros((4, 4, 4), np.float32)
    udp[1, 2] = (1.0, 0.5, 0.0, 1.0)
    rgb = pictures.udp_picture(udp)
    assert tuple(rgb[1, 2]) == (255, 128, 0) and rgb[0, 0].sum() == 0


def test_landmarks_are_drawn_where_they_are_visible():
    image = np.zeros((120, 160, 3), np.uint8)
    points = np.zeros((NUM_LANDMARKS, 3), np.float32)
    points[:, :2] = 0.5
    points[INDEX["left_shoulder"], :2] = (0.25, 0.25)
    points[INDEX["left_elbow"], :2] = (0.25, 0.75)
    visibility = np.zeros(NUM_LANDMARKS, np.float32)
    visibility[[INDEX["left_shoulder"], INDEX["left_elbow"]]] = 1.0
    drawn = pictures.camera_picture(image, SimpleNamespace(image=points, visibility=visibility))
    assert drawn.shape == image.shape and image.sum() == 0, "the camera image itself is not modified"
    assert drawn[60, 40].any(), "the upper arm is drawn between shoulder and elbow"
    assert not drawn[60, 80].any(), "invisible landmarks are not drawn"


def test_big_camera_pictures_are_scaled_down_for_the_inset():
    assert pictures.camera_picture(np.zeros((720, 1280, 3), np.uint8)).shape == (180, 320, 3)
