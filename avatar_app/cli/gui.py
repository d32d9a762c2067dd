"""`avatar-app gui`: the desktop window (also what `avatar-app` alone opens when there is a display)."""

from __future__ import annotations

import os

from avatar_app.core.errors import DeviceError


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="open the desktop window (character sheet, source, previews, outputs)")
    p.add_argument(
        "--settings",
        default=None,
        help="settings file (default: settings.toml in the user config folder, $XDG_CONFIG_HOME/avatar_app on Linux)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from avatar_app.cli.main import gui_installed, has_display

    if not has_display() and not os.environ.get("QT_QPA_PLATFORM"):
        raise DeviceError(
            "avatar-app gui: no display found (DISPLAY and WAYLAND_DISPLAY are unset). "
            "Fix: run it on a desktop session, use `avatar-app demo` or `avatar-app stream` headless, "
            "or set QT_QPA_PLATFORM=offscreen to run the window invisibly."
        )
    if not gui_installed():  # fail here, with the fix, rather than deep inside (only gui/ imports Qt)
        raise DeviceError("avatar-app gui: PyQt6 is not installed. Fix: pip install -e '.[gui]' (PyQt6==6.11.0).")
    from avatar_app.gui import run_gui

    return run_gui(settings_path=args.settings)
