"""Fixtures for the fault tests (helpers in fault_helpers.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def character():
    from avatar_app.pipeline.defaults import load_character

    return load_character()
