"""PoseTracker on real photographs bundled in scikit-image's wheel (astronaut.png, camera.png).

astronaut.png: Eileen Collins, NASA portrait (public domain), frontal, head to mid-torso.
camera.png: "cameraman", a man in profile looking into a camera on a tripod, head to knees.
"""

from __future__ import annotations

import sys
from importlib.resources import files

import cv2
import numpy as np
import pytest

from avatar_app.tracking.capture import CaptureSource
from avatar_app.tracking.landmarks import PoseTracker, TrackingDependencyError
from avatar_app.tracking.pose_layout import INDEX

pytest.importorskip("mediapipe", reason="mediapipe 1.x not installed (see landmarks.MEDIAPIPE_INSTALL_FIX)")
pytest.importorskip("skimage", reason="scikit-image (the test photographs) not installed")


def photo(name: str) -> np.ndarray:
    path = files("skimage") / "data" / name
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"{path} not readable"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def still_tracker():
    with PoseTracker(running_mode="image") as tracker:
        yield tracker


def y_of(landmarks, *names):
    return np.mean([landmarks.image[INDEX[n], 1] for n in names])


def test_frontal_portrait_landmarks_sit_in_plausible_places(still_tracker):
    result = still_tracker.track(photo("astronaut.png"), timestamp=1.0)
    assert result is not None
    assert result.image.shape == (33, 3) and result.world.shape == (33, 3) and result.visibility.shape == (33,)
    assert result.image_size == (512, 512) and result.timestamp == 1.0
    upper = [
        INDEX[n]
        for n in (
            "nose",
            "left_eye",
            "right_eye",
            "left_ear",
            "right_ear",
            "mouth_left",
            "mouth_right",
            "left_shoulder",
            "right_shoulder",
        )
    ]
    assert np.all(result.visibility[upper] > 0.9)
    assert np.all((result.image[upper, :2] > 0) & (result.image[upper, :2] < 1))
    assert y_of(result, "left_eye", "right_eye") < y_of(result, "nose") < y_of(result, "mouth_left", "mouth_right")
    assert y_of(result, "mouth_left", "mouth_right") < y_of(result, "left_shoulder", "right_shoulder")
    # facing the camera: her left shoulder is on the image's right
    assert result.image[INDEX["left_shoulder"], 0] > result.image[INDEX["right_shoulder"], 0]
    # shoulders span a plausible width: 25-60 % of this tight portrait
    assert 0.25 < result.image[INDEX["left_shoulder"], 0] - result.image[INDEX["right_shoulder"], 0] < 0.6
    # her hips are below the frame: mediapipe knows they are not visible
    assert np.all(result.visibility[[INDEX["left_hip"], INDEX["right_hip"]]] < 0.5)
    # world landmarks: metres, hip-centred, y down
    hip_centre = result.world[[INDEX["left_hip"], INDEX["right_hip"]]].mean(axis=0)
    np.testing.assert_allclose(hip_centre, 0.0, atol=0.05)
    assert result.world[INDEX["nose"], 1] < result.world[INDEX["left_shoulder"], 1] < 0
    assert 0.2 < np.linalg.norm(result.world[INDEX["left_shoulder"]] - result.world[INDEX["right_shoulder"]]) < 0.5
    head = result.head
    assert abs(np.degrees(head.yaw)) < 20 and abs(np.degrees(head.pitch)) < 20 and abs(np.degrees(head.roll)) < 15
    assert head.blink_left < 0.2 and head.blink_right < 0.2  # from the face mesh: her eyes are open


def test_without_the_face_mesh_blink_and_mouth_are_unknown():
    with PoseTracker(running_mode="image", face_model_path=None) as tracker:
        result = tracker.track(photo("astronaut.png"))
    assert result.face is None
    assert result.head.blink_left is None and result.head.mouth_open is None  # the pose model cannot see them
    assert abs(np.degrees(result.head.yaw)) < 20


