"""A small, valid character folder made without a fit (what ``fit_folder`` writes, in miniature)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from avatar_app.fit.proxy import ViewParams
from avatar_app.io.character_folder import save_character_info
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER
from avatar_app.rig.avatar_style import AvatarStyle

from gui_helpers import write_view

SHEET_UDP_SIZE = 128


def write_character(root: Path, drawings: Path, *, framing: str = "waist", cut: float | None = 0.74) -> Path:
    """``root``: sheet/ (the drawings), avatar.glb (the built-in body), fit.png, character.json."""
    (root / "sheet").mkdir(parents=True)
    files = sorted(p for p in drawings.iterdir() if p.suffix == ".png")
    for path in files:
        shutil.copyfile(path, root / "sheet" / path.name)
    shutil.copyfile(DEFAULT_CHARACTER / "avatar.glb", root / "avatar.glb")
    write_view(root / "fit.png", np.full((40, 40 * len(files), 3), 200, np.uint8))
    save_character_info(
        root,
        {
            "name": "Test Character",
            "made_by": {"tool": "test", "sources": [str(p) for p in files]},
            "proxy": AvatarStyle().describe(),
            "framing": {"name": framing, "cut": cut},
            "sheet_udp_size": SHEET_UDP_SIZE,
            "views": [
                {
                    "file": f"sheet/{p.name}",
                    "framing": framing,
                    "params": ViewParams(centre_y=0.9, half_height=0.95).to_dict(),
                    "iou": 0.5,
                    "start": "landmarks",
                }
                for p in files
            ],
        },
    )
    return root


def fake_fit_folder(calls: list | None = None):
    """A stand-in for ``fit.run.fit_folder`` that writes `write_character` at once (and notes it)."""

    def fit_folder(sheet, out, *, cancel=None, note=lambda text: None, **kwargs):
        if calls is not None:
            calls.append((Path(sheet), Path(out), cancel, threading.current_thread().name))
        note(f"fake fit of {sheet}")
        write_character(Path(out), Path(sheet))
        return SimpleNamespace(mean_iou=0.5)

    return fit_folder
