"""UDP files: round trips in every format, channel order, validation errors, fitting, sequences."""

from __future__ import annotations

import logging
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from avatar_app.core.errors import SettingError, UdpFileError
from avatar_app.core.frames import UdpMap
from avatar_app.io._files import natural_sort_key
from avatar_app.io.udp import fit_udp, load_udp, save_udp
from avatar_app.io.udp_sequence import iter_udp_sequence, list_udp_files

FORMATS = [".npz", ".exr", ".png"]
PNG_STEP = 1 / 65535


def _body(height=32, width=24, seed=0) -> np.ndarray:
    """A UDP map: a blob with smooth xyz, zeros outside."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    visible = ((rows - 0.5) ** 2 + (cols - 0.4) ** 2 < 0.12).astype(np.float32)
    xyz = np.stack([cols, rows, 0.5 + 0.3 * np.sin(7 * rows + rng.random())], axis=-1)
    return np.concatenate([xyz * visible[..., None], visible[..., None]], axis=-1).astype(np.float32)


def _tolerance(suffix: str) -> float:
    return 0.5 * PNG_STEP + 1e-7 if suffix == ".png" else 0.0


# ---------------------------------------------------------------- round trips and layout


@pytest.mark.parametrize("suffix", FORMATS)
def test_udp_round_trips_through_every_format(tmp_path, suffix):
    udp = UdpMap(_body())
    path = save_udp(tmp_path / f"pose{suffix}", udp)
    loaded = load_udp(path, timestamp=1.5)
    assert loaded.data.dtype == np.float32 and loaded.data.shape == (32, 24, 4)
    np.testing.assert_allclose(loaded.data, udp.data, rtol=0, atol=_tolerance(suffix))
    assert loaded.timestamp == 1.5


@pytest.mark.parametrize("suffix", [".exr", ".png"])
def test_x_is_stored_in_the_red_channel_despite_opencv_bgr_order(tmp_path, suffix):
    data = np.zeros((8, 8, 4), np.float32)
    data[..., 0], data[..., 1], data[..., 2], data[..., 3] = 1.0, 0.5, 0.25, 1.0
    path = save_udp(tmp_path / f"pose{suffix}", UdpMap(data))
    raw = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED).astype(np.float64)
    scale = 65535.0 if suffix == ".png" else 1.0
    blue, green, red, alpha = (raw[0, 0] / scale).tolist()
    assert (red, green, blue, alpha) == pytest.approx((1.0, 0.5, 0.25, 1.0), abs=1e-5)
    assert tuple(load_udp(path).data[0, 0]) == pytest.approx((1.0, 0.5, 0.25, 1.0), abs=1e-5)


def test_npz_layout_is_key_i_with_xyz_then_visibility(tmp_path):
    udp = UdpMap(_body())
    path = save_udp(tmp_path / "pose.npz", udp)
    with np.load(path) as npz:
        assert npz.files == ["i"]
        np.testing.assert_array_equal(npz["i"], udp.data)


def test_reference_style_npz_loads(tmp_path):
    data = _body().astype(np.float64)  # the reference casts whatever float it finds
    np.savez(tmp_path / "ref.npz", i=data)
    np.testing.assert_allclose(load_udp(tmp_path / "ref.npz").data, data, atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(
    data=arrays(
        np.float32, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(4)), elements=st.floats(0, 1, width=32)
    ),
    suffix=st.sampled_from(FORMATS),
)
def test_udp_save_load_round_trip_property(data, suffix):
    data = data.copy()
    stored_visibility = np.round(data[..., 3] * 65535.0) if suffix == ".png" else data[..., 3]
    data[..., :3][stored_visibility == 0] = 0.0  # the loader's convention: no xyz where (stored as) invisible
    with tempfile.TemporaryDirectory() as folder:
        loaded = load_udp(save_udp(Path(folder) / f"p{suffix}", UdpMap(data)))
    assert loaded.data.shape == data.shape
    tolerance = _tolerance(suffix)
    np.testing.assert_allclose(loaded.data, data, rtol=0, atol=tolerance)
    if suffix == ".png":  # zero stays exactly zero, so the background stays background
        assert (loaded.data[data == 0] == 0).all()


def test_xyz_where_invisible_are_zeroed_and_logged(tmp_path, caplog):
    data = _body()
    data[0, 0, :3] = (0.3, 0.3, 0.3)  # a stray coordinate outside the body
    data[0, 0, 3] = 0.0
    np.savez(tmp_path / "stray.npz", i=data)
    with caplog.at_level(logging.INFO, logger="avatar_app.io.udp"):
        loaded = load_udp(tmp_path / "stray.npz")
    assert (loaded.data[0, 0] == 0).all()
    assert "zeroing xyz at 1 pixel" in caplog.text


def test_values_within_tolerance_of_the_range_are_clipped(tmp_path):
    data = _body()
    data[10, 10] = (1.0005, -0.0005, 0.5, 1.0)
    np.savez(tmp_path / "float16ish.npz", i=data)
    assert tuple(load_udp(tmp_path / "float16ish.npz").data[10, 10]) == (1.0, 0.0, 0.5, 1.0)


# ---------------------------------------------------------------- errors


def test_missing_udp_file_is_rejected_with_hint(tmp_path, assert_helpful):
    for suffix in FORMATS:
        with pytest.raises(UdpFileError) as exc_info:
            load_udp(tmp_path / f"nope{suffix}")
        assert_helpful(exc_info, tmp_path / f"nope{suffix}", "no such file", fix_words=["check the path"])


def test_unknown_udp_extension_is_rejected_with_hint(tmp_path, assert_helpful):
    path = tmp_path / "pose.jpg"
    path.write_bytes(b"whatever")
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(path)
    assert_helpful(exc_info, path, ".jpg", fix_words=[".npz", ".exr", ".png"])


@pytest.mark.parametrize("suffix", FORMATS)
def test_corrupt_udp_file_is_rejected_with_hint(tmp_path, suffix, assert_helpful):
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(bytes(np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8)))
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(path)
    assert_helpful(exc_info, path, "corrupt", fix_words=["re-export"])


@pytest.mark.parametrize("suffix", FORMATS)
def test_truncated_udp_file_is_rejected_with_hint(tmp_path, suffix, assert_helpful):
    path = save_udp(tmp_path / f"cut{suffix}", UdpMap(np.random.default_rng(2).random((64, 64, 4), dtype=np.float32)))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(path)
    assert_helpful(exc_info, path, "corrupt", fix_words=["re-export"])


def test_npz_without_key_i_lists_the_keys_found(tmp_path, assert_helpful):
    np.savez(tmp_path / "other.npz", udp=_body(), mask=_body()[..., 3])
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(tmp_path / "other.npz")
    assert_helpful(exc_info, tmp_path / "other.npz", "'udp'", "'mask'", fix_words=["i=udp"])


def test_bare_npy_under_an_npz_name_is_rejected_with_hint(tmp_path, assert_helpful):
    path = tmp_path / "bare.npz"
    with open(path, "wb") as f:
        np.save(f, _body())
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(path)
    assert_helpful(exc_info, path, ".npy", fix_words=["np.savez"])


def test_pickled_npz_is_refused(tmp_path, assert_helpful):
    np.savez(tmp_path / "objects.npz", i=np.array([{"x": 1}], dtype=object))
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(tmp_path / "objects.npz")
    assert_helpful(exc_info, tmp_path / "objects.npz", "pickled", fix_words=["float32"])


@pytest.mark.parametrize(
    "shape, word",
    [
        ((16, 16, 3), "without visibility"),
        ((16, 16), "[16, 16]"),
        ((2, 2, 16, 16, 4), "[2, 2, 16, 16, 4]"),
        ((16, 16, 5), "[16, 16, 5]"),
    ],
)
def test_npz_with_wrong_dims_or_channels_is_rejected_with_hint(tmp_path, shape, word, assert_helpful):
    np.savez(tmp_path / "shape.npz", i=np.zeros(shape, np.float32))
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(tmp_path / "shape.npz")
    assert_helpful(
        exc_info, tmp_path / "shape.npz", word, fix_words=["channel" if "visibility" in word else "[H, W, 4]"]
    )


def test_integer_npz_is_rejected_with_hint(tmp_path, assert_helpful):
    np.savez(tmp_path / "ints.npz", i=np.zeros((8, 8, 4), np.uint16))
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(tmp_path / "ints.npz")
    assert_helpful(exc_info, tmp_path / "ints.npz", "uint16", fix_words=["float32"])


@pytest.mark.parametrize("channels", [1, 3])
def test_png_or_exr_without_visibility_channel_is_rejected_with_hint(tmp_path, channels, assert_helpful):
    shape = (16, 16) if channels == 1 else (16, 16, 3)
    for suffix, array in [(".png", np.full(shape, 30000, np.uint16)), (".exr", np.full(shape, 0.5, np.float32))]:
        path = tmp_path / f"c{channels}{suffix}"
        path.write_bytes(cv2.imencode(suffix, array)[1].tobytes())
        with pytest.raises(UdpFileError) as exc_info:
            load_udp(path)
        assert_helpful(
            exc_info, path, f"{channels}-channel", fix_words=["visibility" if channels == 3 else "r, g, b, a"]
        )


def test_8_bit_png_is_rejected_asking_for_16_bit(tmp_path, assert_helpful):
    path = tmp_path / "coarse.png"
    path.write_bytes(cv2.imencode(".png", np.full((16, 16, 4), 128, np.uint8))[1].tobytes())
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(path)
    assert_helpful(exc_info, path, "8-bit", "too coarse", fix_words=["16 bits"])


def test_nan_and_inf_are_counted_and_located(tmp_path, assert_helpful):
    data = _body()
    data[3, 5, 1] = np.nan
    data[7, 2, 3] = np.inf
    np.savez(tmp_path / "nan.npz", i=data)
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(tmp_path / "nan.npz")
    assert_helpful(exc_info, tmp_path / "nan.npz", "2 NaN/inf", "row 3, column 5, channel y", fix_words=["re-export"])


def test_nan_in_exr_is_rejected(tmp_path, assert_helpful):
    data = _body()
    data[0, 1, 0] = np.nan
    path = tmp_path / "nan.exr"
    path.write_bytes(cv2.imencode(".exr", cv2.cvtColor(data, cv2.COLOR_RGBA2BGRA))[1].tobytes())
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(path)
    assert_helpful(exc_info, path, "1 NaN/inf", "channel x")


def test_values_out_of_range_are_rejected_with_the_convention(tmp_path, assert_helpful):
    data = _body()
    data[4, 4, 2] = 1.7  # e.g. coordinates in metres, not normalised
    data[5, 5, 0] = -0.2
    np.savez(tmp_path / "metres.npz", i=data)
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(tmp_path / "metres.npz")
    assert_helpful(
        exc_info,
        tmp_path / "metres.npz",
        "2 value(s)",
        "max 1.7",
        "min -0.2",
        "row 4, column 4, channel z",
        fix_words=["[0, 1]"],
    )


def test_a_sequence_file_is_not_one_map(tmp_path, assert_helpful):
    np.savez(tmp_path / "clip.npz", i=np.stack([_body()] * 3))
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(tmp_path / "clip.npz")
    assert_helpful(exc_info, tmp_path / "clip.npz", "3 frames", fix_words=["iter_udp_sequence"])


def test_saving_bad_data_or_an_unknown_format_fails_before_writing(tmp_path):
    with pytest.raises(UdpFileError, match="outside"):
        save_udp(tmp_path / "bad.png", np.full((4, 4, 4), 2.0, np.float32))
    with pytest.raises(UdpFileError, match="'.tif'"):
        save_udp(tmp_path / "bad.tif", UdpMap(_body()))
    with pytest.raises(UdpFileError, match="3 frames"):
        save_udp(tmp_path / "clip.exr", np.stack([_body()] * 3))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- fitting to the model size


def test_fit_udp_uses_nearest_so_no_coordinate_is_invented():
    udp = UdpMap(_body(90, 70, seed=4))
    fitted = fit_udp(udp, 256)
    assert fitted.data.shape == (256, 256, 4)
    original = {tuple(v) for v in udp.data.reshape(-1, 4)}
    assert {tuple(v) for v in fitted.data.reshape(-1, 4)} <= original | {(0.0, 0.0, 0.0, 0.0)}
    assert set(np.unique(fitted.visibility)) <= {0.0, 1.0}


def test_fit_udp_keeps_the_aspect_and_centres_with_background():
    data = np.zeros((100, 50, 4), np.float32)
    data[...] = (0.2, 0.4, 0.6, 1.0)  # a fully visible rectangle shows where it lands
    fitted = fit_udp(UdpMap(data, timestamp=2.0), (256, 384))
    cols = np.flatnonzero(fitted.visibility.any(axis=0))
    rows = np.flatnonzero(fitted.visibility.any(axis=1))
    assert (rows[0], rows[-1]) == (0, 255)
    assert (cols[0], cols[-1]) == (128, 255)  # 128 wide, centred in 384
    assert fitted.timestamp == 2.0


def test_fit_udp_is_identity_at_the_model_size():
    udp = UdpMap(np.zeros((128, 256, 4), np.float32))
    assert fit_udp(udp, (128, 256)) is udp


@pytest.mark.parametrize("size", [100, (256, 300), 0, 256.0])
def test_fit_udp_rejects_sizes_the_model_cannot_run(size):
    with pytest.raises(SettingError, match="multiple of 128"):
        fit_udp(UdpMap(_body()), size)


# ---------------------------------------------------------------- sequences


def test_natural_sort_puts_frame_2_before_frame_10():
    names = ["frame_10.npz", "frame_2.npz", "Frame_1.npz", "frame_100.npz", "frame_02b.npz"]
    assert sorted(names, key=natural_sort_key) == [
        "Frame_1.npz",
        "frame_2.npz",
        "frame_02b.npz",
        "frame_10.npz",
        "frame_100.npz",
    ]


def test_folder_sequence_plays_in_natural_order_with_timestamps(tmp_path):
    for index in [10, 2, 1]:
        data = _body(seed=index)
        data[0, 0] = (index / 100, 0, 0, 1)  # tag each frame
        save_udp(tmp_path / f"frame_{index}{'.png' if index == 2 else '.npz'}", UdpMap(data))
    (tmp_path / "readme.txt").write_text("ignored")
    sequence = iter_udp_sequence(tmp_path, fps=10)
    assert [p.name for p in list_udp_files(tmp_path)] == ["frame_1.npz", "frame_2.png", "frame_10.npz"]
    assert len(sequence) == 3
    frames = list(sequence)
    assert [round(float(f.data[0, 0, 0]) * 100) for f in frames] == [1, 2, 10]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.1, 0.2])
    assert len(list(sequence)) == 3  # re-iterable


def test_npz_with_n_frames_is_a_sequence(tmp_path):
    clip = np.stack([_body(seed=s) for s in range(5)])
    save_udp(tmp_path / "clip.npz", clip)
    sequence = iter_udp_sequence(tmp_path / "clip.npz")
    assert len(sequence) == 5
    frames = list(sequence)
    for k, frame in enumerate(frames):
        np.testing.assert_array_equal(frame.data, clip[k])
    assert frames[-1].timestamp == pytest.approx(4 / 30)


def test_single_file_is_a_one_frame_sequence(tmp_path):
    save_udp(tmp_path / "one.exr", UdpMap(_body()))
    assert len(iter_udp_sequence(tmp_path / "one.exr")) == 1


def test_sequence_errors_name_the_path_and_fix(tmp_path, assert_helpful):
    with pytest.raises(UdpFileError) as exc_info:
        iter_udp_sequence(tmp_path / "missing")
    assert_helpful(exc_info, tmp_path / "missing", "no such file", fix_words=["check the path"])

    with pytest.raises(UdpFileError) as exc_info:
        iter_udp_sequence(tmp_path)
    assert_helpful(exc_info, tmp_path, "empty folder", fix_words=["one udp file per frame"])

    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(UdpFileError) as exc_info:
        iter_udp_sequence(tmp_path)
    assert_helpful(exc_info, tmp_path, "a.txt", fix_words=["one udp file per frame"])

    with pytest.raises(UdpFileError) as exc_info:
        iter_udp_sequence(tmp_path / "a.txt")
    assert_helpful(exc_info, tmp_path / "a.txt", ".txt", fix_words=[".npz"])


def test_sequence_checks_npz_files_when_opened(tmp_path, assert_helpful):
    np.savez(tmp_path / "frame_1.npz", pose=_body())
    with pytest.raises(UdpFileError) as exc_info:
        iter_udp_sequence(tmp_path)  # not only when iterated
    assert_helpful(exc_info, tmp_path / "frame_1.npz", "'pose'", fix_words=["i=udp"])
    (tmp_path / "frame_1.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(UdpFileError, match="corrupt"):
        iter_udp_sequence(tmp_path)


def test_sequence_rejects_bad_fps(tmp_path):
    save_udp(tmp_path / "one.npz", UdpMap(_body()))
    with pytest.raises(SettingError, match="fps"):
        iter_udp_sequence(tmp_path, fps=0)


def test_npz_header_count_matches_zip_without_decompressing(tmp_path):
    save_udp(tmp_path / "clip.npz", np.stack([_body()] * 4))
    with zipfile.ZipFile(tmp_path / "clip.npz") as archive:
        assert archive.namelist() == ["i.npy"]
    assert len(iter_udp_sequence(tmp_path / "clip.npz")) == 4


def test_exr_with_opencv_exr_switched_off_says_how_to_switch_it_on(tmp_path, monkeypatch, assert_helpful):
    path = save_udp(tmp_path / "pose.exr", UdpMap(_body()))
    monkeypatch.setenv("OPENCV_IO_ENABLE_OPENEXR", "0")
    with pytest.raises(UdpFileError) as exc_info:
        load_udp(path)
    assert_helpful(exc_info, path, "disabled", fix_words=["OPENCV_IO_ENABLE_OPENEXR=1", ".npz"])


def test_importing_the_io_package_enables_exr():
    import os

    import avatar_app.io  # noqa: F401

    assert os.environ.get("OPENCV_IO_ENABLE_OPENEXR") == "1"
