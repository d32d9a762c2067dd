"""The suite's slice of ``tools/fuzz.py``: every loader, a few dozen derandomised cases each.

The property is the tool's: each case gives a result that passes the loader's checks or one of
the project's own errors naming the file, expected, found and the fix; never another exception
type, NaN in a result, or a hang. The tool runs 10,000+ cases (docs/fuzzing.md); this slice keeps
the property in CI and runs in seconds.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
CASES = 40


def _load_fuzz_tool():
    spec = importlib.util.spec_from_file_location("fuzz_tool", TOOLS / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_tool", module)
    spec.loader.exec_module(module)
    return module


FUZZ = _load_fuzz_tool()


@pytest.mark.parametrize("target", FUZZ.TARGETS, ids=lambda t: t.name)
def test_each_case_gives_a_result_or_the_projects_own_error(target):
    result = FUZZ.fuzz(target, CASES, derandomize=True, timeout_s=30.0)
    assert result.failure is None, f"{target.name}: {result.failure}"
    assert result.cases >= CASES // 2, f"{target.name}: only {result.cases} cases ran"


def test_a_crash_a_foreign_error_and_a_bad_message_each_fail_the_property(monkeypatch):
    """The harness itself: what it must report as failures, it does."""
    from hypothesis import strategies as st

    from avatar_app.core.errors import InputError

    def crash(case, workdir, resources):
        raise KeyError(case)

    def vague(case, workdir, resources):
        raise InputError(workdir / "f", "x", "y", "")  # no fix

    def elsewhere(case, workdir, resources):
        raise InputError("some other file", "x", "y", "z")  # does not name the case's file

    for run in (crash, vague, elsewhere):
        target = FUZZ.Target("probe", "probe", lambda: st.integers(0, 3), run)
        assert FUZZ.fuzz(target, 5, derandomize=True, shrink=False).failure is not None, run.__name__


def test_a_hang_fails_the_property():
    import time

    from hypothesis import strategies as st

    target = FUZZ.Target("probe", "probe", lambda: st.just(0), lambda case, w, r: time.sleep(5))
    result = FUZZ.fuzz(target, 1, derandomize=True, timeout_s=0.2, shrink=False)
    assert result.failure is not None and "Hang" in result.failure


def test_the_case_time_limit_gives_an_outer_alarm_back():
    """pytest-timeout arms SIGALRM too: a case's limit must not cancel it."""
    import signal

    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        with FUZZ.time_limit(5.0):
            pass
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90.0 < left <= 100.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
