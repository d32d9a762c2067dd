"""Helpers for the live-pipeline tests: sinks behind the real FrameSink interface, a finite source,
thread checks, small real video files, and a camera that fails on cue."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_app.core.frames import RgbaFrame
from avatar_app.outputs.base import FrameSink
from avatar_app.pipeline import PoseSample, PoseSource

SIZE = 128


class RecordingSink(FrameSink):
    """Keeps every frame it is sent (copied); ``delay_s`` makes it a slow consumer."""

    def __init__(self, delay_s: float = 0.0, name: str = "recorder"):
        super().__init__(name=name)
        self.delay_s = delay_s
        self.frames: list[RgbaFrame] = []
        self.received_at: list[float] = []
        self.close_thread: str | None = None
        self._lock = threading.Lock()

    def _send(self, frame: RgbaFrame) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self.frames.append(RgbaFrame(frame.data.copy(), frame.timestamp))
            self.received_at.append(time.monotonic())

    def _close(self) -> None:
        self.close_thread = threading.current_thread().name

    def snapshot(self) -> list[RgbaFrame]:
        with self._lock:
            return list(self.frames)


class FiniteSource(PoseSource):
    """``count`` samples of ``pose_at(k / fps)`` at ``fps``, then the end of the stream."""

    name = "finite"

    def __init__(self, count: int, fps: float = 60.0, motion=None):
        from avatar_app.rig import DemoMotion

        self.count, self.period, self.motion = count, 1.0 / fps, motion or DemoMotion()
        self.produced = 0
        self.timestamps: list[float] = []
        self.closed = False

    def read(self, timeout):
        if self.produced >= self.count:
            return None
        time.sleep(self.period)
        t = time.monotonic()
        self.produced += 1
        self.timestamps.append(t)
        return PoseSample(t, pose=self.motion.pose_at(3.0 + self.produced * self.period))

    @property
    def ended(self) -> bool:
        return self.produced >= self.count

    def close(self) -> None:
        self.closed = True


def silhouette(frame: RgbaFrame) -> np.ndarray:
    return frame.data[..., 3] > 0.5


def write_frames_video(path: Path, images: list[np.ndarray], fps: float = 30.0) -> Path:
    """An mp4v clip of RGB ``images`` (all one size)."""
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened(), "OpenCV could not open an mp4v writer"
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def astronaut_rgb(size: int = 256) -> np.ndarray:
    """scikit-image's astronaut photo (a person, head and shoulders), RGB, ``size`` square."""
    from importlib.resources import files

    pytest.importorskip("skimage", reason="scikit-image (the test photograph) not installed")
    bgr = cv2.imread(str(files("skimage") / "data" / "astronaut.png"), cv2.IMREAD_COLOR)
    return cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (size, size), interpolation=cv2.INTER_AREA)


class FlakyCapture:
    """A real cv2.VideoCapture whose read() fails ``failures`` times after ``fail_after`` good reads."""

    def __init__(self, inner: cv2.VideoCapture, plan: dict):
        self._inner, self._plan = inner, plan

    def read(self):
        self._plan["reads"] += 1
        if self._plan["reads"] > self._plan["fail_after"] and self._plan["failures_left"] > 0:
            self._plan["failures_left"] -= 1
            return False, None
        return self._inner.read()

    def __getattr__(self, name):
        return getattr(self._inner, name)
