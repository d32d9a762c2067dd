"""Shared fixtures for the rig tests: the proxy body and the default avatar, built once per session.

Both need the ``mannequin-x`` package (the ``tools`` extra); tests that use them
skip with the install hint where it is missing.
"""

from __future__ import annotations

import pytest

from avatar_app.rig import Character, build_default_avatar, load_mannequin_body


@pytest.fixture(scope="session")
def body() -> Character:
    pytest.importorskip("mannequin", reason="needs mannequin-x: pip install mannequin-x (the 'tools' extra)")
    return load_mannequin_body()


@pytest.fixture(scope="session")
def default_avatar() -> Character:
    pytest.importorskip("mannequin", reason="needs mannequin-x: pip install mannequin-x (the 'tools' extra)")
    return build_default_avatar()
