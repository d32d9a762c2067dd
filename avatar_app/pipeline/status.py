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
    """Frames per second over the last ``window_s`` seconds (0 when nothing arrived lately)."""

    def __init__(self, window_s: float = 2.0, clock=time.monotonic):
        self.window_s = window_s
        self._clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self, t: float | None = None) -> None:
        t = self._clock() if t is None else t
        with self._lock:
            self._times.append(t)
            self._expire(t)

    def fps(self, now: float | None = None) -> float:
        now = self._clock() if now is None else now
        with self._lock:
            self._expire(now)
            if len(self._times) < 2:
                return 0.0
            span = self._times[-1] - self._times[0]
            return (len(self._times) - 1) / span if span > 0 else 0.0

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] < now - self.window_s:
            self._times.popleft()
