"""Character sheets: a folder of view drawings with alpha -> a CharacterSheet.

Every step mirrors the original CoNR file loader (``data_loader.py``: ``FileDataset``
then ``RandomResizedCropWithAutoCenteringAndZeroPadding`` with scale, ratio 1 and no
jitter, as its ``infer.py`` configures it), so the network sees the inputs it was
trained on:

1. decode with ``IMREAD_UNCHANGED``, BGRA -> RGBA;
2. premultiply at the *source* resolution, in float64, truncating:
   ``uint8(clip(rgb * (a / 255.0), 0, 255))``. This is not always the exact integer
   ``floor(rgb * a / 255)``: for 12 of the 65,536 (rgb, a) pairs the float64 product
   lands just below an integer (51 * (155/255) = 30.999999999999996 -> 30, not 31);
3. crop to the bounding box of ``alpha > 0`` and pad it to a square, centred, with
   zeros (the offset is ``round()``-ed half-to-even, as the reference does);
4. resize premultiplied RGB and alpha together: ``INTER_LINEAR`` when enlarging,
   ``INTER_AREA`` when shrinking (the reference's choice; area averaging is the
   alias-free way down, and premultiplied colour keeps edges from bleeding);
5. refuse a view whose mean alpha is >= 0.95 after that (the reference's check).

Where we are stricter than the reference (it warns or silently emits an empty view):
a view without an alpha channel, a fully transparent view, a view whose character
covers < 0.1% of the image, and a view with an opaque background that the mean-alpha
rule misses (a non-square picture with a solid background, which padding to a square
brings under 0.95: we apply the rule to the bounding box before padding too) are all
errors.
16-bit images are reduced to 8 bits (rounded) first; the reference does not handle them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from avatar_app.core.errors import SettingError, SheetError
from avatar_app.core.frames import CharacterSheet, check_model_size
from avatar_app.io._files import channel_count, decode_image, describe_pixels, natural_sort_key, read_bytes

log = logging.getLogger(__name__)

SHEET_SUFFIXES = (".png", ".webp")
MAX_MEAN_ALPHA = 0.95  # the reference asserts mean(alpha) < 0.95 per view
MIN_VISIBLE_FRACTION = 0.001  # the reference replaces smaller characters by an empty view

_TRANSPARENCY_FIX = (
    "the view needs a transparent background; export with transparency "
    "(hide or delete the background layer, or cut the character out with a background-removal tool)"
)
_VIEW_EXPECTED = "a PNG/WebP drawing of the character with an alpha channel"


def load_sheet(
    folder: str | Path | Iterable[str | Path], size: int = 256, max_views: int | None = None
) -> CharacterSheet:
    """Load every view of a character sheet at the model ``size``.

    ``folder`` is a folder (its ``.png``/``.webp`` files, in natural name order,
    hidden files skipped), a single image file, or a list of image files (kept in
    the given order). ``max_views`` keeps the first N views.
    """
    size = check_model_size(size, "size")
    if max_views is not None and (not isinstance(max_views, (int, np.integer)) or max_views < 1):
        raise SettingError(
            "max_views",
            "None or a positive number of views",
            repr(max_views),
            "use e.g. 4, or leave it unset for all views",
        )
    paths, source = view_paths(folder)
    if max_views is not None and len(paths) > max_views:
        log.info("sheet %s: using the first %d of %d views", source, max_views, len(paths))
        paths = paths[:max_views]

    views = [prepare_view(read_view(path), size, source=path) for path in paths]
    stacked = np.stack(views)  # [M, S, S, 4]
    log.info("sheet %s: %d view(s) at %dx%d", source, len(views), size, size)
    return CharacterSheet(
        rgb_premultiplied=np.ascontiguousarray(stacked[..., :3].transpose(0, 3, 1, 2)),
        alpha=np.ascontiguousarray(stacked[..., 3:].transpose(0, 3, 1, 2)),
        names=tuple(path.name for path in paths),
        source=source,
    )


def read_view(path: str | Path) -> np.ndarray:
    """Decode one view file to straight (not premultiplied) RGBA uint8 [H, W, 4]."""
    path = Path(path)
    data = read_bytes(path, SheetError, _VIEW_EXPECTED)
    image = decode_image(data, path, SheetError, _VIEW_EXPECTED, "re-export the view as PNG or WebP with transparency")
    channels = channel_count(image)
    if channels in (1, 3):
        kind = "grayscale" if channels == 1 else "colour"
        raise SheetError(
            path,
            "an image with an alpha channel (RGBA)",
            f"{describe_pixels(image)} ({kind}, no alpha channel)",
            "export with transparency: PNG or WebP with an alpha channel and the background removed",
        )
    if channels != 4:
        raise SheetError(
            path, "an RGBA image (4 channels)", describe_pixels(image), "re-export the view as an RGBA PNG"
        )
    if image.dtype == np.uint16:
        # round(v / 257): 65535 -> 255 exactly; the reference only knows 8-bit files
        image = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise SheetError(path, "8- or 16-bit pixels", f"{image.dtype} pixels", "export the view as an 8- or 16-bit PNG")
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 with colour premultiplied by alpha, bit-identical to the reference loader."""
    rgb = rgba[..., :3] * (rgba[..., 3:4] / 255.0)  # float64, as in the reference
    out = np.empty_like(rgba)
    out[..., :3] = rgb.clip(0, 255).astype(np.uint8)  # truncates, like the reference
    out[..., 3] = rgba[..., 3]
    return out


