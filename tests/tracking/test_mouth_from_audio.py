"""The microphone's mouth on real speech WAVs: vowels from formants, the gate, hold, release, latency."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.rig.expressions import VOWELS, Expression
from avatar_app.tracking.audio_input import block_size_for, read_wav
from avatar_app.tracking.formants import formants_hz
from avatar_app.tracking.mouth_from_audio import MicSettings, MouthFromAudio

from mic_helpers import speech_fixture


def analyse(samples: np.ndarray, rate: float, settings: MicSettings | None = None):
    mouth = MouthFromAudio(rate, settings)
    block = block_size_for(rate)
    return [mouth.process(samples[k : k + block]) for k in range(0, len(samples) - block + 1, block)], block


def tone(rate: float, seconds: float, level_dbfs: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (np.sqrt(2.0) * 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("voice", ["m3", "f4"])
def test_each_spoken_vowel_shapes_the_mouth_as_that_vowel(voice):
    """f4 is a voice the vowel centroids never saw (see mic_helpers)."""
    path, meta = speech_fixture(voice)
    samples, rate = read_wav(path)
    states, block = analyse(samples, rate)
    for span in meta["spans"]:
        inside = [s for k, s in enumerate(states) if span["start"] <= k * block and (k + 1) * block <= span["end"]]
        open_blocks = [s for s in inside if s.openness >= 0.3]
        assert len(open_blocks) >= 0.5 * len(inside), f"{span['vowel']}: the mouth opens while it is spoken"
        strongest = [VOWELS[int(np.argmax(s.vowels))] for s in open_blocks]
        share = strongest.count(span["vowel"]) / len(strongest)
        assert share >= 0.9, f"{voice} {span['vowel']}: read as {sorted(set(strongest))}, right in {share:.0%}"


def test_formants_of_a_synthetic_two_resonance_sound_are_found():
    """A pulse train through two resonators at 700 and 1200 Hz: LPC finds both within 5%."""
    from scipy.signal import lfilter

    rate = 16000.0
    pulses = np.zeros(4096)
    pulses[:: int(rate / 120)] = 1.0
    signal = pulses
    for hz in (700.0, 1200.0):
        pole = 0.97 * np.exp(2j * np.pi * hz / rate)
        signal = lfilter([1.0], [1.0, -2 * pole.real, abs(pole) ** 2], signal)
    found = formants_hz(signal[1024:2048], rate)
    assert abs(found[0] - 700.0) < 35.0 and abs(found[1] - 1200.0) < 60.0, found


def test_sound_reaches_the_mouth_within_the_block_it_starts_in():
    path, meta = speech_fixture("f4")
    samples, rate = read_wav(path)
    settings = MicSettings()
    states, block = analyse(samples, rate, settings)
    gate_amplitude = np.sqrt(2.0) * 10 ** (settings.gate_db / 20)
    for span in meta["spans"]:
        onset = span["start"] + int(np.nonzero(np.abs(samples[span["start"] :]) >= gate_amplitude)[0][0])
        first_open = next(k for k, s in enumerate(states) if (k + 1) * block > onset and s.openness >= 0.1)
        latency_blocks = ((first_open + 1) * block - onset) / block
        assert latency_blocks <= 1.0, f"{span['vowel']}: {latency_blocks:.2f} blocks from sound to mouth"


def test_mouth_shuts_in_the_silence_between_vowels_after_hold_and_release():
    path, meta = speech_fixture("m3")
    samples, rate = read_wav(path)
    settings = MicSettings()
    states, block = analyse(samples, rate, settings)
    for after in meta["spans"][1:]:
        gap_end = after["start"] // block - 1
        assert states[gap_end].openness < 0.02, f"shut before {after['vowel']}"
        assert not states[gap_end].gate_open
        assert not states[gap_end].vowels.any() or states[gap_end].vowels.max() < 0.02


def test_quiet_noise_stays_under_the_gate_and_gain_lifts_it_over():
    rate = 16000.0
    noise = np.random.default_rng(1).normal(0.0, 10 ** (-60 / 20), 16000).astype(np.float32)  # -60 dBFS
    quiet, _ = analyse(noise, rate, MicSettings(gate_db=-45.0))
    assert max(s.openness for s in quiet) == 0.0
    assert all(-61.0 < s.level_db < -59.0 for s in quiet), "the meter reads the level"
    loud, _ = analyse(noise, rate, MicSettings(gate_db=-45.0, gain_db=30.0))
    assert min(s.openness for s in loud[3:]) > 0.3


def test_hold_keeps_the_gate_open_for_its_time_then_release_closes():
    rate = 16000.0
    settings = MicSettings(hold_ms=100.0, release_ms=40.0)
    sound = np.concatenate([tone(rate, 0.2, -20.0), np.zeros(round(rate * 0.6), np.float32)])
    states, block = analyse(sound, rate, settings)
    block_s = block / rate
    last_loud = round(0.2 / block_s) - 1
    held = [s.gate_open for s in states[last_loud + 1 :]]
    assert held[: int(0.1 / block_s)] == [True] * int(0.1 / block_s), "held open for hold_ms"
    assert not any(held[int(0.1 / block_s) + 1 :]), "closed after hold_ms"
    assert states[-1].openness < 1e-3, "released"
    assert states[last_loud + 1].openness > states[last_loud + 4].openness > states[-1].openness


def test_mouth_replaces_only_the_vowels_of_the_source_expression():
    rate = 16000.0
    states, _ = analyse(tone(rate, 0.2, -20.0), rate)
    source = Expression.of(blink=1.0, happy=0.5, ou=1.0, ee=0.7)
    face = states[-1].expression_over(source)
    assert face["blink"] == 1.0 and face["happy"] == 0.5
    np.testing.assert_allclose([face[v] for v in VOWELS], states[-1].vowels, atol=1e-6)
    assert sum(face[v] for v in VOWELS) == pytest.approx(states[-1].openness, abs=1e-5)


@pytest.mark.parametrize(
    "field, value", [("gain_db", 90.0), ("gate_db", 5.0), ("attack_ms", -1.0), ("range_db", float("nan"))]
)
def test_mic_settings_out_of_range_are_refused_with_the_fix(field, value):
    with pytest.raises(SettingError, match=f"microphone {field}: expected a number from .* Fix:"):
        MicSettings(**{field: value})


def test_a_silly_sample_rate_is_refused_at_construction():
    with pytest.raises(ValueError, match="sample rate expected"):
        MouthFromAudio(100.0)
