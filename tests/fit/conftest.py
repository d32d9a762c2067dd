"""Shared inputs of the fit tests: the real drawings in examples/drawn (MIT, see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DRAWN = REPO / "examples" / "drawn"


@pytest.fixture(scope="session")
def eileen() -> Path:
    return DRAWN / "eileen"


@pytest.fixture(scope="session")
def sylvie() -> Path:
    return DRAWN / "sylvie"
