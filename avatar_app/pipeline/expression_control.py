"""Expressions set by hand (hotkeys, the control API) over whatever the source sends.

`ExpressionOverrides` is the one place a hotkey or an API message writes to: a name, a value
and, for a timed one, when it ends. It outlives pipelines (the window's session and `stream`
keep one), so a restart keeps what the user set. `WithExpressionOverrides` is the source layer
that lays it over each sample: the outermost one, so what the user asked for beats the
tracking and the microphone for the names it sets and leaves every other name to them.

A name is anything the expression sheets answer to (``pipeline.expression_sheets``): our
expression names and their VRM 0.x / ARKit aliases (``joy``, ``A``, ``Blink_L`` ...), and the
sheet folders' ``eyes_closed`` / ``blink`` (both eyes shut) and ``mouth_open`` (``aa``). A
value replaces the source's for that name (so ``happy 0`` holds a smile back). Timed ones end
by the overrides' clock (injected in tests), checked on every read, not by a timer thread.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable

from avatar_app.pipeline.source_layers import ForwardingSource
from avatar_app.pipeline.sources import PoseSample, PoseSource
from avatar_app.rig.expressions import EXPRESSIONS, INDEX, Expression, expression_name

_SHEET_NAMES = {"eyes_closed": "blink", "blink": "blink", "mouth_open": "aa"}


def expression_target(name: object) -> str | None:
    """Our expression name for ``name`` (an expression, an alias or a sheet folder's name), or None."""
    if not isinstance(name, str):
        return None
    key = name.strip().lower()
    return _SHEET_NAMES.get(key) or expression_name(key)


def known_names_text() -> str:
    return ", ".join(EXPRESSIONS) + " (or eyes_closed, mouth_open, or a VRM 0.x name such as joy)"


@dataclasses.dataclass(frozen=True)
class Override:
    value: float
    until: float | None  # on the overrides' clock; None: until cleared


class ExpressionOverrides:
    """Thread-safe: hotkeys write from the UI thread, the API from its own, the source layer reads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._set: dict[str, Override] = {}

    @staticmethod
    def target(name: object) -> str:
        """Our name for ``name``; a ValueError naming what is accepted if it is none."""
        ours = expression_target(name)
        if ours is None:
            raise ValueError(f"expression {name!r}: not an expression name; expected one of {known_names_text()}")
        return ours

    def set(self, name: str, value: float = 1.0, seconds: float | None = None) -> str:
        """Hold ``name`` at ``value`` (0..1) until cleared, or for ``seconds``; returns our name for it."""
        ours = self.target(name)
        value = float(value)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"expression {name!r}: value expected from 0 to 1, got {value!r}")
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0.0):
            raise ValueError(f"expression {name!r}: seconds expected above 0, got {seconds!r}")
        with self._lock:
            until = None if seconds is None else self._clock() + float(seconds)
            self._set[ours] = Override(value, until)
        return ours

    def clear(self, name: str | None = None) -> None:
        """Give ``name`` back to the source (None: every name)."""
        with self._lock:
            if name is None:
                self._set.clear()
            else:
                self._set.pop(self.target(name), None)

    def toggle(self, name: str, value: float = 1.0) -> bool:
        """Set ``name`` if it is not set now (True), else clear it (False)."""
        ours = self.target(name)
        with self._lock:
            self._expire()
            if ours in self._set:
                del self._set[ours]
                return False
        self.set(ours, value)
        return True

    def active(self) -> dict[str, float]:
        """``{our name: value}`` of what is set now."""
        with self._lock:
            self._expire()
            return {name: o.value for name, o in self._set.items()}

    def seconds_left(self) -> dict[str, float]:
        """``{our name: seconds}`` of the timed ones."""
        with self._lock:
            self._expire()
            now = self._clock()
            return {name: o.until - now for name, o in self._set.items() if o.until is not None}

    def apply(self, expression: Expression | None) -> Expression | None:
        """``expression`` with the names set here replaced (None stays None when nothing is set)."""
        active = self.active()
        if not active:
            return expression
        values = (expression or Expression()).values.copy()
        for name, value in active.items():
            values[INDEX[name]] = value
        return Expression(values)

    def _expire(self) -> None:
        now = self._clock()
        for name in [n for n, o in self._set.items() if o.until is not None and o.until <= now]:
            del self._set[name]


class WithExpressionOverrides(ForwardingSource):
    """``source`` with ``overrides`` laid over every sample's expression (owns ``source``, not the overrides)."""

    def __init__(self, source: PoseSource, overrides: ExpressionOverrides):
        super().__init__(source)
        if not isinstance(overrides, ExpressionOverrides):
            raise TypeError(f"WithExpressionOverrides: expected ExpressionOverrides, got {type(overrides).__name__}")
        self.overrides = overrides

    def __getattr__(self, name: str):
        # the layers under it (microphone, idle life) stay reachable: the session reads `.microphone`
        if name == "source":
            raise AttributeError(name)
        return getattr(self.source, name)

    def read(self, timeout: float) -> PoseSample | None:
        sample = self.source.read(timeout)
        if sample is None:
            return None
        expression = self.overrides.apply(sample.expression)
        return sample if expression is sample.expression else dataclasses.replace(sample, expression=expression)
