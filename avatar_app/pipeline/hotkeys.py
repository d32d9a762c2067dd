"""Expression hotkeys: which key sets which expression, and how (toggle, hold, timed).

A `Hotkey` binds a key (Qt's portable text: ``F1``, ``Ctrl+1``, ``Shift+J``) to an
expression name (`expression_control.expression_target`: ``joy``, ``eyes_closed``,
``mouth_open`` ...). `HotkeyActions` turns key presses and releases, from the window or the
control API, into `ExpressionOverrides` calls. No Qt here: the window maps its key events to
the key text, the API names the key in a message.

The settings file keeps the bindings as one string, a line per key:
``KEY EXPRESSION MODE [SECONDS]`` (``F1 joy toggle``, ``F2 eyes_closed hold``,
``Ctrl+3 surprised timed 2.5``). A key's text never holds a space (Qt spells it ``Space``).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from avatar_app.pipeline.expression_control import ExpressionOverrides, expression_target, known_names_text

HOTKEY_MODES = ("toggle", "hold", "timed")
DEFAULT_SECONDS = 2.0
KEY_STATES = ("tap", "down", "up")


class HotkeyError(ValueError):
    """A binding or a key press that cannot be used; the text says what was expected."""


@dataclass(frozen=True)
class Hotkey:
    """``key`` sets ``expression``: ``toggle`` (on, off), ``hold`` (while pressed) or ``timed`` (``seconds``)."""

    key: str
    expression: str
    mode: str = "toggle"
    seconds: float = DEFAULT_SECONDS  # timed: how long; hold from the API (a tap): how long the tap holds

    def __post_init__(self):
        if not isinstance(self.key, str) or not self.key.strip() or any(c.isspace() for c in self.key):
            raise HotkeyError(f"hotkey {self.key!r}: a key expected (F1, Ctrl+1, Shift+J), with no spaces")
        if expression_target(self.expression) is None:
            raise HotkeyError(
                f"hotkey {self.key}: {self.expression!r} is not an expression; expected {known_names_text()}"
            )
        if self.mode not in HOTKEY_MODES:
            raise HotkeyError(f"hotkey {self.key}: mode expected {', '.join(HOTKEY_MODES)}, got {self.mode!r}")
        seconds = self.seconds
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise HotkeyError(f"hotkey {self.key}: seconds expected a number, got {seconds!r}")
        if not 0.05 <= seconds <= 3600.0:
            raise HotkeyError(f"hotkey {self.key}: seconds expected from 0.05 to 3600, got {seconds!r}")

    def line(self) -> str:
        tail = f" {self.seconds:g}" if self.mode == "timed" or self.seconds != DEFAULT_SECONDS else ""
        return f"{self.key} {self.expression} {self.mode}{tail}"


def parse_hotkeys(text: str) -> tuple[list[Hotkey], list[str]]:
    """(bindings, warnings) from the settings' string; a bad line is skipped with a warning, never raised."""
    bindings: list[Hotkey] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(str(text).splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        try:
            if len(words) not in (3, 4):
                raise HotkeyError(f"expected KEY EXPRESSION MODE [SECONDS], got {line.strip()!r}")
            seconds = float(words[3]) if len(words) == 4 else DEFAULT_SECONDS
            hotkey = Hotkey(words[0], words[1], words[2], seconds)
        except ValueError as error:  # HotkeyError, or float() of a word that is not a number
            warnings.append(f"settings: hotkeys line {number}: {error}; skipped")
            continue
        if hotkey.key in seen:
            warnings.append(f"settings: hotkeys line {number}: {hotkey.key} is bound twice; the first one is used")
            continue
        seen.add(hotkey.key)
        bindings.append(hotkey)
    return bindings, warnings


def format_hotkeys(bindings) -> str:
    return "\n".join(hotkey.line() for hotkey in bindings)


class HotkeyActions:
    """Key presses and releases -> `ExpressionOverrides` calls, for the bindings set now (thread-safe)."""

    def __init__(self, overrides: ExpressionOverrides, bindings=()):
        self.overrides = overrides
        self._lock = threading.Lock()
        self._bindings: dict[str, Hotkey] = {}
        self.set_bindings(bindings)

    def set_bindings(self, bindings) -> None:
        with self._lock:
            self._bindings = {hotkey.key: hotkey for hotkey in bindings}

    @property
    def bindings(self) -> list[Hotkey]:
        with self._lock:
            return list(self._bindings.values())

    def binding(self, key: str) -> Hotkey | None:
        with self._lock:
            return self._bindings.get(key)

    def press(self, key: str) -> Hotkey | None:
        """The key went down (not an auto-repeat); the binding acted on, or None when the key is not bound."""
        hotkey = self.binding(key)
        if hotkey is None:
            return None
        if hotkey.mode == "toggle":
            self.overrides.toggle(hotkey.expression)
        elif hotkey.mode == "hold":
            self.overrides.set(hotkey.expression)
        else:
            self.overrides.set(hotkey.expression, seconds=hotkey.seconds)
        return hotkey

    def release(self, key: str) -> Hotkey | None:
        """The key came up: a hold ends; toggle and timed do nothing."""
        hotkey = self.binding(key)
        if hotkey is not None and hotkey.mode == "hold":
            self.overrides.clear(hotkey.expression)
        return hotkey

    def trigger(self, key: str, state: str = "tap") -> Hotkey:
        """From the control API: ``down``, ``up`` or ``tap`` (a hold key tapped holds for its ``seconds``)."""
        hotkey = self.binding(key)
        if hotkey is None:
            bound = ", ".join(h.key for h in self.bindings) or "none are set"
            raise HotkeyError(f"hotkey {key!r}: not bound; expected one of the bound keys ({bound})")
        if state not in KEY_STATES:
            raise HotkeyError(f"hotkey {key}: state expected {', '.join(KEY_STATES)}, got {state!r}")
        if state == "up":
            self.release(key)
        elif state == "tap" and hotkey.mode == "hold":
            self.overrides.set(hotkey.expression, seconds=hotkey.seconds)
        else:
            self.press(key)
        return hotkey
