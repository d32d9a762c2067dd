"""Small helpers shared by the loaders: natural sort, reading bytes, decoding images.

Files are read as bytes and decoded with ``cv2.imdecode`` (not ``cv2.imread``) so a
missing file, an unreadable file and a corrupt file give three different errors,
and non-ASCII paths work on every platform.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from avatar_app.core.errors import InputError

_DIGITS = re.compile(r"(\d+)")


def natural_sort_key(path: str | Path) -> tuple:
    """Sort key that orders ``frame_2`` before ``frame_10`` (case-insensitive)."""
    name = Path(path).name
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in _DIGITS.split(name.lower()) if part
    )
    return parts, name  # the exact name breaks ties such as "f01" / "f1"


def read_bytes(path: Path, error: type[InputError], expected: str) -> bytes:
    """The file's bytes, or ``error`` saying why it could not be read."""
    if not path.exists():
        raise error(path, expected, "no such file", "check the path and the file name")
    if path.is_dir():
        raise error(path, expected, "a folder", "pass a file, not a folder")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise error(
            path, expected, f"a file that cannot be read ({exc.strerror or exc})", "check the file's permissions"
        ) from exc


def decode_image(data: bytes, path: Path, error: type[InputError], expected: str, fix: str) -> np.ndarray:
    """Decode with IMREAD_UNCHANGED (keeps alpha and 16-bit depth) or raise ``error``."""
    image = None
    if data:
        try:
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        except cv2.error:  # some codecs raise instead of returning None
            image = None
    if image is None:
        found = (
            "an empty file"
            if not data
            else f"a file OpenCV cannot decode ({len(data)} bytes; corrupt, truncated or not an image)"
        )
        raise error(path, expected, found, fix)
    return image


def channel_count(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[2]


def describe_pixels(image: np.ndarray) -> str:
    """E.g. '3-channel 8-bit 640x480 image' for error messages."""
    depth = {np.dtype(np.uint8): "8-bit", np.dtype(np.uint16): "16-bit"}.get(image.dtype, str(image.dtype))
    return f"a {channel_count(image)}-channel {depth} {image.shape[1]}x{image.shape[0]} image"
