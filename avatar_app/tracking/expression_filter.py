"""Expressions over time: smoothing, a natural idle blink, and the webcam's face values.

* :class:`ExpressionFilter` smooths a source's expressions per channel with an exponential
  filter in real time (``tau`` seconds): eyelids fast (a blink is ~0.15 s and must survive),
  the mouth a little slower, emotions slowly, so tracker jitter does not flicker the face.
* :class:`IdleBlink` blinks at natural, irregular intervals (2-6 s, one 0.16 s blink, now
  and then a double blink) for sources that send no eyelids (a motion file, a body-only VMC
  sender). It is seeded, so a render is the same every time.
* :func:`expression_from_head` turns the face mesh's ``blink_left/right`` and ``mouth_open``
  (on :class:`~avatar_app.tracking.landmarks.HeadState`) into an :class:`Expression`.
* :class:`ExpressionTuning` is the user's say per group (eyes, mouth, emotions): a gain and
  a threshold, or a calibration (the value seen on a neutral face and at full closure/opening);
  both are one linear map per channel, ``(v - zero_at) / (one_at - zero_at)`` clipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.rig.expressions import EMOTIONS, EXPRESSIONS, VOWELS, Expression, blink_shape

GROUPS = {"eyes": ("blink", "blinkLeft", "blinkRight"), "mouth": VOWELS, "emotions": EMOTIONS}

_TAU_S = np.array(
    [0.025 if n.startswith("blink") else 0.05 if n in VOWELS else 0.15 if n in EMOTIONS else 0.05 for n in EXPRESSIONS]
)


class ExpressionFilter:
    """Exponential smoothing per channel in real time; the first value and values after a gap pass as they are."""

    def __init__(self, time_constant_s: np.ndarray | float | None = None, reset_gap_s: float = 0.5):
        self.tau = (
            _TAU_S if time_constant_s is None else np.broadcast_to(np.asarray(time_constant_s, float), _TAU_S.shape)
        )
        self.reset_gap_s = reset_gap_s
        self._state: np.ndarray | None = None
        self._t = 0.0

    def filter(self, expression: Expression, t: float) -> Expression:
        x = expression.values.astype(np.float64)
        dt = t - self._t
        if self._state is None or not 0.0 <= dt <= self.reset_gap_s:
            self._state = x
        else:
            alpha = 1.0 - np.exp(-dt / np.maximum(self.tau, 1e-6))
            self._state = self._state + alpha * (x - self._state)
        self._t = t
        return Expression(self._state)

    def reset(self) -> None:
        self._state = None


class IdleBlink:
    """``at(t)`` -> lid closure 0..1 of a natural blink schedule (times in seconds, any origin)."""

    def __init__(self, seed: int = 17, min_gap_s: float = 2.0, max_gap_s: float = 6.0, first_s: float = 1.2):
        self._rng = np.random.default_rng(seed)
        self.min_gap_s, self.max_gap_s = min_gap_s, max_gap_s
        self._first_s = first_s
        self._origin: float | None = None
        self._starts: list[float] = []

    def _schedule_until(self, t: float) -> None:
        if not self._starts:
            self._starts.append(self._first_s)
        while self._starts[-1] < t + 1.0:
            last = self._starts[-1]
            if self._rng.random() < 0.12:  # a double blink now and then
                self._starts.append(last + 0.22)
            self._starts.append(self._starts[-1] + self._rng.uniform(self.min_gap_s, self.max_gap_s))
        while len(self._starts) > 4 and self._starts[1] < t - 1.0:
            self._starts.pop(0)

    def at(self, t: float) -> float:
        if self._origin is None:
            self._origin = t
        local = t - self._origin
        self._schedule_until(local)
        return max((blink_shape(local - s) for s in self._starts), default=0.0)

    def add_to(self, expression: Expression | None, t: float) -> Expression:
        """``expression`` with the idle blink folded into ``blink`` (the larger of the two)."""
        values = np.array(Expression().values if expression is None else expression.values)
        k = EXPRESSIONS.index("blink")
        values[k] = max(values[k], self.at(t))
        return Expression(values)


def expression_from_head(head, mirror: bool = False) -> Expression | None:
    """The face mesh's values on a ``HeadState`` as an Expression; None when it saw no face.

    The person's left eye drives the avatar's left eye, as the pose does (``mirror``: swapped).
    """
    if head is None or (head.blink_left is None and head.mouth_open is None):
        return None
    left, right = head.blink_left, head.blink_right
    if mirror:
        left, right = right, left

    def unit(v) -> float:
        return 0.0 if v is None or not math.isfinite(v) else min(max(float(v), 0.0), 1.0)

    return Expression.of(blinkLeft=unit(left), blinkRight=unit(right), aa=unit(head.mouth_open))


@dataclass(frozen=True)
class GroupTuning:
    """One group's map: ``zero_at`` (what reads as 0: a neutral face) and ``one_at`` (full)."""

    zero_at: float = 0.0
    one_at: float = 1.0

    def __post_init__(self):
        ok = all(isinstance(v, (int, float)) and math.isfinite(v) for v in (self.zero_at, self.one_at))
        if not ok or abs(self.one_at - self.zero_at) < 0.02:
            raise SettingError(
                "expression tuning",
                "finite values with 'full' at least 0.02 away from 'neutral'",
                f"neutral {self.zero_at!r}, full {self.one_at!r}",
                "calibrate again with the eyes really closed (or the mouth really open)",
            )

    @classmethod
    def from_gain(cls, gain: float, threshold: float) -> GroupTuning:
        """Values under ``threshold`` read 0; above it they rise ``gain`` times as fast."""
        if not (isinstance(gain, (int, float)) and gain > 0):
            raise SettingError("expression gain", "a number above 0", repr(gain), "use e.g. 1.0")
        return cls(float(threshold), float(threshold) + 1.0 / float(gain))

    @property
    def gain(self) -> float:
        return 1.0 / (self.one_at - self.zero_at)

    @property
    def threshold(self) -> float:
        return self.zero_at


