"""Writers for rendered frames: MP4 / AVI through OpenCV, and straight-alpha PNG sequences.

Video files carry no alpha, so frames are composited over a solid background
(chroma-key green by default) with ``RgbaFrame.over``. PNG sequences keep the alpha,
un-premultiplied, which is what image editors and OBS's image-slideshow expect.

OpenCV's bundled FFmpeg writes mp4v, MJPG and FFV1 but not H.264, hence mp4v for
``.mp4`` and lossless FFV1 for ``.avi`` (for keying in an editor without artefacts).
yuv420 needs even sizes and OpenCV would silently drop the last row/column, so odd
frames are padded with the background colour instead.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from avatar_app.core.errors import InputError, SettingError
from avatar_app.core.frames import RgbaFrame

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi")
PNG_FRAME_PATTERN = "frame_{:06d}.png"


class OutputFileError(InputError):
    """An output file or folder cannot be created or written."""


class FrameWriter:
    """What every writer offers: ``write(RgbaFrame)``, ``frames_written``, ``close()``, ``with``."""

    path: Path
    frames_written: int = 0
    _closed: bool = False

    def write(self, frame: RgbaFrame) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: write() after close()")
        if not isinstance(frame, RgbaFrame):
            raise TypeError(f"{self.path}: write() expects an RgbaFrame, got {type(frame).__name__}")
        self._write(frame)
        self.frames_written += 1

    def _write(self, frame: RgbaFrame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _OpenCvVideoWriter(FrameWriter):
    fourcc = ""
    description = ""

    def __init__(
        self, path: str | Path, fps: float = 30.0, background_rgb=(0, 255, 0), frame_size: tuple[int, int] | None = None
    ):
        """``frame_size`` (width, height) opens the file now; otherwise the first frame sets it."""
        self.path = Path(path)
        if not (isinstance(fps, (int, float)) and fps > 0):
            raise SettingError("fps", "a positive frame rate", repr(fps), "use e.g. 30")
        self.fps = float(fps)
        self.background_rgb = _check_colour(background_rgb)
        _make_parent(self.path)
        self._writer: cv2.VideoWriter | None = None
        self._input_size: tuple[int, int] | None = None
        if frame_size is not None:
            self._open(*frame_size)

    def _open(self, width: int, height: int) -> None:
        even = (width + width % 2, height + height % 2)
        if even != (width, height):
            log.info("%s: padding %dx%d frames to %dx%d (the codec needs even sizes)", self.path, width, height, *even)
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, even)
        if not writer.isOpened():
            writer.release()
            raise OutputFileError(
                self.path,
                f"a writable {self.description} file",
                f"OpenCV could not open a {self.fourcc} video writer for {width}x{height} at {self.fps:g} fps",
                "check that the folder is writable and the name is not a folder, "
                "or give a folder name (PNG frames) instead",
            )
        self._writer, self._input_size = writer, (width, height)

    def _write(self, frame: RgbaFrame) -> None:
        height, width = frame.data.shape[:2]
        if self._writer is None:
            self._open(width, height)
        elif (width, height) != self._input_size:
            raise ValueError(
                f"{self.path}: every frame must be {self._input_size[0]}x{self._input_size[1]} "
                f"(the first frame's size), got {width}x{height}"
            )
        rgb = frame.over(self.background_rgb)
        if width % 2 or height % 2:
            rgb = np.pad(rgb, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
            rgb[height:, :] = self.background_rgb
            rgb[:, width:] = self.background_rgb
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        elif not self._closed:
            log.info("%s: no frames written, so no file was created", self.path)
        super().close()


class Mp4Writer(_OpenCvVideoWriter):
    """MPEG-4 part 2 (mp4v) in .mp4: plays everywhere; lossy, composited over ``background_rgb``."""

    fourcc = "mp4v"
    description = "MP4 (mp4v)"


class AviWriter(_OpenCvVideoWriter):
    """FFV1 in .avi: lossless, so a chroma key stays clean; composited over ``background_rgb``."""

    fourcc = "FFV1"
    description = "AVI (FFV1, lossless)"


class PngSequenceWriter(FrameWriter):
    """Straight-alpha RGBA PNGs ``frame_000000.png``, ``frame_000001.png``, ... in ``folder``."""

    def __init__(self, folder: str | Path, start_index: int = 0):
        self.path = Path(folder)
        if not isinstance(start_index, (int, np.integer)) or start_index < 0:
            raise SettingError(
                "start_index", "a frame number >= 0", repr(start_index), "use 0 to start at frame_000000.png"
            )
        if self.path.exists() and not self.path.is_dir():
            raise OutputFileError(
                self.path,
                "a folder for PNG frames",
                "an existing file",
                "choose a folder name, or a name ending in .mp4 or .avi for a video",
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputFileError(
                self.path,
                "a folder for PNG frames",
                f"one that cannot be created ({exc.strerror or exc})",
                "choose a writable location",
            ) from exc
        if not os.access(self.path, os.W_OK):
            raise OutputFileError(
                self.path, "a writable folder for PNG frames", "a read-only folder", "choose a writable location"
            )
        existing = sum(1 for _ in self.path.glob("frame_*.png"))
        if existing:
            log.warning(
                "%s already holds %d frame_*.png file(s); frames written now overwrite those with the same number",
                self.path,
                existing,
            )
        self.next_index = int(start_index)

    def _write(self, frame: RgbaFrame) -> None:
        bgra = cv2.cvtColor(frame.to_straight_rgba8(), cv2.COLOR_RGBA2BGRA)
        ok, encoded = cv2.imencode(".png", bgra)
        if not ok:
            raise OutputFileError(
                self.path, "PNG encoding to succeed", "OpenCV refused the frame", "report this with the frame size"
            )
        target = self.path / PNG_FRAME_PATTERN.format(self.next_index)
        try:
            target.write_bytes(encoded.tobytes())
        except OSError as exc:
            raise OutputFileError(
                target,
                "a writable PNG file",
                f"an error writing it ({exc.strerror or exc})",
                "check the free disk space and permissions",
            ) from exc
        self.next_index += 1


def open_writer(out_path: str | Path, fps: float = 30.0, background_rgb=(0, 255, 0)) -> FrameWriter:
    """Pick a writer by ``out_path``: ``.mp4`` -> Mp4Writer, ``.avi`` -> AviWriter (lossless),
    an existing folder or a name without suffix -> PngSequenceWriter (keeps alpha)."""
    path = Path(out_path)
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == "":
        return PngSequenceWriter(path)
    if suffix == ".mp4":
        return Mp4Writer(path, fps, background_rgb)
    if suffix == ".avi":
        return AviWriter(path, fps, background_rgb)
    raise OutputFileError(
        path,
        "a name ending in .mp4 or .avi, or a folder for PNG frames",
        f"the extension '{path.suffix}'",
        "use .mp4 (plays anywhere), .avi (lossless FFV1) or a folder name without extension (PNG frames with alpha)",
    )


def read_video_frames(path: str | Path) -> list[np.ndarray]:
    """Every frame of a video file as uint8 RGB [H, W, 3] (for tests and tools)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "a video file", "no such file", "check the path")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise InputError(
                path, "a video OpenCV can read", "a file it cannot open", "check that the file is a complete .mp4/.avi"
            )
        frames = []
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        return frames
    finally:
        capture.release()


def _check_colour(colour) -> tuple[int, int, int]:
    values = tuple(colour) if isinstance(colour, (tuple, list, np.ndarray)) else ()
    if len(values) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in values):
        raise SettingError(
            "background_rgb",
            "three integers 0..255, e.g. (0, 255, 0)",
            repr(colour),
            "use (0, 255, 0) for chroma-key green",
        )
    return tuple(int(v) for v in values)


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFileError(
            path,
            "a file in a folder that exists or can be created",
            f"a folder that cannot be created ({exc.strerror or exc})",
            "choose a writable location",
        ) from exc
