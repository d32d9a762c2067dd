"""Fit a proxy to drawings: each view's camera and pose, and the shape they share.

1. **Start per view** (``fit.start``). With landmarks (``fit.landmarks``): the camera that puts the proxy's
   shoulders and hips where the drawing has them (linear least squares for scale and
   centre; the alpha's span is tried too, as a turned torso misleads the scale), the arms'
   angles from shoulder -> elbow -> wrist, and a yaw from where the nose sits between the
   shoulders. Without: a rest pose, the yaw the file name or the view's place in a
   turnaround sheet suggests (front, three-quarter, side, back), and the camera that spans
   the drawing's alpha from the top of the head to the feet (or, cut off, to the thighs).
2. **Shape** (``fit.shape_search``): the head's size measured from the drawings, then a
   coarse search over the discrete choices and the continuous factors, then Powell.
3. **Views.** Each view's camera and pose: a coarse grid for the arms, then scipy's Powell
   method in a local box, the shape held. ``fit_views`` alternates 2 and 3 for ``rounds``.

What is maximised is ``fit.objective.Objective.score`` (silhouette and hair).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from scipy.optimize import minimize

from avatar_app.core.errors import SettingError
from avatar_app.fit.arm_depth import place_arms_in_depth
from avatar_app.fit.drawing import Drawing
from avatar_app.fit.face import face_of_view
from avatar_app.fit.facing import check_facing_known, facing_rule
from avatar_app.fit.landmarks import DrawnLandmarks
from avatar_app.fit.objective import (
    WORK_SIZE,
    FitCancelled,
    FitResult,
    Objective,
    ViewFit,
    hair_target,
    target_coverage,
)
from avatar_app.fit.proxy import ProxyCache, ProxyModel, Silhouettes, ViewParams
from avatar_app.fit.shape_search import ShapeTrial, estimate_head_scale, refine_shape, search_choices, search_factors
from avatar_app.fit.start import frame_alpha, start_view
from avatar_app.fit.variants import check_one_character
from avatar_app.rig.avatar_style import AvatarStyle

__all__ = [
    "WORK_SIZE",
    "FitCancelled",
    "FitResult",
    "Objective",
    "ViewFit",
    "fit_views",
    "hair_target",
    "measure_views",
    "start_view",
    "target_coverage",
]

log = logging.getLogger(__name__)

CUT_FRAMINGS = ("knee", "waist", "bust")
TRUST_STEPS = 4.0  # Powell searches this many steps either side of where a refinement starts
# per-view variables: (name, step of one unit for Powell, low, high)
VIEW_VARIABLES = (
    ("yaw", 5.0, -200.0, 200.0),
    ("half_height", 0.03, 0.1, 3.0),
    ("centre_x", 0.01, -1.0, 1.0),
    ("centre_y", 0.01, -0.5, 2.5),
    ("left_arm", 6.0, -30.0, 100.0),
    ("right_arm", 6.0, -30.0, 100.0),
    ("left_elbow", 8.0, -140.0, 120.0),
    ("right_elbow", 8.0, -140.0, 120.0),
    ("legs", 3.0, -5.0, 30.0),
    ("head_tilt", 3.0, -25.0, 25.0),
)


# ---- 2./3. search -----------------------------------------------------------------------


SHIFT_RANGE = 12  # working pixels the proxy may move either way in ``align_shift``


def _shifted(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``mask`` moved by (dx, dy) pixels, zeros coming in."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = mask[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def align_shift(objective: Objective, model: ProxyModel, view: ViewFit) -> None:
    """Move the camera by the whole-pixel shift that scores best (every shift within
    SHIFT_RANGE tried on one render): a start centred on the alpha's box sits off the body
    when one arm reaches out, further than a local refinement looks."""
    mask, hair = objective.coverage(model, view.params)
    best, best_score = (0, 0), -1.0
    for dy in range(-SHIFT_RANGE // 2, SHIFT_RANGE // 2 + 1):
        for dx in range(-SHIFT_RANGE, SHIFT_RANGE + 1):
            score = objective.blend(_shifted(mask, dx, dy), _shifted(hair, dx, dy), view)
            if score > best_score:
                best, best_score = (dx, dy), score
    if best == (0, 0):
        return
    metres_per_pixel = 2.0 * view.params.half_height / WORK_SIZE
    candidate = view.params.with_values(
        centre_x=view.params.centre_x - best[0] * metres_per_pixel,
        centre_y=view.params.centre_y + best[1] * metres_per_pixel,
    )
    score = objective.score(model, view, candidate)
    if score > view.score:
        view.params, view.score = candidate, score


ARM_GRID = (-10.0, 10.0, 30.0, 50.0, 70.0, 85.0, 95.0)
ELBOW_GRID = (-120.0, -70.0, -30.0, 0.0, 30.0, 90.0)  # folded back across the body (a held book) .. a hand on the hip


def place_arms(objective: Objective, model: ProxyModel, view: ViewFit) -> None:
    """Each arm's angle and its elbow's bend from a coarse grid (the score has several bumps
    along it: an arm over the body, beside it, over a sleeve, an elbow out with the forearm
    folded back in), before Powell refines them locally."""
    for arm, elbow in (("left_arm", "left_elbow"), ("right_arm", "right_elbow")):
        best, best_score = view.params, objective.score(model, view)
        for angle in ARM_GRID:
            for bend in ELBOW_GRID:
                candidate = view.params.with_values(**{arm: angle, elbow: bend})
                score = objective.score(model, view, candidate)
                if score > best_score:
                    best, best_score = candidate, score
        view.params, view.score = best, best_score


def refine_view(objective: Objective, model: ProxyModel, view: ViewFit, max_evaluations: int = 160) -> None:
    """Powell on one view's camera and pose (the shape held); updates ``view`` in place."""
    align_shift(objective, model, view)
    place_arms(objective, model, view)
    names = [v[0] for v in VIEW_VARIABLES]
    steps = np.array([v[1] for v in VIEW_VARIABLES])
    start = np.array([getattr(view.params, n) for n in names]) / steps
    limits = np.array([(low / step, high / step) for (_, step, low, high) in VIEW_VARIABLES])
    start = np.clip(start, limits[:, 0], limits[:, 1])
    # A local box: Powell's bounded line search samples the whole interval, and far from the
    # start the silhouettes do not overlap at all (a flat score it cannot climb out of).
    bounds = list(zip(np.maximum(start - TRUST_STEPS, limits[:, 0]), np.minimum(start + TRUST_STEPS, limits[:, 1])))

    def params_of(x: np.ndarray) -> ViewParams:
        return view.params.with_values(**dict(zip(names, (x * steps).tolist())))

    result = minimize(
        lambda x: 1.0 - objective.score(model, view, params_of(x)),
        start,
        method="Powell",
        bounds=bounds,
        options={"maxfev": max_evaluations, "xtol": 0.05, "ftol": 1e-4},
    )
    best = params_of(result.x)
    score = objective.score(model, view, best)
    if score >= view.score:
        view.params, view.score = best, score


