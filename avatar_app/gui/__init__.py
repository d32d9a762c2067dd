"""The desktop window (PyQt6): the only package that imports Qt.

* `MainWindow` (``main_window``): character sheet, source, render and output panels
  beside the live previews; status bar with fps, per-stage ms, latency and warnings;
  settings kept in ``settings.toml`` in the user config folder.
* The character (``character_panel``): a character folder or a .glb/.vrm body, as ``--character``
  names it, and the live framing; New character from drawings… runs the fitter in the
  background (``new_character_dialog``) and Edit fit… (``fit_editor``, on ``character_edit``,
  which is Qt-free) changes the fitted shape and framings, re-fits and saves.
* The window drives a `pipeline.session.LiveSession` (no Qt, tested without the window):
  the worker that builds, starts and stops pipelines (``pipeline.build_pipeline``, as
  ``stream`` does) and outputs, so the window never blocks; frames reach the UI through
  latest-value slots (a `PreviewSink` and the pipeline's tap) that the UI timer reads.
* `run_gui()`: what ``avatar-app gui`` calls.

Qt is imported only when a widget module is; ``import avatar_app.gui`` stays cheap.
"""

from __future__ import annotations


def run_gui(settings_path=None, argv: list[str] | None = None) -> int:
    from avatar_app.gui.app import run

    return run(settings_path, argv)