def prepare_view(rgba: np.ndarray, size: int, source: str | Path = "view") -> np.ndarray:
    """Straight RGBA uint8 [H, W, 4] -> premultiplied RGBA uint8 [size, size, 4], centred.

    ``source`` names the view in errors.
    """
    size = check_model_size(size, "size")
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise SheetError(
            source,
            "an RGBA uint8 image [H, W, 4]",
            f"{rgba.dtype} array of shape {rgba.shape}",
            "pass the view as 8-bit RGBA",
        )
    alpha = rgba[..., 3]
    _check_transparency(alpha, source)
    premultiplied = premultiply(rgba)

    left, top, width, height = cv2.boundingRect((alpha > 0).astype(np.uint8))
    _check_box_coverage(alpha[top : top + height, left : left + width], source)
    view = _resize(crop_to_square(premultiplied, alpha), size)

    mean_alpha = float(view[..., 3].mean()) / 255.0
    if mean_alpha >= MAX_MEAN_ALPHA:
        raise SheetError(
            source,
            f"a character on a transparent background (mean alpha < {MAX_MEAN_ALPHA} after centring)",
            f"mean alpha {mean_alpha:.3f} after cropping to the character, i.e. an opaque background",
            _TRANSPARENCY_FIX,
        )
    return view


def view_paths(folder) -> tuple[list[Path], str]:
    if isinstance(folder, (str, Path)):
        path = Path(folder)
        if not path.exists():
            raise SheetError(
                path,
                "a folder of PNG/WebP views (or an image file)",
                "no such file or folder",
                "check the path; a character sheet is a folder with one transparent PNG per view",
            )
        if path.is_file():
            return [path], str(path)
        return _list_folder(path), str(path)
    paths = [Path(p) for p in folder]
    if not paths:
        raise SheetError(
            "character sheet", "at least one view image", "an empty list", "pass one or more PNG/WebP files"
        )
    return paths, str(paths[0].parent) if len({p.parent for p in paths}) == 1 else "character sheet"


