import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import CharacterSheet, RgbaFrame, UdpMap, check_model_size
from avatar_app.core.timing import StageStats


@pytest.mark.parametrize("size", [128, 256, 512, 1024])
def test_multiples_of_128_are_model_sizes(size):
    assert check_model_size(size) == size


@pytest.mark.parametrize("size", [0, -128, 320, 100, 257])
def test_other_sizes_are_rejected_with_the_nearest_fix(size):
    with pytest.raises(SettingError) as e:
        check_model_size(size, "--size")
    msg = str(e.value)
    assert msg.startswith("--size: expected a positive multiple of 128")
    assert repr(size) in msg and "Fix: use" in msg


def test_composite_over_background_uses_premultiplied_colour():
    data = np.zeros((1, 2, 4), np.float32)
    data[0, 0] = [0.25, 0.0, 0.0, 0.5]  # half-transparent red, premultiplied
    rgb = RgbaFrame(data).over((0, 0, 255))
    assert rgb[0, 0].tolist() == [64, 0, 128]
    assert rgb[0, 1].tolist() == [0, 0, 255]


def test_straight_rgba_unpremultiplies():
    data = np.array([[[0.25, 0.0, 0.0, 0.5]]], np.float32)
    assert RgbaFrame(data).to_straight_rgba8()[0, 0].tolist() == [128, 0, 0, 128]


def test_sheet_hash_changes_with_pixels_not_names():
    rgb = np.zeros((2, 3, 8, 8), np.uint8)
    a = np.zeros((2, 1, 8, 8), np.uint8)
    s1 = CharacterSheet(rgb, a, ("a", "b"))
    s2 = CharacterSheet(rgb.copy(), a.copy(), ("c", "d"))
    assert s1.content_hash() == s2.content_hash()
    rgb2 = rgb.copy()
    rgb2[1, 0, 3, 3] = 1
    assert CharacterSheet(rgb2, a).content_hash() != s1.content_hash()
    assert s1.subset([1]).num_views == 1


def test_frame_types_reject_wrong_layouts():
    with pytest.raises(ValueError):
        UdpMap(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        RgbaFrame(np.zeros((4, 4, 4), np.float64))
    with pytest.raises(ValueError):
        CharacterSheet(np.zeros((1, 4, 8, 8), np.uint8), np.zeros((1, 1, 8, 8), np.uint8))


def test_stage_stats_percentiles():
    stats = StageStats(window=100)
    for ms in range(1, 101):
        stats.record("render", ms)
    s = stats.summary()["render"]
    assert s["count"] == 100 and s["p50_ms"] == pytest.approx(50.5) and s["p95_ms"] == pytest.approx(95.05)
