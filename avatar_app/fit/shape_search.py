"""The proxy's shape, shared by all views: a coarse search, then a local refinement.

* ``estimate_head_scale``: the head's size measured from the drawings (landmarks);
* ``search_choices``: each discrete choice (hair style, lower body, sleeves...) in turn,
  each option at its best over a small grid of its own factors (``CHOICE_FACTORS``);
* ``search_factors``: each continuous factor over a coarse grid, the others held;
* ``refine_shape``: scipy's Powell method on all continuous factors in a local box.

The views (cameras and poses) are held while the shape moves; ``search.fit_views`` alternates.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy.optimize import minimize

from avatar_app.fit.objective import Objective, ViewFit, mean_score
from avatar_app.fit.proxy import ProxyCache, ViewParams
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


def search_choices(
    objective: Objective, cache: ProxyCache, style: AvatarStyle, views: list[ViewFit]
) -> tuple[AvatarStyle, float]:
    """Each discrete choice in turn, the others held, each option at its best over a grid of
    its own factors (see module docstring and CHOICE_FACTORS)."""
    continuous, choices = _shape_tables()
    best_score = mean_score(objective, cache.get(style), views)
    for name, options in choices.items():
        current = getattr(style, name)
        best_option = (style, best_score)
        for option in options:
            for candidate in _option_grid(replace(style, **{name: option}), name, continuous):
                score = mean_score(objective, cache.get(candidate), views)
                margin = 0.0 if option == current else CHOICE_MARGIN.get(name, 0.002)
                if score > best_option[1] + margin:
                    best_option = (candidate, score)
        style, best_score = best_option
        objective.note(f"  {name}: {getattr(style, name)} (mean score {best_score:.3f})")
    return style, best_score


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


def search_factors(
    objective: Objective,
    cache: ProxyCache,
    style: AvatarStyle,
    views: list[ViewFit],
    points: int = 5,
    fixed: tuple[str, ...] = (),
) -> tuple[AvatarStyle, float]:
    """Each continuous factor over a coarse grid of its range, the others held: the head's
    size or the hair's length may sit far from the default's, beyond a local search's reach."""
    continuous, _ = _shape_tables()
    best_score = mean_score(objective, cache.get(style), views)
    for name, (low, high) in continuous.items():
        if name in fixed:
            continue
        for value in np.linspace(low, high, points):
            candidate = replace(style, **{name: float(value)})
            score = mean_score(objective, cache.get(candidate), views)
            if score > best_score + 1e-4:
                style, best_score = candidate, score
    objective.note(f"  shape factors on a grid: mean score {best_score:.3f}")
    return style, best_score


def refine_shape(
    objective: Objective,
    cache: ProxyCache,
    style: AvatarStyle,
    views: list[ViewFit],
    max_evaluations: int = 60,
) -> tuple[AvatarStyle, float]:
    """Powell on the continuous shape factors, the views held."""
    continuous, _ = _shape_tables()
    names = list(continuous)
    if not names:
        return style, mean_score(objective, cache.get(style), views)
    low = np.array([continuous[n][0] for n in names])
    high = np.array([continuous[n][1] for n in names])
    span = high - low

    def style_of(x: np.ndarray) -> AvatarStyle:
        values = np.clip(low + x * span, low, high)
        return replace(style, **{n: float(v) for n, v in zip(names, values)})

    start = np.clip((np.array([getattr(style, n) for n in names]) - low) / span, 0.0, 1.0)
    result = minimize(
        lambda x: 1.0 - mean_score(objective, cache.get(style_of(x)), views),
        start,
        method="Powell",
        bounds=list(zip(np.maximum(start - SHAPE_TRUST, 0.0), np.minimum(start + SHAPE_TRUST, 1.0))),
        options={"maxfev": max_evaluations, "xtol": 0.02, "ftol": 1e-4},
    )
    fitted = style_of(result.x)
    before = mean_score(objective, cache.get(style), views)
    after = mean_score(objective, cache.get(fitted), views)
    return (fitted, after) if after >= before else (style, before)
