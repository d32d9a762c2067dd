"""Variations of the default character: palette, cloth patterns, hair, skirt, proportions.

An :class:`AvatarStyle` is plain, frozen data; ``build_default_avatar(style)`` turns it
into geometry. The default ``AvatarStyle()`` is the shipped character, bit for bit, so
every field's default is the value the builder used before styles existed and every
knob is a factor that is exactly 1.0 (or a flag that is on) by default.

:meth:`AvatarStyle.random` draws a variation for synthetic training data. Everything it
draws stays inside ranges the skinning and spring code handle (tails long enough to
have six joints, skirts between the hips and the knees, a mild body scale), and the
same generator state always gives the same style.
"""

from __future__ import annotations

import colorsys
from dataclasses import asdict, dataclass, field

import numpy as np

from avatar_app.core.errors import SettingError

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
# Skin tones from pale to dark (sRGB); a random tone is a point on this polyline.
SKIN_TONES = (
    (1.00, 0.90, 0.83),
    (1.00, 0.87, 0.79),
    (0.96, 0.80, 0.69),
    (0.87, 0.68, 0.54),
    (0.70, 0.50, 0.37),
    (0.48, 0.33, 0.24),
)
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
        if not (0.02 <= self.period_m <= 1.0):
            raise SettingError("Pattern.period_m", "a period in [0.02, 1] metres", repr(self.period_m), "use e.g. 0.06")

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


# name: (lowest, highest) accepted; the random draws stay well inside these.
_LIMITS = {
    "tail_length": (0.4, 1.8),
    "tail_radius": (0.5, 1.6),
    "bangs_length": (0.4, 1.4),
    "skirt_length": (0.6, 1.5),
    "skirt_flare": (0.0, 2.0),
    "width": (0.85, 1.15),
    "height": (0.88, 1.12),
}


@dataclass(frozen=True)
class AvatarStyle:
    """How one variant of the default character looks. ``AvatarStyle()`` is the default.

    ``colors`` are sRGB in :data:`PART_NAMES` order. Lengths are factors of the default
    character's (``tail_length`` 1.0 = the shipped tails); ``width`` scales x and z,
    ``height`` scales y, applied to the whole character (mesh, joints, colliders).
    """

    colors: tuple[Rgb, ...] = tuple(COLORS[name] for name in PART_NAMES)
    top_pattern: Pattern = field(default_factory=Pattern)
    skirt_pattern: Pattern = field(default_factory=Pattern)
    socks_pattern: Pattern = field(default_factory=Pattern)
    twin_tails: bool = True
    tail_length: float = 1.0
    tail_radius: float = 1.0
    bangs_length: float = 1.0
    skirt: bool = True
    skirt_length: float = 1.0
    skirt_flare: float = 1.0
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
        for name, (low, high) in _LIMITS.items():
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and low <= value <= high):
                raise SettingError(
                    f"AvatarStyle.{name}", f"a factor in [{low}, {high}]", repr(value), "1.0 is the default character"
                )

    @property
    def palette(self) -> dict[str, Rgb]:
        return dict(zip(PART_NAMES, self.colors))

    @property
    def scale(self) -> np.ndarray:
        return np.array([self.width, self.height, self.width])

    def describe(self) -> dict:
        """Plain values (for dataset metadata and logs)."""
        return asdict(self)

    @classmethod
    def random(cls, rng: np.random.Generator) -> AvatarStyle:
        """A random variation; the same ``rng`` state always gives the same style."""
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
        return cls(
            colors=tuple(palette[name] for name in PART_NAMES),
            top_pattern=_random_pattern(
                rng, plain=0.45, kinds=("stripes_h", "stripes_v", "checks", "split"), period=(0.05, 0.12)
            ),
            skirt_pattern=_random_pattern(
                rng, plain=0.45, kinds=("stripes_h", "stripes_v", "checks", "split"), period=(0.11, 0.2)
            ),
            socks_pattern=_random_pattern(rng, plain=0.65, kinds=("stripes_h",), period=(0.04, 0.08)),
            twin_tails=bool(rng.random() < 0.75),
            tail_length=float(rng.uniform(0.6, 1.5)),
            tail_radius=float(rng.uniform(0.7, 1.3)),
            bangs_length=float(rng.uniform(0.6, 1.25)),
            skirt=bool(rng.random() < 0.75),
            skirt_length=float(rng.uniform(0.75, 1.35)),
            skirt_flare=float(rng.uniform(0.4, 1.6)),
            width=float(rng.uniform(0.9, 1.1)),
            height=float(rng.uniform(0.92, 1.08)),
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
