"""Shared inputs of the fit tests: the real drawings in examples/drawn (MIT, see its README)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
DRAWN = REPO / "examples" / "drawn"


@pytest.fixture(scope="session")
def eileen() -> Path:
    return DRAWN / "eileen"


@pytest.fixture(scope="session")
def sylvie() -> Path:
    return DRAWN / "sylvie"


def read_rgba(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGRA2RGBA)


def write_rgba(path: Path, rgba: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    return path
