"""Errors that tell the user what is wrong and how to fix it.

Every error names the object (a file or a setting), what was expected, what was
found, and the likely fix, so the CLI and the GUI can show it as it is.
"""

from __future__ import annotations


class AvatarAppError(Exception):
    """Base class of every error this app raises on purpose."""


class InputError(AvatarAppError):
    """A file, folder or setting the user gave us is not usable.

    The message reads: ``<source>: expected <expected>, found <found>. Fix: <fix>``.
    """

    def __init__(self, source: object, expected: str, found: str, fix: str):
        self.source = str(source)
        self.expected = expected
        self.found = found
        self.fix = fix
        super().__init__(f"{self.source}: expected {expected}, found {found}. Fix: {fix}")


class SheetError(InputError):
    """A character sheet (folder or view image) is unusable."""


class UdpFileError(InputError):
    """A UDP (pose) file is unusable."""


class CheckpointError(InputError):
    """Model weights do not match the network they are loaded into."""


class SettingError(InputError):
    """A command-line option or configuration value is out of range."""


class DeviceError(AvatarAppError):
    """A device (camera, virtual camera, GPU) is missing or failed."""
