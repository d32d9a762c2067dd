"""Facial expressions: one small state per frame (blinks, mouth vowels, emotions) and its names.

Names are VRM 1.0's expression presets, the vocabulary every source is read into:

* ``blink`` (both eyes), ``blinkLeft`` / ``blinkRight`` (the character's left / right eye);
* the mouth vowels ``aa ih ou ee oh``;
* the emotions ``happy angry sad relaxed surprised``.

:func:`expression_name` also reads VRM 0.x blendshape presets (``Blink``, ``Blink_L``, ``A``,
``Joy``, ``Sorrow``, ``Fun`` ...), a few ARKit names VMC senders forward (``eyeBlinkLeft``,
``jawOpen``) and any case. Values are 0..1. :class:`ExpressionReader` is the one door from a
source's raw ``{name: value}`` into an :class:`Expression`: NaN and non-numbers are ignored, values
out of range clipped, unknown names ignored, each kind of problem logged once per name.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np

log = logging.getLogger(__name__)

EXPRESSIONS = (
    "blink",
    "blinkLeft",
    "blinkRight",
    "aa",
    "ih",
    "ou",
    "ee",
    "oh",
    "happy",
    "angry",
    "sad",
    "relaxed",
    "surprised",
)
VOWELS = ("aa", "ih", "ou", "ee", "oh")
EMOTIONS = ("happy", "angry", "sad", "relaxed", "surprised")
INDEX = {name: k for k, name in enumerate(EXPRESSIONS)}

_ALIASES = {name.lower(): name for name in EXPRESSIONS}
_ALIASES.update(
    {
        # VRM 0.x blendshape presets
        "blink_l": "blinkLeft",
        "blink_r": "blinkRight",
        "a": "aa",
        "i": "ih",
        "u": "ou",
        "e": "ee",
        "o": "oh",
        "joy": "happy",
        "sorrow": "sad",
        "fun": "relaxed",
        # ARKit names some VMC senders forward
        "eyeblinkleft": "blinkLeft",
        "eyeblinkright": "blinkRight",
        "jawopen": "aa",
    }
)
# names a source may send that drive nothing here (eye gaze is the head's business): ignored quietly
_QUIET = {"neutral", "lookup", "lookdown", "lookleft", "lookright"}


def expression_name(name: str) -> str | None:
    """Our name for a VRM 1.0 / VRM 0.x / ARKit expression name (any case), or None."""
    return _ALIASES.get(str(name).strip().lower())


class Expression:
    """One frame's expression: a read-only float32 vector over :data:`EXPRESSIONS`, each in 0..1."""

    __slots__ = ("values",)

    def __init__(self, values=None):
        v = np.zeros(len(EXPRESSIONS), np.float32) if values is None else np.array(values, dtype=np.float32)
        if v.shape != (len(EXPRESSIONS),) or not np.all(np.isfinite(v)):
            raise ValueError(f"Expression: expected {len(EXPRESSIONS)} finite values, got shape {v.shape}")
        v = np.clip(v, 0.0, 1.0)
        v.flags.writeable = False
        self.values = v

    @classmethod
    def of(cls, **values: float) -> Expression:
        """``Expression.of(blink=1, aa=0.5)``: our names only (a typo raises)."""
        v = np.zeros(len(EXPRESSIONS), np.float32)
        for name, value in values.items():
            v[INDEX[name]] = value
        return cls(v)

    def __getitem__(self, name: str) -> float:
        return float(self.values[INDEX[name]])

    def eyes_closed(self) -> tuple[float, float]:
        """(left, right) closure: ``blink`` folds into each eye (the larger wins)."""
        both = self["blink"]
        return max(both, self["blinkLeft"]), max(both, self["blinkRight"])

    def as_dict(self, min_value: float = 1e-3) -> dict[str, float]:
        return {n: round(float(v), 4) for n, v in zip(EXPRESSIONS, self.values) if v >= min_value}

    def blended(self, other: Expression, w: float) -> Expression:
        return Expression(self.values + float(w) * (other.values - self.values))

    def __eq__(self, other) -> bool:
        return isinstance(other, Expression) and bool(np.array_equal(self.values, other.values))

    def __hash__(self) -> int:
        return hash(self.values.tobytes())

    def __repr__(self) -> str:
        return f"Expression({self.as_dict()})"


NEUTRAL = Expression()


def blink_shape(u: float) -> float:
    """Lid closure during a blink, ``u`` in seconds since it started: 60 ms down, 30 ms shut, 70 ms up."""
    if u < 0.0 or u >= 0.16:
        return 0.0
    if u < 0.06:
        return math.sin(0.5 * math.pi * u / 0.06)
    if u < 0.09:
        return 1.0
    return 0.5 + 0.5 * math.cos(math.pi * (u - 0.09) / 0.07)


class ExpressionReader:
    """Raw ``{name: value}`` from a source -> :class:`Expression`, never raising on bad data.

    ``source`` names the sender in the log. Each non-number, NaN and value out of 0..1 is logged
    once (at warning) and then ignored (NaN) or clipped (range) silently; unknown names are
    ignored, listed in one warning (names first seen later: at info).
    ``scale`` divides every value first (VRM 0.x files and some senders use 0..100).
    """

    def __init__(self, source: str, scale: float = 1.0):
        self.source, self.scale = source, float(scale)
        self._warned: set[tuple[str, str]] = set()
        self.seen: set[str] = set()  # our names this reader has been given at least once

    def _warn(self, kind: str, name: str, text: str) -> None:
        if (kind, name) not in self._warned:
            self._warned.add((kind, name))
            log.warning("%s: %s (ignored from now on without a word)", self.source, text)

    def _unknown(self, names: list[str]) -> None:
        """Unknown names: one warning listing the first batch (a sender's whole set, e.g. ARKit's 52),
        later newcomers at info."""
        new = [n for n in names if ("unknown", n) not in self._warned]
        if not new:
            return
        level = logging.INFO if any(kind == "unknown" for kind, _ in self._warned) else logging.WARNING
        self._warned.update(("unknown", n) for n in new)
        log.log(
            level, "%s: ignoring unknown expressions %s; known: %s", self.source, ", ".join(new), ", ".join(EXPRESSIONS)
        )

    def read(self, raw: Mapping[str, object]) -> Expression:
        v = np.zeros(len(EXPRESSIONS), np.float32)
        unknown = []
        for key, value in raw.items():
            name = expression_name(key)
            if name is None:
                if str(key).strip().lower() not in _QUIET:
                    unknown.append(str(key))
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
                self._warn("type", name, f"expression {key!r} is {type(value).__name__}, not a number")
                continue
            x = float(value) / self.scale
            if not math.isfinite(x):
                self._warn("nan", name, f"expression {key!r} is {value!r}")
                continue
            if x < -1e-6 or x > 1.0 + 1e-6:
                self._warn("range", name, f"expression {key!r} = {value!r} is outside 0..1; clipped")
            self.seen.add(name)
            v[INDEX[name]] = max(v[INDEX[name]], min(max(x, 0.0), 1.0))  # two aliases of one name: the larger
        if unknown:
            self._unknown(unknown)
        return Expression(v)


def motion_expression(motion, t: float) -> Expression | None:
    """A motion's face at ``t`` (the demo's script, a BVH side track), or None where it has none."""
    return motion.expression_at(t) if getattr(motion, "has_expressions", False) else None
