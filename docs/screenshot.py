"""Regenerate docs/screenshot.png: the main window running the demo, under Xvfb.

    xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb .venv/bin/python docs/screenshot.py

Needs xvfb, xauth and Qt's xcb libraries (Debian: libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0).
Uses a throwaway settings file, so your own settings are not touched.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PyQt6.QtWidgets import QApplication

OUT = Path(__file__).resolve().parent / "screenshot.png"
SETTLE_S = 4.0


def main() -> int:
    app = QApplication(sys.argv[:1])
    from avatar_app.gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        settings = Path(tmp) / "settings.toml"
        settings.write_text(
            '[render]\nsize = 256\n[source]\nsource = "demo"\n[output]\nbrowser_source = true\n'
            "[live]\nautostart = true\n[window]\nwidth = 1240\nheight = 760\n"
        )
        window = MainWindow(settings)
        window.show()
        deadline = time.monotonic() + 30.0
        while window.preview.output.pictures_shown < 10 and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        end = time.monotonic() + SETTLE_S  # a few seconds of frames: fps and latency settle in the status bar
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)
        ok = window.grab().save(str(OUT))
        print(
            f"{'saved' if ok else 'could not save'} {OUT} "
            f"({app.platformName()}, {window.preview.output.pictures_shown} frames shown)"
        )
        window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