TURNED_YAWS = (30.0, 60.0, 90.0)  # tried for a view whose drawn face is turned (the start may say front)
MIRROR_MIN_YAW = 4.0  # degrees off the front or back below which the two turns look alike anyway


def _side(yaw: float) -> float:
    """The front (0) or the back (+-180, on yaw's own side) that ``yaw`` is nearer to."""
    return math.copysign(180.0, yaw) if abs(yaw) > 90.0 else 0.0


def mirrored(params: ViewParams) -> ViewParams:
    """The same view turned the other way about the front (or back). The pose is in the
    picture's plane, so it stays: only depth tells the two turns apart (which side of the
    face, hair and body is nearer), which the fit sees only through the outline's small
    asymmetries, and a start without landmarks cannot guess."""
    return params.with_values(yaw=2.0 * _side(params.yaw) - params.yaw)


def flipped(params: ViewParams) -> ViewParams:
    """The view from the other side, with the same outline: a symmetric body's outline seen
    from behind is its front outline mirrored, so yaw -> 180 - yaw with left and right
    swapped draws the same shape. Only the face and the hair tell front from back (and
    mediapipe, on drawings, sometimes swaps left and right)."""
    yaw = 180.0 - params.yaw
    return params.with_values(
        yaw=yaw - 360.0 if yaw > VIEW_VARIABLES[0][3] else yaw,  # kept inside the search range
        left_arm=params.right_arm,
        right_arm=params.left_arm,
        left_elbow=params.right_elbow,
        right_elbow=params.left_elbow,
        left_arm_forward=params.right_arm_forward,
        right_arm_forward=params.left_arm_forward,
        left_elbow_forward=params.right_elbow_forward,
        right_elbow_forward=params.left_elbow_forward,
        head_tilt=-params.head_tilt,
    )


