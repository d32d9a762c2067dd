"""Camera sources: webcam or video frames -> a rig pose (mediapipe) or a UDP map (UDP detector).

Both wrap a `CaptureSource`, whose own thread reads the device and reconnects with
backoff. A lost camera is a state, not an exception: while the capture reports it,
these sources keep producing samples at ``fps`` (the pose held, then eased to idle by
`PoseHold`; the UDP detector holds its last map) with the capture's words as status,
and pick the camera up again when frames return.
"""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import UdpMap, check_model_size
from avatar_app.infer.torch_thread import on_torch_thread
from avatar_app.pipeline.sources import PoseHold, PoseSample, PoseSource, check_source_fps
from avatar_app.tracking.capture import CapturedFrame, CaptureSource, CaptureState
from avatar_app.tracking.expression_filter import ExpressionTrack, expression_from_head

log = logging.getLogger(__name__)

# A gap this long between tracked frames restarts the smoothing filter: filtering across it
# would drag the first new pose towards one seconds old.
SMOOTHING_RESET_GAP_S = 0.5


class _CaptureBacked(PoseSource):
    """Shared by the camera sources: the capture's lifetime, status, drops, and the pacing while lost."""

    def __init__(self, capture: CaptureSource, fps: float | None):
        if not isinstance(capture, CaptureSource):
            raise SettingError(
                "camera source",
                "a CaptureSource",
                type(capture).__name__,
                "wrap the camera in CaptureSource(index or path)",
            )
        self.capture = capture
        fps = check_source_fps(fps)
        self.period = 1.0 / (fps or 30.0)  # how often to produce a held sample while the camera is lost
        self._note = ""  # the tracker's remark while running ("no person in view")

    def open(self) -> None:
        self.capture.start()

    def _next_frame(self, timeout: float) -> tuple[CapturedFrame | None, bool]:
        """(frame, lost): a frame when one came within the wait; lost=True when a held sample is due."""
        frame = self.capture.read(timeout=min(timeout, self.period))
        if frame is not None:
            return frame, False
        return None, self.capture.state in (CaptureState.LOST,)

    @property
    def ended(self) -> bool:
        return self.capture.state is CaptureState.ENDED and self.capture.frames.peek() is None

    @property
    def status(self) -> str:
        if self.capture.state is CaptureState.RUNNING and self._note:
            return f"running, {self._note}"
        return self.capture.status

    @property
    def dropped(self) -> int:
        return self.capture.frames.dropped

    def close(self) -> None:
        self.capture.close()


