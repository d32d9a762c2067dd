"""Fixtures for the model tests: the conformance kit and synthetic-weight networks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avatar_app.models import create_conr, fill_networks

CONFORMANCE_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"


def synthetic_conr(config, preset: str = "official"):
    """Official-size networks with the kit's synthetic weights, built once per test session.

    Kept on the pytest config object so tests/models and tests/infer share one copy
    (720 MB, ~3 s to fill).
    """
    store = config.__dict__.setdefault("_avatar_app_synthetic_conr", {})
    if preset not in store:
        store[preset] = fill_networks(create_conr(preset, init=False))
    return store[preset]


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not (CONFORMANCE_DIR / "README.md").is_file():
        pytest.skip(
            f"conformance kit not found at {CONFORMANCE_DIR.resolve()} (needs ../shared/conformance next to the repo)"
        )
    return CONFORMANCE_DIR


@pytest.fixture(scope="session")
def official_layout(conformance_dir) -> dict:
    return json.loads((conformance_dir / "conr_official_state_dicts.json").read_text())


@pytest.fixture(scope="session")
def golden_256(conformance_dir) -> dict:
    with np.load(conformance_dir / "golden_256_2views.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def official_networks(request):
    return synthetic_conr(request.config, "official")
