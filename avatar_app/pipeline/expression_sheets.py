"""Expression sheets: variants of a character's sheet, chosen per frame by the expression.

A character may draw its face in other states: ``sheet/expressions/<name>/*.png``, the
same views as ``sheet/`` (same count, same order) with, say, the eyes closed or the mouth
open. Each variant is encoded once like the sheet; per frame the renderer picks the one
the expression calls for most, when it calls for it at least ``threshold``, else the
sheet itself. Choosing (not blending) keeps the per-frame cost at zero and every frame an
exact CoNR render of one drawing; a blink is ~5 frames, so a switch at half-closed is
what the eye expects of a drawn character.

Folder names say what they show: ``eyes_closed`` (or ``blink``), ``mouth_open`` (any vowel),
or any expression name (``joy``, ``surprised``, ``aa`` ...; VRM 0.x and 1.0 names).
A folder with another name or a different view count is skipped with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from avatar_app.io.character_folder import EXPRESSIONS_DIR
from avatar_app.rig.expressions import VOWELS, Expression, expression_name

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5

_SPECIAL: dict[str, Callable[[Expression], float]] = {
    "eyes_closed": lambda e: min(e.eyes_closed()),
    "blink": lambda e: min(e.eyes_closed()),
    "mouth_open": lambda e: max(e[v] for v in VOWELS),
}


def activation(name: str) -> Callable[[Expression], float] | None:
    """How much an expression calls for the variant called ``name`` (None: a name we cannot read)."""
    key = name.strip().lower()
    if key in _SPECIAL:
        return _SPECIAL[key]
    ours = expression_name(key)
    if ours is None:
        return None
    if ours in ("blinkLeft", "blinkRight"):
        side = 0 if ours == "blinkLeft" else 1
        return lambda e: e.eyes_closed()[side]
    return lambda e: e[ours]


def variant_folders(sheet_dir: str | Path) -> dict[str, Path]:
    """``{name: folder}`` of the sheet's expression variants that have images, in name order."""
    root = Path(sheet_dir) / EXPRESSIONS_DIR
    if not root.is_dir():
        return {}
    out = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not any(f.suffix.lower() in (".png", ".webp") for f in folder.iterdir()):
            continue
        if activation(folder.name) is None:
            log.warning("%s: not an expression name (eyes_closed, mouth_open, joy ...); not used", folder)
            continue
        out[folder.name] = folder
    return out


def load_expression_sheets(sheet_dir, size: int, max_views: int | None, views: int) -> dict:
    """``{name: CharacterSheet}`` for the variants with ``views`` views (the sheet's count)."""
    from avatar_app.io.sheet import load_sheet

    out = {}
    for name, folder in variant_folders(sheet_dir).items():
        sheet = load_sheet(folder, size=size, max_views=max_views)
        if sheet.num_views != views:
            log.warning("%s: %d view(s), the sheet has %d; not used", folder, sheet.num_views, views)
            continue
        out[name] = sheet
    return out


class ExpressionChooser:
    """Per frame: which variant (or None: the sheet) an expression calls for."""

    def __init__(self, names, threshold: float = DEFAULT_THRESHOLD):
        self.rules = {name: activation(name) for name in names}
        self.threshold = float(threshold)

    def choose(self, expression: Expression | None) -> str | None:
        if expression is None or not self.rules:
            return None
        best, best_value = None, self.threshold
        for name, rule in self.rules.items():
            value = rule(expression)
            if value >= best_value and (best is None or value > best_value):
                best, best_value = name, value
        return best
