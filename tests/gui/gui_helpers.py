"""Helpers for the GUI tests (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = 128  # small renders: two shared CPU cores


def write_settings(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def wait_for_default_sheet(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.sheet_panel.sheet is not None, timeout=10_000)


def wait_for_frames(qtbot, window, timeout_ms: int = 10_000, count: int = 1) -> None:
    qtbot.waitUntil(lambda: window.preview.output.pictures_shown >= count, timeout=timeout_ms)


def write_view(path: Path, rgba: np.ndarray) -> Path:
    channels = cv2.COLOR_RGBA2BGRA if rgba.shape[2] == 4 else cv2.COLOR_RGB2BGR
    assert cv2.imwrite(str(path), cv2.cvtColor(rgba, channels))
    return path
