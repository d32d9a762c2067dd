"""Expressions over time: smoothing, a natural idle blink, and the webcam's face values.

* :class:`ExpressionFilter` smooths a source's expressions per channel with an exponential
  filter in real time (``tau`` seconds): eyelids fast (a blink is ~0.15 s and must survive),
  the mouth a little slower, emotions slowly, so tracker jitter does not flicker the face.
* :class:`IdleBlink` blinks at natural, irregular intervals (2-6 s, one 0.16 s blink, now
  and then a double blink) for sources that send no eyelids (a motion file, a body-only VMC
  sender). It is seeded, so a render is the same every time.
* :func:`expression_from_head` turns the face mesh's ``blink_left/right`` and ``mouth_open``
  (on :class:`~avatar_app.tracking.landmarks.HeadState`) into an :class:`Expression`.
"""

from __future__ import annotations

import math

import numpy as np

from avatar_app.rig.expressions import EMOTIONS, EXPRESSIONS, VOWELS, Expression, blink_shape

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


class ExpressionTrack:
    """One source's expression per frame: validated -> smoothed -> idle blink where it sends no eyelids.

    ``update(expression, t)`` takes an :class:`Expression` (or None: the source has none this
    frame); ``update_raw({name: value}, t)`` a sender's raw names (VMC), validated by an
    :class:`ExpressionReader`. Once a source has sent eyelids, the idle blink stays off: its
    own blinks (or open eyes) are the truth.
    """

    def __init__(self, source: str, *, smoothing: bool = True, idle_blink: bool = True, seed: int = 17):
        from avatar_app.rig.expressions import ExpressionReader

        self.reader = ExpressionReader(source)
        self.filter = ExpressionFilter() if smoothing else None
        self.idle = IdleBlink(seed) if idle_blink else None
        self.has_eyelids = False

    def update(self, expression: Expression | None, t: float) -> Expression:
        if expression is not None:
            lids = expression.values[[EXPRESSIONS.index(n) for n in ("blink", "blinkLeft", "blinkRight")]]
            self.has_eyelids |= bool(np.any(lids > 0.0))
            if self.filter is not None:
                expression = self.filter.filter(expression, t)
        if self.idle is not None and not self.has_eyelids:
            return self.idle.add_to(expression, t)
        return Expression() if expression is None else expression

    def update_raw(self, raw, t: float) -> Expression:
        expression = self.reader.read(raw)
        self.has_eyelids |= bool(self.reader.seen & {"blink", "blinkLeft", "blinkRight"})
        return self.update(expression, t)