def test_profile_photo_finds_the_torso_and_a_turned_head(still_tracker):
    result = still_tracker.track(photo("camera.png"))
    assert result is not None
    torso = [INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    assert np.all(result.visibility[torso] > 0.8)
    assert np.all((result.image[torso, :2] > 0) & (result.image[torso, :2] < 1))
    assert y_of(result, "nose") < y_of(result, "left_hip", "right_hip")
    assert y_of(result, "left_shoulder", "right_shoulder") < y_of(result, "left_hip", "right_hip")
    # he looks to the image's right, i.e. (from facing the camera) towards his own left
    assert result.image[INDEX["nose"], 0] > result.image[INDEX["left_ear"], 0]
    assert np.degrees(result.head.yaw) > 30
    pixels = result.pixels()
    assert pixels.shape == (33, 2) and 100 < pixels[INDEX["nose"], 0] < 400


def test_video_mode_tracks_frames_from_a_capture_source(tmp_path):
    rgb = photo("astronaut.png")
    path = tmp_path / "astronaut.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (512, 512))
    for _ in range(4):
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    noses = []
    with CaptureSource(path, realtime=False) as capture, PoseTracker() as tracker:
        while (frame := capture.read(timeout=5)) is not None:
            result = tracker.track(frame.rgb, frame.timestamp)
            assert result is not None
            noses.append(result.image[INDEX["nose"], :2])
            tracker.track(frame.rgb, frame.timestamp)  # the same timestamp again is nudged, not an error
    assert len(noses) >= 1
    still = PoseTracker(running_mode="image")
    try:
        reference = still.track(rgb).image[INDEX["nose"], :2]
    finally:
        still.close()
    assert np.all(np.abs(np.array(noses) - reference) < 0.03)


def test_non_rgb_input_is_rejected(still_tracker):
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\] RGB"):
        still_tracker.track(np.zeros((10, 10), np.uint8))


def test_missing_model_says_how_to_build_it(tmp_path):
    with pytest.raises(TrackingDependencyError, match="build_mediapipe_tasks.py"):
        PoseTracker(tmp_path / "missing.task")


def test_missing_mediapipe_is_a_clear_error(monkeypatch):
    for name in [m for m in sys.modules if m == "mediapipe" or m.startswith("mediapipe.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(TrackingDependencyError, match="--no-deps"):
        PoseTracker()


@pytest.mark.parametrize("name", ["camera.png", "astronaut.png"])
def test_retargeted_rig_points_its_limbs_where_the_photo_does(still_tracker, name, a_pose_skeleton):
    from avatar_app.rig.humanoid import HumanoidRig
    from avatar_app.tracking.pose_layout import mediapipe_to_canonical
    from avatar_app.tracking.retarget import LandmarkRetargeter, synthesize_world_landmarks

    result = still_tracker.track(photo(name))
    skeleton = a_pose_skeleton
    humanoid = LandmarkRetargeter(skeleton).humanoid_pose(result.world, result.visibility)
    assert np.all(np.isfinite(humanoid.rotations))
    rebuilt = mediapipe_to_canonical(synthesize_world_landmarks(HumanoidRig(skeleton), humanoid))
    observed = mediapipe_to_canonical(result.world)
    checked = 0
    for side in ("left", "right"):
        for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")):
            ia, ib = INDEX[f"{side}_{a}"], INDEX[f"{side}_{b}"]
            if min(result.visibility[ia], result.visibility[ib]) < 0.5 or (
                a == "knee" and result.visibility[INDEX[f"{side}_hip"]] < 0.5
            ):
                continue
            if a == "elbow" and result.visibility[INDEX[f"{side}_shoulder"]] < 0.5:
                continue
            u, v = rebuilt[ib] - rebuilt[ia], observed[ib] - observed[ia]
            cosine = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
            assert np.degrees(np.arccos(np.clip(cosine, -1, 1))) < 5.0, (name, side, a, b)
            checked += 1
    assert checked >= 1
