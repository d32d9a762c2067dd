"""Starting the desktop app: the QApplication and the main window."""

from __future__ import annotations

import signal
import sys
import threading

from PyQt6.QtWidgets import QApplication

from avatar_app.gui.main_window import MainWindow


def run(settings_path=None, argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("avatar_app")
    app.setOrganizationName("avatar_app")
    window = MainWindow(settings_path)
    window.show()
    # Ctrl-C / SIGTERM from a terminal close the window the normal way (settings saved, threads
    # joined); the window's timer gives Python the chance to run the handler.
    handled = (signal.SIGINT, signal.SIGTERM) if threading.current_thread() is threading.main_thread() else ()
    previous = {sig: signal.signal(sig, lambda *_: window.close()) for sig in handled}
    try:
        code = app.exec()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        window.shutdown()  # idempotent; covers a loop that ended without a close event
    return int(code)
