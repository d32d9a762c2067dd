"""`avatar-app` entry point: sub-commands, and the no-argument default (GUI, or a headless demo)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from avatar_app.core.errors import AvatarAppError


def build_parser() -> argparse.ArgumentParser:
    from avatar_app.cli import adapt, demo, fit, gui, render, stream, udp

    parser = argparse.ArgumentParser(
        prog="avatar-app",
        description="A live anime avatar from a character sheet, rendered by CoNR. "
        "Without a sub-command: the GUI when a display is present, else a headless demo render.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    render.add_parser(sub)
    udp.add_parser(sub)
    stream.add_parser(sub)
    demo.add_parser(sub)
    fit.add_parser(sub)
    adapt.add_parser(sub)
    gui.add_parser(sub)

    return parser


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("win32", "darwin")


def gui_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("PyQt6") is not None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command is None:
        # With a display: the window. Without one (a server, CI, ssh): a headless demo render.
        if has_display() and gui_installed():
            args = parser.parse_args(["gui"])
        elif has_display():
            print(
                "avatar-app: PyQt6 is not installed (pip install -e '.[gui]'); "
                "running the headless demo render instead."
            )
            args = parser.parse_args(["demo"])
        else:
            print("avatar-app: no display found (DISPLAY is unset); running the headless demo render instead.")
            args = parser.parse_args(["demo"])
    try:
        return int(args.func(args) or 0)
    except AvatarAppError as e:
        print(f"avatar-app: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("avatar-app: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
