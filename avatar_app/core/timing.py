"""Stage timing: every stage records its duration; the CLI, GUI and bench read summaries."""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import contextmanager

import numpy as np


class StageStats:
    """Rolling per-stage durations (milliseconds), safe to read from another thread."""

    def __init__(self, window: int = 300):
        self._window = window
        self._samples: dict[str, deque] = {}
        self._lock = threading.Lock()

    def record(self, stage: str, ms: float) -> None:
        with self._lock:
            self._samples.setdefault(stage, deque(maxlen=self._window)).append(float(ms))

    @contextmanager
    def time(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(stage, (time.perf_counter() - start) * 1000.0)

    def summary(self) -> dict[str, dict[str, float]]:
        """``{stage: {"p50_ms", "p95_ms", "mean_ms", "count"}}`` over the window."""
        with self._lock:
            items = {k: np.asarray(v) for k, v in self._samples.items() if v}
        return {
            k: {
                "p50_ms": float(np.percentile(v, 50)),
                "p95_ms": float(np.percentile(v, 95)),
                "mean_ms": float(v.mean()),
                "count": int(v.size),
            }
            for k, v in items.items()
        }

    def samples(self, stage: str) -> list[float]:
        with self._lock:
            return list(self._samples.get(stage, ()))
