"""Recording to a file: a FrameSink over the writers of ``avatar_app.io.video``.

The writer is chosen by the path (``open_writer``): ``.mp4`` (mp4v, plays anywhere)
and ``.avi`` (lossless FFV1) are composited over ``background_rgb``; a folder or a
name without suffix gets straight-alpha PNG frames, the one format here that keeps
transparency. No video codec with alpha is possible through OpenCV: its FFmpeg
writer accepts only 1- or 3-channel 8-bit input (CV_8UC1/CV_8UC3/CV_16UC1) and
silently drops 4-channel frames, whatever the codec (FFV1, PNG, HuffYUV tried).
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path

from avatar_app.core.frames import RgbaFrame
from avatar_app.io.video import OutputFileError, PngSequenceWriter, open_writer
from avatar_app.outputs.base import FrameSink, OutputStoppedError, check_background_rgb, check_fps

log = logging.getLogger(__name__)


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
    ):
        self.path = Path(path)
        super().__init__(width, height, name=str(self.path))
        self.fps = check_fps(fps)
        self.background_rgb = check_background_rgb(background_rgb)
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
        try:
            self._writer.write(frame)
        except (OSError, OutputFileError) as exc:  # the disk filled, or the drive went away
            raise self._stop_recording(exc) from exc

    def _stop_recording(self, exc: Exception) -> OutputStoppedError:
        """Close the file now, so what was written stays playable, and say so (the caller raises it)."""
        cause = exc if isinstance(exc, OSError) else exc.__cause__
        full = isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)
        reason = "the disk is full" if full else "a write error"
        detail = getattr(cause, "strerror", None) or str(exc)
        self._closed = True  # close() after this is a no-op; send() is refused
        try:
            self._writer.close()
        except Exception as close_exc:  # noqa: BLE001 the frames written so far matter more than this error
            log.warning("%s: closing the file after the write error failed too: %s", self.path, close_exc)
        kept = f"the {self.frames_sent} frame(s) before it are saved and the file is closed"
        return OutputStoppedError(
            self.path,
            "room to keep recording" if full else "a writable recording",
            f"{reason} ({detail}) at frame {self.frames_sent + 1}; {kept}",
            "free space on that disk or record to another drive, then start a new recording"
            if full
            else "check the drive (still connected, writable), then start a new recording",
        )

    def _close(self) -> None:
        self._writer.close()
        log.info("%s: %d frames written", self.path, self.frames_sent)
