"""Frames with known regions for the output tests: an opaque 'avatar', a half-transparent
strip and a fully transparent background, so every sink's handling of alpha shows."""

import threading

import numpy as np
import pytest

from avatar_app.core.frames import RgbaFrame

AVATAR_STRAIGHT_RGB = (0.9, 0.2, 0.1)
STRIP_STRAIGHT_RGB = (0.5, 0.2, 0.8)
STRIP_ALPHA = 0.5


def regions_frame(height=48, width=64, avatar_rgb=AVATAR_STRAIGHT_RGB, timestamp=0.0) -> RgbaFrame:
    """Left half opaque avatar, top rows of the right half at alpha 0.5, the rest transparent."""
    data = np.zeros((height, width, 4), np.float32)
    data[:, : width // 2, :3] = avatar_rgb
    data[:, : width // 2, 3] = 1.0
    strip = slice(0, height // 4), slice(width // 2, width)
    data[strip[0], strip[1], :3] = np.float32(STRIP_STRAIGHT_RGB) * np.float32(STRIP_ALPHA)  # premultiplied
    data[strip[0], strip[1], 3] = STRIP_ALPHA
    return RgbaFrame(data, timestamp)


def random_premultiplied(rng, height, width) -> RgbaFrame:
    alpha = rng.random((height, width, 1), dtype=np.float32)
    alpha[rng.random((height, width)) < 0.3] = 0.0
    alpha[rng.random((height, width)) < 0.3] = 1.0
    rgb = rng.random((height, width, 3), dtype=np.float32) * alpha
    return RgbaFrame(np.concatenate([rgb, alpha], axis=-1))


@pytest.fixture
def no_thread_leaks():
    """Fails the test if a sink leaves its server thread running."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("avatar-")]
    assert not left, f"threads still running after the test: {left}"


@pytest.fixture
def make_regions_frame():
    return regions_frame


@pytest.fixture
def make_random_frame():
    rng = np.random.default_rng(1234)
    return lambda height, width: random_premultiplied(rng, height, width)
