"""FileSink writes real files that read back: video over the background, PNG frames with alpha."""

import cv2
import numpy as np
import pytest

from avatar_app.core.errors import InputError
from avatar_app.io.video import read_video_frames
from avatar_app.outputs import FileSink, FrameMismatchError

GREEN = (0, 255, 0)


def _frames(make_regions_frame, count=4):
    colours = [(0.9, 0.2, 0.1), (0.1, 0.3, 1.0), (1.0, 1.0, 0.2), (0.4, 0.1, 0.6)]
    return [make_regions_frame(48, 64, avatar_rgb=colours[i % 4], timestamp=i / 30) for i in range(count)]


def test_mp4_holds_every_frame_composited_over_the_background(tmp_path, make_regions_frame):
    frames = _frames(make_regions_frame)
    path = tmp_path / "take.mp4"
    with FileSink(path, fps=30, background_rgb=GREEN) as sink:
        assert not sink.keeps_alpha
        for frame in frames:
            sink.send(frame)
    decoded = read_video_frames(path)
    assert len(decoded) == len(frames)
    for rgb, frame in zip(decoded, frames):
        assert rgb.shape == (48, 64, 3)
        error = np.abs(rgb.astype(int) - frame.over(GREEN).astype(int))
        assert error.mean() < 4, error.mean()  # mp4v is lossy
        assert np.abs(rgb[30:40, 50:60].astype(int) - GREEN).max() <= 8  # transparent -> background


def test_avi_is_lossless_enough_to_key(tmp_path, make_regions_frame):
    frames = _frames(make_regions_frame, 2)
    with FileSink(tmp_path / "take.avi", background_rgb=(255, 0, 255)) as sink:
        for frame in frames:
            sink.send(frame)
    decoded = read_video_frames(tmp_path / "take.avi")
    assert len(decoded) == 2
    for rgb, frame in zip(decoded, frames):
        # FFV1 itself is lossless; only OpenCV's BGR->YUV conversion rounds.
        assert np.abs(rgb.astype(int) - frame.over((255, 0, 255)).astype(int)).max() <= 3


@pytest.mark.parametrize("name, exists", [("frames", False), ("take.v1", True)])
def test_folder_gets_png_frames_that_keep_alpha(tmp_path, make_regions_frame, name, exists):
    """A name without suffix, or an existing folder whatever its name."""
    frames = _frames(make_regions_frame, 3)
    folder = tmp_path / name
    if exists:
        folder.mkdir()
    with FileSink(folder, fps=30) as sink:
        assert sink.keeps_alpha
        for frame in frames:
            sink.send(frame)
    files = sorted(folder.glob("*.png"))
    assert len(files) == 3
    for file, frame in zip(files, frames):
        bgra = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
        rgba = cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)
        assert np.array_equal(rgba, frame.to_straight_rgba8())
        assert rgba[40, 60, 3] == 0 and rgba[40, 5, 3] == 255 and rgba[2, 60, 3] == 128


def test_frame_of_another_size_is_refused_and_the_file_stays_valid(tmp_path, make_regions_frame):
    path = tmp_path / "take.mp4"
    sink = FileSink(path)
    sink.send(make_regions_frame(48, 64))
    with pytest.raises(FrameMismatchError, match=r"\(48, 64, 4\)"):
        sink.send(make_regions_frame(64, 64))
    sink.close()
    assert len(read_video_frames(path)) == 1


def test_size_given_up_front_is_enforced_from_the_first_frame(tmp_path, make_regions_frame):
    with FileSink(tmp_path / "frames", width=32, height=32) as sink:
        with pytest.raises(FrameMismatchError):
            sink.send(make_regions_frame(48, 64))


def test_container_without_a_writer_is_refused_with_the_choices(tmp_path):
    with pytest.raises(InputError, match=r"\.mp4"):
        FileSink(tmp_path / "take.mkv")
