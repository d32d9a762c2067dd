"""What the live pipeline reports: a status snapshot, an fps meter and the one-line rendering of both.

The CLI prints `format_status_line` about twice a second; the GUI and ``tools/bench.py``
read the same `PipelineStatus`. Snapshots are plain frozen values, safe to keep.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

# Stage names in hot-path order, for tables and the status line (sources add their own parts).
STAGE_ORDER = ("pose", "landmarks", "smooth", "retarget", "vmc", "detect", "rig", "raster", "render", "send")


@dataclass(frozen=True)
class PipelineStatus:
    """One snapshot of a running (or finished) pipeline.

    * ``state``: "starting", "running", "ended" (the source ended or ``max_frames`` was
      reached), "stopped" (``stop()``/``close()``), "failed" (a stage raised; see ``error``).
    * ``source``: the source's own words: "running", "camera lost, retrying in 0.5 s",
      "running, no person in view", "waiting for VMC data on 127.0.0.1:39539", ...
    * ``stages_ms``: ``{stage: {"p50_ms", "p95_ms", "mean_ms", "count"}}`` (StageStats).
    * ``latency_ms``: source timestamp -> every sink has the frame, ``{"p50_ms", "p95_ms", ...}``.
    * ``dropped``: per hand-off, outputs the next stage never saw (newer ones replaced them):
      "capture" (camera frames), "pose", "raster", "render".
    """

    state: str
    source: str
    renderer: str
    frames_sent: int = 0
    fps: float = 0.0
    stages_ms: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    latency_ms: Mapping[str, float] = field(default_factory=dict)
    dropped: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


def ordered_stages(stages_ms: Mapping[str, object]) -> list[str]:
    known = [s for s in STAGE_ORDER if s in stages_ms]
    return known + sorted(s for s in stages_ms if s not in STAGE_ORDER)


def format_status_line(status: PipelineStatus) -> str:
    """``29.9 fps | pose 0.4 rig 1.2 raster 9.1 render 0.1 send 2.0 ms | latency 24 ms (p95 31) | dropped 0 | ...``"""
    parts = [f"{status.fps:5.1f} fps"]
    stages = " ".join(f"{name} {status.stages_ms[name]['p50_ms']:.1f}" for name in ordered_stages(status.stages_ms))
    if stages:
        parts.append(stages + " ms")
    if status.latency_ms:
        parts.append(f"latency {status.latency_ms['p50_ms']:.0f} ms (p95 {status.latency_ms['p95_ms']:.0f})")
    if status.dropped:
        parts.append("dropped " + "/".join(str(status.dropped[k]) for k in status.dropped))
    parts.append(f"frames {status.frames_sent}")
    parts.append(f"source: {status.source}")
    if status.state not in ("running",):
        parts.append(status.state + (f": {status.error}" if status.error else ""))
    return " | ".join(parts)


def format_stage_table(status: PipelineStatus) -> str:
    """A small text table of every stage's p50/p95 and the end-to-end latency."""
    rows = [(name, status.stages_ms[name]) for name in ordered_stages(status.stages_ms)]
    if status.latency_ms:
        rows.append(("latency (end to end)", status.latency_ms))
    lines = [f"  {'stage':22s} {'p50 ms':>8s} {'p95 ms':>8s} {'count':>6s}"]
    lines += [f"  {name:22s} {s['p50_ms']:8.1f} {s['p95_ms']:8.1f} {int(s['count']):6d}" for name, s in rows]
    return "\n".join(lines)


class FpsMeter:
    """Frames per second over the last ``frames`` frames, whatever time they span.

    A fixed time window read 0.0 once frames took longer than the window, and a window
    holding a few frames jumped when two arrived close together; the last N frames give a
    steady reading at any rate. While no frame comes, the wait counts as part of the span
    once it is clearly longer than the usual gap, so a stalled pipeline reads falling
    towards 0 instead of its last rate.
    """

    STALL_GAPS = 2.0  # a wait this many mean gaps long (or longer than the longest gap seen) is a stall

    def __init__(self, frames: int = 30, clock=time.monotonic):
        if frames < 2:
            raise ValueError(f"FpsMeter: frames must be at least 2 (an interval needs two frames), got {frames}")
        self._clock = clock
        self._times: deque[float] = deque(maxlen=frames)
        self._lock = threading.Lock()

    def tick(self, t: float | None = None) -> None:
        t = self._clock() if t is None else t
        with self._lock:
            self._times.append(t)

    def fps(self, now: float | None = None) -> float:
        now = self._clock() if now is None else now
        with self._lock:
            times = tuple(self._times)
        if len(times) < 2:
            return 0.0
        span = times[-1] - times[0]
        if span <= 0:
            return 0.0
        gaps = len(times) - 1
        longest = max(b - a for a, b in zip(times, times[1:], strict=False))
        wait = now - times[-1]
        if wait > max(self.STALL_GAPS * span / gaps, longest):
            span += wait  # stalled: the rate includes the wait for the next frame
        return gaps / span
