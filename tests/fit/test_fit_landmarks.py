"""Where the body is in a drawing: mediapipe's landmarks, and the fallback when it finds none."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from avatar_app.fit.drawing import load_drawings
from avatar_app.fit.landmarks import LandmarkFinder
from avatar_app.fit.proxy import ProxyModel
from avatar_app.fit.search import start_view
from avatar_app.rig.avatar_style import AvatarStyle

from fit_helpers import write_rgba


@pytest.fixture(scope="module")
def finder():
    with LandmarkFinder() as f:
        yield f


@pytest.fixture(scope="module")
def model():
    return ProxyModel(AvatarStyle())


def test_landmarks_on_a_real_drawing_land_on_the_body(finder, eileen):
    (drawing,) = load_drawings(eileen / "happy.png", 256)
    found = finder.find(drawing)
    assert found is not None
    nose, ls, rs = (found.point(n) for n in ("nose", "left_shoulder", "right_shoulder"))
    assert nose[1] < ls[1] and nose[1] < rs[1]
    assert ls[0] > rs[0], "she faces us: her left shoulder is on the picture's right"
    for point in (nose, ls, rs):
        x, y = np.round(point).astype(int)
        assert drawing.mask[y, x], "the points lie on the character"


def test_a_blob_with_no_person_falls_back_to_a_rest_pose_and_the_name_yaw(finder, model, tmp_path):
    rgba = np.zeros((400, 200, 4), np.uint8)
    cv2.ellipse(rgba, (100, 200), (60, 180), 0, 0, 360, (90, 160, 90, 255), -1)
    (drawing,) = load_drawings(write_rgba(tmp_path / "3_back.png", rgba), 256)
    assert finder.find(drawing) is None
    params, how = start_view(drawing, None, model, 0, 1)
    assert params.yaw == 180.0 and "no person found" in how and "file name" in how
    (unnamed,) = load_drawings(write_rgba(tmp_path / "view2.png", rgba), 256)
    params, how = start_view(unnamed, None, model, 2, 4)
    assert params.yaw == 90.0 and "place in the sheet" in how


def test_the_fallback_camera_spans_the_drawing(model, tmp_path):
    rgba = np.zeros((400, 200, 4), np.uint8)
    cv2.ellipse(rgba, (100, 200), (60, 180), 0, 0, 360, (90, 160, 90, 255), -1)
    (drawing,) = load_drawings(write_rgba(tmp_path / "front.png", rgba), 256)
    params, _ = start_view(drawing, None, model, 0, 1)
    points = params.camera().project(model.vertices(params), 256, 256)
    rows = points[:, 1]
    assert rows.min() == pytest.approx(0.0, abs=3.0) and rows.max() == pytest.approx(256.0, abs=3.0)
