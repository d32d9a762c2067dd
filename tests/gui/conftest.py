"""GUI tests: pytest-qt on the offscreen platform, settings in tmp_path, no threads left behind."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt (pytest-qt creates the app lazily)

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("pytestqt")

from gui_helpers import SIZE, write_settings, write_view  # noqa: E402


@pytest.fixture
def make_window(qtbot, config_home, tmp_path):
    """MainWindow(settings) with ``size`` 128 and no autostart unless told; shut down at the end."""
    from avatar_app.core.settings_file import default_settings_path
    from avatar_app.gui.main_window import MainWindow

    windows = []

    def make(extra: str = "", *, autostart: bool = False, **kwargs):
        path = default_settings_path()
        if not path.exists():
            write_settings(
                path,
                f"[render]\nsize = {SIZE}\n[live]\nautostart = {'true' if autostart else 'false'}\n"
                f'[output]\nrecord_dir = "{tmp_path / "recordings"}"\n{extra}',
            )
        window = MainWindow(path, weights_folder=None, camera_lister=kwargs.pop("camera_lister", lambda: []), **kwargs)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()


@pytest.fixture
def good_sheet(tmp_path) -> Path:
    """Two views: an ellipse 'character' on a transparent canvas."""
    folder = tmp_path / "good_sheet"
    folder.mkdir()
    for i in range(2):
        rgba = np.zeros((160, 120, 4), np.uint8)
        rgba[..., :3] = (200, 60 + 80 * i, 90)
        mask = np.zeros((160, 120), np.uint8)
        cv2.ellipse(mask, (60, 80), (35, 60), 0, 0, 360, 255, -1)
        rgba[..., 3] = mask
        write_view(folder / f"{i}_view.png", rgba)
    return folder


@pytest.fixture
def sheet_without_alpha(tmp_path) -> Path:
    """A view exported without transparency: the most common broken sheet."""
    folder = tmp_path / "no_alpha_sheet"
    folder.mkdir()
    rgb = np.full((160, 120, 3), 255, np.uint8)
    cv2.ellipse(rgb, (60, 80), (35, 60), 0, 0, 360, (200, 60, 90), -1)
    write_view(folder / "front.png", rgb)
    return folder


@pytest.fixture
def character_folder(tmp_path, good_sheet) -> Path:
    """A fitted character (miniature, no fit run): waist framing, cut at 0.74 m, the built-in body."""
    from character_helpers import write_character

    return write_character(tmp_path / "characters" / "test_char", good_sheet)
