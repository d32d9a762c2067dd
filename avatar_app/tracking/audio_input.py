"""Where microphone audio comes from: a sound card through PortAudio, or a WAV file played in real time.

Both deliver the same thing the same way: mono float32 blocks in -1..1 of ``block_size``
samples, on the input's own thread, each handed to ``on_block(samples, timestamp)`` when its
last sample has been "captured" (``timestamp``: ``time.monotonic()`` then). So ``--mic
file:speech.wav`` behaves exactly as a microphone saying it would, from the stream's start,
which is how the tests and demos drive the mouth without a sound card.

``--mic`` syntax (:func:`parse_mic_spec`): ``default`` (the system's input device), a device
index or part of its name (a name that matches none lists those there are), or ``file:PATH.wav``.
`sounddevice` (PortAudio) is imported only when a device is opened, so the app starts without it.
"""

from __future__ import annotations

import logging
import threading
import time
import wave
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatar_app.core.errors import DeviceError, SettingError

log = logging.getLogger(__name__)

MIC_SYNTAX = "default | DEVICE (index or part of its name) | file:PATH.wav"
BLOCK_MS = 20.0  # one block: the mouth's latency budget (README "Microphone")
OnBlock = Callable[[np.ndarray, float], None]


@dataclass(frozen=True)
class MicSpec:
    """A parsed ``--mic``: a WAV file (``path``) or a device (``device``: index, name part, or None: default)."""

    path: Path | None = None
    device: int | str | None = None

    def __str__(self) -> str:
        if self.path is not None:
            return f"file:{self.path}"
        return "default" if self.device is None else str(self.device)


def parse_mic_spec(text: str) -> MicSpec:
    """``--mic`` text -> MicSpec; a WAV file is checked here (exists, readable PCM), a device when opened."""
    text = str(text).strip()
    if not text:
        raise SettingError("--mic", MIC_SYNTAX, "an empty value", "use e.g. --mic default or --mic file:speech.wav")
    if text.startswith("file:"):
        path = Path(text[len("file:") :])
        read_wav(path)  # refuses a missing or unreadable file now, not when the stream starts
        return MicSpec(path=path)
    if text == "default":
        return MicSpec()
    return MicSpec(device=int(text) if text.isdigit() else text)


def read_wav(path: Path) -> tuple[np.ndarray, float]:
    """(mono float32 samples in -1..1, sample rate) of a PCM WAV file (8/16/24/32-bit, any channels)."""
    fix = "give a PCM WAV file, e.g. convert with: sox IN -b 16 OUT.wav"
    if not path.is_file():
        raise SettingError("--mic", "file:PATH to an existing .wav file", f"no such file {path}", "check the path")
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as error:
        raise SettingError(f"--mic file {path}", "a PCM WAV file", f"unreadable ({error})", fix) from error
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 3:
        bytes3 = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        as_int = (
            bytes3[:, 0].astype(np.int32) | bytes3[:, 1].astype(np.int32) << 8 | bytes3[:, 2].astype(np.int32) << 16
        )
        samples = (np.where(as_int >= 1 << 23, as_int - (1 << 24), as_int) / float(1 << 23)).astype(np.float32)
    else:
        dtype = {2: np.int16, 4: np.int32}[width]
        samples = np.frombuffer(raw, dtype).astype(np.float32) / float(np.iinfo(dtype).max + 1)
    if len(samples) == 0:
        raise SettingError(f"--mic file {path}", "audio samples", "an empty WAV file", fix)
    return samples.reshape(-1, channels).mean(axis=1), float(rate)


