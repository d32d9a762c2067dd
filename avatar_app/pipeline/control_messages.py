"""The control API's messages: JSON text in, a `Command` or a `MessageError` naming what was expected.

Pure (no sockets, no pipeline) so it is fuzzed on its own (``tools/fuzz_targets.py``). The list
of messages, their fields and replies is ``docs/control_api.md``; `MESSAGES` is the same list as
data, and the error for an unknown ``type`` quotes it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 16 * 1024

# type -> {field: (what it must be, required)}; "id" is allowed on every message and echoed in the reply
MESSAGES: dict[str, dict[str, tuple[str, bool]]] = {
    "set_expression": {
        "name": ("an expression name: happy, joy, eyes_closed, mouth_open, aa ...", True),
        "value": ("a number from 0 to 1 (default 1)", False),
        "seconds": ("a number above 0: clear it after this long (default: until cleared)", False),
    },
    "clear_expression": {"name": ("an expression name (leave it out: clear every one)", False)},
    "hotkey": {
        "key": ("a bound key as the window shows it: F1, Ctrl+1 ...", True),
        "state": ('"tap" (default), "down" or "up"', False),
    },
    "set_character": {"path": ("a character folder (or its character.json, or a .glb/.vrm body)", True)},
    "status": {},
}


class MessageError(ValueError):
    """A message we cannot act on: ``error`` says what is wrong, ``expected`` what would be right."""

    def __init__(self, error: str, expected: str, request: str | None = None, message_id=None):
        super().__init__(f"{error}; expected {expected}")
        self.error, self.expected, self.request, self.message_id = error, expected, request, message_id

    def reply(self) -> dict:
        out = {"type": "error", "error": self.error, "expected": self.expected}
        if self.request is not None:
            out["request"] = self.request
        if self.message_id is not None:
            out["id"] = self.message_id
        return out


@dataclass(frozen=True)
class Command:
    type: str
    fields: dict = field(default_factory=dict)
    message_id: str | int | float | None = None

    def reply(self, **values) -> dict:
        out = {"type": "ok", "request": self.type, **values}
        if self.message_id is not None:
            out["id"] = self.message_id
        return out

    def error(self, error: str, expected: str) -> MessageError:
        return MessageError(error, expected, self.type, self.message_id)


def _types_text() -> str:
    return "one of " + ", ".join(f'"{name}"' for name in MESSAGES)


def parse_message(text: str | bytes) -> Command:
    """One message as the API reads it; every field checked for type and range here, names later."""
    if isinstance(text, bytes):
        if len(text) > MAX_MESSAGE_BYTES:
            raise MessageError(f"message of {len(text)} bytes", f"at most {MAX_MESSAGE_BYTES}")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MessageError(f"message is not UTF-8 ({exc.reason})", "a JSON object as UTF-8 text") from None
    if len(text) > MAX_MESSAGE_BYTES:
        raise MessageError(f"message of {len(text)} characters", f"at most {MAX_MESSAGE_BYTES}")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise MessageError(f"not JSON ({_short(exc)})", 'a JSON object such as {"type": "status"}') from None
    if not isinstance(data, dict):
        raise MessageError(f"a JSON {type(data).__name__}", 'a JSON object such as {"type": "status"}')
    message_id = data.get("id")
    if message_id is not None and (isinstance(message_id, bool) or not isinstance(message_id, (str, int, float))):
        raise MessageError(f"id is {type(message_id).__name__}", "id as a string or a number (or no id)")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in MESSAGES:
        got = "no type" if "type" not in data else f"type {_show(kind)}"
        raise MessageError(got, f"type {_types_text()}", message_id=message_id)
    spec = MESSAGES[kind]
    unknown = sorted(str(k) for k in data if k not in spec and k not in ("type", "id"))
    if unknown:
        allowed = ", ".join(spec) or "no other fields"
        raise MessageError(f"unknown field(s) {', '.join(unknown)}", f"{kind}: {allowed}", kind, message_id)
    for name, (what, required) in spec.items():
        if required and name not in data:
            raise MessageError(f"no {name}", f"{kind}: {name} as {what}", kind, message_id)
    fields = {k: v for k, v in data.items() if k not in ("type", "id")}
    for name, value in fields.items():
        problem = _check_field(kind, name, value)
        if problem:
            raise MessageError(f"{name} is {problem}", f"{kind}: {name} as {spec[name][0]}", kind, message_id)
    return Command(kind, fields, message_id)


def _check_field(kind: str, name: str, value) -> str | None:
    """What is wrong with one field's value (None: nothing)."""
    if name in ("value", "seconds"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return _show(value)
        if not math.isfinite(value) or (name == "value" and not 0.0 <= value <= 1.0):
            return _show(value)
        if name == "seconds" and not 0.0 < value <= 86400.0:
            return _show(value)
        return None
    if name == "state":
        return None if value in ("tap", "down", "up") else _show(value)
    if not isinstance(value, str) or not value.strip() or len(value) > 4096:  # name, key, path
        return _show(value)
    return None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _show(value) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."
