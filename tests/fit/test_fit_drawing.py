"""Drawings as the fitter sees them: the sheet's own frame, and the input it refuses."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from avatar_app.core.errors import SheetError
from avatar_app.fit.drawing import load_drawings, square_transform
from avatar_app.io.sheet import load_sheet

from fit_helpers import read_rgba, write_rgba


def test_views_are_in_the_sheets_own_frame(eileen):
    drawings = load_drawings(eileen, 256)
    sheet = load_sheet(eileen, size=256)
    assert [d.name for d in drawings] == ["concerned", "happy", "very_happy_mouth_open"]
    for k, drawing in enumerate(drawings):
        assert np.array_equal(drawing.square[..., 3], sheet.alpha[k, 0])
        assert drawing.cut_bottom, "Eileen is drawn down to the thighs: the picture cuts her off"


def test_square_transform_maps_the_bounding_box_onto_the_square():
    alpha = np.zeros((300, 200), np.uint8)
    alpha[50:250, 80:130] = 255  # 200 tall, 50 wide: centred horizontally in a 200 square
    scale, dx, dy = square_transform(alpha, 128)
    assert scale == pytest.approx(128 / 200)
    top_left = np.array([80, 50]) * scale + (dx, dy)
    bottom_right = np.array([130, 250]) * scale + (dx, dy)
    assert top_left[1] == pytest.approx(0.0) and bottom_right[1] == pytest.approx(128.0)
    assert (top_left[0] + bottom_right[0]) / 2 == pytest.approx(64.0)


def test_a_full_body_drawing_is_not_cut(tmp_path):
    rgba = np.zeros((300, 200, 4), np.uint8)
    cv2.ellipse(rgba, (100, 150), (40, 120), 0, 0, 360, (200, 100, 100, 255), -1)
    (drawing,) = load_drawings(write_rgba(tmp_path / "v.png", rgba), 128)
    assert not drawing.cut_bottom


def test_a_duplicated_view_is_refused_naming_both_files(eileen, tmp_path):
    shutil.copy(eileen / "happy.png", tmp_path / "a_front.png")
    shutil.copy(eileen / "happy.png", tmp_path / "b_front.png")
    with pytest.raises(SheetError, match="a_front.png") as caught:
        load_drawings(tmp_path, 128)
    assert "b_front.png" in str(caught.value) and "delete one" in str(caught.value)


def test_a_view_with_two_characters_is_refused(eileen, tmp_path):
    one = read_rgba(eileen / "happy.png")
    gap = np.zeros((one.shape[0], 40, 4), np.uint8)
    write_rgba(tmp_path / "pair.png", np.concatenate([one, gap, one[:, ::-1]], axis=1))
    with pytest.raises(SheetError, match="one character per view") as caught:
        load_drawings(tmp_path, 128)
    assert "2 separate figures" in str(caught.value) and "one PNG per view" in str(caught.value)


def test_a_tiny_view_is_refused(tmp_path):
    rgba = np.zeros((100, 100, 4), np.uint8)
    rgba[40:60, 45:55] = 255
    with pytest.raises(SheetError, match="at least 64 px tall"):
        load_drawings(write_rgba(tmp_path / "tiny.png", rgba), 128)


def test_views_of_very_different_sizes_each_fill_their_square(eileen, tmp_path):
    big = read_rgba(eileen / "happy.png")
    small = cv2.resize(big, (big.shape[1] // 4, big.shape[0] // 4), interpolation=cv2.INTER_AREA)
    write_rgba(tmp_path / "0_big.png", big)
    write_rgba(tmp_path / "1_small.png", small)
    a, b = load_drawings(tmp_path, 128)
    inter = (a.mask & b.mask).sum()
    assert inter / (a.mask | b.mask).sum() > 0.9, "a quarter-size copy lands on the same square"


def test_a_drawing_cut_straight_above_a_margin_is_cut_and_feet_above_one_are_not(eileen, tmp_path):
    knee_up = read_rgba(eileen / "happy.png")  # touches the bottom edge: cut
    margin = np.zeros((12, knee_up.shape[1], 4), np.uint8)
    write_rgba(tmp_path / "cut" / "front.png", np.concatenate([knee_up, margin]))  # exported with a margin
    feet = np.zeros((300, 160, 4), np.uint8)
    cv2.rectangle(feet, (40, 10), (120, 200), (90, 90, 200, 255), -1)
    cv2.ellipse(feet, (60, 260), (12, 30), 0, 0, 360, (40, 40, 40, 255), -1)  # legs that end in feet
    cv2.ellipse(feet, (100, 260), (12, 30), 0, 0, 360, (40, 40, 40, 255), -1)
    cv2.rectangle(feet, (48, 200), (72, 260), (40, 40, 40, 255), -1)
    cv2.rectangle(feet, (88, 200), (112, 260), (40, 40, 40, 255), -1)
    write_rgba(tmp_path / "full" / "front.png", feet)
    (cut,) = load_drawings(tmp_path / "cut", 128)
    (full,) = load_drawings(tmp_path / "full", 128)
    assert cut.cut_bottom and not full.cut_bottom
