"""Files that run code the moment they are unpickled: what a hostile character or run folder holds.

The code only writes ``ran`` into ``marker``, so a test can see whether it ran.
``test_the_planted_files_run_code_when_unpickled`` (tests/training/test_resume_trust.py) shows
that each of these does run when loaded the unsafe way, so a test that finds no marker
proves the loader refused it, not that the plant was a dud.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch


class RunsCode:
    """Unpickling this object calls ``exec`` on a line that writes the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def plant_torch(path: Path, marker: Path, around: dict | None = None) -> Path:
    """A ``torch.save`` file whose dict (``around`` plus one key) holds the code."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**(around or {}), "payload": RunsCode(marker)}, path)
    return path


def plant_raw_pickle(path: Path, marker: Path) -> Path:
    """A bare pickle (not torch's zip layout), which ``torch.load`` also accepts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(RunsCode(marker), protocol=2))
    return path


def plant_npy(path: Path, marker: Path) -> Path:
    """An ``.npy`` object array: ``np.load(allow_pickle=True)`` runs it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array([RunsCode(marker), None], dtype=object), allow_pickle=True)
    return path


def plant_npz(path: Path, marker: Path, key: str = "i") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{key: np.array([RunsCode(marker), None], dtype=object)})
    return path
