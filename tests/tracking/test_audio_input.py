"""Audio inputs: a WAV file delivered as a sound card would, and a sound card through real PortAudio.

The sound card is faked below PortAudio only: ALSA's ``file`` plugin (a PCM whose capture reads
raw samples from a file) in an ``.asoundrc`` of a temporary HOME, so sounddevice, PortAudio and
ALSA all run as they do with a microphone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from avatar_app.core.errors import DeviceError, SettingError
from avatar_app.tracking.audio_input import MicSpec, SoundDeviceInput, WavFileInput, parse_mic_spec, read_wav
from avatar_app.tracking.microphone import Microphone

from mic_helpers import SteppedSoundCard, speech_fixture

REPO = Path(__file__).resolve().parents[2]


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int = 2) -> Path:
    """``samples`` [n] or [n, channels] in -1..1 as PCM of ``width`` bytes."""
    frames = samples.reshape(len(samples), -1)
    if width == 1:
        raw = np.round(frames * 127 + 128).astype(np.uint8).tobytes()
    elif width == 3:
        ints = np.round(frames * (2**23 - 1)).astype("<i4").reshape(-1, 1).view(np.uint8)[:, :3]
        raw = ints.tobytes()
    else:
        raw = np.round(frames * (2 ** (8 * width - 1) - 1)).astype(f"<i{width}").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)
    return path


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_pcm_wavs_of_every_width_and_stereo_read_as_mono_in_unit_range(tmp_path, width):
    ramp = np.linspace(-0.9, 0.9, 200)
    stereo = np.stack([ramp, ramp], axis=1)
    samples, rate = read_wav(write_wav(tmp_path / "a.wav", stereo, 8000, width))
    assert rate == 8000 and samples.dtype == np.float32 and samples.shape == (200,)
    np.testing.assert_allclose(samples, ramp, atol=2.0 / 2 ** (8 * width - 1) + 1e-6)


def test_wav_file_delivers_blocks_in_order_on_the_cards_clock_then_silence():
    path, _ = speech_fixture("m3")
    samples, rate = read_wav(path)
    card = SteppedSoundCard()
    wav = WavFileInput(path, clock=card.clock, wait=card.wait)
    got = []
    wav.start(lambda block, timestamp: got.append((block, timestamp)))
    card.ready()
    blocks = len(samples) // wav.block_size + 2  # the whole file, then silence
    card.step(blocks)
    card.release()
    wav.close()
    assert wav.block_size == round(rate * 0.02)
    block_s = wav.block_size / rate
    for k, (block, timestamp) in enumerate(got[:blocks]):
        assert timestamp == pytest.approx(100.0 + (k + 1) * block_s), "a block arrives once it is full"
        expected = samples[k * wav.block_size : (k + 1) * wav.block_size]
        np.testing.assert_array_equal(block[: len(expected)], expected)
    assert not got[blocks - 1][0].any(), "after the file: silence, as a quiet room"
    assert wav.status.startswith("file played to its end")


def test_microphone_mouth_is_the_newest_blocks_analysis():
    path, meta = speech_fixture("m3")
    card = SteppedSoundCard()
    microphone = Microphone(WavFileInput(path, clock=card.clock, wait=card.wait))
    microphone.start()
    card.ready()
    assert microphone.mouth() is None, "nothing heard before the first block"
    aa = meta["spans"][0]
    card.step((aa["start"] + aa["end"]) // 2 // microphone.audio.block_size)
    mouth = microphone.mouth()
    card.release()
    microphone.close()
    assert mouth.block_index == (aa["start"] + aa["end"]) // 2 // microphone.audio.block_size - 1
    assert mouth.openness > 0.5 and int(np.argmax(mouth.vowels)) == 0, "in the middle of 'aa'"


def test_mic_specs_parse_and_a_missing_or_broken_wav_is_refused_with_the_fix(tmp_path):
    assert parse_mic_spec("default") == MicSpec()
    assert parse_mic_spec("3") == MicSpec(device=3)
    assert parse_mic_spec("USB Audio") == MicSpec(device="USB Audio")
    good = write_wav(tmp_path / "ok.wav", np.zeros(100), 16000)
    assert parse_mic_spec(f"file:{good}") == MicSpec(path=good)
    with pytest.raises(SettingError, match=r"--mic: expected file:PATH to an existing \.wav.*no such file"):
        parse_mic_spec(f"file:{tmp_path / 'nope.wav'}")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(SettingError, match=r"expected a PCM WAV file, found unreadable.*Fix: .*sox"):
        parse_mic_spec(f"file:{tmp_path / 'text.wav'}")
    with pytest.raises(SettingError, match="expected default"):
        parse_mic_spec(" ")


def test_a_device_that_is_not_there_is_a_device_error_naming_it_and_the_fix():
    with pytest.raises(DeviceError, match=r"no-such-microphone.*Fix: .*--mic"):
        SoundDeviceInput("no-such-microphone")


ALSA_PCM = """
pcm.wavmic {{
  type plug
  slave {{ pcm "wavfile"; format S16_LE; rate {rate}; channels 1 }}
}}
pcm.wavfile {{
  type file
  slave.pcm "null"
  file "/dev/null"
  infile "{raw}"
  format "raw"
}}
"""

LISTEN = """
import json, sys, threading
import numpy as np
from avatar_app.tracking.audio_input import SoundDeviceInput
from avatar_app.tracking.microphone import Microphone

blocks_wanted = int(sys.argv[1])
states, enough = [], threading.Event()
microphone = Microphone(SoundDeviceInput("wavmic"))
analyse = microphone.analysis.process

def process(samples, timestamp):
    state = analyse(samples, timestamp)
    states.append(state)
    if len(states) >= blocks_wanted:
        enough.set()
    return state

microphone.analysis.process = process
microphone.start()
enough.wait(60)
microphone.close()
spoken = [int(np.argmax(s.vowels)) for s in states[:blocks_wanted] if s.openness >= 0.3]
runs = [v for k, v in enumerate(spoken) if k == 0 or spoken[k - 1] != v]
print(json.dumps({"rate": microphone.audio.sample_rate_hz, "runs": runs}))
"""


def test_a_sound_card_through_portaudio_shapes_the_vowels_in_order(tmp_path):
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError) as error:  # OSError: no libportaudio2 (tools/install_system_deps.sh)
        pytest.skip(f"PortAudio through sounddevice is not installed here: {error}")
    path, meta = speech_fixture("m3")
    samples, rate = read_wav(path)
    raw = tmp_path / "card.raw"
    raw.write_bytes(np.round(samples * 32767).astype("<i2").tobytes())
    (tmp_path / ".asoundrc").write_text(ALSA_PCM.format(rate=int(rate), raw=raw))
    blocks = len(samples) // round(rate * 0.02)
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    script = textwrap.dedent(LISTEN)
    done = subprocess.run(
        [sys.executable, "-c", script, str(blocks)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rate"] == rate
    assert result["runs"] == [0, 1, 2, 3, 4], "aa ih ou ee oh, each once, in the order spoken"
