"""Pose from a picture: input checks and the RGBA path."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.core.errors import InputError
from avatar_app.infer.torch_backend import UDPDetector


@pytest.fixture(scope="module")
def detector(official_networks):
    return UDPDetector(official_networks)


def test_detect_returns_a_udp_map_in_unit_range(detector):
    rng = np.random.default_rng(0)
    udp = detector.detect(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), timestamp=1.5)
    assert udp.data.shape == (64, 96, 4) and udp.data.dtype == np.float32
    assert udp.data.min() >= 0 and udp.data.max() <= 1
    assert udp.timestamp == 1.5


def test_rgba_pictures_are_premultiplied_like_sheet_views(detector):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (64, 64, 4), dtype=np.uint8)
    pre = (rgba[..., :3].astype(np.uint16) * rgba[..., 3:] // 255).astype(np.uint8)
    np.testing.assert_array_equal(detector.detect(rgba).data, detector.detect(pre).data)


@pytest.mark.parametrize(
    "image", [np.zeros((64, 64, 3), np.float32), np.zeros((64, 64), np.uint8), np.zeros((60, 64, 3), np.uint8)]
)
def test_unusable_pictures_are_input_errors(detector, image):
    with pytest.raises(InputError):
        detector.detect(image)
