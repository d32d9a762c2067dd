"""A source whose mouth comes from the microphone: `WithMicrophone` wraps any `PoseSource`.

Every sample keeps its pose, eyes, brows and emotions; its five vowels are replaced by the
microphone's newest mouth (the source's own mouth is ignored, even where it has none). So the
one expression state the pipeline carries (``PoseSample.expression`` -> ``LiveFrame.expression``)
has the microphone's mouth, and every renderer gets it: the rig's face morphs, expression
sheets, the window's expressions row.

The microphone starts at the first `read` (the stream's start: a ``file:`` WAV plays from
there). A microphone that cannot start (missing, busy, no PortAudio) is said once and stays in
the status line ("microphone off: ..."), and the stream goes on with the source's own mouth.
"""

from __future__ import annotations

import dataclasses
import logging

from avatar_app.core.errors import DeviceError
from avatar_app.pipeline.source_layers import ForwardingSource
from avatar_app.pipeline.sources import PoseSample, PoseSource
from avatar_app.tracking.microphone import Microphone

log = logging.getLogger(__name__)


class WithMicrophone(ForwardingSource):
    """``source`` with its mouth from ``microphone`` (owns both: `close` closes them)."""

    def __init__(self, source: PoseSource, microphone: Microphone | None, failed: str | None = None):
        super().__init__(source)
        if microphone is None and not failed:
            raise ValueError("WithMicrophone: without a microphone, say why (failed=...)")
        self.microphone = microphone
        self.name = source.name if microphone is None else f"{source.name} + {microphone.audio.name}"
        self.failed = failed  # why the microphone is off (None: it is on or not started yet)

    def _start_microphone(self) -> None:
        try:
            self.microphone.start()
        except DeviceError as error:
            self.failed = str(error)
            log.warning("%s; the stream goes on with the source's own mouth", error)

    def read(self, timeout: float) -> PoseSample | None:
        if self.failed is None and not self.microphone.started:
            self._start_microphone()
        sample = self.source.read(timeout)
        if sample is None or self.failed is not None:
            return sample
        mouth = self.microphone.mouth()
        if mouth is None:  # before the first block is full: the mouth is shut, as the microphone hears nothing yet
            return dataclasses.replace(sample, expression=_shut(sample.expression))
        return dataclasses.replace(sample, expression=mouth.expression_over(sample.expression))

    @property
    def microphone_status(self) -> str:
        return f"microphone off: {self.failed}" if self.failed else self.microphone.status

    @property
    def status(self) -> str:
        return f"{self.source.status}; {self.microphone_status}"

    def close(self) -> None:
        try:
            if self.microphone is not None:
                self.microphone.close()
        finally:
            self.source.close()


def with_microphone(source: PoseSource, spec, settings=None, say=None, **file_options) -> PoseSource:
    """``source`` with the microphone of ``spec`` (a ``MicSpec``) driving its mouth. A missing device is
    said through ``say`` (else logged) and in the status; the stream goes on with the source's mouth."""
    from avatar_app.tracking.audio_input import open_audio_input

    try:
        audio = open_audio_input(spec, **file_options)
    except DeviceError as error:
        if say is None:
            log.warning("%s; the stream goes on with the source's own mouth", error)
        else:
            say(f"{error} (the stream goes on without the microphone)")
        return WithMicrophone(source, None, failed=str(error))
    if say is not None:
        say(f"microphone: {audio.name}, {audio.sample_rate_hz:.0f} Hz, blocks of {audio.block_size} samples")
    return WithMicrophone(source, Microphone(audio, settings))


def _shut(expression):
    from avatar_app.rig.expressions import EXPRESSIONS, VOWELS, Expression

    values = Expression().values.copy() if expression is None else expression.values.copy()
    values[[EXPRESSIONS.index(v) for v in VOWELS]] = 0.0
    return Expression(values)
