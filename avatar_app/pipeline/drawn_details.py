"""The drawn-detail pass of a character folder's sheet (``infer.drawn_detail``), and of its expression sheets.

A sheet in ``CHAR/sheet/`` with ``CHAR/sheet_udp/`` beside it (``avatar-app fit`` makes both)
gets a :class:`~avatar_app.infer.drawn_detail.DrawnDetail`. An expression sheet
(``sheet/expressions/<name>/``) has no UDP of its own: it borrows the sheet's, view by view,
where its drawing lines up with the sheet's (alpha IoU at least :data:`ALIGNED_IOU`, the same
drawing with another face), so a mouth-open state shows that drawing's mouth. The sheet's detail also holds the body its
arms hide, filled at fit time (``sheet_fill/``, ``fit.layers``), for frames where an arm moved.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from avatar_app.core.errors import AvatarAppError
from avatar_app.infer.drawn_detail import DrawnDetail
from avatar_app.infer.resample import enlarge_sheet_udp
from avatar_app.infer.udp_grid import DEFAULT_CELLS
from avatar_app.io.sheet_udp import load_sheet_fill, load_sheet_udp, sheet_udp_dir
from avatar_app.io.udp import load_udp

log = logging.getLogger(__name__)

__all__ = ["ALIGNED_IOU", "drawn_details"]

ALIGNED_IOU = 0.9


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 127, b > 127
    return float((a & b).sum() / max(1, (a | b).sum()))


def _sheet_udp(folder, names, size: int):
    """The views' UDP maps at ``size``, enlarged smoothly from the size fit wrote them at (``enlarge_sheet_udp``)."""
    first = folder / f"{Path(names[0]).stem}.npz"
    native = load_udp(first).data.shape[0] if first.is_file() else size
    udp, missing = load_sheet_udp(folder, names, min(native, size))
    if udp is not None and native < size:
        udp = np.stack([enlarge_sheet_udp(v.transpose(1, 2, 0), size).transpose(2, 0, 1) for v in udp])
    return udp, missing


def drawn_details(sheet_dir, sheet, variants: dict, size: int, say=lambda text: None):
    """(DrawnDetail of ``sheet`` or None, {expression name: DrawnDetail}) for ``sheet_dir``'s folder."""
    folder = sheet_udp_dir(sheet_dir)
    if not folder.is_dir():
        return None, {}
    udp, missing = _sheet_udp(folder, sheet.names, size)
    if udp is None:
        say(f"drawn detail off: {folder} has no UDP map for {', '.join(missing)} (run avatar-app fit again)")
        return None, {}
    rgb, alpha = sheet.rgb_premultiplied, sheet.alpha
    try:
        fill = load_sheet_fill(sheet_dir, sheet.names, size)
    except AvatarAppError as exc:
        say(f"the body under the arms is left to the network: {exc}")
        fill = None
    if fill is not None:  # the body the arms hide, filled at fit time: drawn points like the rest
        rgb, alpha, udp_all = (np.concatenate([a, b]) for a, b in zip((rgb, alpha, udp), fill))
    else:
        udp_all = udp
    cells = max(DEFAULT_CELLS, size)  # a cell per output pixel or finer: a coarser grid shows as blocks
    detail = DrawnDetail(rgb, alpha, udp_all, grid_cells=cells)
    by_variant = {}
    for name, variant in variants.items():
        views = [
            i
            for i in range(min(variant.num_views, udp.shape[0]))
            if _iou(variant.alpha[i, 0], sheet.alpha[i, 0]) >= ALIGNED_IOU
        ]
        if not views:
            log.info("expression sheet %s: no view lines up with the sheet; it uses the sheet's drawn detail", name)
            continue
        by_variant[name] = DrawnDetail(
            variant.rgb_premultiplied[views], variant.alpha[views], udp[views], grid_cells=cells
        )
    say(
        f"drawn detail: {detail.points} drawn points from {folder}"
        + (f" (with {len(fill[0])} view(s) of the body under the arms)" if fill is not None else "")
        + (f", expressions {', '.join(by_variant)}" if by_variant else "")
    )
    return detail, by_variant
