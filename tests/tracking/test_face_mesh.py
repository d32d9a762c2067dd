"""Face mesh (blinks, mouth) on the astronaut photograph from scikit-image's wheel."""

from __future__ import annotations

from importlib.resources import files

import cv2
import numpy as np
import pytest

from avatar_app.tracking.face_mesh import LEFT_EYE, MOUTH, RIGHT_EYE, FaceMesh, face_crop_from_pose
from avatar_app.tracking.landmarks import DEFAULT_FACE_MODEL, PoseTracker
from avatar_app.tracking.pose_layout import INDEX

pytest.importorskip("mediapipe", reason="mediapipe 1.x not installed")
pytest.importorskip("skimage", reason="scikit-image (the test photographs) not installed")


@pytest.fixture(scope="module")
def astronaut():
    bgr = cv2.imread(str(files("skimage") / "data" / "astronaut.png"), cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    with PoseTracker(running_mode="image", face_model_path=None) as tracker:
        pose = tracker.track(rgb)
    return rgb, pose


@pytest.fixture(scope="module")
def mesh():
    with FaceMesh(DEFAULT_FACE_MODEL) as face_mesh:
        yield face_mesh


def test_mesh_lands_on_the_face_the_pose_model_found(astronaut, mesh):
    rgb, pose = astronaut
    result = mesh.track(rgb, pose.pixels())
    assert result is not None and result.presence > 0.9
    assert result.points.shape == (468, 3) and result.points.dtype == np.float32
    px = result.points[:, :2] * 512
    pose_px = pose.pixels()
    assert np.linalg.norm(px[1] - pose_px[INDEX["nose"]]) < 12  # mesh 1: nose tip
    right_eye = px[list(RIGHT_EYE["corners"])].mean(axis=0)
    left_eye = px[list(LEFT_EYE["corners"])].mean(axis=0)
    assert np.linalg.norm(right_eye - pose_px[INDEX["right_eye"]]) < 12
    assert np.linalg.norm(left_eye - pose_px[INDEX["left_eye"]]) < 12
    assert np.linalg.norm(px[MOUTH["corners"][0]] - pose_px[INDEX["mouth_right"]]) < 15


def test_open_eyes_and_a_smile_with_parted_lips(astronaut, mesh):
    rgb, pose = astronaut
    result = mesh.track(rgb, pose.pixels())
    assert result.blink_left < 0.2 and result.blink_right < 0.2
    assert 0.25 < result.eye_ratio_left < 0.6 and 0.25 < result.eye_ratio_right < 0.6
    assert 0.05 < result.mouth_open < 0.6  # teeth showing, mouth far from wide open


def test_closed_lids_and_a_wide_mouth_map_to_one(astronaut, mesh, monkeypatch):
    rgb, pose = astronaut
    crop_points, presence = None, None
    real_run_crop = mesh.run_crop

    def edited(crop):
        nonlocal crop_points, presence
        crop_points, presence = real_run_crop(crop)
        points = crop_points.copy()
        for eye in (LEFT_EYE, RIGHT_EYE):
            for upper, lower in eye["lids"]:
                points[upper] = points[lower]  # lids shut
        upper, lower = MOUTH["lips"]
        width = np.linalg.norm(points[MOUTH["corners"][0]] - points[MOUTH["corners"][1]])
        points[lower] = points[upper] + [0.0, 0.8 * width, 0.0]  # jaw dropped
        return points, presence

    monkeypatch.setattr(mesh, "run_crop", edited)
    result = mesh.track(rgb, pose.pixels())
    assert result.blink_left == 1.0 and result.blink_right == 1.0
    assert result.mouth_open == 1.0


def test_tracker_fills_blink_and_mouth_on_the_head_state(astronaut):
    rgb, _ = astronaut
    with PoseTracker(running_mode="image") as tracker:
        result = tracker.track(rgb)
    assert result.face is not None and result.face.shape == (468, 3)
    assert result.head.blink_left is not None and result.head.mouth_open is not None


def test_crop_is_upright_over_the_face(astronaut):
    _, pose = astronaut
    centre, size, angle = face_crop_from_pose(pose.pixels())
    assert 120 < size < 260 and abs(np.degrees(angle)) < 15
    assert 180 < centre[0] < 260 and 90 < centre[1] < 170
