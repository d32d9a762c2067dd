"""Audio blocks -> the mouth: level meter, gain, noise gate, attack / hold / release, vowel shape.

Everything here runs per block on the audio thread, in block time (the block's length is the
clock: no wall clock, so a WAV file gives the same mouth every time). Per block:

* **level**: RMS in dBFS after ``gain_db`` (the meter shows it);
* **gate**: open at ``gate_db`` and above; it stays open ``hold_ms`` after the level drops, so the
  mouth does not flap shut between syllables;
* **openness**: the level mapped from the gate (0) to ``range_db`` above it (1) while the gate is open, else
  0, followed with ``attack_ms`` going up and ``release_ms`` going down (one-pole, per block);
* **vowels**: :class:`~avatar_app.tracking.formants.VowelEstimator` weights times the openness.

The attack acts within the block that crosses the gate, so a sound reaches the mouth after at
most the block it starts in (README "Microphone" measures it in blocks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.rig.expressions import EXPRESSIONS, VOWELS, Expression
from avatar_app.tracking.formants import VowelEstimator

SILENCE_DB = -120.0  # what the meter shows for digital silence


@dataclass(frozen=True)
class MicSettings:
    """The user's say over the microphone's mouth (window: the Microphone panel; stream: --mic-gain/--mic-gate).

    Frozen: the window replaces the object (from any thread), the audio thread reads the newest.
    """

    gain_db: float = 0.0
    gate_db: float = -45.0  # below: the mouth stays shut (room noise, fans)
    range_db: float = 27.0  # the mouth opens fully this far above the gate
    attack_ms: float = 15.0
    hold_ms: float = 120.0
    release_ms: float = 90.0

    def __post_init__(self):
        checks = (
            ("gain_db", -40.0, 40.0, "--mic-gain -40..40 (dB)"),
            ("gate_db", -100.0, 0.0, "--mic-gate -100..0 (dBFS)"),
            ("range_db", 3.0, 60.0, "range_db 3..60 (dB)"),
            ("attack_ms", 0.0, 1000.0, "attack_ms 0..1000"),
            ("hold_ms", 0.0, 2000.0, "hold_ms 0..2000"),
            ("release_ms", 0.0, 2000.0, "release_ms 0..2000"),
        )
        for name, low, high, fix in checks:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise SettingError(f"microphone {name}", f"a number from {low:g} to {high:g}", repr(value), fix)


@dataclass(frozen=True)
class MouthState:
    """What one audio block did to the mouth (the meter and the face read it)."""

    level_db: float  # after gain
    gate_open: bool
    openness: float  # 0..1
    vowels: np.ndarray  # over VOWELS, each 0..openness
    block_index: int  # blocks analysed before this one (the latency test counts in blocks)
    timestamp: float  # when the block's last sample was captured (the input's clock)

    def expression_over(self, expression: Expression | None) -> Expression:
        """``expression`` (the source's face; None: neutral) with its mouth replaced by this one."""
        values = np.array(Expression().values if expression is None else expression.values)
        values[[EXPRESSIONS.index(v) for v in VOWELS]] = self.vowels
        return Expression(values)


def level_dbfs(block: np.ndarray, gain_db: float = 0.0) -> float:
    rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))) if len(block) else 0.0
    return SILENCE_DB if rms <= 0.0 else max(20.0 * math.log10(rms) + gain_db, SILENCE_DB)


class MouthFromAudio:
    """Feed it blocks (mono float32 in -1..1) with `process`; it returns the mouth after each."""

    def __init__(self, sample_rate_hz: float, settings: MicSettings | None = None):
        self.vowels = VowelEstimator(sample_rate_hz)
        self.sample_rate_hz = float(sample_rate_hz)
        self.settings = settings or MicSettings()
        self._openness = 0.0
        self._held_s = math.inf  # time since the level was last above the gate
        self._blocks = 0

    def process(self, block: np.ndarray, timestamp: float = 0.0) -> MouthState:
        settings = self.settings  # one read: the window may replace it meanwhile
        block_s = len(block) / self.sample_rate_hz
        level = level_dbfs(block, settings.gain_db)
        if level >= settings.gate_db:
            self._held_s = 0.0
        else:
            self._held_s += block_s
        gate_open = self._held_s <= settings.hold_ms / 1000.0
        target = 0.0
        if gate_open:
            target = min(max((level - settings.gate_db) / settings.range_db, 0.0), 1.0)
            target = max(target, 0.15 if level >= settings.gate_db else 0.0)  # a soft syllable still opens a little
        time_constant_ms = settings.attack_ms if target > self._openness else settings.release_ms
        alpha = 1.0 if time_constant_ms <= 0.0 else 1.0 - math.exp(-1000.0 * block_s / time_constant_ms)
        self._openness += alpha * (target - self._openness)
        if target == 0.0 and self._openness < 1e-3:
            self._openness = 0.0  # released: shut, not a tail of 1e-20 that keeps the face "talking"
        weights = self.vowels.estimate(block) if level >= settings.gate_db else self.vowels.last
        state = MouthState(
            level_db=level,
            gate_open=gate_open,
            openness=self._openness,
            vowels=(self._openness * weights).astype(np.float32),
            block_index=self._blocks,
            timestamp=timestamp,
        )
        self._blocks += 1
        return state
