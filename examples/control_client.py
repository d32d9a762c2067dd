"""A small client of avatar_app's control API (docs/control_api.md): one message, its reply printed.

    python examples/control_client.py status
    python examples/control_client.py set joy                 # until cleared
    python examples/control_client.py set surprised --seconds 2 --value 0.8
    python examples/control_client.py clear [NAME]
    python examples/control_client.py hotkey F1 [--state down|up|tap]
    python examples/control_client.py character ~/characters/eileen

Needs only the ``websockets`` package. The API listens on ws://127.0.0.1:8770 unless told
otherwise (--url). Exit status 1 when the reply is an error.
"""

from __future__ import annotations

import argparse
import json
import sys

from websockets.exceptions import InvalidHandshake
from websockets.sync.client import connect


def message_from(args) -> dict:
    if args.command == "set":
        message = {"type": "set_expression", "name": args.name}
        if args.value is not None:
            message["value"] = args.value
        if args.seconds is not None:
            message["seconds"] = args.seconds
        return message
    if args.command == "clear":
        return {"type": "clear_expression", **({"name": args.name} if args.name else {})}
    if args.command == "hotkey":
        return {"type": "hotkey", "key": args.key, "state": args.state}
    if args.command == "character":
        return {"type": "set_character", "path": args.path}
    return {"type": "status"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8770", help="the API (default ws://127.0.0.1:8770)")
    sub = parser.add_subparsers(dest="command", required=True)
    set_ = sub.add_parser("set", help="hold an expression")
    set_.add_argument("name", help="joy, surprised, eyes_closed, mouth_open, aa ...")
    set_.add_argument("--value", type=float, default=None, help="0..1 (default 1)")
    set_.add_argument("--seconds", type=float, default=None, help="clear it after this long")
    clear = sub.add_parser("clear", help="give an expression (default: all) back to the source")
    clear.add_argument("name", nargs="?", default=None)
    hotkey = sub.add_parser("hotkey", help="press a hotkey bound in the window (or with stream --hotkey)")
    hotkey.add_argument("key", help="F1, Ctrl+1 ...")
    hotkey.add_argument("--state", choices=("tap", "down", "up"), default="tap")
    character = sub.add_parser("character", help="open another character (the window only)")
    character.add_argument("path")
    sub.add_parser("status", help="what the avatar is doing")
    args = parser.parse_args(argv)

    try:
        with connect(args.url, open_timeout=5) as websocket:
            websocket.send(json.dumps(message_from(args)))
            reply = json.loads(websocket.recv(timeout=10))
    except (OSError, InvalidHandshake) as exc:
        print(
            f"control_client: cannot reach {args.url} ({exc}); is the API on (window or stream --api)?", file=sys.stderr
        )
        return 2
    print(json.dumps(reply))
    return 1 if reply.get("type") == "error" else 0


if __name__ == "__main__":
    sys.exit(main())
