"""Where live poses come from: one small interface, `PoseSource`, and the clocked sources.

A source hands the pipeline `PoseSample`s: a timestamp (``time.monotonic()`` when the
input was captured or sampled; end-to-end latency is measured from it) and either a
`HumanoidPose` for the rig, or a `UdpMap` that skips rig and raster (the UDP-detector
source). Sources pace themselves: `read` returns the next sample when it is due (a clock
tick, a camera frame) or None after ``timeout`` seconds, so the pipeline's pose thread can
check for shutdown. Tracking that drops out is not an error: a source keeps producing
(see `PoseHold`) and says what is going on in ``status``.

Here: `MotionSource` (the demo motion or a BVH file, on a clock) and `VmcSource` (the
newest pose a VMC sender sent). Camera sources live in ``camera_sources``.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import UdpMap
from avatar_app.rig.expressions import Expression
from avatar_app.rig.humanoid import HumanoidPose
from avatar_app.rig.quaternion import quat_slerp
from avatar_app.tracking.expression_filter import ExpressionTrack
from avatar_app.tracking.retarget import RELAXED_POSE

log = logging.getLogger(__name__)

IDLE_POSE = RELAXED_POSE  # arms relaxed at the sides: what a source shows with nothing to track


@dataclass(frozen=True, eq=False)
class PoseSample:
    """One source output: a rig pose, or a UDP map that skips rig and raster.

    ``timings_ms`` holds the source's own work (e.g. landmarks, retarget), not its waiting.
    ``image`` / ``landmarks``: what a camera source saw (RGB uint8, `PoseLandmarks`), for
    previews only; nothing downstream reads them. ``expression``: the face this frame
    (validated and smoothed by the source; None: neutral), carried with the pose to the rig.
    ``tracked``: False when nothing was tracked for this pose (held or idle: a lost camera,
    nobody in view, a silent VMC sender); the idle life (``source_layers``) moves it then.
    """

    timestamp: float
    pose: HumanoidPose | None = None
    udp: UdpMap | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    image: np.ndarray | None = None
    landmarks: object | None = None
    expression: Expression | None = None
    tracked: bool = True

    def __post_init__(self):
        if (self.pose is None) == (self.udp is None):
            raise ValueError("PoseSample carries exactly one of pose or udp")


class PoseSource(ABC):
    """Yields `PoseSample`s at its own pace. Use as a context manager or call `close()`.

    ``open()`` runs on the pipeline's pose thread before the first `read`, so a source
    can create thread-bound resources there (a mediapipe tracker). ``close()`` is
    idempotent and may be called from another thread once the pose thread has stopped.
    """

    name = "source"
    yields_udp = False  # True: samples carry UDP maps, the pipeline skips rig + raster

    def open(self) -> None:  # noqa: B027 optional no-op hook
        """Start devices and threads; called on the pose thread. Default: nothing to do."""

    @abstractmethod
    def read(self, timeout: float) -> PoseSample | None:
        """The next sample when it is due, or None after ``timeout`` s (or at the end)."""

    @property
    def status(self) -> str:
        return "ended" if self.ended else "running"

    @property
    def ended(self) -> bool:
        """True once the source has nothing more to give (a video file played to its end)."""
        return False

    @property
    def dropped(self) -> int:
        """Inputs the source itself dropped because nobody read them in time (camera frames)."""
        return 0

    def close(self) -> None:  # noqa: B027 optional no-op hook
        """Release devices and threads; safe to call more than once."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_source_fps(fps: float | None) -> float | None:
    if fps is None:
        return None
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 240:
        raise SettingError("fps", "a frame rate above 0 and at most 240", repr(fps), "use e.g. --fps 30")
    return float(fps)


