"""The webcam path on still photographs of a real face: eyes open and shut, mouth shut and open.

Each photograph goes through the real pose tracker and face mesh (``PoseTracker`` with the
face model, as the webcam source runs them), the values become the frame's expression, and
the built-in character's proxy renders it: the eyes' and the mouth's regions must change,
each in its place.
"""

from __future__ import annotations

from importlib.resources import files

import cv2
import numpy as np
import pytest

from avatar_app.tracking.expression_filter import expression_from_head
from avatar_app.tracking.face_mesh import FaceMesh
from avatar_app.tracking.landmarks import DEFAULT_FACE_MODEL, PoseTracker

from face_photo_edits import close_eyes, open_mouth

pytest.importorskip("mediapipe", reason="mediapipe 1.x not installed")
pytest.importorskip("skimage", reason="scikit-image (the test photographs) not installed")

THRESHOLD = 0.5  # where an expression sheet takes over (pipeline.expression_sheets)


@pytest.fixture(scope="module")
def photos():
    """{name: RGB} for the astronaut as she is and painted shut-eyed / open-mouthed."""
    rgb = cv2.cvtColor(cv2.imread(str(files("skimage") / "data" / "astronaut.png")), cv2.COLOR_BGR2RGB)
    with PoseTracker(running_mode="image", face_model_path=None) as tracker:
        pose = tracker.track(rgb)
    with FaceMesh(DEFAULT_FACE_MODEL) as mesh:
        points = mesh.track(rgb, pose.pixels()).points[:, :2] * np.array(rgb.shape[1::-1], np.float32)
    return {
        "open": rgb,
        "eyes_shut": close_eyes(rgb, points),
        "mouth_open": open_mouth(rgb, points),
        "both": open_mouth(close_eyes(rgb, points), points),
    }


@pytest.fixture(scope="module")
def faces(photos):
    """{name: (left blink, right blink, mouth)} from the tracker, as the webcam source reads them."""
    out = {}
    with PoseTracker(running_mode="image") as tracker:
        for name, rgb in photos.items():
            out[name] = tracker.track(rgb).head
    return out


def values(head) -> tuple[float, float, float]:
    return head.blink_left, head.blink_right, head.mouth_open


def test_open_eyes_and_a_shut_mouth_stay_below_the_threshold(faces):
    left, right, mouth = values(faces["open"])
    assert left < 0.2 and right < 0.2 and mouth < THRESHOLD, values(faces["open"])


def test_shut_eyes_cross_the_threshold_and_leave_the_mouth_alone(faces):
    left, right, mouth = values(faces["eyes_shut"])
    assert left > THRESHOLD and right > THRESHOLD, values(faces["eyes_shut"])
    assert abs(mouth - faces["open"].mouth_open) < 0.1


def test_an_open_mouth_crosses_the_threshold_and_leaves_the_eyes_open(faces):
    left, right, mouth = values(faces["mouth_open"])
    assert mouth > THRESHOLD and left < 0.2 and right < 0.2, values(faces["mouth_open"])
    assert min(values(faces["both"])) > THRESHOLD, values(faces["both"])


def test_the_rendered_eyes_and_mouth_change_each_in_their_place(faces):
    from avatar_app.pipeline.defaults import load_character
    from avatar_app.raster.character_view import CharacterView
    from avatar_app.rig import DemoMotion

    pose, character = DemoMotion().pose_at(0.0), load_character()
    colours = {}
    for name, head in faces.items():
        with CharacterView(character, 128, framing="bust") as view:  # the same springs and camera for each
            for _ in range(3):
                result = view.render_pose(pose, 1 / 30, expression=expression_from_head(head))
        colours[name] = result.color[..., :3]

    def changed(name):
        return np.nonzero(np.abs(colours[name] - colours["open"]).max(axis=-1) > 0.1)

    eyes_y, eyes_x = changed("eyes_shut")
    mouth_y, mouth_x = changed("mouth_open")
    assert len(eyes_y) > 10 and len(mouth_y) > 3, (len(eyes_y), len(mouth_y))
    assert eyes_y.max() < mouth_y.min(), "the eyes change above the mouth"
    assert eyes_x.min() < 64 < eyes_x.max(), "both eyes, left and right of the middle"
    assert abs(np.median(mouth_x) - 64) < 10, "the mouth, in the middle"
