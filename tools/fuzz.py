#!/usr/bin/env python3
"""Property-based fuzzing of every loader and parser of files and messages the app reads.

    python tools/fuzz.py                          # 11,200 cases: 800 per loader (14 loaders)
    python tools/fuzz.py --cases 2000 --only bvh,glb --seed 7
    python tools/fuzz.py --report docs/fuzzing.md # also write the report table there

What each loader gets is in ``tools/fuzz_targets.py`` (broken copies of valid files, arbitrary
arrays in valid containers, mutated JSON/BVH/TOML/CSV, OSC packets, control API messages). The property, for every
case: the loader returns a result that passes the target's checks, or raises one of the
project's own errors (``avatar_app.core.errors.InputError``) whose message names the case's
file, the expected, the found and the fix. Anything else fails the run: another exception
type (a raw traceback for the user), a result with NaN in it, or a case that takes longer
than ``--timeout`` seconds (a hang). Hypothesis shrinks a failure to a small example, which
is printed; the exit status is 1 when any loader failed.

``tests/fuzz/`` runs the same targets with a few cases each (derandomised) in the suite.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # before cv2 is first used: .exr UDP maps
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz_targets import TARGETS, Target  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from avatar_app.core.errors import InputError  # noqa: E402

DEFAULT_CASES = 800  # per loader: 14 x 800 = 11,200


class Hang(Exception):
    """One case ran longer than the time allowed."""


@dataclass
class FuzzResult:
    target: str
    loader: str
    cases: int = 0
    errors: int = 0  # cases refused with one of the project's errors
    seconds: float = 0.0
    failure: str | None = None  # the shrunk failing case and what went wrong
    error_kinds: dict[str, int] = field(default_factory=dict)
    causes: dict[str, int] = field(default_factory=dict)  # the library exceptions our errors were raised from

    @property
    def failures(self) -> int:
        return 0 if self.failure is None else 1


@contextmanager
def time_limit(seconds: float):
    """Raise :class:`Hang` in the main thread after ``seconds`` (Unix; no limit elsewhere)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def hang(signum, frame):
        raise Hang(f"no result after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, hang)
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)  # e.g. pytest-timeout's own alarm
    start = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # give the outer alarm back what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - start), 1e-3), interval)


def check_error(err: InputError, workdir: Path) -> None:
    """A refusal must read like the project's errors: the file, expected, found, the fix."""
    for part in ("expected", "found", "fix"):
        if not str(getattr(err, part, "")).strip():
            raise AssertionError(f"{type(err).__name__} without '{part}': {err}")
    if not err.source.startswith("VMC") and str(workdir) not in err.source:
        raise AssertionError(f"{type(err).__name__} does not name the file: {err}")


def fuzz(
    target: Target,
    cases: int,
    *,
    seed_value: int | None = 0,
    derandomize: bool = False,
    timeout_s: float = 20.0,
    shrink: bool = True,
) -> FuzzResult:
    """Run ``cases`` generated cases through ``target``; the first failure (shrunk) ends it."""
    result = FuzzResult(target.name, target.loader)
    workdir = Path(tempfile.mkdtemp(prefix=f"fuzz-{target.name}-"))
    resources = target.resources()
    generating = [True]

    @settings(
        max_examples=cases,
        database=None,
        deadline=None,
        derandomize=derandomize,
        phases=[Phase.generate, Phase.shrink] if shrink else [Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(target.strategy())
    def one_case(case) -> None:
        if generating[0]:
            result.cases += 1
        try:
            with time_limit(timeout_s):
                target.run(case, workdir, resources)
        except InputError as err:
            if generating[0]:
                result.errors += 1
                kind = type(err).__name__
                result.error_kinds[kind] = result.error_kinds.get(kind, 0) + 1
                cause = err.__cause__
                if cause is not None and not isinstance(cause, InputError):
                    name = type(cause).__name__
                    result.causes[name] = result.causes.get(name, 0) + 1
            check_error(err, workdir)

    run = seed(seed_value)(one_case) if seed_value is not None and not derandomize else one_case
    start = time.perf_counter()
    try:
        run()
    except Exception as exc:  # noqa: BLE001 - any exception type is the finding to report
        generating[0] = False
        result.failure = "".join(traceback.format_exception(exc, limit=-6))
    finally:
        result.seconds = time.perf_counter() - start
        for resource in resources.values():
            resource.close()
        for path in sorted(workdir.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        workdir.rmdir()
    return result


def report_table(results: list[FuzzResult], command: str) -> str:
    total = sum(r.cases for r in results)
    lines = [
        f"`{command}`: {total:,} cases, {sum(r.failures for r in results)} failures, "
        f"{sum(r.seconds for r in results):.0f} s.",
        "",
        "| loader | what is called | cases | refused with the project's error | raised from | failures | seconds |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for r in results:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.error_kinds.items())) or "-"
        top = sorted(r.causes.items(), key=lambda kv: -kv[1])[:3]
        causes = ", ".join(f"{k} {v}" for k, v in top) or "-"
        lines.append(
            f"| `{r.target}` | {r.loader} | {r.cases:,} | {r.errors:,} ({kinds}) | {causes} | {r.failures} "
            f"| {r.seconds:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=DEFAULT_CASES, help="cases per loader (default %(default)s)")
    p.add_argument("--only", default="", help="comma-separated loader names (default: all)")
    p.add_argument("--seed", type=int, default=0, help="hypothesis seed (default %(default)s)")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds one case may take (default %(default)s)")
    p.add_argument("--report", type=Path, default=None, help="also write the table to this file")
    p.add_argument("--list", action="store_true", help="list the loaders and exit")
    a = p.parse_args(argv)
    if a.list:
        for t in TARGETS:
            print(f"{t.name:16s} {t.loader}")
        return 0
    names = [n for n in a.only.split(",") if n]
    unknown = sorted(set(names) - {t.name for t in TARGETS})
    if unknown:
        p.error(f"unknown loader(s) {', '.join(unknown)}; see --list")
    logging.basicConfig(level=logging.ERROR)  # loaders log each refusal; the table says it
    results = []
    for target in TARGETS:
        if names and target.name not in names:
            continue
        r = fuzz(target, a.cases, seed_value=a.seed, timeout_s=a.timeout)
        status = "ok" if r.failure is None else "FAILED"
        print(f"{r.target:16s} {r.cases:6d} cases {r.errors:6d} refused {r.seconds:7.1f} s  {status}", flush=True)
        if r.failure is not None:
            print(r.failure, file=sys.stderr)
        results.append(r)
    command = "python tools/fuzz.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    table = report_table(results, command.replace(f" --report {a.report}", "") if a.report else command)
    print(table)
    if a.report:
        a.report.write_text(table)
    return 1 if any(r.failure for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
