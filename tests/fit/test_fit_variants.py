"""Files that are one view drawn again with another face become that view's expressions, not views."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from avatar_app.fit.drawing import load_drawings
from avatar_app.fit.variants import expression_of, split_variants

from fit_helpers import read_rgba, write_rgba


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        ("front_happy", "happy"),
        ("front_blink", "eyes_closed"),
        ("front_eyes_closed", "eyes_closed"),
        ("very_happy_mouth_open", "mouth_open"),
        ("front_surprise", "surprised"),
        ("front_worried", "sad"),
        ("concerned", "sad"),
        ("green_giggle", "happy"),
        ("green_smile", "relaxed"),
        ("front_joy", "happy"),
        ("front", None),
        ("front_hat", None),
    ],
)
def test_a_file_name_says_which_expression_it_is(stem, expected):
    assert expression_of(stem) == expected


def test_eileens_three_drawings_are_one_view_and_two_expressions(eileen):
    views, variants, notes = split_variants(load_drawings(eileen, 256))
    assert [v.name for v in views] == ["happy"], "no neutral name: the calm face is the view"
    assert sorted((v.name, v.view, v.drawing.name) for v in variants) == [
        ("mouth_open", 0, "very_happy_mouth_open"),
        ("sad", 0, "concerned"),
    ]
    assert any("concerned.png: happy.png's expression 'sad'" in n for n in notes)


def test_a_neutral_name_is_the_view_and_other_drawings_stay_views(tmp_path, eileen):
    folder = tmp_path / "sheet"
    folder.mkdir()
    shutil.copy(eileen / "happy.png", folder / "front_happy.png")
    shutil.copy(eileen / "concerned.png", folder / "front.png")
    # another view: the same character with a different outline (a second pose)
    other = read_rgba(eileen / "happy.png")
    other = cv2.warpAffine(other, np.float32([[0.7, 0.25, 20], [0, 1, 0]]), other.shape[1::-1])
    write_rgba(folder / "side.png", other)
    views, variants, _ = split_variants(load_drawings(folder, 256))
    assert [v.name for v in views] == ["front", "side"]
    assert [(v.name, v.view) for v in variants] == [("happy", 0)]


def test_two_variants_with_the_same_expression_keep_the_first_and_say_so(tmp_path, eileen):
    folder = tmp_path / "sheet"
    folder.mkdir()
    shutil.copy(eileen / "happy.png", folder / "front.png")
    shutil.copy(eileen / "concerned.png", folder / "front_sad.png")
    shutil.copy(eileen / "very_happy_mouth_open.png", folder / "front_worried.png")
    views, variants, notes = split_variants(load_drawings(folder, 256))
    assert [(v.name, v.drawing.name) for v in variants] == [("sad", "front_sad")]
    assert any("front_worried.png" in n and "a second 'sad'" in n for n in notes)
