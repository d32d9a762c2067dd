"""What the Adapt… dialog reads from ``avatar-app adapt --progress lines`` and the words it shows (no Qt).

Two kinds of stdout lines (``cli/adapt.py`` prints them):

* ``preparing ELAPSED LEFT DONE TOTAL STAGE``: before training; LEFT is ``-`` until the run
  has timed every kind of work it still has to do (`training.adapt_progress`).
* ``progress ELAPSED TOTAL step N loss L holdout H best B``: training seconds, not wall clock.

A newcomer's run showed "Preparing… 0%" for three minutes, then "0:54 of 0:06 trained", and a
training loss that jumped 0.26 -> 5.57 while the held-out loss improved. So the dialog says
what preparation is doing and how long it has left, shows time trained and time left (the last
step may run past the time set: then it says it is finishing), and shows the held-out error
smoothed over its evaluations instead of the per-step training loss, which swings with each
batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROGRESS = re.compile(
    r"^progress (?P<elapsed>\S+) (?P<total>\S+) step (?P<step>\d+) loss (?P<loss>\S+) "
    r"holdout (?P<holdout>\S+) best (?P<best>\S+)$"
)
PREPARING = re.compile(r"^preparing (?P<elapsed>\S+) (?P<left>\S+) (?P<done>\d+) (?P<total>\d+) (?P<stage>.+)$")
SMOOTHING = 0.5  # weight of a new held-out evaluation in the shown value


@dataclass(frozen=True)
class AdaptLine:
    """One ``progress`` line (seconds of training, not of wall clock)."""

    elapsed_s: float
    total_s: float
    step: int
    loss: float
    holdout: float
    best: float


@dataclass(frozen=True)
class PrepareLine:
    """One ``preparing`` line: seconds since preparation began, and its estimate of the seconds left."""

    elapsed_s: float
    left_s: float | None
    done: int
    total: int
    stage: str


def parse_progress(line: str) -> AdaptLine | None:
    """The numbers of a progress line, or None for any other line."""
    match = PROGRESS.match(line.strip())
    if match is None:
        return None
    g = match.groupdict()
    try:
        elapsed, total, loss, holdout, best = (float(g[k]) for k in ("elapsed", "total", "loss", "holdout", "best"))
    except ValueError:
        return None
    return AdaptLine(elapsed, total, int(g["step"]), loss, holdout, best)


def parse_preparing(line: str) -> PrepareLine | None:
    match = PREPARING.match(line.strip())
    if match is None:
        return None
    g = match.groupdict()
    try:
        left = None if g["left"] == "-" else float(g["left"])
        return PrepareLine(float(g["elapsed"]), left, int(g["done"]), int(g["total"]), g["stage"])
    except ValueError:
        return None


def clock_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def preparing_times(wall_s: float, left_s: float | None, training_s: float) -> str:
    """``0:35 since Start · preparing, about 0:20 left, then training for 15:00``."""
    left = "estimating the time left" if left_s is None else f"about {clock_text(left_s)} left"
    return f"{clock_text(wall_s)} since Start · preparing, {left}, then training for {clock_text(training_s)}"


def training_times(wall_s: float, line: AdaptLine) -> str:
    """``3:10 since Start · trained 1:02 · about 13:58 left``; past the time set: finishing."""
    since = f"{clock_text(wall_s)} since Start · trained {clock_text(line.elapsed_s)}"
    if line.elapsed_s >= line.total_s:
        return f"{since} · finishing (scoring and saving the best weights)"
    return f"{since} · about {clock_text(line.total_s - line.elapsed_s)} left"


def ended_times(wall_s: float, line: AdaptLine | None) -> str:
    """``3:30 since Start · trained 1:02`` once the run has ended."""
    trained = f" · trained {clock_text(line.elapsed_s)}" if line is not None else " · no training step ran"
    return f"{clock_text(wall_s)} since Start{trained}"


def progress_fraction(line: AdaptLine) -> float:
    return min(1.0, line.elapsed_s / line.total_s) if line.total_s > 0 else 0.0


class HeldOutTrend:
    """The held-out error as the user sees it: the first value, and a smoothed current one.

    Progress lines repeat the last evaluation until the next one (about once a minute), so a
    new value is a new evaluation; each moves the shown value ``SMOOTHING`` of the way.
    """

    def __init__(self) -> None:
        self.first: float | None = None
        self.smoothed: float | None = None
        self._last: float | None = None

    def add(self, holdout: float) -> None:
        if holdout == self._last:
            return
        self._last = holdout
        if self.first is None:
            self.first = self.smoothed = holdout
        else:
            self.smoothed += SMOOTHING * (holdout - self.smoothed)

    def text(self) -> str:
        if self.first is None:
            return ""
        change = (self.smoothed - self.first) / self.first if self.first > 0 else 0.0
        if abs(change) < 0.005:
            trend = "no change yet"
        else:
            trend = f"{abs(change):.0%} {'lower (better)' if change < 0 else 'higher (worse)'}"
        return f"Error on held-out poses: {self.smoothed:.4f} now (smoothed) · {self.first:.4f} at the start · {trend}"
