"""A character folder's ``sheet_udp/``: each sheet view's fitted UDP map, on the view's pixels.

``avatar-app fit`` writes ``CHAR/sheet_udp/<view stem>.npz`` beside ``CHAR/sheet/``, each
aligned with its view as :func:`avatar_app.io.sheet.load_sheet` prepares it (at the folder's
``sheet_udp_size``). Adaptation and the drawn-detail pass read them here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from avatar_app.io.udp import load_udp

__all__ = ["load_sheet_udp", "sheet_udp_dir"]


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
