"""The microphone drives the mouth in the one expression state every frame carries (pipeline/mic_mouth.py).

Speech is the espeak-ng fixture (mic_helpers), played through `WavFileInput` on a sound card the
test clocks block by block; the pipeline test plays it in real time through `stream`'s builder.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from avatar_app.core.errors import DeviceError
from avatar_app.pipeline import Loaders, PipelineSettings, PoseSample, PoseSource, build_pipeline
from avatar_app.pipeline.mic_mouth import WithMicrophone, with_microphone
from avatar_app.pipeline.sources import IDLE_POSE
from avatar_app.pipeline.specs import SourceSpec
from avatar_app.rig.expressions import VOWELS, Expression
from avatar_app.tracking.audio_input import AudioInput, MicSpec, WavFileInput, read_wav
from avatar_app.tracking.microphone import Microphone
from avatar_app.tracking.mouth_from_audio import MicSettings, MouthFromAudio

from mic_helpers import SteppedSoundCard, speech_fixture

SOURCE_FACE = Expression.of(blinkLeft=0.8, happy=0.6, surprised=0.3, aa=1.0, ou=0.5)


class TalkingSource(PoseSource):
    """A source whose own face talks (aa, ou) and smiles: a read every call, on the test's clock."""

    name = "talking"

    def __init__(self):
        self.expressions = object()  # stands for its expression track (the window tunes it)
        self.closed = False

    def read(self, timeout):
        return PoseSample(1.0, pose=IDLE_POSE, expression=SOURCE_FACE)

    def close(self):
        self.closed = True


@pytest.fixture
def card():
    card = SteppedSoundCard()
    yield card
    card.release()


def mic_source(card, voice="m3"):
    path, meta = speech_fixture(voice)
    wav = WavFileInput(path, clock=card.clock, wait=card.wait)
    return WithMicrophone(TalkingSource(), Microphone(wav)), wav.block_size, meta


def vowels_of(expression) -> np.ndarray:
    return np.array([expression[v] for v in VOWELS])


def test_the_mouth_follows_the_microphone_and_the_rest_of_the_face_the_source(card):
    source, block, meta = mic_source(card)
    with source:
        first = source.read(0.1)  # the stream's first read starts the microphone
        card.ready()
        assert not vowels_of(first.expression).any(), "nothing heard yet: shut, though the source talks"
        for span in meta["spans"]:
            middle = (span["start"] + span["end"]) // 2 // block
            card.step(middle - source.microphone.mouth().block_index - 1 if source.microphone.mouth() else middle)
            face = source.read(0.1).expression
            assert VOWELS[int(np.argmax(vowels_of(face)))] == span["vowel"]
            assert vowels_of(face).sum() > 0.5
            for name in ("blinkLeft", "happy", "surprised"):
                assert face[name] == pytest.approx(SOURCE_FACE[name]), f"{name} still comes from the source"
        card.step((meta["spans"][-1]["end"]) // block + 20 - source.microphone.mouth().block_index)
        assert not vowels_of(source.read(0.1).expression).any(), "silence: shut, the source's aa=1 ignored"
        assert source.expressions is source.source.expressions
    assert source.source.closed


def test_sound_reaches_the_next_frame_after_the_block_it_starts_in(card):
    """Latency: the frame read after the onset's block was delivered already shows the mouth open."""
    source, block, meta = mic_source(card, "f4")
    samples, rate = read_wav(speech_fixture("f4")[0])
    offline = MouthFromAudio(rate, MicSettings())
    opened = next(
        k for k in range(len(samples) // block) if offline.process(samples[k * block : (k + 1) * block]).openness >= 0.1
    )
    with source:
        source.read(0.1)
        card.ready()
        card.step(opened)  # every block before the one the sound starts in
        assert vowels_of(source.read(0.1).expression).sum() < 0.1
        card.step(1)  # the onset's block is full
        assert vowels_of(source.read(0.1).expression).sum() >= 0.1, "the very next frame"


class BusyCard(AudioInput):
    """A device that is there but will not open (another program holds it)."""

    name = "busy card"
    sample_rate_hz, block_size = 48000.0, 960

    def start(self, on_block):
        raise DeviceError(
            "microphone 'busy card': cannot open it (Device unavailable). Fix: close the program using it"
        )


def test_a_busy_microphone_is_said_and_the_source_keeps_its_own_mouth(caplog):
    source = WithMicrophone(TalkingSource(), Microphone(BusyCard()))
    with source:
        sample = source.read(0.1)
        assert sample.expression == SOURCE_FACE
        assert "microphone off" in source.status and "Device unavailable" in source.status
    assert any("goes on with the source's own mouth" in r.message for r in caplog.records)


def test_a_missing_device_is_said_and_the_source_keeps_its_own_mouth():
    notes = []
    source = with_microphone(TalkingSource(), MicSpec(device="no-such-microphone"), say=notes.append)
    with source:
        assert source.read(0.1).expression == SOURCE_FACE
        assert "microphone off" in source.status and "no-such-microphone" in source.status
    assert len(notes) == 1 and "no-such-microphone" in notes[0] and "goes on without the microphone" in notes[0]


def test_stream_pipeline_with_a_wav_microphone_talks_in_the_pose_frames(character):
    """Real time: 40 frames at 30 fps hear the first vowel (aa, 0.25-0.88 s of the file), maybe the next."""
    path, _ = speech_fixture("m3")
    faces, lock = [], threading.Lock()

    def tap(stage, frame):
        if stage == "pose":
            with lock:
                faces.append(frame.expression)

    settings = PipelineSettings(SourceSpec("demo"), renderer="udp", size=128, max_frames=40, mic=MicSpec(path=path))
    pipeline = build_pipeline(settings, loaders=Loaders(character_loader=lambda: character), tap=tap)
    with pipeline:
        assert isinstance(pipeline.source, WithMicrophone)
        pipeline.start()
        assert pipeline.wait(60)
    pipeline.raise_if_failed()
    mouths = [vowels_of(face) for face in faces]
    assert not mouths[0].any(), "the file starts with a quarter second of silence"
    spoken = [VOWELS[int(np.argmax(m))] for m in mouths if m.sum() >= 0.3]
    runs = [v for k, v in enumerate(spoken) if k == 0 or spoken[k - 1] != v]
    assert runs and runs == list(VOWELS[: len(runs)]), f"the vowels in the order spoken from 'aa': {runs}"
    assert not any(t.name == "avatar-mic-file" for t in threading.enumerate()), "the pipeline closed the microphone"


def test_mic_settings_travel_to_the_microphone_the_builder_makes(character):
    path, _ = speech_fixture("m3")
    settings = MicSettings(gain_db=6.0, gate_db=-50.0)
    demo = PipelineSettings(SourceSpec("demo"), renderer="udp", size=128, max_frames=1)
    pipeline = build_pipeline(
        replace(demo, mic=MicSpec(path=path), mic_settings=settings),
        loaders=Loaders(character_loader=lambda: character),
    )
    with pipeline:
        assert pipeline.source.microphone.settings == settings
