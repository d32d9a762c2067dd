"""A motion file's face: a side track of expression keys, ``<motion>.expressions.csv``.

BVH has no place for a face, so a motion's expressions travel beside it: a CSV file named
like the motion with ``.expressions.csv`` instead of ``.bvh``. The first column is ``time``
(seconds), the others are expression names in any vocabulary :mod:`.expressions` reads
(``Blink, A, Joy`` or ``blink, aa, happy``); values 0..1, linearly interpolated between keys
and looping with the motion. Bad cells are handled like any source's: ignored (or clipped)
with one warning each, never a failed load; a file that is not such a table is a
:class:`MotionFileError` naming it.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from avatar_app.rig.errors import MotionFileError
from avatar_app.rig.expressions import Expression, ExpressionReader


def side_track_path(motion_path: str | Path) -> Path:
    path = Path(motion_path)
    return path.with_name(path.stem + ".expressions.csv")


class ExpressionCurve:
    """Keys ``times [N]`` (increasing) and ``values [N, E]`` -> ``at(t)`` interpolated, looping at ``loop_s``."""

    def __init__(self, times: np.ndarray, values: np.ndarray, loop_s: float | None = None):
        self.times, self.values, self.loop_s = np.asarray(times, float), np.asarray(values, np.float32), loop_s

    def at(self, t: float) -> Expression:
        if self.loop_s:
            t = float(t) % self.loop_s
        k = np.searchsorted(self.times, t, side="right")
        if k == 0:
            return Expression(self.values[0])
        if k >= len(self.times):
            return Expression(self.values[-1])
        t0, t1 = self.times[k - 1], self.times[k]
        w = (t - t0) / (t1 - t0)
        return Expression(self.values[k - 1] + w * (self.values[k] - self.values[k - 1]))


def load_expression_track(path: str | Path, loop_s: float | None = None) -> ExpressionCurve:
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise MotionFileError(path, "a readable UTF-8 CSV file", str(exc), "save it as UTF-8 text") from exc
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 2 or rows[0][0].strip().lower() != "time":
        raise MotionFileError(
            path, "a header 'time,<expression>,...' and at least one row", f"{len(rows)} rows", "see the docs' example"
        )
    names = [c.strip() for c in rows[0][1:]]
    reader = ExpressionReader(str(path))
    times, values = [], []
    for n, row in enumerate(rows[1:], start=2):
        try:
            t = float(row[0])
        except (ValueError, IndexError) as exc:
            where = f"{row[:1]} on line {n}"
            raise MotionFileError(path, "a time in seconds first on every row", where, "fix the row") from exc
        if not math.isfinite(t) or (times and t <= times[-1]):
            raise MotionFileError(path, "increasing finite times", f"{t} on line {n}", "sort the rows by time")
        raw = {}
        for name, cell in zip(names, row[1:]):
            try:
                raw[name] = float(cell)
            except ValueError:
                raw[name] = cell  # the reader warns once and ignores it
        times.append(t)
        values.append(reader.read(raw).values)
    return ExpressionCurve(np.array(times), np.stack(values), loop_s)
