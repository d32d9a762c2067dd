"""Helpers for the microphone tests: the speech fixtures and a sound card the test clocks block by block.

The fixtures (``tests/tracking/audio/vowels_<voice>.wav`` + ``.json`` spans) were written by
``python tools/evaluate_mic.py --fixtures tests/tracking/audio``: espeak-ng's ``ja`` voice saying
``aa ih ou ee oh`` (あー いー うー えー おー) one after another with a quarter second of silence
before each. ``m3`` is one of the voices the vowel centroids were measured on, ``f4`` is not.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

AUDIO = Path(__file__).resolve().parent / "tracking" / "audio"


def speech_fixture(voice: str) -> tuple[Path, dict]:
    """(the WAV's path, its spans: ``{"rate", "spans": [{"vowel", "start", "end"}, ...]}`` in samples)."""
    path = AUDIO / f"vowels_{voice}.wav"
    return path, json.loads(path.with_suffix(".json").read_text())


class SteppedSoundCard:
    """The ``clock`` and ``wait`` of a `WavFileInput`, driven by the test instead of real time.

    The input's thread calls ``wait`` before each block; it blocks there until the test calls
    `step`, which returns once the block was delivered and analysed (the thread is back in
    ``wait``). So after ``step(k)`` the microphone has heard exactly k more blocks.
    """

    def __init__(self):
        self.now = 100.0
        self._go = threading.Semaphore(0)
        self._waiting = threading.Event()
        self.closed = False

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self._waiting.set()
        self._go.acquire()
        self.now += seconds
        return self.closed

    def ready(self, timeout_s: float = 10.0) -> None:
        """Until the input's thread waits for its first block (after `start`)."""
        assert self._waiting.wait(timeout_s), "the audio input's thread never asked for a block"

    def step(self, blocks: int = 1, timeout_s: float = 10.0) -> None:
        for _ in range(blocks):
            self._waiting.clear()
            self._go.release()
            assert self._waiting.wait(timeout_s), "the audio input's thread did not come back for the next block"

    def release(self) -> None:
        """Let a waiting thread go for good (before closing the input)."""
        self.closed = True
        self._go.release()
