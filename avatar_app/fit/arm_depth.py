"""Arms drawn over the body: crossed, a hand on the belly, holding something, behind the back.

The silhouette cannot see an arm inside it, and an arm kept in the frontal plane lies inside
the torso, where no drawn pixel can reach it: the drawing's forearm is then printed on the
chest in every frame. Where the drawing's landmarks (``fit.landmarks``) put an elbow and a
wrist, each arm is posed so that its joints land on them (least squares on the two frontal
angles and the two tilts out of the frontal plane, ``ViewParams.*_forward``) on the side of
the torso the drawing shows it: in front of it (the camera's side) where the hand is drawn
(mediapipe sees the wrist, or skin lies under it), behind it where it is not. The pose is
kept only where the silhouette hardly changes (``SILHOUETTE_SLACK``): an arm the outline does
see is the silhouette search's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

from avatar_app.fit.face import skin_mask
from avatar_app.fit.objective import Objective, ViewFit
from avatar_app.fit.proxy import ProxyModel, ViewParams, arm_vertices

ELBOW_VISIBILITY = 0.3  # as the start's LIMB_VISIBILITY: drawn elbows score low yet sit right
WRIST_SEEN = 0.25  # a wrist mediapipe scores below this and with no skin under it is hidden
SKIN_SEEN = 0.25  # share of skin pixels around the wrist that says a hand is drawn there
SHOULDERS_APART = 0.35  # of the size, both shoulders together: farther, the landmarks are of something else
AGREE = 0.035  # of the picture's size: joints this near their landmarks need no change
SILHOUETTE_SLACK = 0.01  # score a landmark pose may lose against the silhouette's
CLEARANCE = 0.05  # metres a drawn forearm keeps in front of the torso's surface (or behind it)
TORSO_RADIUS = 0.035  # metres around a point on screen in which the torso's surface is looked up
# bounds of (frontal angle, elbow, upper tilt, forearm tilt) in degrees
BOUNDS = (np.array([-30.0, -190.0, -80.0, -85.0]), np.array([115.0, 190.0, 80.0, 85.0]))


@dataclass
class ArmPlacement:
    side: str  # the proxy's "left" or "right"
    drawn: str  # "front" (over the body, the camera's side), "behind" or "kept" (the fit's pose)
    error: float  # mean joint distance to the landmarks, in pictures' sizes, after placing


def _pixels(params: ViewParams, size: int, points: np.ndarray) -> np.ndarray:
    """World points -> (col, row) in the view's square of ``size`` pixels."""
    right, _, _ = params.camera().basis()
    k = size / (2.0 * params.half_height)
    u, v = points @ right, points[:, 1]
    return np.stack([(u - params.centre_x) * k + size / 2.0, size / 2.0 - (v - params.centre_y) * k], axis=1)


class _Torso:
    """The posed body without its arms, on screen with its depth towards the camera."""

    def __init__(self, model: ProxyModel, params: ViewParams):
        right, _, forward = params.camera().basis()
        vertices = model.vertices(params)[~arm_vertices(model.character)]
        self.right, self.forward = right, forward
        self.tree = cKDTree(np.stack([vertices @ right, vertices[:, 1]], axis=1))
        self.depth = -(vertices @ forward)

    def surface(self, point: np.ndarray) -> tuple[float, float] | None:
        """(nearest, farthest) depth of the torso under ``point`` on screen, None off it."""
        near = self.tree.query_ball_point([point @ self.right, point[1]], TORSO_RADIUS)
        if not near:
            return None
        depth = self.depth[near]
        return float(depth.max()), float(depth.min())


def _on_its_side(torso: _Torso, elbow: np.ndarray, wrist: np.ndarray, drawn: bool) -> bool:
    """Whether the forearm lies where the drawing shows it: in front of the torso (``drawn``)
    or behind it, wherever it crosses it on screen."""
    for point in (0.5 * (elbow + wrist), wrist):
        surface = torso.surface(point)
        depth = float(-(point @ torso.forward))
        if surface is not None and (depth < surface[0] if drawn else depth > surface[1]):
            return False
    return True


def _wrist_drawn(view: ViewFit, wrist_name: str, wrist: np.ndarray) -> bool:
    """Whether the drawing shows a hand at ``wrist``: mediapipe sees it, or skin lies there."""
    lm = view.landmarks
    if lm.seen(wrist_name, None, WRIST_SEEN):
        return True
    size = view.drawing.size
    r = max(2, int(0.03 * size))
    x, y = int(round(wrist[0])), int(round(wrist[1]))
    window = np.s_[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1]
    opaque = view.drawing.mask[window]
    if not opaque.any():
        return False
    rgb = np.ascontiguousarray(view.drawing.straight_rgb()[window])
    return float(skin_mask(rgb)[opaque].mean()) >= SKIN_SEEN


