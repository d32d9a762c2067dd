"""The families of synthetic characters, and the draws that make the ``drawn`` one look drawn.

* ``toon`` (the shipped weights' data, kept bit for bit): per-vertex colours, sheet views
  that are exact renders of the target body, framings as streams use them.
* ``drawn``: the colour pass draws each character with a random :class:`DrawnStyle`
  (:func:`random_drawn_style`: line weight and colour, cel shadow colour and steps, light,
  saturation, eye shape and size, mouth, brows, blush, hair strands, trims, collars,
  buttons, pleats, extra patterns); the sheet is drawn from a *variant* of the body
  (:func:`drawing_variant`: head, shoulders, hips, width, height, hair and skirt a few per
  cent off) while its UDP is the target body's in the same cameras, as a drawing differs from
  its fitted proxy; pictures go through :mod:`avatar_app.training.augment`. Framings lean
  to the cut ones real drawings show (:data:`FAMILIES`).

Every draw comes from a stream of its own (``SeedSequence([style_seed, k])``), so adding
the drawn family changed no draw of the toon one.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, replace

import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.raster.drawn_look import (
    BROW_KINDS,
    COLLAR_KINDS,
    EXTRA_PATTERNS,
    EYE_SHAPES,
    DrawnLook,
    DrawnStyle,
    drawn_look,
    face_geometry,
)
from avatar_app.rig.avatar_style import SHAPE_CONTINUOUS, AvatarStyle
from avatar_app.rig.proxy_body import body_landmarks

__all__ = [
    "FAMILIES",
    "Family",
    "character_look",
    "drawing_variant",
    "family",
    "random_drawn_style",
]


@dataclass(frozen=True)
class Family:
    """How a family of synthetic characters is drawn and framed."""

    name: str
    target_framing_shares: dict
    sheet_framing_shares: dict
    front_share: float  # of target yaws within 45 degrees of the front
    drawn: bool


FAMILIES = {
    "toon": Family(
        "toon",
        {"full": 0.40, "knee": 0.25, "waist": 0.20, "bust": 0.15},
        {"full": 0.60, "knee": 0.25, "waist": 0.15},
        0.6,
        False,
    ),
    # framed like drawings people make and stream: mostly cut, mostly from the front
    "drawn": Family(
        "drawn",
        {"full": 0.25, "knee": 0.30, "waist": 0.27, "bust": 0.18},
        {"full": 0.45, "knee": 0.30, "waist": 0.25},
        0.75,
        True,
    ),
}
# Relative changes between a sheet's drawing and the target body (uniform +-, times a per-character amount).
VARIANT_SPREAD = {
    "head_scale": 0.05,
    "shoulder_width": 0.05,
    "hip_width": 0.05,
    "width": 0.025,
    "height": 0.02,
    "hair_volume": 0.12,
    "skirt_length": 0.07,
    "skirt_flare": 0.12,
    "tail_length": 0.1,
    "hair_length": 0.1,
}
_LINE_COLOURS = ((0.1, 0.08, 0.09), (0.2, 0.12, 0.09), (0.1, 0.1, 0.2), (0.05, 0.05, 0.05))


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise SettingError("synthetic family", f"one of {tuple(FAMILIES)}", repr(name), "use 'toon' or 'drawn'")
    return FAMILIES[name]


def _pick(rng: np.random.Generator, weights: dict):
    options = list(weights)
    p = np.array(list(weights.values()), dtype=np.float64)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _hsv(rng, hue, saturation, value) -> tuple[float, float, float]:
    rgb = colorsys.hsv_to_rgb(rng.uniform(*hue) % 1.0, rng.uniform(*saturation), rng.uniform(*value))
    return tuple(float(c) for c in rgb)


def random_drawn_style(rng: np.random.Generator) -> DrawnStyle:
    """An artist: every field of :class:`DrawnStyle` drawn over its whole vocabulary."""
    shadow_hue = rng.choice([rng.uniform(0.55, 0.8), rng.uniform(0.9, 1.05)])
    steps = _pick(rng, {0: 0.1, 1: 0.6, 2: 0.3})
    light = (float(rng.uniform(-0.8, 0.8)), float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.4, 1.0)))
    return DrawnStyle(
        line_weight=float(rng.uniform(0.8, 2.3)),
        line_color=_LINE_COLOURS[int(rng.integers(len(_LINE_COLOURS)))],
        line_tint=float(rng.uniform(0.0, 0.7)),
        shadow_tint=_hsv(rng, (shadow_hue, shadow_hue), (0.08, 0.35), (0.68, 0.9)),
        shadow_cut=float(rng.uniform(-0.1, 0.35)),
        shadow_steps=int(steps),
        light=light,
        saturation=float(rng.uniform(0.75, 1.25)),
        eye_shape=str(rng.choice(list(EYE_SHAPES))),
        eye_size=float(rng.uniform(1.0, 1.5)),
        iris_size=float(rng.uniform(0.85, 1.1)),
        highlights=int(rng.integers(1, 3)),
        lash_weight=float(rng.uniform(0.6, 1.6)),
        brows=str(rng.choice(BROW_KINDS)),
        mouth=_pick(rng, {"smile": 0.35, "open": 0.2, "cat": 0.1, "small": 0.25, "frown": 0.1}),
        blush=bool(rng.random() < 0.6),
        hair_strands=0 if rng.random() < 0.2 else int(rng.integers(8, 23)),
        hair_shine=bool(rng.random() < 0.6),
        trims=bool(rng.random() < 0.65),
        trim_color=(float(rng.uniform(0.9, 1.0)),) * 3
        if rng.random() < 0.5
        else _hsv(rng, (0, 1), (0.2, 0.8), (0.3, 0.95)),
        collar=_pick(rng, dict(zip(COLLAR_KINDS, (0.45, 0.2, 0.2, 0.15)))),
        buttons=bool(rng.random() < 0.3),
        pleats=0 if rng.random() < 0.5 else int(rng.integers(8, 21)),
        top_extra=_pick(rng, dict(zip(EXTRA_PATTERNS, (0.6, 0.2, 0.2)))),
        skirt_extra=_pick(rng, dict(zip(EXTRA_PATTERNS, (0.6, 0.2, 0.2)))),
        extra_color=_hsv(rng, (0, 1), (0.0, 0.7), (0.4, 1.0)),
    )


def drawing_variant(style: AvatarStyle, rng: np.random.Generator) -> AvatarStyle:
    """``style`` a little off, as a drawing is off its fitted proxy; always inside the fitter's bounds."""
    amount = float(rng.uniform(0.3, 1.0))
    changes = {}
    for name, spread in VARIANT_SPREAD.items():
        low, high = SHAPE_CONTINUOUS[name]
        value = getattr(style, name)
        if name == "hair_length":
            moved = value + amount * spread * rng.uniform(-1.0, 1.0)
        else:
            moved = value * (1.0 + amount * spread * rng.uniform(-1.0, 1.0))
        changes[name] = float(np.clip(moved, low, high))
    return replace(style, **changes)


