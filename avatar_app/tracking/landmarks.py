"""Pose landmarks from a webcam frame with the mediapipe Tasks PoseLandmarker (mediapipe 1.x).

The model is ``assets/mediapipe/pose_landmarker_full.task``, built from the
models inside mediapipe 0.10.21 by ``tools/build_mediapipe_tasks.py`` (mediapipe
1.x ships none, and the app works offline).

mediapipe is imported lazily: importing this module never fails; constructing
a `PoseTracker` without mediapipe raises `TrackingDependencyError` with the fix.

Head orientation comes from the pose model's face points (nose, eyes, ears,
mouth corners) in world space. Blink and mouth opening are not observable from
those points (an eye is one point, the mouth two corners): they come from the
468-point face mesh (`face_mesh.FaceMesh`, ``assets/mediapipe/face_landmark_468.tflite``)
run on a face crop the pose places. Without it (``face_model_path=None``, or
the face not visible) they are None.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar_app.core.errors import InputError
from avatar_app.tracking.pose_layout import INDEX, NUM_LANDMARKS, head_rotation_matrix, mediapipe_to_canonical

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "mediapipe"
DEFAULT_POSE_MODEL = ASSETS / "pose_landmarker_full.task"
DEFAULT_FACE_MODEL = ASSETS / "face_landmark_468.tflite"
FACE_POINTS = [INDEX[n] for n in ("nose", "left_eye", "right_eye", "mouth_left", "mouth_right")]
MEDIAPIPE_INSTALL_FIX = (
    "pip install --no-deps 'mediapipe>=1.2,<2' && pip install absl-py flatbuffers certifi matplotlib "
    "(--no-deps keeps its opencv-contrib from replacing opencv-python-headless), and apt-get install libgles2"
)


class TrackingDependencyError(InputError):
    """A library or model a tracker needs is missing."""


def _import_mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ INFO chatter
    try:
        import mediapipe
        from mediapipe.tasks.python import BaseOptions, vision
    except (ImportError, OSError) as exc:  # OSError: libGLESv2.so.2 missing
        raise TrackingDependencyError(
            "mediapipe", "mediapipe 1.x importable", f"{type(exc).__name__}: {exc}", MEDIAPIPE_INSTALL_FIX
        ) from exc
    return mediapipe, BaseOptions, vision


@dataclass(frozen=True)
class HeadState:
    """Head orientation in canonical space (+x the person's left, +y up, +z towards the camera).

    ``rotation`` is (x, y, z, w); identity = upright, facing the camera.
    yaw/pitch/roll (radians) decompose it as R = Ry(yaw) Rx(pitch) Rz(roll):
    yaw > 0 turns the face towards the person's left, pitch > 0 nods down,
    roll > 0 tilts the head towards the person's right shoulder.
    blink_left/right (0 open .. 1 closed) and mouth_open (0 .. 1) are None when
    the source cannot see them.
    """

    rotation: np.ndarray
    yaw: float
    pitch: float
    roll: float
    blink_left: float | None = None
    blink_right: float | None = None
    mouth_open: float | None = None


def head_state_from_matrix(matrix: np.ndarray, **face) -> HeadState:
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_matrix(matrix)
    yaw, pitch, roll = rotation.as_euler("YXZ")
    return HeadState(rotation.as_quat(), float(yaw), float(pitch), float(roll), **face)


@dataclass(frozen=True)
class PoseLandmarks:
    """One person's 33 landmarks in one frame (mediapipe order, see `pose_layout.NAMES`).

    * ``image`` float32 [33, 3]: x, y normalised by the image width and height
      (0..1 inside the frame, x right, y down); z is mediapipe's relative depth
      (about the scale of x, smaller = nearer the camera, hips at 0).
    * ``world`` float32 [33, 3]: metres, origin at the hip centre, mediapipe
      axes (x image-right, y down, z away from the camera). Use
      `pose_layout.mediapipe_to_canonical` for ours.
    * ``visibility``, ``presence`` float32 [33] in 0..1.
    """

    timestamp: float
    image: np.ndarray
    world: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    image_size: tuple[int, int]  # (height, width)
    head: HeadState | None = None
    face: np.ndarray | None = None  # float32 [468, 3] face mesh, image-normalised like ``image``; None if not run

    def pixels(self) -> np.ndarray:
        """Image landmarks in pixels [33, 2] (x, y)."""
        h, w = self.image_size
        return self.image[:, :2] * np.array([w, h], dtype=np.float32)


def head_from_world(world: np.ndarray) -> HeadState:
    """Head orientation from mediapipe world landmarks [33, 3] (pose face points only)."""
    return head_state_from_matrix(head_rotation_matrix(mediapipe_to_canonical(world)))


class PoseTracker:
    """Runs the PoseLandmarker on RGB frames; one person, CPU.

    ``running_mode="video"`` (default) tracks between frames and needs
    increasing timestamps (capture timestamps in seconds are fine; equal or
    decreasing ones are nudged forward by 1 ms). ``"image"`` treats every
    frame on its own (stills, tests). Not thread-safe: one tracker per thread.
    """

    def __init__(
        self,
        model_path: str | os.PathLike = DEFAULT_POSE_MODEL,
        running_mode: str = "video",
        *,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        face_model_path: str | os.PathLike | None = DEFAULT_FACE_MODEL,
        min_face_visibility: float = 0.5,
    ):
        model_path = Path(model_path)
        if not model_path.is_file():
            raise TrackingDependencyError(
                model_path,
                "a mediapipe PoseLandmarker .task file",
                "no such file",
                "run `python3 tools/build_mediapipe_tasks.py` (it writes assets/mediapipe/)",
            )
        if running_mode not in ("video", "image"):
            raise InputError("running_mode", "'video' or 'image'", repr(running_mode), "use 'video' for a camera")
        self.model_path = model_path
        self.running_mode = running_mode
        self._mp, base_options, vision = _import_mediapipe()
        options = vision.PoseLandmarkerOptions(
            base_options=base_options(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO if running_mode == "video" else vision.RunningMode.IMAGE,
            num_poses=1,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise TrackingDependencyError(
                model_path,
                "a PoseLandmarker .task mediapipe can load",
                str(exc),
                "rebuild it with `python3 tools/build_mediapipe_tasks.py`",
            ) from exc
        self._last_ms = -1
        self.min_face_visibility = min_face_visibility
        self._face = None
        if face_model_path is not None:
            from avatar_app.tracking.face_mesh import FaceMesh

            try:
                self._face = FaceMesh(face_model_path)
            except TrackingDependencyError:
                self.close()
                raise

    def track(self, rgb: np.ndarray, timestamp: float = 0.0) -> PoseLandmarks | None:
        """Landmarks of the most prominent person in ``rgb`` (uint8 [H, W, 3], RGB), or None."""
        if self._landmarker is None:
            raise RuntimeError("PoseTracker is closed")
        rgb = np.asarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"PoseTracker.track wants uint8 [H, W, 3] RGB, got {rgb.dtype} {rgb.shape}")
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        if self.running_mode == "video":
            ms = max(int(round(timestamp * 1000.0)), self._last_ms + 1)
            self._last_ms = ms
            result = self._landmarker.detect_for_video(image, ms)
        else:
            result = self._landmarker.detect(image)
        if not result.pose_landmarks:
            return None
        norm, world = result.pose_landmarks[0], result.pose_world_landmarks[0]
        if len(norm) != NUM_LANDMARKS:
            raise RuntimeError(f"{self.model_path}: expected {NUM_LANDMARKS} landmarks, got {len(norm)}")
        image_xyz = np.array([[p.x, p.y, p.z] for p in norm], dtype=np.float32)
        world_xyz = np.array([[p.x, p.y, p.z] for p in world], dtype=np.float32)
        visibility = np.array([_score(p.visibility) for p in norm], dtype=np.float32)
        presence = np.array([_score(p.presence) for p in norm], dtype=np.float32)
        landmarks = PoseLandmarks(
            timestamp, image_xyz, world_xyz, visibility, presence, rgb.shape[:2], head_from_world(world_xyz)
        )
        if self._face is not None and np.all(visibility[FACE_POINTS] >= self.min_face_visibility):
            mesh = self._face.track(rgb, landmarks.pixels())
            if mesh is not None:
                head = dataclasses.replace(
                    landmarks.head, blink_left=mesh.blink_left, blink_right=mesh.blink_right, mouth_open=mesh.mouth_open
                )
                landmarks = dataclasses.replace(landmarks, head=head, face=mesh.points)
        return landmarks

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None
        if self._face is not None:
            self._face.close()
            self._face = None

    def __enter__(self) -> PoseTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _score(value: float | None) -> float:
    return float("nan") if value is None or math.isnan(value) else float(value)