class CameraPoseSource(_CaptureBacked):
    """Camera frames -> mediapipe landmarks -> One-Euro smoothing -> `LandmarkRetargeter` -> pose.

    ``tracker`` (anything with ``track(rgb, timestamp) -> PoseLandmarks | None``) defaults
    to a `PoseTracker` created in `open()`, on the pose thread that uses it. ``skeleton`` is
    the character's (spine and neck rotation is shared among the bones it has).
    """

    name = "camera"

    def __init__(
        self,
        capture: CaptureSource,
        skeleton,
        *,
        fps: float | None = 30.0,
        tracker=None,
        smoothing: bool = True,
        min_cutoff: float = 1.0,
        beta: float = 1.6,
        hold: PoseHold | None = None,
        retarget_options: dict | None = None,
    ):
        from avatar_app.tracking.retarget import LandmarkRetargeter
        from avatar_app.tracking.smoothing import OneEuroFilter

        super().__init__(capture, fps)
        self.retargeter = LandmarkRetargeter(skeleton, **(retarget_options or {}))
        self._tracker = tracker
        self._owns_tracker = tracker is None
        # min_cutoff/beta: the smoothing module's starting point for metres (see its docstring).
        self._filter = OneEuroFilter(min_cutoff=min_cutoff, beta=beta) if smoothing else None
        self._last_tracked = None
        self.hold = hold or PoseHold()
        self._mirror = bool((retarget_options or {}).get("mirror", False))
        self.expressions = ExpressionTrack("webcam face")

    def open(self) -> None:
        if self._tracker is None:
            from avatar_app.tracking.landmarks import PoseTracker

            self._tracker = PoseTracker(running_mode="video")
        super().open()

    def read(self, timeout: float) -> PoseSample | None:
        frame, lost = self._next_frame(timeout)
        now = time.monotonic()
        if frame is None:
            face = self.expressions.update(None, now)
            return PoseSample(now, pose=self.hold.missing(now), expression=face, tracked=False) if lost else None
        t0 = time.perf_counter()
        landmarks = self._tracker.track(frame.rgb, frame.timestamp)
        t1 = time.perf_counter()
        timings = {"landmarks": 1000.0 * (t1 - t0)}
        if landmarks is None:
            self._note = "no person in view"
            face = self.expressions.update(None, now)
            pose = self.hold.missing(now)
            return PoseSample(
                frame.timestamp, pose=pose, timings_ms=timings, image=frame.rgb, expression=face, tracked=False
            )
        self._note = ""
        world = landmarks.world
        if self._filter is not None:
            if self._last_tracked is not None and frame.timestamp - self._last_tracked > SMOOTHING_RESET_GAP_S:
                self._filter.reset()
            world = self._filter.filter(world, frame.timestamp)
            self._last_tracked = frame.timestamp
        t2 = time.perf_counter()
        pose = self.hold.tracked(self.retargeter.humanoid_pose(world, landmarks.visibility), now)
        t3 = time.perf_counter()
        timings.update(smooth=1000.0 * (t2 - t1), retarget=1000.0 * (t3 - t2))
        face = self.expressions.update(expression_from_head(landmarks.head, self._mirror), frame.timestamp)
        return PoseSample(
            frame.timestamp, pose=pose, timings_ms=timings, image=frame.rgb, landmarks=landmarks, expression=face
        )

    def close(self) -> None:
        super().close()
        if self._owns_tracker and self._tracker is not None:
            self._tracker.close()
            self._tracker = None


def letterbox(rgb: np.ndarray, size: int) -> np.ndarray:
    """``rgb`` [H, W, 3] scaled to fit ``size`` x ``size`` (aspect kept), centred on black.

    Black is what the UDP detector sees as "no character": the sheet loader premultiplies
    transparent pixels to zero, and the detector takes its input the same way.
    """
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation) if (new_h, new_w) != (h, w) else rgb
    out = np.zeros((size, size, 3), np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    return out


class UdpDetectorSource(_CaptureBacked):
    """Camera frames -> letterboxed to the model size -> ``UDPDetector.detect`` -> UDP map.

    Skips landmarks, rig and raster: the neural detector reads the pose straight from the
    picture. While the camera is lost the last map is held (an empty map before the first).
    The source owns ``detector``: closing the source closes it (a ``Backend`` releases its
    sessions or engines) where it has a ``close()``.
    """

    name = "udp-detector"
    yields_udp = True

    def __init__(self, capture: CaptureSource, detector, size: int, *, fps: float | None = 30.0):
        super().__init__(capture, fps)
        if not callable(getattr(detector, "detect", None)):
            raise SettingError(
                "udp detector",
                "an object with detect(rgb, timestamp) -> UdpMap",
                type(detector).__name__,
                "pass registry.open_backend(..., parts=('udp_detector',))",
            )
        self.detector = detector
        self.size = check_model_size(size)
        self._last = UdpMap(np.zeros((self.size, self.size, 4), np.float32))

    def read(self, timeout: float) -> PoseSample | None:
        frame, lost = self._next_frame(timeout)
        if frame is None:
            return PoseSample(time.monotonic(), udp=self._last) if lost else None
        t0 = time.perf_counter()
        picture = letterbox(frame.rgb, self.size)
        t1 = time.perf_counter()
        self._last = on_torch_thread(self.detector.detect, picture, frame.timestamp)  # one OpenMP team
        t2 = time.perf_counter()
        timings_ms = {"letterbox": 1000.0 * (t1 - t0), "detect": 1000.0 * (t2 - t1)}
        return PoseSample(frame.timestamp, udp=self._last, timings_ms=timings_ms, image=frame.rgb)

    def close(self) -> None:
        super().close()
        close = getattr(self.detector, "close", None)
        if close is not None:
            close()
