"""Where the body is in a drawing: mediapipe pose landmarks, checked for sense.

mediapipe's PoseLandmarker was trained on photographs, yet it finds the body in many
anime drawings once they are composited over a plain background with room around them
(a character cut off at the picture's edge, or filling it, is often missed). Its answer is
kept only when it is plausible for a standing character drawn upright: shoulders above the
hips, the nose above the shoulders, the shoulders apart, all inside the character's alpha
near enough. Otherwise the view falls back to a rest pose (see ``fit.search``).

Points are returned in the drawing's prepared square (see ``fit.drawing``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from avatar_app.fit.drawing import Drawing
from avatar_app.tracking.pose_layout import INDEX

log = logging.getLogger(__name__)

BACKGROUND = 200  # grey: neither the white nor the black of line art
PAD = 0.35  # room around the character, as a share of its longer side
MIN_VISIBILITY = 0.5


@dataclass(frozen=True)
class DrawnLandmarks:
    """Landmarks of one drawing: ``points`` [33, 2] (x, y) in the square's pixels, ``visibility`` [33]."""

    points: np.ndarray
    visibility: np.ndarray

    def seen(self, name: str, size: int | None = None, min_visibility: float = MIN_VISIBILITY) -> bool:
        """Visible, and (with ``size``) inside the square."""
        k = INDEX[name]
        if not self.visibility[k] >= min_visibility:
            return False
        if size is None:
            return True
        x, y = self.points[k]
        return bool(-0.02 * size <= x <= 1.02 * size and -0.02 * size <= y <= 1.0 * size)

    def point(self, name: str) -> np.ndarray:
        return self.points[INDEX[name]]


class LandmarkFinder:
    """One mediapipe PoseLandmarker (image mode) for a fit; ``find(drawing)`` per view."""

    def __init__(self):
        from avatar_app.tracking.landmarks import PoseTracker

        self._tracker = PoseTracker(running_mode="image", face_model_path=None, min_detection_confidence=0.3)

    def find(self, drawing: Drawing) -> DrawnLandmarks | None:
        rgba = drawing.original
        h, w = rgba.shape[:2]
        pad = int(PAD * max(h, w))
        canvas = np.full((h + 2 * pad, w + 2 * pad, 3), BACKGROUND, np.float32)
        alpha = rgba[..., 3:4].astype(np.float32) / 255.0
        canvas[pad : pad + h, pad : pad + w] = rgba[..., :3] * alpha + BACKGROUND * (1.0 - alpha)
        found = self._tracker.track(canvas.astype(np.uint8))
        if found is None:
            return None
        scale, dx, dy = drawing.to_square
        points = (found.pixels().astype(np.float64) - pad) * scale + (dx, dy)
        landmarks = DrawnLandmarks(points, np.nan_to_num(found.visibility.astype(np.float64)))
        reason = implausible(landmarks, drawing)
        if reason:
            log.info("%s: landmarks dropped (%s)", drawing.name, reason)
            return None
        return landmarks

    def close(self) -> None:
        self._tracker.close()

    def __enter__(self) -> LandmarkFinder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def implausible(landmarks: DrawnLandmarks, drawing: Drawing) -> str | None:
    """Why these landmarks are not a standing character in this drawing, or None if they are."""
    size = drawing.size
    needed = ("nose", "left_shoulder", "right_shoulder")
    missing = [n for n in needed if not landmarks.seen(n, size)]
    if missing:
        return "not seen: " + ", ".join(missing)
    nose, ls, rs = (landmarks.point(n) for n in needed)
    shoulder_y = 0.5 * (ls[1] + rs[1])
    if not nose[1] < shoulder_y:
        return "the nose is not above the shoulders"
    span = abs(ls[0] - rs[0])
    if span < 0.04 * size and not landmarks.seen("left_hip"):
        return "shoulders on top of each other and no hips"
    hips = [landmarks.point(n) for n in ("left_hip", "right_hip") if landmarks.seen(n)]
    if hips and not np.mean([p[1] for p in hips]) > shoulder_y:
        return "the hips are not below the shoulders"
    mask = drawing.mask
    inside = 0
    for name in ("nose", "left_shoulder", "right_shoulder"):
        x, y = np.clip(np.round(landmarks.point(name)).astype(int), 0, size - 1)
        inside += bool(mask[max(0, y - 3) : y + 4, max(0, x - 3) : x + 4].any())
    if inside < 2:
        return "the nose and shoulders fall outside the character"
    return None
