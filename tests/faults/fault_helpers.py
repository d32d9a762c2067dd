"""Helpers for the fault tests: a sink that counts what reaches it, and a disk that fills.

Faults are injected behind the real interfaces only: a frame writer that raises the OSError a
full disk raises, a VideoCapture over a file that is moved away, a VMC sender's UDP socket,
a WebSocket client's TCP connection, files in a weights folder.
"""

from __future__ import annotations

import errno
import os
import threading

from avatar_app.core.frames import RgbaFrame
from avatar_app.outputs.base import FrameSink

SIZE = 128


class CountingSink(FrameSink):
    """Counts the frames it is sent and keeps the newest (the other output that must go on)."""

    def __init__(self, name: str = "other output"):
        super().__init__(name=name)
        self.count = 0
        self.latest: RgbaFrame | None = None
        self._lock = threading.Lock()

    def _send(self, frame: RgbaFrame) -> None:
        with self._lock:
            self.count += 1
            self.latest = frame

    def _close(self) -> None:
        pass


class DiskFillsAfter:
    """Wraps a real frame writer (``avatar_app.io.video``): after ``frames`` frames every write
    raises ``OSError(ENOSPC)``, what a write to a full disk raises."""

    def __init__(self, writer, frames: int):
        self.writer, self.frames = writer, frames
        self.path = writer.path
        self.refused = 0

    @property
    def frames_written(self) -> int:
        return self.writer.frames_written

    def write(self, frame: RgbaFrame) -> None:
        if self.writer.frames_written >= self.frames:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        self.writer.write(frame)

    def close(self) -> None:
        self.writer.close()


def fill_disk_after(monkeypatch, frames: int) -> list[DiskFillsAfter]:
    """Every FileSink opened from now on writes through a `DiskFillsAfter`; returns them as they open."""
    import avatar_app.outputs.file as file_sink

    real_open_writer = file_sink.open_writer
    opened: list[DiskFillsAfter] = []

    def open_writer(path, fps=30.0, background_rgb=(0, 255, 0)):
        writer = DiskFillsAfter(real_open_writer(path, fps, background_rgb), frames)
        opened.append(writer)
        return writer

    monkeypatch.setattr(file_sink, "open_writer", open_writer)
    return opened
