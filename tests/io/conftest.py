"""Fixtures for the io tests: every image is generated here, none is committed."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


def _write_rgba(path: Path, rgba: np.ndarray, params=()) -> Path:
    """Write straight RGBA (or RGB / gray) the way an art program would export it."""
    path = Path(path)
    if rgba.ndim == 3 and rgba.shape[2] == 4:
        image = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
    elif rgba.ndim == 3 and rgba.shape[2] == 3:
        image = cv2.cvtColor(rgba, cv2.COLOR_RGB2BGR)
    else:
        image = rgba
    ok, encoded = cv2.imencode(path.suffix, image, list(params))
    assert ok
    path.write_bytes(encoded.tobytes())
    return path


def _character(height: int = 120, width: int = 90, seed: int = 0) -> np.ndarray:
    """A soft-edged ellipse 'character' with varied colour on a transparent canvas."""
    rng = np.random.default_rng(seed)
    rgba = np.zeros((height, width, 4), np.uint8)
    rgba[..., :3] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (width // 2, height // 2), (width // 3, height // 3), 15, 0, 360, 255, -1, cv2.LINE_AA)
    rgba[..., 3] = mask
    return rgba


@pytest.fixture
def write_rgba():
    return _write_rgba


@pytest.fixture
def character():
    return _character


@pytest.fixture
def assert_helpful():
    """The house error format: names the file, says what is wrong and the fix."""

    def check(exc_info, source, *found_words, fix_words=()):
        message = str(exc_info.value)
        assert str(source) in message, message
        assert "expected" in message and "found" in message and "Fix:" in message, message
        found_part, fix_part = message.split("Fix:", 1)
        for word in found_words:
            assert word.lower() in found_part.lower(), f"{word!r} not in {message!r}"
        for word in fix_words:
            assert word.lower() in fix_part.lower(), f"{word!r} not in the fix of {message!r}"
        return message

    return check
