"""The priors :meth:`AvatarStyle.random` draws from: synthetic training characters.

Every draw stays well inside the accepted limits (and inside what the skinning and springs
handle); the same generator state always gives the same style. Hair styles, lower clothes,
sleeves and ears come with rough frequencies of anime characters; colours from hue ranges,
skin from a polyline of tones.
"""

from __future__ import annotations

import colorsys
from dataclasses import replace

import numpy as np

from avatar_app.rig.avatar_style import PART_NAMES, AvatarStyle, Pattern, Rgb

# Skin tones from pale to dark (sRGB); a random tone is a point on this polyline.
SKIN_TONES = (
    (1.00, 0.90, 0.83),
    (1.00, 0.87, 0.79),
    (0.96, 0.80, 0.69),
    (0.87, 0.68, 0.54),
    (0.70, 0.50, 0.37),
    (0.48, 0.33, 0.24),
)


def _pick(rng: np.random.Generator, weights: dict):
    options = list(weights)
    p = np.array(list(weights.values()), dtype=np.float64)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def random_style(rng: np.random.Generator) -> AvatarStyle:
    """Sensible priors over the whole vocabulary (see :meth:`AvatarStyle.random`)."""
    palette = {
        "skin": _skin_tone(rng),
        "hair": _hsv(rng, (0.0, 1.0), (0.15, 0.85), (0.15, 0.97)),
        "top": _cloth(rng),
        "skirt": _cloth(rng),
        "socks": _cloth(rng),
        "shoes": _hsv(rng, (0.0, 1.0), (0.0, 0.7), (0.1, 0.8)),
        "eye_white": (float(rng.uniform(0.9, 1.0)),) * 3,
        "iris": _hsv(rng, (0.0, 1.0), (0.35, 0.95), (0.3, 0.9)),
    }
    palette["shorts"] = palette["skirt"] if rng.random() < 0.6 else _cloth(rng)
    hair = {"twin_tails": 0.2, "ponytail": 0.14, "short": 0.12, "bob": 0.15, "shoulder": 0.13}
    hair |= {"long_straight": 0.15, "long_wavy": 0.11}
    sleeves = _pick(rng, {"none": 0.25, "short": 0.45, "long": 0.3})
    style = AvatarStyle(
        colors=tuple(palette[name] for name in PART_NAMES),
        top_pattern=_random_pattern(
            rng, plain=0.45, kinds=("stripes_h", "stripes_v", "checks", "split"), period=(0.05, 0.12)
        ),
        skirt_pattern=_random_pattern(
            rng, plain=0.45, kinds=("stripes_h", "stripes_v", "checks", "split"), period=(0.11, 0.2)
        ),
        socks_pattern=_random_pattern(rng, plain=0.65, kinds=("stripes_h",), period=(0.04, 0.08)),
        hair_style=_pick(rng, hair),
        tail_length=float(rng.uniform(0.6, 1.5)),
        tail_radius=float(rng.uniform(0.7, 1.3)),
        bangs=bool(rng.random() < 0.85),
        bangs_length=float(rng.uniform(0.6, 1.25)),
        hair_length=float(rng.uniform(0.05, 0.95)),
        hair_volume=float(rng.uniform(0.7, 2.2)),
        # buns carved out of the end of "none"s share: every other draw stays as it was
        ears=_pick(rng, {"none": 0.82, "buns": 0.04, "cat": 0.09, "bunny": 0.05}),
        lower=_pick(rng, {"skirt": 0.5, "dress": 0.15, "trousers": 0.15, "shorts": 0.2}),
        skirt_length=float(rng.uniform(0.75, 1.35)),
        skirt_flare=float(rng.uniform(0.4, 1.6)),
        trouser_looseness=float(rng.uniform(0.0, 1.0)),
        sleeves=sleeves,
        sleeve_volume=float(rng.uniform(0.0, 0.9)) if sleeves != "none" and rng.random() < 0.5 else 0.0,
        top_volume=float(rng.uniform(0.0, 0.9)) if rng.random() < 0.5 else 0.0,
        head_scale=float(rng.uniform(1.0, 1.6)),  # 8.2 .. 5.4 heads tall
        shoulder_width=float(rng.uniform(0.9, 1.1)),
        hip_width=float(rng.uniform(0.9, 1.15)),
        width=float(rng.uniform(0.92, 1.08)),
        height=float(rng.uniform(0.94, 1.06)),
    )
    if style.lower == "dress":  # dresses reach from above the knee to the ankles (same draws as before)
        style = replace(style, skirt_length=0.9 + (style.skirt_length - 0.75) / 0.6 * 1.4)
    return style


def _hsv(rng: np.random.Generator, hue, saturation, value) -> Rgb:
    return tuple(
        float(c) for c in colorsys.hsv_to_rgb(rng.uniform(*hue), rng.uniform(*saturation), rng.uniform(*value))
    )


def _cloth(rng: np.random.Generator) -> Rgb:
    if rng.random() < 0.2:  # white, grey or black
        return (float(rng.uniform(0.08, 0.97)),) * 3
    return _hsv(rng, (0.0, 1.0), (0.15, 0.85), (0.2, 0.95))


def _skin_tone(rng: np.random.Generator) -> Rgb:
    t = rng.uniform(0.0, len(SKIN_TONES) - 1)
    k = min(int(t), len(SKIN_TONES) - 2)
    tone = (1.0 - (t - k)) * np.array(SKIN_TONES[k]) + (t - k) * np.array(SKIN_TONES[k + 1])
    tone *= rng.uniform(0.97, 1.03)
    return tuple(float(c) for c in np.clip(tone, 0.0, 1.0))


def _random_pattern(
    rng: np.random.Generator, plain: float, kinds: tuple[str, ...], period: tuple[float, float]
) -> Pattern:
    if rng.random() < plain:
        return Pattern()
    kind = kinds[int(rng.integers(len(kinds)))]
    color = _cloth(rng)
    return Pattern(kind, color, float(rng.uniform(*period)), float(rng.uniform(0.0, 1.0)))
