"""Measure the microphone's mouth on speech synthesised by espeak-ng: vowel accuracy and latency in blocks.

    python tools/evaluate_mic.py                 # held-out voices: accuracy, confusion, latency
    python tools/evaluate_mic.py --noise-dbfs -55   # the same under white noise (a quiet room)
    python tools/evaluate_mic.py --connected        # words of five vowels without a pause (あいうえお ...)
    python tools/evaluate_mic.py --fit           # training voices: the (F1, F2) centroids for tracking/formants.py
    python tools/evaluate_mic.py --fixtures tests/tracking/audio   # the WAVs the tests play

Each vowel (``aa ih ou ee oh`` = Japanese あ い う え お, held long) is synthesised by espeak-ng's
``ja`` voice with a variant (male m1..m7, female f1..f5, ...), put after a stretch of silence
whose length is not a whole number of blocks, and fed block by block (20 ms) through the same
``MouthFromAudio`` the app runs. Accuracy: of the blocks where the mouth is open (openness at least
0.3), the share whose strongest vowel is the one spoken; per utterance: the majority vote. Latency:
from the first sample above the gate level's amplitude to the end of the first block whose mouth
is open at least 0.1, in blocks. ``--connected``: four five-vowel words at two speeds per voice;
the strongest vowel's runs of two blocks or more, scored as the spoken vowels found in order
(longest common subsequence) and the runs in between (a glide from a to i passes e).
Needs espeak-ng (tools/install_system_deps.sh installs it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from avatar_app.rig.expressions import VOWELS  # noqa: E402
from avatar_app.tracking.audio_input import block_size_for, read_wav  # noqa: E402
from avatar_app.tracking.formants import formants_hz  # noqa: E402
from avatar_app.tracking.mouth_from_audio import MicSettings, MouthFromAudio, level_dbfs  # noqa: E402

KANA = {"aa": "あー", "ih": "いー", "ou": "うー", "ee": "えー", "oh": "おー"}
WORDS = ("あいうえお", "おえういあ", "あおいえう", "いあえおう")  # connected speech: five vowels, no pause
KANA_VOWEL = {"あ": "aa", "い": "ih", "う": "ou", "え": "ee", "お": "oh"}
TRAIN_VOICES = ("m1", "m3", "f1", "f3")
HELD_OUT_VOICES = ("m2", "m7", "f2", "f4", "f5", "Annie", "klatt", "Alex")
OPEN_AT = 0.3  # openness from which a block's vowel counts
LEAD_SILENCE_S = 0.3137  # not a whole number of 20 ms blocks: the onset falls inside a block


def synthesise(voice: str, vowel: str, folder: Path, words_per_minute: int = 80) -> tuple[np.ndarray, float]:
    path = folder / f"{voice}_{vowel}.wav"
    command = ["espeak-ng", "-v", f"ja+{voice}", "-s", str(words_per_minute), "-w", str(path), KANA[vowel]]
    subprocess.run(command, check=True)
    return read_wav(path)


def with_lead_silence(samples: np.ndarray, rate: float) -> tuple[np.ndarray, int]:
    lead = np.zeros(round(LEAD_SILENCE_S * rate), np.float32)
    return np.concatenate([lead, samples]), len(lead)


def run_blocks(samples: np.ndarray, rate: float, settings: MicSettings):
    mouth = MouthFromAudio(rate, settings)
    block = block_size_for(rate)
    states = [mouth.process(samples[k : k + block]) for k in range(0, len(samples) - block + 1, block)]
    return states, block


def onset_sample(samples: np.ndarray, gate_db: float) -> int:
    """The first sample whose amplitude reaches a sine's at the gate level (RMS gate_db)."""
    threshold = np.sqrt(2.0) * 10.0 ** (gate_db / 20.0)
    above = np.nonzero(np.abs(samples) >= threshold)[0]
    return int(above[0]) if len(above) else len(samples)


def evaluate(voices, folder: Path, settings: MicSettings, noise_dbfs: float | None = None) -> dict:
    confusion = np.zeros((len(VOWELS), len(VOWELS)), int)
    per_utterance = []
    latencies = []
    for voice in voices:
        for truth, vowel in enumerate(VOWELS):
            samples, rate = synthesise(voice, vowel, folder)
            samples, _ = with_lead_silence(samples, rate)
            if noise_dbfs is not None:  # a room: white noise at this RMS under the speech
                noise = np.random.default_rng(truth).normal(0.0, 10 ** (noise_dbfs / 20), len(samples))
                samples = (samples + noise).astype(np.float32)
            states, block = run_blocks(samples, rate, settings)
            votes = [int(np.argmax(s.vowels)) for s in states if s.openness >= OPEN_AT]
            for guess in votes:
                confusion[truth, guess] += 1
            majority = np.bincount(votes, minlength=len(VOWELS)).argmax() if votes else -1
            per_utterance.append(majority == truth)
            clean = samples if noise_dbfs is None else samples - noise.astype(np.float32)
            onset = onset_sample(clean, settings.gate_db - settings.gain_db)
            first_open = next(k for k, s in enumerate(states) if s.openness >= 0.1)
            latencies.append(((first_open + 1) * block - onset) / block)
    blocks = confusion.sum()
    return {
        "voices": list(voices),
        "block_accuracy": float(np.trace(confusion) / max(blocks, 1)),
        "blocks": int(blocks),
        "utterance_accuracy": float(np.mean(per_utterance)),
        "utterances": len(per_utterance),
        "per_vowel_block_accuracy": {
            v: float(confusion[k, k] / max(confusion[k].sum(), 1)) for k, v in enumerate(VOWELS)
        },
        "confusion_rows_truth": [" ".join(f"{n:4d}" for n in row) for row in confusion],
        "latency_blocks_max": float(max(latencies)),
        "latency_blocks_mean": float(np.mean(latencies)),
    }


