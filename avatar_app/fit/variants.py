"""Expression variants: files that are one view drawn again with another face.

Artists hand over a character as ``front.png`` plus ``front_happy.png``, ``front_blink.png``
...: the same body, the same outline, another face. Fitted as views they would be taken as
more turns of the body (and cost a minute each); they are the view's expression sheets
(``pipeline.expression_sheets``: ``sheet/expressions/<name>/``).

Two drawings are the same view when their pictures have the same size and their outlines
(alpha, as the fit prepares them) overlap with IoU at least ``SAME_VIEW_IOU``. In each such
group the base view is the one whose name says least about a face (``front``, ``neutral``),
then a calm one (``happy`` before ``concerned``), then the first by name; the others are its
expressions, named from what their file name adds (``front_happy`` -> ``happy``,
``front_blink`` -> ``eyes_closed``, ``very_happy_mouth_open`` -> ``mouth_open``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import cv2
import numpy as np

from avatar_app.core.errors import SheetError
from avatar_app.fit.drawing import NAME_YAWS, Drawing
from avatar_app.rig.expressions import expression_name

#: outlines this alike (IoU of the prepared alpha) are one view drawn again
SAME_VIEW_IOU = 0.9
#: two views' palettes further apart than this (mean CIE Lab distance of each colour to the other's
#: nearest, 8-bit units) are different characters or outfits: godette's turnaround 2-9, school
#: uniforms of two characters 9.5, other pairs in ../shared/drawn 12 and more
PALETTE_COLOURS = 6
DIFFERENT_PALETTE = 5.0

# words in a file name -> the expression sheet they are (checked in this order: a mouth that is
# open matters more to the renderer than the mood around it)
_WORDS = (
    (("mouth_open", "open_mouth", "talk", "speak", "shout"), "mouth_open"),
    (("blink", "closed", "eyes_shut", "shut", "sleep", "wink"), "eyes_closed"),
    (("surprise", "shock", "astonish"), "surprised"),
    (("angry", "anger", "mad", "annoyed", "rage"), "angry"),
    (("sad", "cry", "tear", "worried", "worry", "concern", "upset"), "sad"),
    (("happy", "joy", "laugh", "grin", "giggle"), "happy"),
    (("relaxed", "smile", "calm", "content", "fun"), "relaxed"),  # VRM's relaxed (0.x Fun): a gentle smile
)
_NEUTRAL = ("neutral", "normal", "default", "base", "idle", "plain")
_VIEW_WORDS = tuple(word for word, _ in NAME_YAWS)


@dataclass(frozen=True)
class Variant:
    """``drawing`` is view ``view`` (an index into the views) with the face ``name``."""

    name: str
    view: int
    drawing: Drawing


def expression_of(stem: str) -> str | None:
    """The expression sheet a file's name asks for, or None (a neutral or unreadable name)."""
    words = re.sub(r"[^a-z0-9]+", "_", stem.lower())
    for keys, name in _WORDS:
        if any(key in words for key in keys):
            return name
    rest = "_".join(w for w in words.split("_") if w and w not in _VIEW_WORDS)
    return rest if rest and expression_name(rest) is not None else None


def _rank(drawing: Drawing) -> tuple[int, str]:
    """Lower is a better base view: a neutral name, then a calm face, then any."""
    words = re.sub(r"[^a-z0-9]+", "_", drawing.name.lower())
    bare = all(w in _VIEW_WORDS for w in words.split("_") if w)
    if bare or any(w in words for w in _NEUTRAL):
        return 0, drawing.name
    return (1 if expression_of(drawing.name) in ("happy", "relaxed") else 2), drawing.name


def _outline_iou(a: Drawing, b: Drawing) -> float:
    if a.original.shape != b.original.shape:
        return 0.0
    ma, mb = a.mask, b.mask
    union = np.logical_or(ma, mb).sum()
    return float(np.logical_and(ma, mb).sum() / union) if union else 0.0


def split_variants(drawings: list[Drawing]) -> tuple[list[Drawing], list[Variant], list[str]]:
    """(views, variants, notes): each group of the same view drawn again becomes one view and
    its variants; ``notes`` says what was decided about each file, for the user."""
    groups: list[list[Drawing]] = []
    for drawing in drawings:
        for group in groups:
            if _outline_iou(group[0], drawing) >= SAME_VIEW_IOU:
                group.append(drawing)
                break
        else:
            groups.append([drawing])
    views, variants, notes = [], [], []
    for group in groups:
        base = min(group, key=_rank)
        views.append(base)
    order = sorted(range(len(views)), key=lambda k: drawings.index(views[k]))
    views = [views[k] for k in order]
    groups = [groups[k] for k in order]
    for index, (base, group) in enumerate(zip(views, groups)):
        taken: set[str] = set()
        for drawing in sorted(group, key=lambda d: d.name):
            if drawing is base:
                continue
            name = expression_of(drawing.name)
            if name is None or name in taken:
                why = "no expression in its name" if name is None else f"a second {name!r}"
                notes.append(f"{drawing.path.name}: the same view as {base.path.name} with {why}; not used")
                continue
            taken.add(name)
            variants.append(Variant(name, index, drawing))
            notes.append(f"{drawing.path.name}: {base.path.name}'s expression {name!r}")
    return views, variants, notes


def palette(drawing: Drawing) -> tuple[np.ndarray, np.ndarray]:
    """(colours [K, 3] CIE Lab, weights [K]): the drawing's main colours by k-means, seeded."""
    lab = cv2.cvtColor(drawing.straight_rgb(), cv2.COLOR_RGB2LAB)[drawing.mask].astype(np.float32)
    k = min(PALETTE_COLOURS, len(lab))
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, labels, centres = cv2.kmeans(lab, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    return centres, np.bincount(labels.ravel(), minlength=k) / len(labels)


def palette_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """How far apart two ``palette``s are (see ``DIFFERENT_PALETTE``)."""
    (ca, wa), (cb, wb) = a, b
    d = np.linalg.norm(ca[:, None] - cb[None], axis=2)
    return float(0.5 * ((wa * d.min(axis=1)).sum() + (wb * d.min(axis=0)).sum()))


def check_one_character(fronts: list[Drawing]) -> None:
    """Refuse two views that both show the face square on but are not the same drawing, when
    their colours differ too: two characters (or two outfits) in one folder, which no fit can
    make one body of."""
    for (a, colours_a), (b, colours_b) in itertools.combinations([(d, palette(d)) for d in fronts], 2):
        distance = palette_distance(colours_a, colours_b)
        if distance > DIFFERENT_PALETTE:
            raise SheetError(
                b.path.parent,
                "one character in one outfit (its views from different sides, its expression variants)",
                f"two front views in different colours: {a.path.name} and {b.path.name} "
                f"(palette distance {distance:.1f})",
                "put each character (each outfit) in its own folder; a variant of a view must keep its outline",
            )
