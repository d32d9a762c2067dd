"""How far an adaptation's preparation is, and about how long it has left.

Before the first training step, adapt renders a few hundred poses of the proxy, looks up
their colours in the sheet and scores the starting weights on the held-out poses: minutes
on a slow CPU, and the window showed "Preparing… 0%" all that time. Preparation is a list of
stages of countable work of three kinds (a pose rendered, a pose's colours looked up, a
pose through the network); each kind's pace is measured on its first units and the time
left is every unit left times its kind's pace. The held-out poses are prepared first
because they are few and exercise every kind, so the estimate exists within the first
network batch, long before the bulk (the training poses) is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PrepareProgress", "PrepareStatus", "adapt_stages"]

# stage names (what the window says is being done) and their kinds of work
HELD_OUT_POSES = "rendering the held-out poses"
HELD_OUT_COLOURS = "looking up the held-out poses' colours"
SCORING = "scoring the starting weights"
BEFORE = "rendering the 'before' pictures"
TRAINING_POSES = "rendering the training poses"
TRAINING_COLOURS = "looking up the training poses' colours"


def adapt_stages(poses: int, holdout: int, *, scoring: bool, before: bool) -> list[tuple[str, str, int]]:
    """The stages of one preparation in the order they run: ``(name, kind, units)``.

    ``scoring``: the starting weights are scored (not on a resumed run); ``before``: the
    'before' pictures are rendered (a fresh run; the network's pace is known by then from
    the scoring)."""
    stages = [(HELD_OUT_POSES, "pose", holdout), (HELD_OUT_COLOURS, "lookup", holdout)]
    stages += [(SCORING, "network", holdout)] if scoring else []
    stages += [(TRAINING_POSES, "pose", poses), (TRAINING_COLOURS, "lookup", poses)]
    return stages + ([(BEFORE, "network", 2)] if before else [])


@dataclass(frozen=True)
class PrepareStatus:
    stage: str  # what is being done now, "" before the first stage
    done: int  # units of that stage done
    total: int
    elapsed_s: float  # since the preparation began
    left_s: float | None  # None until every kind of work still to do has been timed


class PrepareProgress:
    """``begin(stage)``, then ``advance(stage, n)`` as units finish; ``report`` gets a `PrepareStatus` each time.

    A stage that is not run (``skip``) counts as done. Time between stages (loading the
    weights, encoding the sheet) is charged to no kind: it is not work that is left.
    """

    def __init__(
        self,
        stages: list[tuple[str, str, int]],
        *,
        report: Callable[[PrepareStatus], None] = lambda status: None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self._stages = {name: [kind, units, 0] for name, kind, units in stages}
        self._report, self._clock = report, clock
        self._start = self._mark = clock()
        self._spent: dict[str, float] = {}
        self._units: dict[str, int] = {}
        self.stage = ""

    @classmethod
    def quiet(cls) -> PrepareProgress:
        return cls([])

    def begin(self, stage: str) -> None:
        if stage not in self._stages:
            return
        self.stage, self._mark = stage, self._clock()
        self._report(self.status())

    def advance(self, stage: str, units: int = 1) -> None:
        entry = self._stages.get(stage)
        if entry is None:
            return
        now = self._clock()
        kind = entry[0]
        self._spent[kind] = self._spent.get(kind, 0.0) + (now - self._mark)
        self._units[kind] = self._units.get(kind, 0) + units
        entry[2] = min(entry[1], entry[2] + units)
        self._mark = now
        self._report(self.status())

    def skip(self, stage: str) -> None:
        entry = self._stages.get(stage)
        if entry is not None:
            entry[2] = entry[1]

    def left_s(self) -> float | None:
        """Seconds of preparation left: every unit left times its kind's measured pace (None: a kind not timed yet)."""
        left = 0.0
        for kind, units, done in self._stages.values():
            if done >= units:
                continue
            if not self._units.get(kind):
                return None
            left += (units - done) * self._spent[kind] / self._units[kind]
        return left

    def status(self) -> PrepareStatus:
        entry = self._stages.get(self.stage, [None, 0, 0])
        return PrepareStatus(self.stage, entry[2], entry[1], self._clock() - self._start, self.left_s())