def vowel_runs(states, min_blocks: int = 2) -> list[str]:
    """The strongest vowel of each open block, as runs of at least ``min_blocks`` (shorter ones dropped)."""
    runs: list[list] = []
    for state in states:
        if state.openness >= OPEN_AT:
            vowel = VOWELS[int(np.argmax(state.vowels))]
            if runs and runs[-1][0] == vowel:
                runs[-1][1] += 1
            else:
                runs.append([vowel, 1])
    kept = [vowel for vowel, length in runs if length >= min_blocks]
    return [v for k, v in enumerate(kept) if k == 0 or kept[k - 1] != v]


def in_order(spoken: list[str], shown: list[str]) -> int:
    """How many of ``spoken`` appear in ``shown`` in the same order (longest common subsequence)."""
    table = np.zeros((len(spoken) + 1, len(shown) + 1), int)
    for i, a in enumerate(spoken):
        for j, b in enumerate(shown):
            table[i + 1, j + 1] = table[i, j] + 1 if a == b else max(table[i, j + 1], table[i + 1, j])
    return int(table[-1, -1])


def evaluate_connected(voices, folder: Path, settings: MicSettings, speeds=(120, 175)) -> dict:
    """Words of five vowels spoken without a pause: which vowels the mouth shows, in order."""
    found = total = exact = extra = words = 0
    for voice in voices:
        for word in WORDS:
            for speed in speeds:
                path = folder / "word.wav"
                command = ["espeak-ng", "-v", f"ja+{voice}", "-s", str(speed), "-w", str(path), word]
                subprocess.run(command, check=True)
                samples, rate = read_wav(path)
                shown = vowel_runs(run_blocks(samples, rate, settings)[0])
                spoken = [KANA_VOWEL[c] for c in word]
                hits = in_order(spoken, shown)
                found, total, words = found + hits, total + len(spoken), words + 1
                exact += shown == spoken
                extra += len(shown) - hits
    return {
        "words": words,
        "vowels_shown_in_order": found / total,
        "words_exactly": exact / words,
        "extra_runs_per_word": extra / words,
    }


def fit(voices, folder: Path, settings: MicSettings) -> np.ndarray:
    centroids = []
    for vowel in VOWELS:
        points = []
        for voice in voices:
            samples, rate = synthesise(voice, vowel, folder)
            block = block_size_for(rate)
            for k in range(0, len(samples) - block + 1, block):
                chunk = samples[k : k + block]
                found = formants_hz(chunk, rate)
                if level_dbfs(chunk) >= settings.gate_db + settings.range_db and len(found) >= 2:
                    points.append(np.log(found[:2]))
        centroids.append(np.exp(np.mean(points, axis=0)))
    return np.array(centroids)


def write_fixtures(folder: Path, voices=("m3", "f4"), gap_s: float = 0.25) -> None:
    """One WAV per voice (16-bit, the synthesiser's rate): the five vowels, each after a gap, and a JSON of spans."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for voice in voices:
            parts, spans, at = [], [], 0
            for vowel in VOWELS:
                samples, rate = synthesise(voice, vowel, Path(tmp), words_per_minute=160)  # shorter files
                gap = np.zeros(round(gap_s * rate) + 37, np.float32)  # + 37: onsets inside blocks
                parts += [gap, samples]
                start = at + len(gap)
                spans.append({"vowel": vowel, "start": start, "end": start + len(samples)})
                at = start + len(samples)
            audio = np.concatenate(parts + [np.zeros(round(gap_s * rate), np.float32)])
            path = folder / f"vowels_{voice}.wav"
            with wave.open(str(path), "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(int(rate))
                wav.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
            meta = {"voice": f"espeak-ng ja+{voice}", "rate": int(rate), "spans": spans}
            path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
            print(f"wrote {path}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fit", action="store_true", help="print the vowel centroids from the training voices")
    p.add_argument("--fixtures", type=Path, default=None, help="write the test WAVs to this folder")
    p.add_argument("--voices", default=None, help="comma-separated espeak-ng variants (default: the held-out set)")
    p.add_argument("--connected", action="store_true", help="words of five vowels without a pause instead")
    p.add_argument("--noise-dbfs", type=float, default=None, help="add white noise at this level (e.g. -50)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        print("evaluate_mic: espeak-ng not found; install it (tools/install_system_deps.sh)", file=sys.stderr)
        return 2
    settings = MicSettings()
    if args.fixtures:
        write_fixtures(args.fixtures)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        if args.fit:
            voices = args.voices.split(",") if args.voices else TRAIN_VOICES
            for vowel, (f1, f2) in zip(VOWELS, fit(voices, Path(tmp), settings)):
                print(f"        ({f1:.0f}.0, {f2:.0f}.0),  # {vowel}")
            return 0
        voices = args.voices.split(",") if args.voices else HELD_OUT_VOICES
        if args.connected:
            result = evaluate_connected(voices, Path(tmp), settings)
        else:
            result = evaluate(voices, Path(tmp), settings, args.noise_dbfs)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