def _same_column(model: ProxyModel, old: ViewParams, new: ViewParams) -> ViewParams:
    """``new`` centred so that the hips stay on the picture's column ``old`` has them on."""
    column = model.joints(old)["hips"] @ old.camera().basis()[0] - old.centre_x
    return new.with_values(centre_x=float(model.joints(new)["hips"] @ new.camera().basis()[0] - column))


def try_mirror(objective: Objective, model: ProxyModel, view: ViewFit) -> None:
    """Refine the other turn (``mirrored``, unless the view is square on) and the other side
    (``flipped``) too, and keep whichever scores best among the yaws ``facing_rule`` allows:
    the outline is the same from behind, and the hair the objective reads on real drawings is
    too rough to tell (a man in a hoodie was fitted from behind, his face on the back of the
    proxy's head)."""
    turned = abs(view.params.yaw - _side(view.params.yaw)) >= MIRROR_MIN_YAW
    allowed = facing_rule(view)
    candidates = ([mirrored(view.params)] if turned else []) + [flipped(view.params)]
    if turned:
        candidates.append(mirrored(flipped(view.params)))
    if view.facing is not None:  # the yaw the user gave, whatever the outline suggested
        candidates.append(view.params.with_values(yaw=view.facing))
    elif view.face is not None and view.face.turn_sign:  # a face seen turned: 3/4 and profile too
        candidates += [view.params.with_values(yaw=view.face.turn_sign * yaw) for yaw in TURNED_YAWS]
    best = (view.params, view.score) if allowed(view.params.yaw) else (view.params, -math.inf)
    for params in candidates:
        if not allowed(params.yaw):
            continue
        other = replace(view, params=_same_column(model, view.params, params))
        other.score = objective.score(model, other)
        refine_view(objective, model, other, max_evaluations=120)
        if other.score > best[1] and allowed(other.params.yaw):
            best = (other.params, other.score)
    view.params, view.score = best


