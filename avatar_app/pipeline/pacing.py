"""When the live pipeline's raster stage rasterizes, and when its renderer is busy.

A slow renderer (CoNR on a CPU) cannot take a UDP map per source frame, and rasterizing
at the source's rate would only take CPU from it. :class:`RenderPacer` keeps running
estimates of the time between poses, a raster and a render, and says which poses to skip:
every pose but the last one whose raster can be ready when a render lane frees up. That
one is rasterized while the render finishes, so the renderer never waits for the source
(waiting for the first pose after the end cost half a pose interval a frame on average: a
50 ms render at 30 fps gave 15 fps instead of 20).

With ``lanes`` > 1 (frames in flight) the renderer is busy while every lane is, and for a
lane's share of a render (``render_s / lanes``) after each start: renders started close
together would end close together, in either order (the older one then cannot be shown),
and the frames would come in bursts. Spaced, they come evenly and in order. Estimates and the renders in flight are
shared by the raster thread and the render lanes, under one lock. :class:`FramesInFlight`
is the render stage's side: it starts each frame on a free lane and hands the results on
in source order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RenderPacer", "FramesInFlight", "MAX_POSE_GAP_S"]

MAX_POSE_GAP_S = 0.1  # a longer gap between poses is a stall, not the source's rate
SMOOTHING = 0.3  # weight of the newest measurement in each running estimate


class RenderPacer:
    """Running estimates (seconds) and the renders in flight, for skipping rasters a busy renderer could not take."""

    def __init__(self, clock: Callable[[], float], lanes: int = 1):
        self._clock, self.lanes = clock, lanes
        self._lock = threading.Lock()
        self.raster_s = 0.0
        self.render_s: float | None = None
        self.pose_dt_s = 0.0
        self._seen_pose_t: float | None = None
        self._started: dict[int, float] = {}  # frame index -> when its render began
        self._last_start: float | None = None

    def pose_arrived(self, timestamp: float) -> None:
        seen, self._seen_pose_t = self._seen_pose_t, timestamp
        if seen is not None and 0.0 < timestamp - seen < MAX_POSE_GAP_S:
            self.pose_dt_s = _smoothed(self.pose_dt_s or None, timestamp - seen)

    def skip(self) -> bool:
        """Skip the pose that just arrived: a later one's raster will still be ready when a lane frees up."""
        return self.busy_for_s() > self.pose_dt_s + self.raster_s

    def raster_took(self, seconds: float) -> None:
        self.raster_s = _smoothed(self.raster_s or None, seconds)

    def render_started(self, index: int) -> None:
        with self._lock:
            self._started[index] = self._last_start = self._clock()

    def render_ended(self, index: int) -> None:
        with self._lock:
            self.render_s = _smoothed(self.render_s, self._clock() - self._started.pop(index))

    @property
    def busy(self) -> bool:
        """The renderer cannot start a frame now: every lane is rendering, or the last start is too recent."""
        with self._lock:
            return len(self._started) >= self.lanes or self._spacing_s() > 0.0

    def spacing_s(self) -> float:
        """How long until a lane's share of a render has passed since the last start (0: now, or one lane)."""
        with self._lock:
            return self._spacing_s()

    def _spacing_s(self) -> float:
        if self.lanes == 1 or self._last_start is None or self.render_s is None:
            return 0.0
        return self._last_start + self.render_s / self.lanes - self._clock()

    def busy_for_s(self) -> float:
        """How much longer until the next render can start (0 when a lane waits for input; before
        the first render finished, assume the oldest takes as long again as it has so far)."""
        with self._lock:
            wait = self._spacing_s()
            if len(self._started) >= self.lanes:
                elapsed = self._clock() - min(self._started.values())
                wait = max(wait, elapsed if self.render_s is None else self.render_s - elapsed)
            return wait


def _smoothed(estimate: float | None, measured: float) -> float:
    """A running estimate: the first measurement, then each new one weighted SMOOTHING."""
    return measured if estimate is None else estimate + SMOOTHING * (measured - estimate)


class FramesInFlight:
    """The render stage with ``renderer.lanes`` frames at once (``AvatarRenderer.submit``).

    `wait_for_lane` holds a free lane (the stage calls it before taking a UDP map, which
    would only age while it waited), `start` starts the frame on it; when it is done (on the
    lane's thread) the frame gets its ``rgba`` and goes to ``deliver``, unless a newer frame
    was delivered first (counted in :attr:`late`), and a failure goes to ``fail``. `drain`
    waits for the frames still in flight (before the renderer is closed).
    """

    def __init__(self, renderer, pacer: RenderPacer, stats, deliver: Callable, fail: Callable[[BaseException], None]):
        self.renderer, self.pacer, self.stats = renderer, pacer, stats
        self._deliver, self._fail = deliver, fail
        self._free = threading.Semaphore(renderer.lanes)
        self._lock = threading.Lock()
        self._newest = -1
        self._held = False  # a lane taken by wait_for_lane, for the next start
        self.late = 0

    def wait_for_lane(self, poll_s: float) -> bool:
        """Hold a free lane; False if none freed up within ``poll_s`` (the stage checks for stop and asks again).
        One lane: always True (the stage renders on its own thread, `start` is not used)."""
        if self.renderer.lanes == 1:
            return True
        self._held = self._held or self._free.acquire(timeout=poll_s)
        wait = self.pacer.spacing_s() if self._held else 0.0
        if wait > 0.0:
            time.sleep(min(wait, poll_s))
            return False
        return self._held

    def start(self, frame) -> None:
        if not self._held:
            self._free.acquire()
        self._held = False
        try:
            self.renderer.express(frame.expression)
            self.pacer.render_started(frame.index)
            started = time.perf_counter()
            future = self.renderer.submit(frame.udp, frame.color)
        except BaseException:
            self._free.release()
            raise
        future.add_done_callback(lambda done: self._done(frame, done, started))

    def _done(self, frame, future, started: float) -> None:
        try:
            self.pacer.render_ended(frame.index)
            self.stats.record("render", 1000.0 * (time.perf_counter() - started))
            frame.rgba = future.result()
            with self._lock:
                newest = frame.index > self._newest
                self._newest = max(self._newest, frame.index)
                self.late += not newest
            if newest:
                self._deliver(frame)
        except Exception as exc:
            self._fail(exc)
        finally:
            self._free.release()

    def drain(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for _ in range(self.renderer.lanes):
            self._free.acquire(timeout=max(0.0, deadline - time.monotonic()))
