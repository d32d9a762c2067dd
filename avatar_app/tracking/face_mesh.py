"""468-point face mesh on a face crop placed by the pose landmarks: blinks and mouth opening.

mediapipe 1.x ships no face models, and the FaceLandmarker .task cannot be
built from the models mediapipe 0.10.21 bundles (see tools/build_mediapipe_tasks.py).
The legacy ``face_landmark.tflite`` (468 points, 192x192 RGB in [0, 1]) is
there, though, and the Tasks ``ImageEmbedder`` runs any image model with
image-input metadata and returns its raw output tensors: here the 1404 mesh
coordinates (in crop pixels) and the face-flag logit. So no extra runtime.

The crop is square, centred between the eyes and the mouth, sized from the
eye-to-mouth distance and the ear span, and turned so the eye-to-mouth line
points down (the model expects an upright face, like mediapipe's own crop).

Blink and mouth values are ratios, so crop size and distance do not matter:

* eye openness = mean lid gap over 3 vertical pairs / eye width (the eye aspect ratio of
  Soukupova and Cech, 2016: about 0.3 open, blinks detected below about 0.2); mapped linearly
  from ``eye_open_ratio`` (0: open) to ``eye_closed_ratio`` (1: closed), half closed at 0.215.
  This mesh's lids never meet on a shut eye (0.17-0.20 on a photograph with its eyes painted
  shut, tests/tracking/test_face_photos.py), so 0.15 already counts as closed;
* mouth opening = inner-lip gap / mouth width, mapped from 0.02 (0) to
  ``mouth_open_ratio`` (1).
The thresholds are heuristics; tune them per user if needed.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avatar_app.tracking.pose_layout import INDEX

CROP = 192  # the model's input size

# mesh indices (the person's left/right)
RIGHT_EYE = {"corners": (33, 133), "lids": ((159, 145), (158, 153), (160, 144))}
LEFT_EYE = {"corners": (362, 263), "lids": ((386, 374), (385, 380), (387, 373))}
MOUTH = {"corners": (61, 291), "lips": (13, 14)}


@dataclass(frozen=True)
class FaceMeshResult:
    """``points`` float32 [468, 3]: x, y image-normalised, z in x's scale. Values 0..1."""

    points: np.ndarray
    presence: float
    blink_left: float
    blink_right: float
    mouth_open: float
    eye_ratio_left: float
    eye_ratio_right: float
    mouth_ratio: float


def face_crop_from_pose(pixels: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """(centre [2], size px, angle rad) of the face crop from pose landmark pixels [33, 2]; None if degenerate."""
    eye_mid = 0.5 * (pixels[INDEX["left_eye"]] + pixels[INDEX["right_eye"]])
    mouth_mid = 0.5 * (pixels[INDEX["mouth_left"]] + pixels[INDEX["mouth_right"]])
    down = mouth_mid - eye_mid
    eye_to_mouth = float(np.linalg.norm(down))
    ear_span = float(np.linalg.norm(pixels[INDEX["left_ear"]] - pixels[INDEX["right_ear"]]))
    size = max(3.8 * eye_to_mouth, 2.0 * ear_span)
    if not math.isfinite(size) or size < 8:
        return None
    angle = math.atan2(-down[0], down[1])  # rotation that takes the crop's +v (down) onto eye->mouth
    return 0.5 * (eye_mid + mouth_mid), size, angle


def _crop_to_image(centre: np.ndarray, size: float, angle: float) -> np.ndarray:
    """2x3 affine taking crop pixels (u, v) to image pixels."""
    scale = size / CROP
    c, s = math.cos(angle), math.sin(angle)
    linear = scale * np.array([[c, -s], [s, c]])
    offset = centre - linear @ np.array([CROP / 2, CROP / 2])
    return np.hstack([linear, offset[:, None]])


def _ratio(points: np.ndarray, pairs, corners) -> float:
    gap = np.mean([np.linalg.norm(points[a, :2] - points[b, :2]) for a, b in pairs])
    width = np.linalg.norm(points[corners[0], :2] - points[corners[1], :2])
    return float(gap / width) if width > 1e-6 else float("nan")


def _unit(value: float, zero_at: float, one_at: float) -> float:
    return float(np.clip((value - zero_at) / (one_at - zero_at), 0.0, 1.0))


class FaceMesh:
    """Runs ``face_landmark_468.tflite`` through mediapipe's ImageEmbedder. Not thread-safe."""

    def __init__(
        self,
        model_path: str | os.PathLike,
        *,
        eye_open_ratio: float = 0.28,
        eye_closed_ratio: float = 0.15,
        mouth_open_ratio: float = 0.6,
        min_presence: float = 0.5,
    ):
        from avatar_app.tracking.landmarks import TrackingDependencyError, _import_mediapipe

        model_path = Path(model_path)
        if not model_path.is_file():
            raise TrackingDependencyError(
                model_path, "the face-mesh model", "no such file", "run `python3 tools/build_mediapipe_tasks.py`"
            )
        self._mp, base_options, vision = _import_mediapipe()
        options = vision.ImageEmbedderOptions(
            base_options=base_options(model_asset_path=str(model_path)), l2_normalize=False, quantize=False
        )
        self._embedder = vision.ImageEmbedder.create_from_options(options)
        self.eye_open_ratio, self.eye_closed_ratio = eye_open_ratio, eye_closed_ratio
        self.mouth_open_ratio, self.min_presence = mouth_open_ratio, min_presence

    def run_crop(self, crop_rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """Mesh [468, 3] in crop pixels and the face presence (0..1) for an upright 192x192 RGB face crop."""
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(crop_rgb))
        heads = self._embedder.embed(image).embeddings
        points = np.asarray(heads[0].embedding, dtype=np.float64).reshape(468, 3)
        presence = 1.0 / (1.0 + math.exp(-float(heads[1].embedding[0])))
        return points, presence

    def track(self, rgb: np.ndarray, pose_pixels: np.ndarray) -> FaceMeshResult | None:
        """Face mesh of the person whose pose landmark pixels [33, 2] are given; None if no face is found."""
        placed = face_crop_from_pose(pose_pixels)
        if placed is None:
            return None
        affine = _crop_to_image(*placed)
        crop = cv2.warpAffine(
            rgb, affine, (CROP, CROP), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT
        )
        points, presence = self.run_crop(crop)
        if presence < self.min_presence:
            return None
        right = _ratio(points, RIGHT_EYE["lids"], RIGHT_EYE["corners"])
        left = _ratio(points, LEFT_EYE["lids"], LEFT_EYE["corners"])
        mouth = _ratio(points, (MOUTH["lips"],), MOUTH["corners"])
        height, width = rgb.shape[:2]
        xy = points[:, :2] @ affine[:, :2].T + affine[:, 2]
        scale = placed[1] / CROP
        image_points = np.column_stack([xy[:, 0] / width, xy[:, 1] / height, points[:, 2] * scale / width]).astype(
            np.float32
        )
        return FaceMeshResult(
            image_points,
            presence,
            blink_left=_unit(left, self.eye_open_ratio, self.eye_closed_ratio),
            blink_right=_unit(right, self.eye_open_ratio, self.eye_closed_ratio),
            mouth_open=_unit(mouth, 0.02, self.mouth_open_ratio),
            eye_ratio_left=left,
            eye_ratio_right=right,
            mouth_ratio=mouth,
        )

    def close(self) -> None:
        if self._embedder is not None:
            self._embedder.close()
            self._embedder = None

    def __enter__(self) -> FaceMesh:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