class Ticker:
    """A frame clock: `wait` returns each tick's time when it is due; late ticks are skipped, not burst.

    ``fps=None`` ticks as fast as it is asked (benchmarks). `close` wakes a waiting caller.
    """

    def __init__(self, fps: float | None, clock=time.monotonic):
        self.fps = check_source_fps(fps)
        self.period = 0.0 if self.fps is None else 1.0 / self.fps
        self._clock = clock
        self._next: float | None = None
        self._closed = threading.Event()
        self.skipped = 0  # ticks skipped because the caller came late

    def wait(self, timeout: float) -> float | None:
        now = self._clock()
        if self._next is None or self.period == 0.0:
            self._next = now
        delay = self._next - now
        if delay > timeout:
            self._closed.wait(timeout)
            return None
        if delay > 0 and self._closed.wait(delay):
            return None
        tick = self._next
        self._next += self.period
        behind = self._clock() - self._next
        if behind > self.period > 0:  # fell more than a frame behind: skip, do not catch up in a burst
            skipped = int(behind // self.period)
            self.skipped += skipped
            self._next += skipped * self.period
        return tick

    def close(self) -> None:
        self._closed.set()


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def blend_poses(a: HumanoidPose, b: HumanoidPose, w: float) -> HumanoidPose:
    """``a`` at w=0, ``b`` at w=1: slerp per bone, lerp the hips."""
    if w <= 0.0:
        return a
    if w >= 1.0:
        return b
    rotations = quat_slerp(a.rotations, b.rotations, np.full(len(a.rotations), w))
    return HumanoidPose(rotations, (1.0 - w) * np.asarray(a.hips_translation) + w * np.asarray(b.hips_translation))


class PoseHold:
    """What a tracked source shows when tracking drops out (camera lost, nobody in view).

    The avatar holds the last tracked pose for ``hold_s`` (a blink of lost tracking should
    not move it), then eases to ``idle`` over ``ease_s`` (a frozen mid-gesture avatar looks
    broken). When tracking returns it eases from what it showed to the tracked pose over
    ``resume_s`` instead of snapping.
    """

    def __init__(
        self, idle: HumanoidPose = IDLE_POSE, hold_s: float = 0.5, ease_s: float = 1.0, resume_s: float = 0.25
    ):
        self.idle, self.hold_s, self.ease_s, self.resume_s = idle, hold_s, ease_s, resume_s
        self._last: HumanoidPose | None = None  # last tracked pose
        self._last_t = 0.0
        self._shown: HumanoidPose = idle  # last pose handed out
        self._resume_from: HumanoidPose | None = None
        self._resume_t = 0.0
        self.missing_since: float | None = None

    def tracked(self, pose: HumanoidPose, now: float) -> HumanoidPose:
        if self.missing_since is not None:
            self._resume_from, self._resume_t = self._shown, now
            self.missing_since = None
        self._last, self._last_t = pose, now
        if self._resume_from is not None:
            w = _smoothstep((now - self._resume_t) / self.resume_s) if self.resume_s > 0 else 1.0
            if w >= 1.0:
                self._resume_from = None
            else:
                pose = blend_poses(self._resume_from, pose, w)
        self._shown = pose
        return pose

    def missing(self, now: float) -> HumanoidPose:
        if self.missing_since is None:
            self.missing_since = now
        if self._last is None:
            self._shown = self.idle
            return self.idle
        gap = now - self._last_t
        w = _smoothstep((gap - self.hold_s) / self.ease_s) if self.ease_s > 0 else float(gap > self.hold_s)
        self._shown = blend_poses(self._last, self.idle, w)
        return self._shown


class MotionSource(PoseSource):
    """A motion (``pose_at(t) -> HumanoidPose``: the demo, a BVH file) played on a clock at ``fps``.

    Motion time is wall-clock time since the first read, so a slow pipeline skips ahead
    rather than playing in slow motion. A motion with expressions (``has_expressions``,
    ``expression_at(t)``: the demo's script, a BVH side track) drives the face; without, the
    avatar blinks idly.
    """

    def __init__(self, motion, fps: float | None = 30.0, name: str = "motion", clock=time.monotonic):
        if not callable(getattr(motion, "pose_at", None)):
            raise SettingError(
                f"{name} source",
                "a motion with pose_at(t)",
                type(motion).__name__,
                "pass DemoMotion() or load_bvh(path)",
            )
        self.motion = motion
        self.name = name
        self._ticker = Ticker(fps, clock)
        self._start: float | None = None
        self._face = motion.expression_at if getattr(motion, "has_expressions", False) else None
        self.expressions = ExpressionTrack(name, smoothing=False, idle_blink=self._face is None)

    def read(self, timeout: float) -> PoseSample | None:
        tick = self._ticker.wait(timeout)
        if tick is None:
            return None
        if self._start is None:
            self._start = tick
        t0 = time.perf_counter()
        t = tick - self._start
        pose = self.motion.pose_at(t)
        expression = self.expressions.update(None if self._face is None else self._face(t), t)
        timings = {"pose": 1000.0 * (time.perf_counter() - t0)}
        return PoseSample(tick, pose=pose, timings_ms=timings, expression=expression)

    @property
    def dropped(self) -> int:
        return self._ticker.skipped

    def close(self) -> None:
        self._ticker.close()


class VmcSource(PoseSource):
    """The newest pose a VMC sender (VSeeFace, VMagicMirror, ...) sent, sampled at ``fps``.

    Until the first message the avatar stands idle; when messages stop for
    ``stale_after_s`` the last pose is held and the status says so. The receiver binds
    its port here, so a port in use is a `SettingError` at construction.
    """

    name = "vmc"

    def __init__(
        self,
        port: int = 39539,
        host: str = "127.0.0.1",
        fps: float | None = 30.0,
        *,
        hip_height_m: float | None = None,
        stale_after_s: float = 1.0,
        clock=time.monotonic,
    ):
        from avatar_app.tracking.vmc import VmcReceiver

        self._ticker = Ticker(fps, clock)
        self._clock = clock
        self.hip_height_m = hip_height_m
        self.stale_after_s = stale_after_s
        self.receiver = VmcReceiver(host, port)
        self._status = f"waiting for VMC data on {self.receiver.host}:{self.receiver.port}"
        self._pose: HumanoidPose = IDLE_POSE
        self._seen = 0  # message count at the last pose update
        self.expressions = ExpressionTrack(f"VMC sender on port {self.receiver.port}")

    @property
    def port(self) -> int:
        return self.receiver.port

    def read(self, timeout: float) -> PoseSample | None:
        from avatar_app.tracking.retarget import humanoid_pose_from_vmc

        tick = self._ticker.wait(timeout)
        if tick is None:
            return None
        t0 = time.perf_counter()
        state = self.receiver.snapshot()
        timestamp = tick
        tracked = False  # no data yet, or stale: an idle or held pose
        if state.messages:
            age = self._clock() - state.received_at
            if state.messages != self._seen:
                self._pose, self._seen = humanoid_pose_from_vmc(state, self.hip_height_m), state.messages
                timestamp = min(tick, state.received_at)  # latency counts from when the pose arrived
            tracked = age <= self.stale_after_s
            self._status = (
                "running"
                if tracked
                else f"no VMC data for {age:.0f} s (holding the last pose): is the sender still running "
                f"and sending to port {self.receiver.port}?"
            )
        expression = self.expressions.update_raw(state.blendshapes, tick)
        timings = {"vmc": 1000.0 * (time.perf_counter() - t0)}
        return PoseSample(timestamp, pose=self._pose, timings_ms=timings, expression=expression, tracked=tracked)

    @property
    def status(self) -> str:
        return self._status

    def close(self) -> None:
        self._ticker.close()
        self.receiver.close()
