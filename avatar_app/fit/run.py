"""The whole ``fit``: drawings in, a character folder out (``fit.outputs``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from avatar_app.fit.drawing import load_drawings
from avatar_app.fit.landmarks import LandmarkFinder
from avatar_app.fit.outputs import check_out_folder, write_character_folder
from avatar_app.fit.search import FitResult, fit_views
from avatar_app.fit.variants import split_variants
from avatar_app.rig.avatar_style import AvatarStyle

log = logging.getLogger(__name__)

FIT_SIZE = 256  # the drawings' working square; the camera is resolution-free, outputs use --size


def find_landmarks(drawings, note: Callable[[str], None] = lambda text: None) -> list:
    with LandmarkFinder() as finder:
        found = [finder.find(d) for d in drawings]
    seen = sum(f is not None for f in found)
    note(f"mediapipe found a person in {seen} of {len(drawings)} view(s)")
    return found


def fit_folder(
    sheet: Path,
    out: Path,
    *,
    size: int = 256,
    rounds: int = 2,
    weights: Path | None = None,
    style: AvatarStyle | None = None,
    facing: dict[str, float] | None = None,
    cancel: threading.Event | None = None,
    note: Callable[[str], None] = lambda text: None,
    progress: Callable[[float], None] = lambda fraction: None,
) -> FitResult:
    check_out_folder(out)  # before a minute of work, not after
    drawings = load_drawings(sheet, FIT_SIZE)
    views, variants, decisions = split_variants(drawings)
    for line in decisions:
        note(line)
    note(f"fit: {len(views)} view(s), {len(variants)} expression(s) from {sheet}")
    landmarks = find_landmarks(views, note)
    result = fit_views(
        views, landmarks, style=style, facing=facing, rounds=rounds, cancel=cancel, note=note, progress=progress
    )
    write_character_folder(
        result, out, sheet_size=size, sources=[d.path for d in drawings], variants=variants, note=note
    )
    if weights is not None:
        from avatar_app.fit.official import calibrate_official

        calibrate_official(out, weights, size=size, note=note)
    return result
