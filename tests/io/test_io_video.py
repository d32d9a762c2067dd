"""Frame writers: real files written with OpenCV and read back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from avatar_app.core.errors import InputError, SettingError
from avatar_app.core.frames import RgbaFrame
from avatar_app.io.video import AviWriter, Mp4Writer, OutputFileError, PngSequenceWriter, open_writer, read_video_frames

RED_HALF = (0.5, 0.0, 0.0, 0.5)  # premultiplied: straight red at 50% alpha


def _frame(height=64, width=96, value=(1.0, 0.0, 0.0, 1.0), timestamp=0.0) -> RgbaFrame:
    """A transparent frame with an opaque (or given) block on its left half."""
    data = np.zeros((height, width, 4), np.float32)
    data[:, : width // 2] = value
    return RgbaFrame(data, timestamp)


def test_mp4_has_every_frame_and_the_background_where_alpha_is_zero(tmp_path):
    path = tmp_path / "out.mp4"
    with Mp4Writer(path, fps=25) as writer:
        for k in range(7):
            writer.write(_frame(timestamp=k / 25))
        assert writer.frames_written == 7
    frames = read_video_frames(path)
    assert len(frames) == 7
    for rgb in frames:
        assert rgb.shape == (64, 96, 3) and rgb.dtype == np.uint8
        background = rgb[8:56, 56:88].reshape(-1, 3).astype(int)  # away from the edge (lossy codec)
        assert np.abs(background - (0, 255, 0)).max() <= 12
        foreground = rgb[8:56, 8:40].reshape(-1, 3).astype(int)
        assert np.abs(foreground - (255, 0, 0)).max() <= 12


def test_lossless_avi_keeps_exact_background_and_composite(tmp_path):
    path = tmp_path / "out.avi"
    with AviWriter(path, fps=30, background_rgb=(0, 0, 255)) as writer:
        for _ in range(3):
            writer.write(_frame(value=RED_HALF))
    frames = read_video_frames(path)
    assert len(frames) == 3
    assert (frames[0][:, 48:] == (0, 0, 255)).all()
    expected = _frame(value=RED_HALF).over((0, 0, 255))[0, 0]  # 50% red over blue
    assert tuple(frames[0][10, 10]) == tuple(expected) == (128, 0, 128)


def test_odd_frame_sizes_are_padded_with_the_background(tmp_path):
    path = tmp_path / "odd.avi"
    with AviWriter(path, fps=30) as writer:
        writer.write(_frame(height=33, width=47))
    (rgb,) = read_video_frames(path)
    assert rgb.shape == (34, 48, 3)
    assert (rgb[33] == (0, 255, 0)).all() and (rgb[:, 47] == (0, 255, 0)).all()
    assert tuple(rgb[5, 5]) == (255, 0, 0)


def test_png_sequence_keeps_straight_alpha_and_numbers_frames(tmp_path):
    folder = tmp_path / "frames"
    with PngSequenceWriter(folder, start_index=5) as writer:
        for _ in range(3):
            writer.write(_frame(value=RED_HALF))
    assert writer.frames_written == 3
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["frame_000005.png", "frame_000006.png", "frame_000007.png"]
    bgra = cv2.imread(str(folder / names[0]), cv2.IMREAD_UNCHANGED)
    rgba = cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)
    assert tuple(rgba[0, 0]) == (255, 0, 0, 128)  # un-premultiplied: full red at half alpha
    assert tuple(rgba[0, -1]) == (0, 0, 0, 0)


def test_png_sequence_warns_before_overwriting_frames(tmp_path, caplog):
    with PngSequenceWriter(tmp_path) as writer:
        writer.write(_frame())
    PngSequenceWriter(tmp_path).close()
    assert "already holds 1 frame_*.png" in caplog.text


@pytest.mark.parametrize(
    "name, kind",
    [("clip.mp4", Mp4Writer), ("clip.MP4", Mp4Writer), ("clip.avi", AviWriter), ("frames", PngSequenceWriter)],
)
def test_open_writer_picks_by_suffix(tmp_path, name, kind):
    with open_writer(tmp_path / name, fps=24) as writer:
        assert type(writer) is kind
        writer.write(_frame())
    assert (tmp_path / name).exists()


def test_open_writer_uses_an_existing_folder_for_png_frames_even_with_a_dot(tmp_path):
    folder = tmp_path / "take.v2"
    folder.mkdir()
    with open_writer(folder) as writer:
        assert isinstance(writer, PngSequenceWriter)


def test_open_writer_rejects_unknown_suffix_with_hint(tmp_path, assert_helpful):
    with pytest.raises(OutputFileError) as exc_info:
        open_writer(tmp_path / "clip.mov")
    assert_helpful(exc_info, tmp_path / "clip.mov", ".mov", fix_words=[".mp4", ".avi", "folder"])


def test_video_writer_that_cannot_open_names_the_path(tmp_path, assert_helpful):
    folder_named_like_a_video = tmp_path / "taken.mp4"
    folder_named_like_a_video.mkdir()
    with pytest.raises(OutputFileError) as exc_info:
        Mp4Writer(folder_named_like_a_video, fps=30, frame_size=(64, 64))
    assert_helpful(exc_info, folder_named_like_a_video, "could not open", fix_words=["writable"])


def test_video_under_a_file_instead_of_a_folder_is_rejected(tmp_path, assert_helpful):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(OutputFileError) as exc_info:
        Mp4Writer(blocker / "out.mp4", fps=30)
    assert_helpful(exc_info, blocker / "out.mp4", "cannot be created", fix_words=["writable"])


def test_png_sequence_onto_an_existing_file_is_rejected(tmp_path, assert_helpful):
    existing = tmp_path / "frames"
    existing.write_text("x")
    with pytest.raises(OutputFileError) as exc_info:
        PngSequenceWriter(existing)
    assert_helpful(exc_info, existing, "existing file", fix_words=["folder"])


def test_writers_check_frames_and_lifecycle(tmp_path):
    writer = Mp4Writer(tmp_path / "a.mp4", fps=30)
    writer.write(_frame(64, 96))
    with pytest.raises(ValueError, match="96x64"):
        writer.write(_frame(32, 32))
    with pytest.raises(TypeError, match="RgbaFrame"):
        writer.write(np.zeros((64, 96, 4), np.float32))
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(ValueError, match="after close"):
        writer.write(_frame(64, 96))
    assert len(read_video_frames(tmp_path / "a.mp4")) == 1


def test_closing_an_unused_video_writer_creates_no_file(tmp_path):
    Mp4Writer(tmp_path / "empty.mp4", fps=30).close()
    assert not (tmp_path / "empty.mp4").exists()


@pytest.mark.parametrize(
    "kwargs, setting",
    [
        ({"fps": 0}, "fps"),
        ({"fps": 30, "background_rgb": (0, 300, 0)}, "background_rgb"),
        ({"fps": 30, "background_rgb": "green"}, "background_rgb"),
    ],
)
def test_bad_writer_settings_are_rejected(tmp_path, kwargs, setting):
    with pytest.raises(SettingError, match=setting):
        Mp4Writer(tmp_path / "x.mp4", **kwargs)


def test_read_video_frames_on_a_missing_file_names_it(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_video_frames(tmp_path / "missing.mp4")
