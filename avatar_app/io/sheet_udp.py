"""A character folder's ``sheet_udp/``: each sheet view's fitted UDP map, on the view's pixels.

``avatar-app fit`` writes ``CHAR/sheet_udp/<view stem>.npz`` beside ``CHAR/sheet/``, each
aligned with its view as :func:`avatar_app.io.sheet.load_sheet` prepares it (at the folder's
``sheet_udp_size``). Adaptation and the drawn-detail pass read them here.

``CHAR/sheet_fill/<view stem>.png`` and ``.npz`` (``fit.layers``) are the body a view's arms
hide, filled: straight RGBA opaque only where filled, and the UDP of those pixels. The
drawn-detail pass takes them as more drawn points (:func:`load_sheet_fill`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from avatar_app.core.errors import InputError
from avatar_app.io.udp import load_udp

__all__ = ["SHEET_FILL_DIR", "load_sheet_fill", "load_sheet_udp", "sheet_udp_dir"]

SHEET_FILL_DIR = "sheet_fill"


def sheet_udp_dir(sheet_dir: str | Path) -> Path:
    """Where the UDP maps of a character folder's ``sheet/`` live (``sheet/../sheet_udp``)."""
    return Path(sheet_dir).parent / "sheet_udp"


def load_sheet_udp(folder: str | Path, names, size: int) -> tuple[np.ndarray | None, list[str]]:
    """(float32 [V,4,S,S] for the views ``names`` (sheet file names), or None if any is missing;
    the names of the missing ones). Maps of another size are resized nearest-neighbour."""
    folder = Path(folder)
    maps, missing = [], []
    for name in names:
        path = folder / f"{Path(name).stem}.npz"
        if not path.is_file():
            missing.append(str(name))
            continue
        udp = load_udp(path).data
        if udp.shape[0] != size:
            udp = cv2.resize(udp, (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
        maps.append(udp.transpose(2, 0, 1))
    if missing:
        return None, missing
    return np.ascontiguousarray(np.stack(maps), dtype=np.float32), []


def load_sheet_fill(sheet_dir: str | Path, names, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(premultiplied rgb uint8 [K,3,S,S], alpha [K,1,S,S], UDP float32 [K,4,S,S]) of the
    views ``names`` that have a fill beside ``sheet_dir`` (``sheet/../sheet_fill``), or None.
    A fill that does not read raises ``UdpFileError``/``InputError`` naming the file."""
    folder = Path(sheet_dir).parent / SHEET_FILL_DIR
    rgb, alpha, udp = [], [], []
    for name in names:
        png, npz = folder / f"{Path(name).stem}.png", folder / f"{Path(name).stem}.npz"
        if not (png.is_file() and npz.is_file()):
            continue
        picture = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        if picture is None or picture.ndim != 3 or picture.shape[2] != 4 or picture.dtype != np.uint8:
            raise InputError(
                str(png), "an 8-bit RGBA PNG (a fill fit wrote)", "something else", "run avatar-app fit again"
            )
        fill_udp = load_udp(npz).data
        if picture.shape[:2] != fill_udp.shape[:2]:
            raise InputError(
                str(npz),
                f"a UDP map the size of {png.name} {picture.shape[:2]}",
                f"{fill_udp.shape[:2]}",
                "run avatar-app fit again",
            )
        if picture.shape[0] != size:
            picture = cv2.resize(picture, (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
            fill_udp = cv2.resize(fill_udp, (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
        rgba = cv2.cvtColor(picture, cv2.COLOR_BGRA2RGBA)
        a = rgba[..., 3:4].astype(np.float32) / 255.0
        rgb.append((rgba[..., :3] * a + 0.5).astype(np.uint8).transpose(2, 0, 1))
        alpha.append(rgba[..., 3][None])
        udp.append(fill_udp.transpose(2, 0, 1))
    if not rgb:
        return None
    return np.stack(rgb), np.stack(alpha), np.ascontiguousarray(np.stack(udp), dtype=np.float32)
