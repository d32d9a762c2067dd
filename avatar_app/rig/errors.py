"""Errors raised by the rig package: unusable character and motion files."""

from __future__ import annotations

from avatar_app.core.errors import InputError


class RigFileError(InputError):
    """A glTF/VRM character file (or a character built in code) is unusable."""


class MotionFileError(InputError):
    """A motion file (BVH) is unusable."""