def _list_folder(folder: Path) -> list[Path]:
    entries = sorted((p for p in folder.iterdir() if p.is_file()), key=natural_sort_key)
    hidden = [p for p in entries if p.name.startswith(".")]
    if hidden:  # e.g. macOS "._front.png" resource forks, which look like PNGs but are not
        log.info("sheet %s: skipping hidden files %s", folder, ", ".join(p.name for p in hidden))
    views = [p for p in entries if p.suffix.lower() in SHEET_SUFFIXES and not p.name.startswith(".")]
    if not views:
        others = [p.name for p in entries]
        found = "an empty folder" if not others else "no .png or .webp files (it holds: " + _short_list(others) + ")"
        raise SheetError(
            folder,
            "one or more .png/.webp views of the character",
            found,
            "export each view of the character as a PNG (or WebP) with a transparent background into this folder",
        )
    return views


def _short_list(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_transparency(alpha: np.ndarray, source) -> None:
    visible = int(np.count_nonzero(alpha))
    if visible == 0:
        raise SheetError(
            source,
            "a visible character (alpha > 0 somewhere)",
            "a fully transparent image (alpha = 0 everywhere)",
            "re-export the view with the drawing's layers visible (or check that the alpha channel is not inverted)",
        )
    if int(alpha.min()) == 255:
        raise SheetError(
            source,
            "a character on a transparent background",
            "no transparent pixel (alpha = 255 everywhere)",
            _TRANSPARENCY_FIX,
        )
    if visible / alpha.size < MIN_VISIBLE_FRACTION:
        raise SheetError(
            source,
            f"a character covering at least {MIN_VISIBLE_FRACTION:.1%} of the image",
            f"only {visible} visible pixel(s) in {alpha.shape[1]}x{alpha.shape[0]}",
            "crop the canvas closer to the character, or check that the drawing's layers are visible",
        )


def _check_box_coverage(alpha_box: np.ndarray, source) -> None:
    """The reference's mean-alpha rule applied to the bounding box before padding.

    Padding only adds zeros, so this rejects everything the reference rejects, plus
    a non-square picture with a solid background (which padding to a square would
    bring under 0.95). A cut-out character covers well under 95% of its own box.
    """
    mean_alpha = float(alpha_box.mean()) / 255.0
    if mean_alpha >= MAX_MEAN_ALPHA:
        height, width = alpha_box.shape
        raise SheetError(
            source,
            f"a character on a transparent background (mean alpha < {MAX_MEAN_ALPHA} inside its bounding box)",
            f"a solid {width}x{height} rectangle (mean alpha {mean_alpha:.3f} inside it), i.e. an opaque background",
            _TRANSPARENCY_FIX,
        )


def crop_to_square(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``image`` [H,W,C] cropped to the bounding box of ``alpha > 0`` and centred in a square
    of zeros, exactly as a sheet view is (so per-pixel data of a view, e.g. its UDP, lines up)."""
    left, top, width, height = cv2.boundingRect((alpha > 0).astype(np.uint8))
    return _pad_to_square(image[top : top + height, left : left + width], top, left)


def _pad_to_square(box: np.ndarray, top: int, left: int) -> np.ndarray:
    """Centre the bbox crop in a transparent square, offsets rounded like the reference.

    The reference places a square window of side max(h, w) at
    ``round(top - (side - h) / 2)`` in image coordinates (Python/numpy round: half to
    even, so an odd margin splits by the parity of ``top``), then zero-pads what falls
    outside the image. Outside the bbox alpha is 0, so the premultiplied pixels there
    are 0 too and pasting the bbox alone gives the same square.
    """
    height, width = box.shape[:2]
    side = max(height, width)
    window_top = int(round(top - (side - height) / 2))
    window_left = int(round(left - (side - width) / 2))
    square = np.zeros((side, side, box.shape[2]), dtype=box.dtype)
    row, col = top - window_top, left - window_left
    square[row : row + height, col : col + width] = box
    return square


def _resize(square: np.ndarray, size: int) -> np.ndarray:
    side = square.shape[0]
    if side == size:
        return square
    interpolation = cv2.INTER_LINEAR if size > side else cv2.INTER_AREA
    return cv2.resize(square, (size, size), interpolation=interpolation)
