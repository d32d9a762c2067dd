"""Numpy pictures for the previews: frames over a checkerboard, UDP maps, landmarks, sheet views.

Everything here returns uint8 RGB [H, W, 3] (C-contiguous), which the widgets wrap in a
QImage. Kept free of Qt so it can be tested, and cheap enough for the UI timer at 512².
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from avatar_app.tracking.pose_layout import INDEX

CHECKER_CELL = 8
CHECKER_LIGHT, CHECKER_DARK = 0.80, 0.62

# Which landmarks to join when drawing the tracked body (mediapipe pose names).
_BONES = (
    ("left_shoulder", "right_shoulder"),
    ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("left_ear", "left_eye"),
    ("left_eye", "nose"),
    ("nose", "right_eye"),
    ("right_eye", "right_ear"),
)
BONES = tuple((INDEX[a], INDEX[b]) for a, b in _BONES)
MIN_VISIBILITY = 0.5


@functools.lru_cache(maxsize=8)
def checkerboard(height: int, width: int, cell: int = CHECKER_CELL) -> np.ndarray:
    """float32 [H, W, 1] of two greys: what "transparent" looks like in image editors."""
    y, x = np.indices((height, width))
    board = np.where(((y // cell) + (x // cell)) % 2 == 0, CHECKER_LIGHT, CHECKER_DARK).astype(np.float32)
    board.setflags(write=False)
    return board[..., None]


def over_checkerboard(premultiplied: np.ndarray) -> np.ndarray:
    """A premultiplied RGBA float frame [H, W, 4] composited over the checkerboard."""
    h, w = premultiplied.shape[:2]
    rgb = premultiplied[..., :3] + (1.0 - premultiplied[..., 3:4]) * checkerboard(h, w)
    return np.ascontiguousarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8))


def udp_picture(udp: np.ndarray) -> np.ndarray:
    """A UDP map [H, W, 4] as RGB: rest-pose x, y, z as red, green, blue; background black."""
    return np.ascontiguousarray(np.clip(udp[..., :3] * 255.0 + 0.5, 0, 255).astype(np.uint8))


def camera_picture(rgb: np.ndarray, landmarks=None, max_side: int = 320) -> np.ndarray:
    """The camera image scaled down to ``max_side``, with the tracked body drawn over it.

    ``landmarks``: a `PoseLandmarks` (image coordinates normalised to 0..1), or None.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    out = (
        cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        if scale < 1
        else rgb.copy()
    )
    if landmarks is None:
        return np.ascontiguousarray(out)
    oh, ow = out.shape[:2]
    points = np.asarray(landmarks.image)[:, :2] * np.array([ow, oh], np.float32)
    visible = np.asarray(landmarks.visibility) >= MIN_VISIBILITY
    for a, b in BONES:
        if visible[a] and visible[b]:
            cv2.line(
                out, tuple(int(v) for v in points[a]), tuple(int(v) for v in points[b]), (0, 255, 120), 2, cv2.LINE_AA
            )
    for i in np.flatnonzero(visible):
        cv2.circle(out, tuple(int(v) for v in points[i]), 3, (255, 80, 40), -1, cv2.LINE_AA)
    return np.ascontiguousarray(out)


def sheet_thumbnails(sheet, side: int = 72) -> list[np.ndarray]:
    """Each view of a `CharacterSheet` over the checkerboard, ``side`` pixels square."""
    thumbs = []
    for rgb, alpha in zip(sheet.rgb_premultiplied, sheet.alpha):
        rgba = np.concatenate([rgb, alpha], axis=0).transpose(1, 2, 0).astype(np.float32) / 255.0
        small = cv2.resize(rgba, (side, side), interpolation=cv2.INTER_AREA)
        thumbs.append(over_checkerboard(small))
    return thumbs