def chin_height(character, style: AvatarStyle) -> float:
    """The chin's rest height of a default-avatar character (the rig's landmark, scaled like its head)."""
    landmarks = body_landmarks()
    head_y = float(character.skeleton.rest_world_matrices[character.humanoid["head"], 1, 3])
    return head_y + style.head_scale * style.height * (landmarks.chin_y - landmarks.head_joint_y)


def character_look(character, style: AvatarStyle, drawn: DrawnStyle) -> DrawnLook:
    """``drawn`` bound to a default-avatar ``character`` built from ``style``."""
    return drawn_look(character, style, drawn, face_geometry(character, chin_height(character, style)))


def face_region_udp(character, style: AvatarStyle) -> tuple[float, ...]:
    """The face as a region of UDP space: ``(x, y, z, radius, chin_y)``, where a target pixel is face
    when its UDP lies within ``radius`` of the head centre, above the chin and in front of the
    head's centre (for face-region scores: eyes, mouth, the skin and hair around them)."""
    face = face_geometry(character, chin_height(character, style))
    rest = character.rest_vertices().astype(np.float64)
    lo, hi = rest.min(axis=0), rest.max(axis=0)
    height = hi[1] - lo[1]
    centre = 0.5 * (lo + hi)
    head = np.asarray(face.head_centre)
    udp = ((head[0] - centre[0]) / height + 0.5, (head[1] - lo[1]) / height, (head[2] - centre[2]) / height + 0.5)
    radius = 0.13 * face.scale / height
    return (*(float(v) for v in udp), float(radius), float((face.chin_y - lo[1]) / height))


def face_mask(target_udp: np.ndarray, region) -> np.ndarray:
    """bool [H,W]: the target pixels inside :func:`face_region_udp`'s region (visible ones only)."""
    x, y, z, radius, chin_y = region
    xyz = target_udp[:3]
    near = (xyz[0] - x) ** 2 + (xyz[1] - y) ** 2 + (xyz[2] - z) ** 2 < radius**2
    return (target_udp[3] > 0.5) & near & (xyz[1] > chin_y - 0.01 * radius) & (xyz[2] > z - 0.3 * radius)
