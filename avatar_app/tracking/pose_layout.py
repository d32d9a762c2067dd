"""MediaPipe's 33 pose landmarks, its world axes, and body-part frames in our canonical space.

MediaPipe world landmarks are metres with the origin at the centre of the hips
and the axes of the image: x to the image's right, y down, z away from the
camera (checked on real photographs: a person facing the camera has their left
shoulder at +x). For such a person +x is their left.

Our canonical (VRM normalized) space, shared with `avatar_app.rig.humanoid`:
+x the character's left, +y up, +z forward (the character faces +z). A person
facing the camera maps onto it by a half turn about x:
``(x, y, z) -> (x, -y, -z)``. With ``mirror=True`` the person's left drives the
character's right (what a mirrored webcam preview suggests): x is negated and
left/right landmarks are swapped.

Face, hand and foot points are not joints. `FACE_LAYOUT`, `HAND_LAYOUT` and
`FOOT_LAYOUT` give where they sit relative to the head / wrist / ankle in the
T-pose (canonical axes, metres); the face layout is measured from MediaPipe's
own world landmarks of a frontal photograph. Orientation estimates compare the
observed points with the layout built the same way, so fixed biases cancel.
"""

from __future__ import annotations

import numpy as np

NAMES = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
INDEX = {name: i for i, name in enumerate(NAMES)}
NUM_LANDMARKS = len(NAMES)

# left <-> right permutation of the 33 landmarks (nose stays)
MIRROR_PERMUTATION = np.array(
    [INDEX[n.replace("left", "\0").replace("right", "left").replace("\0", "right")] for n in NAMES]
)

_TO_CANONICAL = np.array([1.0, -1.0, -1.0])  # half turn about x (its own inverse)


def mediapipe_to_canonical(points: np.ndarray, mirror: bool = False) -> np.ndarray:
    """MediaPipe world landmarks ``[..., 33, 3]`` -> canonical space (same metres, same origin)."""
    points = np.asarray(points, dtype=np.float64) * _TO_CANONICAL
    if mirror:
        points = points[..., MIRROR_PERMUTATION, :] * np.array([-1.0, 1.0, 1.0])
    return points


def canonical_to_mediapipe(points: np.ndarray) -> np.ndarray:
    """Inverse of `mediapipe_to_canonical` (without mirroring)."""
    return np.asarray(points, dtype=np.float64) * _TO_CANONICAL


def _sided(name: str, left: tuple[float, float, float]) -> dict[str, np.ndarray]:
    """A left point and its mirror image on the right."""
    x, y, z = left
    return {f"left_{name}": np.array([x, y, z]), f"right_{name}": np.array([-x, y, z])}


# Relative to the head joint (skull base): ear midpoint 7 cm above it.
FACE_LAYOUT: dict[str, np.ndarray] = {
    "nose": np.array([0.0, 0.042, 0.118]),
    **_sided("eye_inner", (0.015, 0.081, 0.100)),
    **_sided("eye", (0.030, 0.081, 0.100)),
    **_sided("eye_outer", (0.045, 0.081, 0.098)),
    **_sided("ear", (0.080, 0.070, 0.0)),
    "mouth_left": np.array([0.023, 0.015, 0.080]),
    "mouth_right": np.array([-0.023, 0.015, 0.080]),
}
# Relative to the wrist of a left hand in the T-pose (arm along +x, palm down, thumb forward);
# a right hand mirrors x.
HAND_LAYOUT: dict[str, np.ndarray] = {
    "pinky": np.array([0.075, -0.005, -0.030]),
    "index": np.array([0.085, -0.005, 0.030]),
    "thumb": np.array([0.040, -0.010, 0.050]),
}
# Relative to the ankle, standing: heel behind and below, foot_index (toe tip) ahead at the same height.
FOOT_LAYOUT: dict[str, np.ndarray] = {
    "heel": np.array([0.0, -0.06, -0.05]),
    "foot_index": np.array([0.0, -0.06, 0.15]),
}


def orthonormal_frame(
    x_hint: np.ndarray, y_hint: np.ndarray | None = None, z_hint: np.ndarray | None = None
) -> np.ndarray:
    """Rotation matrix with columns (x, y, z): x along ``x_hint``; y (or z) from the other hint, made orthogonal.

    Right-handed: x cross y = z. Batched over leading axes.
    """
    x = x_hint / np.linalg.norm(x_hint, axis=-1, keepdims=True)
    if y_hint is not None:
        y = y_hint - np.sum(y_hint * x, axis=-1, keepdims=True) * x
        y = y / np.linalg.norm(y, axis=-1, keepdims=True)
        z = np.cross(x, y)
    else:
        z = z_hint - np.sum(z_hint * x, axis=-1, keepdims=True) * x
        z = z / np.linalg.norm(z, axis=-1, keepdims=True)
        y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def face_frame(points: dict[str, np.ndarray] | np.ndarray) -> np.ndarray:
    """Head frame from face points: x = the face's left (ears, eyes, mouth averaged), z = towards the nose.

    ``points`` is a name -> point dict or a canonical ``[33, 3]`` array.
    """
    if not isinstance(points, dict):
        points = {n: points[..., INDEX[n], :] for n in FACE_LAYOUT}
    across = sum(
        points[left] - points[right]
        for left, right in (
            ("left_ear", "right_ear"),
            ("left_eye_outer", "right_eye_outer"),
            ("mouth_left", "mouth_right"),
        )
    )
    ear_mid = 0.5 * (points["left_ear"] + points["right_ear"])
    return orthonormal_frame(across, z_hint=points["nose"] - ear_mid)


FACE_REFERENCE_FRAME = face_frame(FACE_LAYOUT)


def head_rotation_matrix(canonical_points: np.ndarray) -> np.ndarray:
    """World rotation of the head (canonical space) that carries the T-pose face onto the observed one."""
    return face_frame(canonical_points) @ FACE_REFERENCE_FRAME.T
