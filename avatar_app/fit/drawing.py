"""The user's drawings as the fitter sees them: each view prepared like a sheet view.

A :class:`Drawing` holds one view at the fit's working size, in exactly the frame
``avatar_app.io.sheet.prepare_view`` gives it (crop to the alpha bounding box, centred in
a square, resized), so what the fitter aligns there lines up pixel for pixel with the sheet
CoNR encodes. It also keeps what the original picture says and the square loses:

* ``cut_bottom``: the drawing stops mid-body (knee-up, waist-up, bust) rather than showing
  the feet: the character touches the picture's bottom edge or ends in a straight edge;
* ``to_square``: original pixel -> square pixel (scale, offset), for landmarks found on
  the original.

:func:`load_drawings` refuses what the fitter cannot use, naming the file and the fix: two
identical views, a view with several characters side by side, and a view too small to fit.
Views of very different sizes are fine (each is scaled to fill its square); the fitter
gives each its own camera.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avatar_app.core.errors import SheetError
from avatar_app.io.sheet import prepare_view, read_view, view_paths

#: A second blob of alpha at least this share of the largest one is a second character.
SECOND_CHARACTER_SHARE = 0.25
#: A view's character must be at least this many pixels tall in the original picture.
MIN_HEIGHT_PX = 64
#: a bottom row at least this share of the widest row is a straight cut, not feet (feet: under 0.1;
#: the drawings in ../shared/drawn cut at the thigh: 0.5 and more)
CUT_EDGE_WIDTH = 0.3
#: The hair colour is sampled in this top share of the character's height ...
HAIR_BAND = 0.04
#: ... and a pixel within this CIE Lab distance of it (8-bit Lab units) is hair.
HAIR_COLOUR_DISTANCE = 30.0
HAIR_LIGHTNESS_WEIGHT = 0.35
HAIR_STEP = 5  # the flood fill's largest step between neighbouring pixels (8-bit RGB, per channel)
#: yaw (degrees) guessed from words in a view's file name, as sheets name their views.
NAME_YAWS = (
    ("three_quarter", 45.0),
    ("threequarter", 45.0),
    ("3q", 45.0),
    ("front", 0.0),
    ("side", 90.0),
    ("profile", 90.0),
    ("left", 90.0),
    ("right", -90.0),
    ("back", 180.0),
)


@dataclass(frozen=True, eq=False)
class Drawing:
    """One view, prepared at ``size`` (see module docstring)."""

    name: str  # the file's stem
    path: Path
    size: int
    square: np.ndarray  # premultiplied RGBA uint8 [S, S, 4], as prepare_view makes it
    original: np.ndarray  # straight RGBA uint8 [H, W, 4], as read
    cut_bottom: bool
    to_square: tuple[float, float, float]  # (scale, x offset, y offset): square = scale * original + offset

    @property
    def mask(self) -> np.ndarray:
        """bool [S, S]: the character (alpha at least half)."""
        return self.square[..., 3] >= 128

    def straight_rgb(self) -> np.ndarray:
        """uint8 [S, S, 3]: the view's colours, un-premultiplied (black where transparent)."""
        alpha = self.square[..., 3:4].astype(np.float32)
        rgb = self.square[..., :3].astype(np.float32) * 255.0 / np.maximum(alpha, 1.0)
        return np.clip(rgb, 0, 255).astype(np.uint8)

    def hair_mask(self) -> np.ndarray:
        """float32 [S, S] in {0, 1}: the pixels in the hair's colour, connected to the top of the head.

        The hair colour is the median colour of the character's top rows (a head is drawn
        from the hair down); a pixel is hair within ``HAIR_COLOUR_DISTANCE`` of it in CIE Lab
        (lightness weighted down: shading).
        All zeros when the top rows hold no single colour (a hat, a very dark outline).
        """
        mask = self.mask
        rows = np.nonzero(mask.any(axis=1))[0]
        if len(rows) == 0:
            return np.zeros(mask.shape, np.float32)
        band = rows[0] + max(2, int(HAIR_BAND * (rows[-1] - rows[0])))
        lab = cv2.cvtColor(self.straight_rgb(), cv2.COLOR_RGB2LAB).astype(np.float32)
        top = mask.copy()
        top[band:] = False
        colour = np.median(lab[top], axis=0)
        # shading darkens and lightens hair: lightness counts for less than hue and chroma
        near = (
            np.linalg.norm((lab - colour) * (HAIR_LIGHTNESS_WEIGHT, 1.0, 1.0), axis=2) < HAIR_COLOUR_DISTANCE
        ) & mask
        if near[top].mean() < 0.5:
            return np.zeros(mask.shape, np.float32)
        # grow from there along gentle colour changes (shading runs down long hair), stopping at
        # line art and at other colours: a flood fill comparing each pixel with its neighbour
        rgb = cv2.GaussianBlur(self.straight_rgb(), (3, 3), 0)
        grown = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), np.uint8)
        grown[1:-1, 1:-1][~mask] = 1  # the background is a wall
        seeds = np.argwhere(near & top)
        flags = 4 | cv2.FLOODFILL_MASK_ONLY | (255 << 8)
        for y, x in seeds[:: max(1, len(seeds) // 40)]:
            if grown[y + 1, x + 1] == 0:
                cv2.floodFill(rgb, grown, (int(x), int(y)), 0, (HAIR_STEP,) * 3, (HAIR_STEP,) * 3, flags)
        hair = (grown[1:-1, 1:-1] == 255) | near
        return cv2.morphologyEx(hair.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(np.float32)

    def name_yaw(self) -> float | None:
        """The yaw a view's file name suggests (``front``, ``side``, ``back``...), or None."""
        words = self.name.lower().replace("-", "_").replace(" ", "_")
        for word, yaw in NAME_YAWS:
            if word in words:
                return yaw
        return None


def is_cut_at_bottom(alpha: np.ndarray) -> bool:
    """The drawing stops mid-body: the character touches the picture's bottom edge, or ends in a
    straight horizontal edge (a sprite cut at the thighs and exported with a margin below). Feet
    end in a few narrow rows; a cut ends in rows as wide as the legs or the hips."""
    solid = alpha >= 128
    widths = solid.sum(axis=1)
    rows = np.nonzero(widths)[0]
    if len(rows) == 0:
        return False
    last = rows[-1]
    if last >= alpha.shape[0] - 2:
        return True
    straight = widths[last] >= CUT_EDGE_WIDTH * widths.max() and widths[last] >= 0.8 * widths[max(last - 2, 0)]
    return bool(straight)


def square_transform(alpha: np.ndarray, size: int) -> tuple[float, float, float]:
    """(scale, dx, dy) taking original pixel coordinates into the prepared square's."""
    left, top, width, height = cv2.boundingRect((alpha > 0).astype(np.uint8))
    side = max(width, height)
    window_top = int(round(top - (side - height) / 2))
    window_left = int(round(left - (side - width) / 2))
    scale = size / side
    return scale, -window_left * scale, -window_top * scale


def load_drawings(folder, size: int) -> list[Drawing]:
    """Every view in ``folder`` (or a list of files) prepared at ``size``; refuses unusable input."""
    paths, _ = view_paths(folder)
    drawings, seen = [], {}
    for path in paths:
        rgba = read_view(path)
        digest = hashlib.sha256(np.ascontiguousarray(rgba).tobytes()).hexdigest()
        if digest in seen:
            raise SheetError(
                path,
                "each view a different drawing of the character",
                f"the same picture as {seen[digest].name}",
                f"delete one of {seen[digest].name} and {path.name}; each file is one view",
            )
        seen[digest] = path
        _check_one_character(rgba[..., 3], path)
        square = prepare_view(rgba, size, source=path)
        alpha = rgba[..., 3]
        drawings.append(
            Drawing(
                name=path.stem,
                path=path,
                size=size,
                square=square,
                original=rgba,
                cut_bottom=is_cut_at_bottom(alpha),
                to_square=square_transform(alpha, size),
            )
        )
    return drawings


def _check_one_character(alpha: np.ndarray, path: Path) -> None:
    solid = (alpha >= 128).astype(np.uint8)
    rows = np.nonzero(solid.max(axis=1))[0]
    if len(rows) == 0 or rows[-1] - rows[0] + 1 < MIN_HEIGHT_PX:
        found = "no opaque pixels" if len(rows) == 0 else f"a character {rows[-1] - rows[0] + 1} px tall"
        raise SheetError(
            path,
            f"a character at least {MIN_HEIGHT_PX} px tall (alpha >= 128)",
            found,
            "export the view larger, or with its alpha channel intact",
        )
    # close small gaps (a hand drawn apart from the body, a strand of hair) before counting blobs
    closed = cv2.morphologyEx(solid, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    areas = sorted((int(a) for a in stats[1:, cv2.CC_STAT_AREA]), reverse=True)
    if len(areas) >= 2 and areas[1] >= SECOND_CHARACTER_SHARE * areas[0]:
        raise SheetError(
            path,
            "one character per view",
            f"{sum(a >= SECOND_CHARACTER_SHARE * areas[0] for a in areas)} separate figures of similar size",
            "split the picture into one PNG per view (a turnaround sheet: cut each pose into its own file)",
        )