def _landmark_sides(model: ProxyModel, params: ViewParams, view: ViewFit) -> dict[str, str] | None:
    """The landmarks' side for each proxy side, by which shoulder lies nearer on screen
    (mediapipe swaps left and right on drawings, and the fit may have turned the view round);
    None where mediapipe's shoulders are nowhere near the fitted ones."""
    lm, size = view.landmarks, view.drawing.size
    joints = model.joints(params)
    proxy = _pixels(params, size, np.array([joints["leftUpperArm"], joints["rightUpperArm"]]))
    drawn = np.array([lm.point("left_shoulder"), lm.point("right_shoulder")])
    straight = np.linalg.norm(proxy - drawn, axis=1).sum()
    crossed = np.linalg.norm(proxy - drawn[::-1], axis=1).sum()
    if min(straight, crossed) > SHOULDERS_APART * size:
        return None
    return {"left": "left", "right": "right"} if straight <= crossed else {"left": "right", "right": "left"}


def _solve(model, params, view, side, targets, toward_camera, torso) -> tuple[ViewParams, float]:
    """The arm's four angles that put its elbow and wrist on ``targets`` (pixels) and its
    forearm on the camera's side of the torso (``toward_camera``) or the far side."""
    size = view.drawing.size
    names = (f"{side}_arm", f"{side}_elbow", f"{side}_arm_forward", f"{side}_elbow_forward")
    facing = 1.0 if np.cos(np.radians(params.yaw)) >= 0.0 else -1.0  # the body's front towards the camera?
    sign = facing if toward_camera else -facing

    def posed(x: np.ndarray) -> ViewParams:
        return params.with_values(**dict(zip(names, x.tolist())))

    def residuals(x: np.ndarray) -> np.ndarray:
        joints = model.joints(posed(x))
        elbow, wrist = joints[f"{side}LowerArm"], joints[f"{side}Hand"]
        out = list(((_pixels(params, size, np.array([elbow, wrist])) - targets) / size).ravel())
        for point in (0.5 * (elbow + wrist), wrist):
            surface = torso.surface(point)
            depth = float(-(point @ torso.forward))
            if surface is None:
                out.append(0.0)
            elif toward_camera:
                out.append(max(0.0, surface[0] + CLEARANCE - depth))
            else:
                out.append(max(0.0, depth - (surface[1] - CLEARANCE)))
        out.append(0.002 * (x[2] ** 2 + x[3] ** 2) ** 0.5 / 90.0)  # no tilt the landmarks do not ask for
        return np.array(out)

    start = np.array([getattr(params, names[0]), getattr(params, names[1]), 35.0 * sign, 20.0 * sign])
    start = np.clip(start, BOUNDS[0] + 1e-6, BOUNDS[1] - 1e-6)
    result = least_squares(residuals, start, bounds=BOUNDS, x_scale=np.array([30.0, 30.0, 30.0, 30.0]), max_nfev=80)
    joints = model.joints(posed(result.x))
    found = _pixels(params, size, np.array([joints[f"{side}LowerArm"], joints[f"{side}Hand"]]))
    return posed(result.x), float(np.linalg.norm(found - targets, axis=1).mean() / size)


def place_arms_in_depth(objective: Objective, model: ProxyModel, view: ViewFit) -> list[ArmPlacement]:
    """Pose each arm of ``view`` the drawing shows over the body (module docstring); updates
    ``view.params`` and ``view.score`` and says what it did per arm."""
    lm = view.landmarks
    if lm is None:
        return []
    sides = _landmark_sides(model, view.params, view)
    if sides is None:
        return []
    size = view.drawing.size
    torso = _Torso(model, view.params)
    placements = []
    for side, drawn_side in sides.items():
        elbow_name, wrist_name = f"{drawn_side}_elbow", f"{drawn_side}_wrist"
        if not lm.seen(elbow_name, size, ELBOW_VISIBILITY) or not lm.seen(wrist_name, size, 0.0):
            continue
        joints = model.joints(view.params)
        # the arm as drawn, hung from the fitted shoulder: mediapipe's shoulders on a drawing
        # sit off the body's joint (the outline placed the proxy's)
        shoulder = _pixels(view.params, size, joints[f"{side}UpperArm"][None])[0]
        offset = shoulder - lm.point(f"{drawn_side}_shoulder")
        targets = np.array([lm.point(elbow_name), lm.point(wrist_name)]) + offset
        now = _pixels(view.params, size, np.array([joints[f"{side}LowerArm"], joints[f"{side}Hand"]]))
        error = float(np.linalg.norm(now - targets, axis=1).mean() / size)
        drawn = _wrist_drawn(view, wrist_name, lm.point(wrist_name))
        if error <= AGREE and _on_its_side(torso, joints[f"{side}LowerArm"], joints[f"{side}Hand"], drawn):
            placements.append(ArmPlacement(side, "kept", error))
            continue
        params, new_error = _solve(model, view.params, view, side, targets, drawn, torso)
        score = objective.score(model, view, params)
        if new_error < error and score >= view.score - SILHOUETTE_SLACK:
            view.params, view.score = params, score
            placements.append(ArmPlacement(side, "front" if drawn else "behind", new_error))
        else:
            placements.append(ArmPlacement(side, "kept", error))
    return placements
