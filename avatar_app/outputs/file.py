"""Recording to a file: a FrameSink over the writers of ``avatar_app.io.video``.

The writer is chosen by the path (``open_writer``): ``.mp4`` (mp4v, plays anywhere)
and ``.avi`` (lossless FFV1) are composited over ``background_rgb``; a folder or a
name without suffix gets straight-alpha PNG frames, the one format here that keeps
transparency. No video codec with alpha is possible through OpenCV: its FFmpeg
writer accepts only 1- or 3-channel 8-bit input (CV_8UC1/CV_8UC3/CV_16UC1) and
silently drops 4-channel frames, whatever the codec (FFV1, PNG, HuffYUV tried).

A disk that fills ends the recording, never the stream, and keeps what was written. OpenCV's
video writer does not report a failed write (FFmpeg logs "Failed to write frame" and the file,
its index never written, does not play: tried with a file-size limit), so a video recording
stops while ``LOW_DISK_BYTES`` are still free, when the index still fits; the free space is
looked at once a second of video. A write that raises (PNG frames) stops it the same way.
"""

from __future__ import annotations

import errno
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from avatar_app.core.frames import RgbaFrame
from avatar_app.io.video import OutputFileError, PngSequenceWriter, open_writer
from avatar_app.outputs.base import FrameSink, OutputStoppedError, check_background_rgb, check_fps

log = logging.getLogger(__name__)

LOW_DISK_BYTES = 64 * 2**20  # a recording stops with this much left: room for the video's index and the system


def free_bytes(path: Path) -> int | None:
    """Free bytes on the disk that holds ``path`` (a file or folder to be), None when that cannot be told."""
    folder = path if path.is_dir() else path.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


class FileSink(FrameSink):
    """Writes every frame to ``path`` (video over ``background_rgb``, or PNG frames with alpha)."""

    def __init__(
        self,
        path: str | Path,
        fps: float = 30,
        background_rgb=(0, 255, 0),
        *,
        width: int | None = None,
        height: int | None = None,
        free_space: Callable[[Path], int | None] = free_bytes,
    ):
        self.path = Path(path)
        super().__init__(width, height, name=str(self.path))
        self.fps = check_fps(fps)
        self.background_rgb = check_background_rgb(background_rgb)
        self._free_space = free_space
        self._check_every = max(1, round(self.fps))  # frames: once a second of video
        free = free_space(self.path)
        if free is not None and free < LOW_DISK_BYTES:
            raise OutputFileError(
                self.path,
                f"at least {LOW_DISK_BYTES // 2**20} MB free to record",
                f"{_mb(free)} left on its disk",
                "free space on that disk or record to another drive",
            )
        self._writer = open_writer(self.path, self.fps, self.background_rgb)
        log.info(
            "recording to %s (%s)",
            self.path,
            "PNG frames with alpha" if self.keeps_alpha else f"video over {self.background_rgb}",
        )

    @property
    def keeps_alpha(self) -> bool:
        return isinstance(self._writer, PngSequenceWriter)

    def _send(self, frame: RgbaFrame) -> None:
        if self.frames_sent % self._check_every == 0:
            free = self._free_space(self.path)
            if free is not None and free < LOW_DISK_BYTES:
                raise self._stop_recording(f"the disk is nearly full ({_mb(free)} left)", full=True)
        try:
            self._writer.write(frame)
        except (OSError, OutputFileError) as exc:  # the disk filled, or the drive went away
            cause = exc if isinstance(exc, OSError) else exc.__cause__
            full = isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)
            detail = getattr(cause, "strerror", None) or str(exc)
            raise self._stop_recording(f"{'the disk is full' if full else 'a write error'} ({detail})", full) from exc

    def _stop_recording(self, found: str, full: bool) -> OutputStoppedError:
        """Close the file now, so what was written stays playable, and say so (the caller raises it)."""
        self._closed = True  # close() after this is a no-op; send() is refused
        try:
            self._writer.close()
        except Exception as close_exc:  # noqa: BLE001 the frames written so far matter more than this error
            log.warning("%s: closing the file failed too: %s", self.path, close_exc)
        kept = f"the {self.frames_sent} frame(s) before it are saved and the file is closed"
        return OutputStoppedError(
            self.path,
            "room to keep recording" if full else "a writable recording",
            f"{found} at frame {self.frames_sent + 1}; {kept}",
            "free space on that disk or record to another drive, then start a new recording"
            if full
            else "check the drive (still connected, writable), then start a new recording",
        )

    def _close(self) -> None:
        self._writer.close()
        log.info("%s: %d frames written", self.path, self.frames_sent)


def _mb(count: int) -> str:
    return f"{count // 2**20} MB"  # rounded down: 63.99 MB is not the 64 MB asked for
