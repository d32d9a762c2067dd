"""Notices the weights folder of a running pipeline changing, so the window can follow it.

``adapt`` (from the window, or from a terminal while the window streams) and a user copying
new files in both rewrite a weights folder under a running stream. The stream itself never
reads the folder again after it started, so it goes on either way; this says when the folder
has new contents worth loading: its files changed since the pipeline started (or since the
last try that failed) and then stayed unchanged for ``settle_s`` (``adapt`` writes file by
file, and a half-written folder is not worth a try).
"""

from __future__ import annotations

import time
from pathlib import Path

from avatar_app.pipeline.builder import _files_stamp

WEIGHTS_SETTLE_S = 1.0


class WeightsWatch:
    def __init__(self, settle_s: float = WEIGHTS_SETTLE_S, clock=time.monotonic):
        self.settle_s, self._clock = settle_s, clock
        self.folder: Path | None = None
        self._loaded = self._failed = None  # stamps: what the pipeline was built from, what did not load
        self._pending: tuple | None = None  # (stamp, first seen at)

    def started(self, folder: Path | None) -> None:
        """A pipeline is being built from ``folder`` as it is now (None: it uses no weights)."""
        self.folder = Path(folder) if folder is not None else None
        self._loaded = _files_stamp(self.folder) if self.folder is not None else None
        self._failed = self._pending = None

    def due(self) -> bool:
        """True when the folder holds new files that have settled and were not tried yet."""
        if self.folder is None:
            return False
        stamp = _files_stamp(self.folder)
        if stamp in (self._loaded, self._failed):
            self._pending = None
            return False
        if self._pending is None or self._pending[0] != stamp:
            self._pending = (stamp, self._clock())
            return False
        return self._clock() - self._pending[1] >= self.settle_s

    def failed(self, error: str) -> str:
        """The folder's present files did not load: not tried again until they change; the message."""
        self._failed, self._pending = _files_stamp(self.folder), None
        return (
            f"{self.folder}: expected the changed weights to load, found {error}; the stream goes on with "
            "the weights it started with. Fix: let adapt finish, or put the four .pth files (and model.json) "
            "back whole; they are loaded as soon as they change again"
        )
