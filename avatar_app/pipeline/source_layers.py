"""Layers over a pose source: `ForwardingSource` (the base: everything passes through) and `WithIdleLife`.

A layer is itself a `PoseSource`, so the pipeline sees one source; the builder stacks them
(``WithMicrophone(WithIdleLife(source))``). A layer owns the source under it: `close` closes it.
"""

from __future__ import annotations

import dataclasses

from avatar_app.pipeline.sources import PoseSample, PoseSource
from avatar_app.rig.idle_motion import IdleMotion


class ForwardingSource(PoseSource):
    """``source`` as it is; subclasses change what `read` returns."""

    def __init__(self, source: PoseSource):
        if not isinstance(source, PoseSource):
            raise TypeError(f"{type(self).__name__}: expected a PoseSource, got {type(source).__name__}")
        self.source = source
        self.name = source.name
        self.yields_udp = source.yields_udp

    @property
    def expressions(self):
        """The source's expression track (the window tunes and calibrates it), or None."""
        return getattr(self.source, "expressions", None)

    def open(self) -> None:
        self.source.open()

    def read(self, timeout: float) -> PoseSample | None:
        return self.source.read(timeout)

    @property
    def status(self) -> str:
        return self.source.status

    @property
    def ended(self) -> bool:
        return self.source.ended

    @property
    def dropped(self) -> int:
        return self.source.dropped

    def close(self) -> None:
        self.source.close()


class WithIdleLife(ForwardingSource):
    """While the source tracks nothing (``PoseSample.tracked`` False: camera lost, nobody in view,
    a silent VMC sender), the idle motion fades in over ``fade_in_s`` on top of its held pose;
    when tracking returns it fades out over ``fade_out_s``. Times are the samples' timestamps."""

    def __init__(
        self, source: PoseSource, motion: IdleMotion | None = None, fade_in_s: float = 1.5, fade_out_s: float = 0.3
    ):
        super().__init__(source)
        if not (fade_in_s > 0.0 and fade_out_s > 0.0):
            raise ValueError(f"WithIdleLife: fades expected above 0 s, got {fade_in_s!r} and {fade_out_s!r}")
        self.motion = motion or IdleMotion()
        self.fade_in_s, self.fade_out_s = fade_in_s, fade_out_s
        self.weight = 0.0  # how much of the idle motion the last sample got (before easing)
        self._last_t: float | None = None

    def read(self, timeout: float) -> PoseSample | None:
        sample = self.source.read(timeout)
        if sample is None or sample.pose is None:
            return sample
        dt = 0.0 if self._last_t is None else min(max(sample.timestamp - self._last_t, 0.0), 0.5)
        self._last_t = sample.timestamp
        if sample.tracked:
            self.weight = max(self.weight - dt / self.fade_out_s, 0.0)
        else:
            self.weight = min(self.weight + dt / self.fade_in_s, 1.0)
        if self.weight == 0.0:
            return sample
        eased = self.weight * self.weight * (3.0 - 2.0 * self.weight)
        return dataclasses.replace(sample, pose=self.motion.layer(sample.pose, sample.timestamp, eased))