class AudioInput(ABC):
    """A running audio input: `start(on_block)` once, then blocks arrive on its thread until `close()`."""

    name = "audio"
    sample_rate_hz: float
    block_size: int

    @abstractmethod
    def start(self, on_block: OnBlock) -> None:
        """Begin delivering blocks to ``on_block`` (on the input's thread)."""

    @property
    def status(self) -> str:
        return "running"

    def close(self) -> None:  # noqa: B027 optional no-op hook
        """Stop delivering and release the device; safe to call more than once."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def block_size_for(sample_rate_hz: float, block_ms: float = BLOCK_MS) -> int:
    return max(64, round(sample_rate_hz * block_ms / 1000.0))


class WavFileInput(AudioInput):
    """A WAV file delivered block by block in real time from `start()`, then silence (a quiet room).

    Block k is delivered when ``clock()`` reaches start + (k + 1) blocks: as a sound card does,
    once the block is full. ``clock`` and ``wait(seconds)`` are injectable (tests run a file
    faster than real time with a manual clock); ``wait`` returns True to stop.
    """

    def __init__(
        self,
        path: Path,
        block_ms: float = BLOCK_MS,
        *,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ):
        self.path = Path(path)
        self.samples, self.sample_rate_hz = read_wav(self.path)
        self.block_size = block_size_for(self.sample_rate_hz, block_ms)
        self.name = f"file:{self.path.name}"
        self._clock = clock
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._thread: threading.Thread | None = None
        self.blocks_delivered = 0

    @property
    def ended(self) -> bool:
        return self.blocks_delivered * self.block_size >= len(self.samples)

    @property
    def status(self) -> str:
        return "file played to its end (silence now)" if self.ended else "playing"

    def start(self, on_block: OnBlock) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._thread = threading.Thread(
            target=self._play, args=(on_block, self._clock()), name="avatar-mic-file", daemon=True
        )
        self._thread.start()

    def _play(self, on_block: OnBlock, start: float) -> None:
        block_s = self.block_size / self.sample_rate_hz
        while not self._stop.is_set():
            k = self.blocks_delivered
            due = start + (k + 1) * block_s
            delay = due - self._clock()
            if delay > 0 and self._wait(delay):
                return
            block = self.samples[k * self.block_size : (k + 1) * self.block_size]
            if len(block) < self.block_size:
                block = np.concatenate([block, np.zeros(self.block_size - len(block), np.float32)])
            self.blocks_delivered += 1
            on_block(block, due)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


@dataclass(frozen=True)
class MicDevice:
    index: int
    name: str
    sample_rate_hz: float


def _sounddevice(wanted: str = "microphone"):
    try:
        import sounddevice
    except (ImportError, OSError) as error:  # OSError: the module is there, libportaudio is not
        raise DeviceError(
            f"{wanted}: PortAudio is not available ({error}). Fix: pip install sounddevice "
            "(and on Linux: apt-get install libportaudio2), or use --mic file:PATH.wav"
        ) from error
    return sounddevice


def list_input_devices() -> list[MicDevice]:
    """The input devices PortAudio sees (empty without any, or without PortAudio)."""
    try:
        sd = _sounddevice()
        devices = sd.query_devices()
    except DeviceError as error:
        log.info("%s", error)
        return []
    return [
        MicDevice(k, d["name"], float(d["default_samplerate"]))
        for k, d in enumerate(devices)
        if d["max_input_channels"]
    ]


class SoundDeviceInput(AudioInput):
    """A sound card's input through PortAudio (`sounddevice`): mono, its default rate, one block per callback.

    The device is found and checked here, so a missing one fails at construction with the
    devices there are; a busy one fails in `start`. Both raise :class:`DeviceError`.
    """

    def __init__(self, device: int | str | None = None, block_ms: float = BLOCK_MS):
        sd = self._sd = _sounddevice("the default microphone" if device is None else f"microphone {device!r}")
        try:
            info = sd.query_devices(device, "input")
        except (ValueError, sd.PortAudioError) as error:
            there = ", ".join(f"{d.index}: {d.name}" for d in list_input_devices()) or "none"
            wanted = "the default input device" if device is None else f"input device {device!r}"
            raise DeviceError(
                f"microphone: {wanted} not found ({error}); input devices: {there}. "
                "Fix: pick one of those with --mic INDEX, "
                "plug the microphone in, or use --mic file:PATH.wav"
            ) from error
        self.device_index = int(info["index"])
        self.name = str(info["name"])
        self.sample_rate_hz = float(info["default_samplerate"])
        self.block_size = block_size_for(self.sample_rate_hz, block_ms)
        self._stream = None
        self._overflows = 0

    @property
    def status(self) -> str:
        return f"running ({self._overflows} overflows)" if self._overflows else "running"

    def start(self, on_block: OnBlock) -> None:
        sd = self._sd

        def callback(indata, frames, time_info, status) -> None:
            if status.input_overflow:
                self._overflows += 1
            on_block(np.asarray(indata[:, 0], np.float32).copy(), time.monotonic())

        try:
            self._stream = sd.InputStream(
                device=self.device_index,
                channels=1,
                samplerate=self.sample_rate_hz,
                blocksize=self.block_size,
                latency="low",  # PortAudio's default is "high" (an ALSA device here: 70 ms of buffer, not 17)
                dtype="float32",
                callback=callback,
            )
            self._stream.start()
        except sd.PortAudioError as error:
            self.close()
            raise DeviceError(
                f"microphone {self.name!r}: cannot open it ({error}). Fix: close the program using it "
                "(or pick another device), then start the stream again"
            ) from error

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()


def open_audio_input(spec: MicSpec, block_ms: float = BLOCK_MS, **file_options) -> AudioInput:
    """The one way to make an input from a ``--mic`` spec (``file_options``: WavFileInput's clock, wait)."""
    if spec.path is not None:
        return WavFileInput(spec.path, block_ms, **file_options)
    return SoundDeviceInput(spec.device, block_ms)
