"""Fixtures for the live-pipeline tests (helpers in pipeline_helpers.py)."""

from __future__ import annotations

import pytest

from bvh_clip import bvh_frame, write_bvh
from pipeline_helpers import FiniteSource, RecordingSink


@pytest.fixture(scope="session")
def character():
    from avatar_app.pipeline.defaults import load_character

    return load_character()


@pytest.fixture
def make_sink():
    return RecordingSink


@pytest.fixture
def finite_source():
    return FiniteSource


@pytest.fixture(scope="session")
def lite_networks():
    """The lite CoNR preset with the synthetic weights (renders nothing meaningful; ~4 s to build)."""
    from avatar_app.models import create_conr, fill_networks

    return fill_networks(create_conr("lite", init=False)).eval()


@pytest.fixture
def bvh_file(tmp_path):
    """Rest, both arms raised 80 degrees, rest: 0.5 s apart."""
    arms_up = bvh_frame(LeftArm=(80.0, 0.0, 0.0), RightArm=(-80.0, 0.0, 0.0))
    return write_bvh(tmp_path / "arms.bvh", [bvh_frame(), arms_up, bvh_frame()], frame_time=0.5)
