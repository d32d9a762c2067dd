"""Recording to a file: a FrameSink over the writers of ``avatar_app.io.video``.

The writer is chosen by the path (``open_writer``): ``.mp4`` (mp4v, plays anywhere)
and ``.avi`` (lossless FFV1) are composited over ``background_rgb``; a folder or a
name without suffix gets straight-alpha PNG frames, the one format here that keeps
transparency. No video codec with alpha is possible through OpenCV: its FFmpeg
writer accepts only 1- or 3-channel 8-bit input (CV_8UC1/CV_8UC3/CV_16UC1) and
silently drops 4-channel frames, whatever the codec (FFV1, PNG, HuffYUV tried).
"""

from __future__ import annotations

import logging
from pathlib import Path

from avatar_app.core.frames import RgbaFrame
from avatar_app.io.video import PngSequenceWriter, open_writer
from avatar_app.outputs.base import FrameSink, check_background_rgb, check_fps

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
        self._writer.write(frame)

    def _close(self) -> None:
        self._writer.close()
        log.info("%s: %d frames written", self.path, self.frames_sent)
