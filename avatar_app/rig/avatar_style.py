"""Variations of the default character: palette, cloth patterns, hair, clothes, proportions.

An :class:`AvatarStyle` is plain, frozen data; ``build_default_avatar(style)`` turns it
into geometry. The default ``AvatarStyle()`` is the shipped character, bit for bit: every
default is what the builder did before the field existed (factors 1.0, volumes 0).

For a fitter that matches a drawing's silhouette, :data:`SHAPE_CONTINUOUS` lists the
continuous shape factors with bounds inside which every combination builds a valid
character, and :data:`SHAPE_CHOICES` the discrete ones; :meth:`AvatarStyle.from_dict`
reads back what :meth:`AvatarStyle.describe` wrote (a character.json).

:meth:`AvatarStyle.random` draws a variation for synthetic training data from the whole
vocabulary. Everything it draws stays inside ranges the skinning and spring code handle,
and the same generator state always gives the same style.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.rig.proxy_body import heads_tall_at

PART_NAMES = ("skin", "hair", "top", "skirt", "shorts", "socks", "shoes", "eye_white", "iris")
COLORS = {
    "skin": (1.00, 0.87, 0.79),
    "hair": (0.93, 0.52, 0.71),
    "top": (0.95, 0.95, 0.97),
    "skirt": (0.20, 0.24, 0.48),
    "shorts": (0.20, 0.24, 0.48),  # the body under the skirt, in the skirt's colour
    "socks": (0.13, 0.13, 0.16),
    "shoes": (0.36, 0.21, 0.13),
    "eye_white": (1.00, 1.00, 1.00),
    "iris": (0.22, 0.52, 0.86),
}
PATTERN_KINDS = ("plain", "stripes_h", "stripes_v", "checks", "split")
# The skirt's vertical stripes are laid out by angle around the body; this radius turns
# the angle into metres so one ``period_m`` means about the same on skirt and top.
SKIRT_ARC_RADIUS_M = 0.16

Rgb = tuple[float, float, float]


@dataclass(frozen=True)
class Pattern:
    """A second colour laid over a part by rest position.

    ``stripes_h``/``stripes_v`` alternate every half ``period_m`` along height / across
    the body (mirror-symmetric about x = 0), ``checks`` is both, ``split`` paints the
    character's left half. Colours are per vertex, so a stripe edge blurs across one
    triangle: periods below ~4 cm turn into mush on the body mesh (~1 cm vertex spacing),
    below ~10 cm on the skirt (3 cm rows, 2 cm columns at the waist).
    """

    kind: str = "plain"
    color: Rgb = (1.0, 1.0, 1.0)
    period_m: float = 0.06
    phase: float = 0.0  # fraction of a period

    def __post_init__(self):
        if self.kind not in PATTERN_KINDS:
            raise SettingError("Pattern.kind", f"one of {PATTERN_KINDS}", repr(self.kind), "use e.g. 'stripes_h'")
        object.__setattr__(self, "color", _rgb(self.color, "Pattern.color"))
        if not (_is_number(self.period_m) and 0.02 <= self.period_m <= 1.0):
            raise SettingError("Pattern.period_m", "a period in [0.02, 1] metres", repr(self.period_m), "use e.g. 0.06")
        if not (_is_number(self.phase) and np.isfinite(self.phase)):
            raise SettingError("Pattern.phase", "a number (a fraction of a period)", repr(self.phase), "use e.g. 0.0")

    @classmethod
    def from_dict(cls, data: Mapping) -> Pattern:
        """The inverse of ``dataclasses.asdict``: lists for the colour are fine (JSON)."""
        _check_keys("Pattern", data, [f.name for f in fields(cls)])
        values = dict(data)
        if "color" in values:
            values["color"] = _rgb(values["color"], "Pattern.color")
        return cls(**values)

    def mask(self, across: np.ndarray, along: np.ndarray) -> np.ndarray:
        """True where the second colour goes; ``across`` is signed (x), ``along`` is height."""
        band_across = np.floor(np.abs(across) / (0.5 * self.period_m) + 2.0 * self.phase).astype(np.int64) % 2 == 1
        band_along = np.floor(along / (0.5 * self.period_m) + 2.0 * self.phase).astype(np.int64) % 2 == 1
        if self.kind == "stripes_h":
            return band_along
        if self.kind == "stripes_v":
            return band_across
        if self.kind == "checks":
            return band_across ^ band_along
        if self.kind == "split":
            return across > 0.0
        return np.zeros(np.shape(across), dtype=bool)


HAIR_STYLES = ("twin_tails", "ponytail", "short", "bob", "shoulder", "long_straight", "long_wavy")
CURTAIN_STYLES = ("bob", "shoulder", "long_straight", "long_wavy")  # hair_length applies to these
# where hair_length 0..1 puts the hem: a fraction of the way chin (0) -> hips joint (1)
HAIR_LENGTH_RANGES = {
    "bob": (0.06, 0.18),
    "shoulder": (0.18, 0.45),
    "long_straight": (0.45, 1.3),
    "long_wavy": (0.45, 1.3),
}
LOWER_KINDS = ("skirt", "dress", "trousers", "shorts")
SLEEVE_KINDS = ("none", "short", "long")
EAR_KINDS = ("none", "cat", "bunny", "buns")  # what sits on the hair cap: animal ears, or hair buns

# name: (lowest, highest) accepted
_LIMITS = {
    "tail_length": (0.4, 1.8),
    "tail_radius": (0.5, 1.6),
    "bangs_length": (0.4, 1.4),
    "hair_length": (0.0, 1.0),
    "hair_volume": (0.5, 3.0),
    "skirt_length": (0.6, 2.6),
    "skirt_flare": (0.0, 2.0),
    "trouser_looseness": (0.0, 1.0),
    "sleeve_volume": (0.0, 1.0),
    "top_volume": (0.0, 1.0),
    "head_scale": (0.9, 1.8),
    "shoulder_width": (0.8, 1.25),
    "hip_width": (0.8, 1.3),
    "width": (0.85, 1.15),
    "height": (0.88, 1.12),
}
# The continuous shape factors a fitter may vary, and bounds inside which every combination
# builds a valid character that fits the UDP cube (tests/rig/test_avatar_vocabulary.py).
SHAPE_CONTINUOUS = {
    "tail_length": (0.5, 1.6),
    "tail_radius": (0.6, 1.4),
    "bangs_length": (0.5, 1.3),
    "hair_length": (0.0, 1.0),
    "hair_volume": (0.6, 2.5),
    "skirt_length": (0.7, 2.4),  # a short skirt .. a dress to the ankles
    "skirt_flare": (0.2, 1.8),
    "trouser_looseness": (0.0, 1.0),
    "sleeve_volume": (0.0, 1.0),
    "top_volume": (0.0, 1.0),
    "head_scale": (0.95, 1.75),  # 8.6 .. 5 heads tall
    "shoulder_width": (0.85, 1.2),
    "hip_width": (0.85, 1.25),
    "width": (0.92, 1.08),  # A-pose arms are wide: at 1.08 with height 0.94 the span is 0.98 of the height
    "height": (0.94, 1.06),
}
SHAPE_CHOICES = {
    "hair_style": HAIR_STYLES,
    "bangs": (True, False),
    "ears": EAR_KINDS,
    "lower": LOWER_KINDS,
    "sleeves": SLEEVE_KINDS,
}
_CHOICE_FIXES = {
    "hair_style": "use e.g. 'bob'",
    "ears": "use 'none' for no ears",
    "lower": "use 'shorts' for no skirt",
    "sleeves": "use 'short' as shipped",
}
# Fields that were flags before the vocabulary grew: old describe() output still reads.
_LEGACY = {
    "twin_tails": ("hair_style", {True: "twin_tails", False: "short"}),
    "skirt": ("lower", {True: "skirt", False: "shorts"}),
}


@dataclass(frozen=True)
class AvatarStyle:
    """How one variant of the default character looks. ``AvatarStyle()`` is the default.

    Colours and patterns: ``colors`` are sRGB in :data:`PART_NAMES` order; a dress is in
    the top's colour and pattern, trousers in the shorts' colour.

    Hair: ``hair_style`` (:data:`HAIR_STYLES`; "short" is the cap alone). ``tail_length``
    and ``tail_radius`` are factors of the shipped twin tails (also the ponytail's);
    ``bangs`` on/off, ``bangs_length`` a factor; ``hair_length`` (0..1) puts a curtain's
    hem within its style's range of :data:`HAIR_LENGTH_RANGES` (fractions of the way
    chin -> hips joint; see :func:`hair_hem_fraction`); ``hair_volume`` is a factor of the
    shipped hair's 12 mm stand-off off the head (cap, curtains, bangs), and scales a
    curtain's bulge, flare and waves. ``ears``: :data:`EAR_KINDS`, in the hair's colour.

    Clothes: ``lower`` (:data:`LOWER_KINDS`; "shorts" is no skirt). ``skirt_length`` and
    ``skirt_flare`` (factors) shape the skirt and a dress's skirt; ``trouser_looseness``
    (0 leggings .. 1 flares, trousers only); ``sleeves`` (:data:`SLEEVE_KINDS`);
    ``sleeve_volume`` and ``top_volume`` 0 (painted on, shipped) .. 1 (bell sleeves, a
    boxy jacket) — see :mod:`avatar_app.rig.clothes` for the millimetres.

    Proportions: ``head_scale`` scales the head and everything on it about the head joint
    (1.0 = 8.2 heads tall, 1.19 = 7, 1.42 = 6, 1.76 = 5; see :func:`heads_tall`);
    ``shoulder_width`` and ``hip_width`` move arms and legs apart (factors of their
    joints' x); ``width`` scales x and z, ``height`` y, of the whole character.
    """

    colors: tuple[Rgb, ...] = tuple(COLORS[name] for name in PART_NAMES)
    top_pattern: Pattern = field(default_factory=Pattern)
    skirt_pattern: Pattern = field(default_factory=Pattern)
    socks_pattern: Pattern = field(default_factory=Pattern)
    hair_style: str = "twin_tails"
    tail_length: float = 1.0
    tail_radius: float = 1.0
    bangs: bool = True
    bangs_length: float = 1.0
    hair_length: float = 0.5
    hair_volume: float = 1.0
    ears: str = "none"
    lower: str = "skirt"
    skirt_length: float = 1.0
    skirt_flare: float = 1.0
    trouser_looseness: float = 0.4
    sleeves: str = "short"
    sleeve_volume: float = 0.0
    top_volume: float = 0.0
    head_scale: float = 1.0
    shoulder_width: float = 1.0
    hip_width: float = 1.0
    width: float = 1.0
    height: float = 1.0

    def __post_init__(self):
        if len(self.colors) != len(PART_NAMES):
            raise SettingError(
                "AvatarStyle.colors",
                f"{len(PART_NAMES)} RGB colours in the order {PART_NAMES}",
                f"{len(self.colors)}",
                "give one colour per part",
            )
        object.__setattr__(
            self, "colors", tuple(_rgb(c, f"AvatarStyle.colors[{n}]") for c, n in zip(self.colors, PART_NAMES))
        )
        for name in ("top_pattern", "skirt_pattern", "socks_pattern"):
            if not isinstance(getattr(self, name), Pattern):
                raise SettingError(
                    f"AvatarStyle.{name}", "a Pattern", repr(getattr(self, name)), "use Pattern() or Pattern.from_dict"
                )
        for name, options in SHAPE_CHOICES.items():
            value = getattr(self, name)
            if type(value) is not type(options[0]) or value not in options:
                fix = _CHOICE_FIXES.get(name, f"use {options[0]!r}")
                raise SettingError(f"AvatarStyle.{name}", f"one of {options}", repr(value), fix)
        for name, (low, high) in _LIMITS.items():
            value = getattr(self, name)
            if not (_is_number(value) and low <= value <= high):
                default = _DEFAULTS[name]
                raise SettingError(
                    f"AvatarStyle.{name}", f"a number in [{low}, {high}]", repr(value), f"{default} is the default"
                )

    @property
    def palette(self) -> dict[str, Rgb]:
        return dict(zip(PART_NAMES, self.colors))

    @property
    def scale(self) -> np.ndarray:
        return np.array([self.width, self.height, self.width])

    def describe(self) -> dict:
        """Plain values (for dataset metadata, logs and character.json); :meth:`from_dict` reads them back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> AvatarStyle:
        """The style :meth:`describe` wrote, after a JSON round trip; missing keys take their defaults."""
        if not isinstance(data, Mapping):
            raise SettingError("AvatarStyle", "a dict of style fields", type(data).__name__, "pass describe()'s dict")
        values = dict(data)
        for old, (new, meaning) in _LEGACY.items():
            if old in values:
                if new in values:
                    raise SettingError(
                        f"AvatarStyle.{old}", f"either {old!r} (old) or {new!r}", "both", f"drop {old!r}"
                    )
                flag = values.pop(old)
                if flag not in meaning or not isinstance(flag, bool):
                    raise SettingError(f"AvatarStyle.{old}", "true or false", repr(flag), f"use {new!r} instead")
                values[new] = meaning[flag]
        _check_keys("AvatarStyle", values, [f.name for f in fields(cls)])
        for name in ("top_pattern", "skirt_pattern", "socks_pattern"):
            if name in values and isinstance(values[name], Mapping):
                values[name] = Pattern.from_dict(values[name])
        if "colors" in values:
            colors = values["colors"]
            if isinstance(colors, Mapping):  # {part: rgb}, as palette gives
                _check_keys("AvatarStyle.colors", colors, list(PART_NAMES))
                colors = [colors.get(n, COLORS[n]) for n in PART_NAMES]
            if isinstance(colors, (str, bytes)) or not hasattr(colors, "__len__"):
                raise SettingError(
                    "AvatarStyle.colors", "a list of RGB colours", repr(colors), "pass describe()'s list"
                )
            values["colors"] = tuple(_rgb(c, "AvatarStyle.colors") for c in colors)
        return cls(**values)

    @classmethod
    def random(cls, rng: np.random.Generator) -> AvatarStyle:
        """A random variation from the whole vocabulary; the same ``rng`` state always gives the same style.

        The priors live in :mod:`avatar_app.rig.style_random` (which imports this module).
        """
        from avatar_app.rig.style_random import random_style

        return random_style(rng)


_DEFAULTS = {f.name: f.default for f in fields(AvatarStyle) if f.name in _LIMITS}


def heads_tall(style: AvatarStyle) -> float:
    """How many head heights (chin to crown of the skull, hair not counted) tall ``style``'s figure is.

    8.2 as shipped; ``head_scale`` 1.19 gives 7, 1.42 gives 6, 1.76 gives 5 (``head_scale_for(heads)``
    in :mod:`avatar_app.rig.proxy_body` inverts it). ``width`` and ``height`` do not change it.
    """
    return heads_tall_at(style.head_scale)


def hair_hem_fraction(style: AvatarStyle) -> float | None:
    """Where a curtain's hem hangs, as a fraction of the way chin (0) -> hips joint (1); None without one."""
    if style.hair_style not in CURTAIN_STYLES:
        return None
    low, high = HAIR_LENGTH_RANGES[style.hair_style]
    return low + style.hair_length * (high - low)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def _check_keys(setting: str, data: Mapping, known: list[str]) -> None:
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise SettingError(
            setting, f"keys among {known}", f"unknown {unknown}", "remove them or fix their spelling (see describe())"
        )


def paint_patterns(
    style: AvatarStyle, positions: np.ndarray, colors: np.ndarray, part_ids: np.ndarray, skirt_axis_z: float
) -> np.ndarray:
    """``colors`` [V,4] with the style's patterns painted over top, skirt and socks (a copy)."""
    out = colors.copy()
    x, y, z = positions[:, 0], positions[:, 1], positions[:, 2]
    for part, pattern in (("top", style.top_pattern), ("skirt", style.skirt_pattern), ("socks", style.socks_pattern)):
        if pattern.kind == "plain":
            continue
        on_part = part_ids == PART_NAMES.index(part)
        across = x[on_part]
        if part == "skirt":  # around the skirt, not across its projection: stripes keep their width at the sides
            across = np.arctan2(x[on_part], z[on_part] - skirt_axis_z) * SKIRT_ARC_RADIUS_M
        painted = np.nonzero(on_part)[0][pattern.mask(across, y[on_part])]
        out[painted, :3] = pattern.color
    return out


def _rgb(value, setting: str) -> Rgb:
    rgb = np.asarray(value, dtype=np.float64)
    if rgb.shape != (3,) or not np.all((rgb >= 0.0) & (rgb <= 1.0)):
        raise SettingError(
            setting, "an sRGB colour: three numbers in [0, 1]", repr(value), "divide 8-bit colours by 255"
        )
    return tuple(float(v) for v in rgb)
