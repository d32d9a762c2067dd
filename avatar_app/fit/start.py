"""The first camera and pose of each view (step 1 of ``fit.search``).

With landmarks (``fit.landmarks``): the camera that puts the proxy's shoulders and hips where
the drawing has them (linear least squares for scale and centre), the arms' angles from
shoulder -> elbow -> wrist, and a yaw from where the nose sits between the shoulders.
Without: a rest pose, the yaw the file name or the view's place in a turnaround sheet
suggests, and the camera that spans the drawing's alpha.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from avatar_app.fit.drawing import Drawing
from avatar_app.fit.landmarks import DrawnLandmarks
from avatar_app.fit.proxy import ProxyModel, ViewParams
from avatar_app.raster.framing import cut_height

LIMB_VISIBILITY = 0.3  # drawn elbows and wrists score low yet are mostly where mediapipe puts them
TURNAROUND_YAWS = {1: (0.0,), 2: (0.0, 180.0), 3: (0.0, 90.0, 180.0), 4: (0.0, 45.0, 90.0, 180.0)}


def start_view(
    drawing: Drawing, landmarks: DrawnLandmarks | None, model: ProxyModel, index: int, count: int
) -> tuple[ViewParams, str]:
    """A first camera and pose for one view (see module docstring), and how it was found."""
    if landmarks is not None:
        params = _start_from_landmarks(drawing, landmarks, model)
        if params is not None:
            return params, "landmarks"
        return frame_alpha(drawing, model, ViewParams(left_arm=75.0, right_arm=75.0)), "landmarks (too few to place)"
    yaw = drawing.name_yaw()
    how = "no person found: rest pose, yaw from the file name"
    if yaw is None:
        yaws = TURNAROUND_YAWS.get(count, TURNAROUND_YAWS[4])
        yaw = yaws[min(index, len(yaws) - 1)] if count <= 4 else 0.0
        how = f"no person found: rest pose, yaw {yaw:g} from the view's place in the sheet"
    params = ViewParams(yaw=yaw, left_arm=60.0, right_arm=60.0)
    return frame_alpha(drawing, model, params), how


def _screen(params: ViewParams, points: np.ndarray) -> np.ndarray:
    """World points -> (u, v): along the camera's right axis and up."""
    right, _, _ = params.camera().basis()
    return np.stack([points @ right, points[:, 1]], axis=1)


def frame_alpha(drawing: Drawing, model: ProxyModel, params: ViewParams, cut: str = "waist") -> ViewParams:
    """The camera spanning the drawing's alpha rows with the proxy: head top to feet, or, for a
    drawing cut off at the bottom, to the ``cut`` framing's height (``raster.framing``)."""
    uv = _screen(params, model.vertices(params).astype(np.float64))
    top_v = uv[:, 1].max()
    bottom_v = uv[:, 1].min() if not drawing.cut_bottom else cut_height(model.character, cut)
    rows = np.nonzero(drawing.mask.any(axis=1))[0]
    cols = np.nonzero(drawing.mask.any(axis=0))[0]
    size = drawing.size
    pixels_per_metre = (rows[-1] + 1 - rows[0]) / max(top_v - bottom_v, 1e-3)
    half = size / (2.0 * pixels_per_metre)
    centre_y = top_v - (size / 2.0 - rows[0]) / pixels_per_metre
    centre_x = -((cols[0] + cols[-1] + 1) / 2.0 - size / 2.0) / pixels_per_metre
    return replace(params, half_height=half, centre_y=centre_y, centre_x=centre_x)


# Landmarks the camera is solved from: the torso only. Elbows and knees move with a pose the
# start can only guess, and would pull the scale with it.
_PAIRS = (
    ("left_shoulder", "leftUpperArm"),
    ("right_shoulder", "rightUpperArm"),
    ("left_hip", "leftUpperLeg"),
    ("right_hip", "rightUpperLeg"),
)


def _arm_angles(lm: DrawnLandmarks, size: int, side: str, sign: float) -> tuple[float, float]:
    """(upper arm below horizontal, forearm's further turn) in degrees from the drawing."""
    shoulder, elbow, wrist = (f"{side}_{p}" for p in ("shoulder", "elbow", "wrist"))
    if not lm.seen(elbow, size, LIMB_VISIBILITY):
        return 75.0, 0.0
    d = lm.point(elbow) - lm.point(shoulder)
    upper = math.degrees(math.atan2(d[1], sign * d[0]))  # image y is down: positive = below
    if not lm.seen(wrist, size, LIMB_VISIBILITY):
        return upper, 0.0
    e = lm.point(wrist) - lm.point(elbow)
    return upper, math.degrees(math.atan2(e[1], sign * e[0])) - upper


def _start_from_landmarks(drawing: Drawing, lm: DrawnLandmarks, model: ProxyModel) -> ViewParams | None:
    size = drawing.size
    # the drawing's left shoulder (mediapipe's left = the person's left) lies at image right when facing us
    ls, rs = lm.point("left_shoulder"), lm.point("right_shoulder")
    facing = 1.0 if ls[0] > rs[0] else -1.0
    span = abs(ls[0] - rs[0])
    nose = lm.point("nose")
    turn = float(np.clip((nose[0] - 0.5 * (ls[0] + rs[0])) / max(span, 1e-3), -1.0, 1.0))
    # nose towards the picture's right of the shoulders' middle = turned to the character's right;
    # the head turns further than the body, so the body's yaw is taken as a share of the head's
    yaw = 0.0 if facing > 0 else 180.0
    if facing > 0 and abs(turn) > 0.15:
        yaw = float(-40.0 * turn)
    left_arm, left_elbow = _arm_angles(lm, size, "left", facing)
    right_arm, right_elbow = _arm_angles(lm, size, "right", -facing)
    params = ViewParams(
        yaw=yaw,
        left_arm=float(np.clip(left_arm, -20, 95)),
        right_arm=float(np.clip(right_arm, -20, 95)),
        left_elbow=float(np.clip(left_elbow, -140, 80)),
        right_elbow=float(np.clip(right_elbow, -140, 80)),
    )
    joints = model.joints(params)
    pairs = [(mp, bone) for mp, bone in _PAIRS if lm.seen(mp, size, LIMB_VISIBILITY)]
    if len(pairs) < 2:
        return None
    uv = _screen(params, np.array([joints[b] for _, b in pairs]))
    px = np.array([lm.point(mp) for mp, _ in pairs])
    # col = k u + b, row = -k v + c: one scale k and two offsets, linear least squares
    rows_a = []
    rhs = []
    for (u, v), (x, y) in zip(uv, px):
        rows_a.append([u, 1.0, 0.0])
        rhs.append(x)
        rows_a.append([-v, 0.0, 1.0])
        rhs.append(y)
    (k, b, c), *_ = np.linalg.lstsq(np.array(rows_a), np.array(rhs), rcond=None)
    if not k > 0:
        return None
    return replace(
        params,
        half_height=size / (2.0 * k),
        centre_x=(size / 2.0 - b) / k,
        centre_y=(c - size / 2.0) / k,
    )
