"""Webcam capture on a named thread, publishing the newest frame into a latest-value slot.

A camera that disappears (unplugged, taken by another app, a driver hiccup) is a
normal event for a live app, not an error: the capture thread reports
"camera lost, retrying in X s" and reopens with capped exponential backoff. No
exception ever leaves the thread; `status` and the `on_status` callback say what
is going on.

Frames are RGB (not OpenCV's BGR): every consumer downstream (mediapipe, the
GUI preview, the UDP detector) wants RGB, so we convert once here.

A video file stands in for a webcam (tests, demos): it is paced at its own frame
rate and can loop; its end is explicit (status "ended", slot closed) unless
``loop=True``.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from avatar_app.core.errors import InputError, SettingError
from avatar_app.core.slots import LatestSlot

log = logging.getLogger(__name__)


class VideoCaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` we use; a test wrapper implements the same."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def get(self, prop_id: int) -> float: ...
    def set(self, prop_id: int, value: float) -> bool: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[int | str], VideoCaptureLike]


def open_video_capture(source: int | str) -> VideoCaptureLike:
    """Default factory: a plain ``cv2.VideoCapture`` (not-opened on a missing device, never raises)."""
    return cv2.VideoCapture(source)


@dataclass(frozen=True)
class CapturedFrame:
    """One camera frame. ``rgb`` is uint8 [H, W, 3], RGB order, C-contiguous."""

    timestamp: float  # time.monotonic() seconds, taken when read() returned
    rgb: np.ndarray
    index: int  # counts every frame published since start(), across reconnects and loops

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return self.rgb.shape[0], self.rgb.shape[1]


class CaptureState(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    LOST = "lost"
    ENDED = "ended"  # a video file reached its end (loop=False)
    STOPPED = "stopped"


@dataclass(frozen=True)
class CaptureStatus:
    state: CaptureState
    retry_in_s: float | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.state is CaptureState.LOST:
            return f"camera lost, retrying in {round(self.retry_in_s, 2):g} s"
        return self.state.value


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class CaptureSource:
    """Frames from a camera index, a device path, a stream URL or a video file.

    ``frames`` is a `LatestSlot` of `CapturedFrame`; a slow consumer gets the
    newest frame and ``frames.dropped`` counts the ones it never saw. Use as a
    context manager, or call `start()` and `close()`.

    width/height/fps are requests to a camera (the driver may pick something
    else; the negotiated values are logged). For a file, ``fps`` overrides the
    pacing rate and ``realtime=False`` turns pacing off.
    """

    def __init__(
        self,
        source: int | str,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        *,
        loop: bool = False,
        realtime: bool = True,
        capture_factory: CaptureFactory = open_video_capture,
        on_status: Callable[[CaptureStatus], None] | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 8.0,
        join_timeout_s: float = 5.0,
    ):
        self.source = self._validate_source(source)
        self.is_file = isinstance(self.source, str) and os.path.isfile(self.source)
        for name, value in (("width", width), ("height", height), ("fps", fps)):
            if value is not None and not value > 0:
                raise SettingError(
                    f"capture {name}",
                    "a positive number or None",
                    repr(value),
                    f"drop {name} or pass e.g. 640x480 at 30 fps",
                )
        if loop and not self.is_file:
            raise SettingError(
                "capture loop",
                "loop=True only for a video file",
                f"source {self.source!r}",
                "drop loop=True for cameras",
            )
        if not (0 < backoff_initial_s <= backoff_max_s):
            raise SettingError(
                "capture backoff",
                "0 < backoff_initial_s <= backoff_max_s",
                f"{backoff_initial_s}, {backoff_max_s}",
                "use e.g. 0.5 and 8.0",
            )
        self.width, self.height, self.fps = width, height, fps
        self.loop = loop
        self.realtime = realtime
        self._factory = capture_factory
        self._on_status = on_status
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._join_timeout_s = join_timeout_s

        self.frames: LatestSlot[CapturedFrame] = LatestSlot()
        self.losses = 0  # times the camera was lost (open failed or read failed)
        self.reconnects = 0  # times frames resumed after a loss
        self.frames_read = 0
        self._status = CaptureStatus(CaptureState.STARTING)
        self._status_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _validate_source(source: int | str) -> int | str:
        if isinstance(source, bool) or not isinstance(source, (int, str, os.PathLike)):
            raise InputError(
                "capture source",
                "a camera index, a device path or a video file",
                repr(source),
                "pass e.g. 0 or 'clip.mp4'",
            )
        if isinstance(source, os.PathLike):
            source = os.fspath(source)
        if isinstance(source, str) and source.strip().isdigit():
            source = int(source)
        if isinstance(source, int):
            if source < 0:
                raise InputError("capture source", "a camera index >= 0", str(source), "use 0 for the first camera")
            return source
        if source.startswith("/dev/") or "://" in source or os.path.isfile(source):
            return source
        raise InputError(
            source,
            "an existing video file, a device path (/dev/video0) or a camera index",
            "no such file",
            "check the path",
        )

    # -- public -------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """ "running", "camera lost, retrying in X s", "ended", "stopped" (or "starting")."""
        return str(self._status)

    @property
    def status_info(self) -> CaptureStatus:
        return self._status

    @property
    def state(self) -> CaptureState:
        return self._status.state

    def start(self) -> CaptureSource:
        if self._thread is not None:
            return self
        name = f"capture-{self.source if isinstance(self.source, int) else os.path.basename(str(self.source))}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        return self

    def read(self, timeout: float | None = None) -> CapturedFrame | None:
        """The newest frame not taken yet (waits up to ``timeout`` s); None on timeout or end."""
        return self.frames.take(timeout)

    def close(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._join_timeout_s)
            if thread.is_alive():
                log.warning(
                    "capture thread %s did not stop within %.1f s (read() blocked in the driver)",
                    thread.name,
                    self._join_timeout_s,
                )
        if self._status.state is not CaptureState.ENDED:
            self._set_status(CaptureStatus(CaptureState.STOPPED))
        self.frames.close()

    def __enter__(self) -> CaptureSource:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- thread -------------------------------------------------------------------------------

    def _set_status(self, status: CaptureStatus) -> None:
        with self._status_lock:
            if status == self._status:
                return
            self._status = status
        if status.state is CaptureState.LOST:
            log.warning("capture %r: %s (%s)", self.source, status, status.reason)
        else:
            log.info("capture %r: %s", self.source, status)
        if self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:  # a broken callback must not kill the stream
                log.exception("capture status callback failed")

    def _open(self) -> tuple[VideoCaptureLike | None, str]:
        try:
            cap = self._factory(self.source)
        except Exception as exc:  # a factory may raise (e.g. a backend error); that is a lost camera
            return None, f"open raised {type(exc).__name__}: {exc}"
        if cap is None or not cap.isOpened():
            if cap is not None:
                cap.release()
            return None, "could not open"
        if not self.is_file:
            self._configure_camera(cap)
        return cap, ""

    def _configure_camera(self, cap: VideoCaptureLike) -> None:
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer stale frames queued in the driver
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        got = (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT), cap.get(cv2.CAP_PROP_FPS))
        log.info(
            "capture %r opened at %dx%d, %.1f fps (asked %sx%s, %s fps)",
            self.source,
            got[0],
            got[1],
            got[2],
            self.width,
            self.height,
            self.fps,
        )

    def _run(self) -> None:
        backoff = self._backoff_initial_s
        while not self._stop.is_set():
            cap, reason = self._open()
            if cap is None:
                outcome, frames = "lost", 0
            else:
                try:
                    outcome, frames, reason = self._stream(cap)
                finally:
                    cap.release()
            if outcome == "stopped":
                break
            if outcome == "eof":
                if self.loop:
                    continue  # reopen the file from its first frame
                self._set_status(CaptureStatus(CaptureState.ENDED))
                self.frames.close()
                return
            if frames:
                backoff = self._backoff_initial_s  # it worked for a while: start the backoff again
            self.losses += 1
            self._set_status(CaptureStatus(CaptureState.LOST, retry_in_s=backoff, reason=reason))
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2.0, self._backoff_max_s)
        self._set_status(CaptureStatus(CaptureState.STOPPED))

    def _at_end_of_file(self, cap: VideoCaptureLike, frames: int) -> bool:
        if not self.is_file or frames == 0:
            return False
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        return count <= 0 or cap.get(cv2.CAP_PROP_POS_FRAMES) >= count

    def _stream(self, cap: VideoCaptureLike) -> tuple[str, int, str]:
        """Read until stop, end of file or failure: ("stopped" | "eof" | "lost", frames read, reason)."""
        period = 0.0
        if self.is_file and self.realtime:
            rate = self.fps or cap.get(cv2.CAP_PROP_FPS)
            period = 1.0 / rate if rate and rate > 0 else 1.0 / 30.0
        frames = 0
        next_due = time.monotonic()
        while not self._stop.is_set():
            try:
                ok, frame = cap.read()
            except Exception as exc:  # cv2 can raise on a vanished device; treat as lost
                return "lost", frames, f"read raised {type(exc).__name__}: {exc}"
            if not ok or frame is None:
                if self._at_end_of_file(cap, frames):
                    return "eof", frames, ""
                return "lost", frames, "read failed"
            timestamp = time.monotonic()
            if frames == 0 and self._status.state is CaptureState.LOST:
                self.reconnects += 1
            frames += 1
            self.frames.put(CapturedFrame(timestamp, np.ascontiguousarray(_to_rgb(frame)), self.frames_read))
            self.frames_read += 1
            self._set_status(CaptureStatus(CaptureState.RUNNING))
            if period:
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -period:
                    next_due = time.monotonic()  # fell behind: do not burst to catch up
        return "stopped", frames, ""
