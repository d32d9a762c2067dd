"""The proxy's shape, shared by all views: a coarse search, then a local refinement.

* ``estimate_head_scale``: the head's size measured from the drawings (landmarks);
* ``search_choices``: each discrete choice (hair style, lower body, sleeves...) in turn,
  each option at its best over a small grid of its own factors (``CHOICE_FACTORS``);
* ``search_factors``: each continuous factor over a coarse grid, the others held;
* ``refine_shape``: scipy's Powell method on all continuous factors in a local box.

The views' poses are held while the shape moves, and their cameras carried along
(``ProxyModel.carry``: a shape is judged with its crown and feet, or hips, where the
current shape has them); ``search.fit_views`` alternates shape and views.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy.optimize import minimize

from avatar_app.fit.objective import Objective, ViewFit
from avatar_app.fit.proxy import ProxyCache, ProxyModel, ViewParams
from avatar_app.rig.avatar_style import AvatarStyle

SHAPE_TRUST = 0.3  # Powell searches this share of each shape factor's range either side of the start
# How much a discrete choice must gain to be taken: an accessory that barely helps is more
# likely filling a gap the shape left (a small head) than drawn.
CHOICE_MARGIN = {"ears": 0.015}


def _shape_tables() -> tuple[dict, dict]:
    """(continuous factors with bounds, discrete choices) the fitter may vary."""
    from avatar_app.rig import avatar_style

    continuous = dict(getattr(avatar_style, "SHAPE_CONTINUOUS", {}))
    choices = dict(getattr(avatar_style, "SHAPE_CHOICES", {}))
    return continuous, choices


# The continuous factors that shape each discrete choice: an option is judged at its best
# over a small grid of them (a bob with the default's length loses to twin tails that
# happen to fill the same space; at its own length it wins).
CHOICE_FACTORS = {
    "hair_style": (("hair_length", 4), ("hair_volume", 3)),
    "lower": (("skirt_length", 3), ("skirt_flare", 3)),
    "sleeves": (("sleeve_volume", 2),),
}


class ShapeTrial:
    """The shape being searched: its model and score, with the views' cameras carried to
    each candidate (module docstring). ``take`` moves the views to the candidate."""

    def __init__(self, objective: Objective, cache: ProxyCache, style: AvatarStyle, views: list[ViewFit]):
        self.objective, self.cache, self.views = objective, cache, views
        self.style = style
        self.model = cache.get(style)
        self.score = self._mean(self.model, [v.params for v in views])

    def _mean(self, model: ProxyModel, params: list[ViewParams]) -> float:
        return float(np.mean([self.objective.score(model, v, p) for v, p in zip(self.views, params)]))

    def carried(self, model: ProxyModel) -> list[ViewParams]:
        return [self.model.carry(v.params, model, full=not v.drawing.cut_bottom) for v in self.views]

    def evaluate(self, style: AvatarStyle) -> float:
        model = self.cache.get(style)
        return self._mean(model, self.carried(model))

    def take(self, style: AvatarStyle) -> None:
        model = self.cache.get(style)
        for view, params in zip(self.views, self.carried(model)):
            view.params = params
        self.style, self.model = style, model
        self.score = self._mean(model, [v.params for v in self.views])


def _option_grid(style: AvatarStyle, name: str, continuous: dict) -> list[AvatarStyle]:
    grids = [
        [(factor, float(v)) for v in np.linspace(*continuous[factor], points)]
        for factor, points in CHOICE_FACTORS.get(name, ())
        if factor in continuous
    ]
    candidates = [style]
    for grid in grids:
        candidates = [replace(c, **{factor: value}) for c in candidates for factor, value in grid]
    return candidates


def search_choices(trial: ShapeTrial) -> None:
    """Each discrete choice in turn, the others held, each option at its best over a grid of
    its own factors (see module docstring and CHOICE_FACTORS)."""
    continuous, choices = _shape_tables()
    for name, options in choices.items():
        current = getattr(trial.style, name)
        best, best_score = trial.style, trial.score
        for option in options:
            for candidate in _option_grid(replace(trial.style, **{name: option}), name, continuous):
                score = trial.evaluate(candidate)
                margin = 0.0 if option == current else CHOICE_MARGIN.get(name, 0.002)
                if score > best_score + margin:
                    best, best_score = candidate, score
        trial.take(best)
        trial.objective.note(f"  {name}: {getattr(trial.style, name)} (mean score {trial.score:.3f})")


def estimate_head_scale(views: list[ViewFit], cache: ProxyCache, style: AvatarStyle) -> AvatarStyle | None:
    """The head size the drawings show, from how far the top of the head stands above the
    shoulders for their width (landmarks; front-facing views only). Anime heads are big (5 to
    8 heads tall) and a silhouette alone trades a big head for big hair; this pins it."""
    continuous, _ = _shape_tables()
    if "head_scale" not in continuous:
        return None
    ratios = []
    for view in views:
        lm, size = view.landmarks, view.drawing.size
        if lm is None or view.start != "landmarks" or abs(view.params.yaw) > 30.0:
            continue
        ls, rs = lm.point("left_shoulder"), lm.point("right_shoulder")
        top = np.nonzero(view.drawing.mask.any(axis=1))[0][0]
        span = abs(ls[0] - rs[0]) / max(math.cos(math.radians(view.params.yaw)), 0.5)
        if span > 0.05 * size:
            ratios.append((0.5 * (ls[1] + rs[1]) - top) / span)
    if not ratios:
        return None
    wanted = float(np.median(ratios))
    best, best_error = None, math.inf
    for value in np.linspace(*continuous["head_scale"], 12):
        candidate = replace(style, head_scale=float(value))
        model = cache.get(candidate)
        joints = model.joints(ViewParams())
        crown = model.vertices(ViewParams())[:, 1].max()
        shoulders = 0.5 * (joints["leftUpperArm"][1] + joints["rightUpperArm"][1])
        ratio = (crown - shoulders) / abs(joints["leftUpperArm"][0] - joints["rightUpperArm"][0])
        if abs(ratio - wanted) < best_error:
            best, best_error = candidate, abs(ratio - wanted)
    return best


def search_factors(trial: ShapeTrial, points: int = 5, fixed: tuple[str, ...] = ()) -> None:
    """Each continuous factor over a coarse grid of its range, the others held: the head's
    size or the hair's length may sit far from the default's, beyond a local search's reach."""
    continuous, _ = _shape_tables()
    for name, (low, high) in continuous.items():
        if name in fixed:
            continue
        best, best_score = trial.style, trial.score
        for value in np.linspace(low, high, points):
            candidate = replace(trial.style, **{name: float(value)})
            score = trial.evaluate(candidate)
            if score > best_score + 1e-4:
                best, best_score = candidate, score
        if best is not trial.style:
            trial.take(best)
    trial.objective.note(f"  shape factors on a grid: mean score {trial.score:.3f}")


def refine_shape(trial: ShapeTrial, max_evaluations: int = 60) -> None:
    """Powell on the continuous shape factors, the views' poses held."""
    continuous, _ = _shape_tables()
    names = list(continuous)
    style = trial.style
    low = np.array([continuous[n][0] for n in names])
    high = np.array([continuous[n][1] for n in names])
    span = high - low

    def style_of(x: np.ndarray) -> AvatarStyle:
        values = np.clip(low + x * span, low, high)
        return replace(style, **{n: float(v) for n, v in zip(names, values)})

    start = np.clip((np.array([getattr(style, n) for n in names]) - low) / span, 0.0, 1.0)
    result = minimize(
        lambda x: 1.0 - trial.evaluate(style_of(x)),
        start,
        method="Powell",
        bounds=list(zip(np.maximum(start - SHAPE_TRUST, 0.0), np.minimum(start + SHAPE_TRUST, 1.0))),
        options={"maxfev": max_evaluations, "xtol": 0.02, "ftol": 1e-4},
    )
    fitted = style_of(result.x)
    if trial.evaluate(fitted) >= trial.score:
        trial.take(fitted)