@dataclass(frozen=True)
class ExpressionTuning:
    """Per group (:data:`GROUPS`) a :class:`GroupTuning`; the default changes nothing."""

    groups: dict = field(default_factory=dict)

    def group(self, name: str) -> GroupTuning:
        return self.groups.get(name, GroupTuning())

    def with_group(self, name: str, tuning: GroupTuning) -> ExpressionTuning:
        if name not in GROUPS:
            raise SettingError("expression tuning group", f"one of {', '.join(GROUPS)}", repr(name), "use 'eyes'")
        return replace(self, groups={**self.groups, name: tuning})

    def calibrated(self, name: str, neutral: Expression, full: Expression) -> ExpressionTuning:
        """``name``'s map from two captures: a neutral face and the eyes closed (mouth open ...)."""
        channels = [EXPRESSIONS.index(n) for n in GROUPS[name]]
        zero, one = float(neutral.values[channels].max()), float(full.values[channels].max())
        return self.with_group(name, GroupTuning(zero, one))

    def apply(self, expression: Expression) -> Expression:
        if not self.groups:
            return expression
        v = expression.values.astype(np.float64)
        for name, tuning in self.groups.items():
            channels = [EXPRESSIONS.index(n) for n in GROUPS[name]]
            v[channels] = (v[channels] - tuning.zero_at) / (tuning.one_at - tuning.zero_at)
        return Expression(np.clip(v, 0.0, 1.0))


class ExpressionTrack:
    """One source's expression per frame: validated -> smoothed -> idle blink where it sends no eyelids.

    ``update(expression, t)`` takes an :class:`Expression` (or None: the source has none this
    frame); ``update_raw({name: value}, t)`` a sender's raw names (VMC), validated by an
    :class:`ExpressionReader`. Once a source has sent eyelids, the idle blink stays off: its
    own blinks (or open eyes) are the truth. ``tuning`` (set from any thread: the object is
    replaced, never changed) maps the smoothed values; ``raw`` keeps the last values before
    it, for calibrating.
    """

    def __init__(self, source: str, *, smoothing: bool = True, idle_blink: bool = True, seed: int = 17):
        from avatar_app.rig.expressions import ExpressionReader

        self.reader = ExpressionReader(source)
        self.filter = ExpressionFilter() if smoothing else None
        self.idle = IdleBlink(seed) if idle_blink else None
        self.has_eyelids = False
        self.tuning = ExpressionTuning()
        self.raw: Expression | None = None

    def update(self, expression: Expression | None, t: float) -> Expression:
        if expression is not None:
            lids = expression.values[[EXPRESSIONS.index(n) for n in ("blink", "blinkLeft", "blinkRight")]]
            self.has_eyelids |= bool(np.any(lids > 0.0))
            if self.filter is not None:
                expression = self.filter.filter(expression, t)
            self.raw = expression
            expression = self.tuning.apply(expression)
        if self.idle is not None and not self.has_eyelids:
            return self.idle.add_to(expression, t)
        return Expression() if expression is None else expression

    def update_raw(self, raw, t: float) -> Expression:
        expression = self.reader.read(raw)
        self.has_eyelids |= bool(self.reader.seen & {"blink", "blinkLeft", "blinkRight"})
        return self.update(expression, t)