def fit_views(
    drawings: list[Drawing],
    landmarks: list[DrawnLandmarks | None],
    *,
    style: AvatarStyle | None = None,
    fixed_views: dict[int, ViewParams] | None = None,
    facing: dict[str, float] | None = None,
    rounds: int = 2,
    cancel: threading.Event | None = None,
    note: Callable[[str], None] = lambda text: None,
    progress: Callable[[float], None] = lambda fraction: None,
) -> FitResult:
    """The whole fit (module docstring). ``style`` starts the shape (default: the default
    character's); ``fixed_views`` start those views from given params instead of guessing
    (the window's edits); ``facing`` gives views' yaws by file stem (``fit --facing``). A view
    the fit cannot tell the side of (no face found, no person, no side in its name) raises
    ``FacingUnknown`` rather than guessing. ``progress`` hears the share done (0..1, by stage:
    placing the views a tenth, turning them round a fifth, the shape rounds the rest)."""
    facing = dict(facing or {})
    names = {d.name for d in drawings}
    for name in facing:
        if name not in names:
            raise SettingError(
                "--facing", f"a view's file name (one of {', '.join(sorted(names))})", repr(name), "e.g. front=front"
            )
    cache = ProxyCache()
    style = style or AvatarStyle()
    with Silhouettes(2 * WORK_SIZE) as silhouettes:
        objective = Objective(silhouettes, cancel, note)
        model = cache.get(style)
        views = []
        for k, (drawing, lm) in enumerate(zip(drawings, landmarks)):
            if fixed_views and k in fixed_views:
                params, how = fixed_views[k], "given"
            else:
                params, how = start_view(drawing, lm, model, k, len(drawings))
            view = ViewFit(drawing, params, lm, how, target_coverage(drawing), hair_target(drawing))
            view.score = objective.score(model, view)
            # Also try the cameras spanning the alpha: the landmarks' scale can be off (a turned
            # torso), and without landmarks where the drawing is cut is a guess: try each framing.
            candidates = []
            if how != "given":
                cuts = CUT_FRAMINGS if drawing.cut_bottom else ("full",)
                candidates = [frame_alpha(drawing, model, params, cut) for cut in cuts]
            for candidate in candidates:
                score = objective.score(model, view, candidate)
                if score > view.score:
                    view.params, view.score = candidate, score
            views.append(view)
            note(f"{drawing.name}: start from {how}, score {view.score:.3f}")
        for view in views:
            refine_view(objective, model, view, max_evaluations=120)
        note(f"views placed: mean score {np.mean([v.score for v in views]):.3f}")
        progress(0.1)
        for view in views:
            view.face = face_of_view(view.drawing, model, view.params, view.landmarks)
            view.facing = facing.get(view.drawing.name)
            note(f"{view.drawing.name}: {view.face.describe()}")
        check_one_character([v.drawing for v in views if v.face.kind == "face" and not v.face.turn_sign])
        for k, view in enumerate(views):
            if view.start != "given":
                check_facing_known(view)
                try_mirror(objective, model, view)
            progress(0.1 + 0.2 * (k + 1) / len(views))
        trial = ShapeTrial(objective, cache, style, views)
        fixed: tuple[str, ...] = ()

        def done_in_round(round_: int, share: float) -> None:
            progress(0.3 + 0.7 * (round_ + share) / max(rounds, 1))

        for round_ in range(rounds):
            if round_ == 0:  # the head's size first: a small head leaves room that tails or ears fill
                measured = estimate_head_scale(views, cache, trial.style)
                if measured is not None:
                    trial.take(measured)
                    fixed = ("head_scale",)
                    note(f"  head scale from the drawings: {trial.style.head_scale:.2f}")
                search_factors(trial, fixed=fixed)
                done_in_round(round_, 0.2)
            search_choices(trial)
            done_in_round(round_, 0.45)
            search_factors(trial, fixed=fixed)
            done_in_round(round_, 0.6)
            refine_shape(trial)
            done_in_round(round_, 0.75)
            model = trial.model
            for view in views:
                view.score = objective.score(model, view)
                refine_view(objective, model, view)
            note(f"round {round_ + 1}: mean score {np.mean([v.score for v in views]):.3f}")
            done_in_round(round_, 1.0)
        style = trial.style
        for view in views:
            for arm in place_arms_in_depth(objective, model, view):
                note(f"{view.drawing.name}: {arm.side} arm {arm.drawn} (joints {arm.error:.3f} of the size off)")
            view.iou = objective.silhouette_iou(model, view)
        log.info("fit: %d silhouettes compared", objective.evaluations)
    return FitResult(style, views, model)


def measure_views(
    drawings: list[Drawing], style: AvatarStyle, params: list[ViewParams], starts: list[str]
) -> FitResult:
    """A ``FitResult`` for a given shape and views, measured, not searched (the window's Save)."""
    model = ProxyModel(style)
    views = [
        ViewFit(drawing, view_params, None, start, target_coverage(drawing), hair_target(drawing))
        for drawing, view_params, start in zip(drawings, params, starts, strict=True)
    ]
    with Silhouettes(2 * WORK_SIZE) as silhouettes:
        objective = Objective(silhouettes, None, lambda text: None)
        for view in views:
            view.score = objective.score(model, view)
            view.iou = objective.silhouette_iou(model, view)
    return FitResult(style, views, model)
