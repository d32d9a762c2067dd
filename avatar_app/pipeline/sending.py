"""The send stage's fan-out: every sink gets each frame, and a sink that stopped for good leaves.

A sink raises `OutputStoppedError` when it can deliver no more but has closed itself cleanly
(a recording whose disk filled: the frames written are saved). That is a state of one output,
not a broken pipeline: the sink is dropped, the user is told (a warning now, the message kept
in ``stopped``) and the other sinks go on. Only when no sink is left does the error stop the
pipeline, since a stream nobody receives is no stream. Any other exception is a bug or a broken
device and fails the stage as before (``live.py``'s error policy).
"""

from __future__ import annotations

import logging

from avatar_app.core.frames import RgbaFrame
from avatar_app.outputs.base import FrameSink, OutputStoppedError

log = logging.getLogger(__name__)


def send_to_sinks(sinks: list[FrameSink], rgba: RgbaFrame, stopped: list[str]) -> None:
    """``rgba`` to every sink; one that stops is removed from ``sinks`` and its message appended to ``stopped``."""
    for sink in list(sinks):
        try:
            sink.send(rgba)
        except OutputStoppedError as exc:
            sinks.remove(sink)
            stopped.append(str(exc))
            if not sinks:
                raise
            others = ", ".join(s.name for s in sinks)
            log.warning("output %s stopped; streaming on to %s. %s", sink.name, others, exc)
