"""`stream --api PORT`: the local control API (``pipeline.control_api``) for a headless stream.

The same server the window runs: set and clear expressions, press the hotkeys given with
``--hotkey``, read the status. Switching the character is the window's (a stream renders the
one it was started with): that message gets an error reply that says to restart with
``--character``.
"""

from __future__ import annotations

import contextlib
import sys

from avatar_app.core.errors import SettingError
from avatar_app.pipeline.control_api import DEFAULT_API_PORT


def add_control_arguments(p) -> None:
    p.add_argument(
        "--api",
        type=int,
        default=None,
        metavar="PORT",
        help=f"a local control API on ws://127.0.0.1:PORT (e.g. {DEFAULT_API_PORT}): set expressions, press hotkeys, "
        "read the status (docs/control_api.md)",
    )
    p.add_argument(
        "--api-remote",
        action="store_true",
        help="let other computers reach the control API (it listens on every interface; no password)",
    )
    p.add_argument(
        "--hotkey",
        action="append",
        default=[],
        metavar='"KEY EXPRESSION MODE [SECONDS]"',
        help='an expression hotkey the control API can press, e.g. "F1 joy toggle", "F2 eyes_closed hold", '
        '"F3 surprised timed 2"; repeat for several',
    )


def control_overrides(args):
    """The overrides the pipeline is built with when the API is on (None: off, nothing to lay over)."""
    if args.api is None:
        if args.hotkey or args.api_remote:
            raise SettingError("--hotkey / --api-remote", "--api PORT as well", "no --api", "add --api 8770")
        return None
    from avatar_app.pipeline.expression_control import ExpressionOverrides

    if not 0 <= args.api <= 65535:
        raise SettingError("--api", "a port from 1 to 65535", str(args.api), f"use e.g. --api {DEFAULT_API_PORT}")
    _bindings(args)  # a bad --hotkey fails now, before anything loads
    return ExpressionOverrides()


def _bindings(args):
    from avatar_app.pipeline.hotkeys import parse_hotkeys

    bindings, warnings = parse_hotkeys("\n".join(args.hotkey))
    if warnings:
        found = "; ".join(w.removeprefix("settings: hotkeys ") for w in warnings)
        raise SettingError("--hotkey", '"KEY EXPRESSION MODE [SECONDS]"', found, 'write e.g. --hotkey "F1 joy toggle"')
    return bindings


@contextlib.contextmanager
def control_api(args, overrides, pipeline, character: str):
    """The server for ``args.api`` while the stream runs (nothing when it is off)."""
    if overrides is None:
        yield None
        return
    from avatar_app.pipeline.control_api import ControlHandler, ControlServer
    from avatar_app.pipeline.hotkeys import HotkeyActions

    bindings = _bindings(args)

    def status() -> dict:
        s = pipeline.status
        return {
            "state": s.state,
            "fps": round(s.fps, 2),
            "frames_sent": s.frames_sent,
            "source": s.source,
            "renderer": s.renderer,
            "character": character,
        }

    handler = ControlHandler(overrides, HotkeyActions(overrides, bindings), status=status)
    server = ControlServer(handler, args.api, allow_remote=args.api_remote)
    reach = "every interface: other computers can reach it" if args.api_remote else "this computer only"
    print(f"control API: {server.url} ({reach}); messages in docs/control_api.md", file=sys.stderr, flush=True)
    with server:
        yield server
