"""A microphone driving the mouth: an `AudioInput` analysed block by block on its own thread.

Each block is analysed as it arrives (``MouthFromAudio``) and the result replaces the last one;
the pipeline reads the newest with `mouth()` when it makes a frame, so the mouth lags the sound
by at most one block (filling it) plus one frame (waiting for the next read). Nothing queues.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from avatar_app.tracking.audio_input import AudioInput
from avatar_app.tracking.mouth_from_audio import MicSettings, MouthFromAudio, MouthState

log = logging.getLogger(__name__)


class Microphone:
    """Owns ``audio`` (closed with it). `start()` once; `mouth()` from any thread; `close()` is idempotent."""

    def __init__(self, audio: AudioInput, settings: MicSettings | None = None):
        self.audio = audio
        self.analysis = MouthFromAudio(audio.sample_rate_hz, settings)
        self._lock = threading.Lock()
        self._latest: MouthState | None = None
        self._started = False
        self.error: str | None = None  # why the input stopped (shown in the status)

    @property
    def settings(self) -> MicSettings:
        return self.analysis.settings

    @settings.setter
    def settings(self, settings: MicSettings) -> None:
        if not isinstance(settings, MicSettings):
            raise TypeError(f"Microphone.settings: expected MicSettings, got {type(settings).__name__}")
        self.analysis.settings = settings  # replaced, never changed: the audio thread reads it once per block

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.audio.start(self._on_block)

    @property
    def started(self) -> bool:
        return self._started

    def _on_block(self, samples: np.ndarray, timestamp: float) -> None:
        state = self.analysis.process(samples, timestamp)
        with self._lock:
            self._latest = state

    def mouth(self) -> MouthState | None:
        """The mouth after the newest block (None before the first)."""
        with self._lock:
            return self._latest

    @property
    def status(self) -> str:
        if self.error:
            return f"mic {self.audio.name}: {self.error}"
        return f"mic {self.audio.name}: {self.audio.status}"

    def close(self) -> None:
        self.audio.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
