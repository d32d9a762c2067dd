"""Resume files (``CHAR/.adapt/state.pt``, ``RUN/last.pt``): tensors plus JSON, never code.

A resume file travels with a character folder or a run folder, so it may come from someone
else. It is read with ``torch.load(weights_only=True)`` (:func:`~avatar_app.models.checkpoint.
torch_load_data`): tensors, the optimiser's own state_dict and one JSON string of everything
else (step, time, settings, history). Anything that would need code to unpickle is refused
before it runs. ``format`` and ``kind`` mark the layout: a file from before this layout (or of
the other kind) is refused with the fix, never half-loaded.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from avatar_app.core.errors import CheckpointError
from avatar_app.models.checkpoint import torch_load_data

__all__ = ["RESUME_FORMAT", "load_resume_file", "save_resume_file"]

RESUME_FORMAT = 2  # 1: the whole state pickled (before data-only loading); no "format" key


def save_resume_file(path: Path, kind: str, tensors: dict, meta: dict) -> None:
    """Write ``tensors`` (tensors, dicts of them, optimiser state_dicts) and ``meta`` (JSON) atomically.

    An ``OSError`` (a full disk) leaves the previous file in place and propagates.
    """
    clash = set(tensors) & {"format", "kind", "meta"}
    if clash:
        raise ValueError(f"resume file keys {sorted(clash)} are reserved")
    text = json.dumps(meta)  # fails here, at save, for anything that is not plain data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save({"format": RESUME_FORMAT, "kind": kind, "meta": text, **tensors}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_resume_file(path: Path, kind: str, tensor_keys: tuple[str, ...], fix: str) -> tuple[dict, dict]:
    """``(tensors, meta)`` of a file :func:`save_resume_file` wrote, or a CheckpointError saying ``fix``."""
    article = "an" if kind[0] in "aeiou" else "a"
    expected = f"{article} {kind} written by this version of avatar-app (format {RESUME_FORMAT})"
    data = torch_load_data(path, expected, fix)
    if not isinstance(data, dict):
        raise CheckpointError(path, expected, f"a {type(data).__name__}", fix)
    found_format, found_kind = data.get("format"), data.get("kind")
    if found_format != RESUME_FORMAT or found_kind != kind:
        found = (
            "a file from an older avatar-app (no format mark)"
            if found_format is None
            else f"format {found_format!r} of kind {found_kind!r}"
        )
        raise CheckpointError(path, expected, found, fix)
    missing = [k for k in tensor_keys if k not in data]
    if missing or not isinstance(data.get("meta"), str):
        raise CheckpointError(path, expected, f"no {', '.join(missing) or 'meta'} in it (a damaged file)", fix)
    try:
        meta = json.loads(data["meta"])
    except ValueError as exc:
        raise CheckpointError(path, expected, f"unreadable meta JSON ({exc})", fix) from exc
    if not isinstance(meta, dict):
        raise CheckpointError(path, expected, f"meta JSON of type {type(meta).__name__}", fix)
    return {k: data[k] for k in tensor_keys}, meta
