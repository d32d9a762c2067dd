"""What the arms hide in a drawing, filled from the body's own visible pixels.

A drawing shows the body where no arm covers it. When the arm moves away in a frame, the
body behind it shows, and no drawn pixel stands for it: the generic network paints it, a
smear, or (with the arm fitted into the body) the arm's own pixels stay printed there. So
each view is split at fit time into the arms' layer (what the fitted proxy's arms cover) and
the body under them: the proxy rendered without its arms gives the body point behind every
arm pixel, and those points are given colours from the body's visible pixels around them
(:func:`fill_hidden`), written beside the sheet (``CHAR/sheet_fill/<view>.png`` and
``.npz``, :func:`save_fill`). The drawn-detail pass takes them as drawn points that only
frames where the arm has moved away ever look up.

Two fills are offered: ``regions`` carries each hidden pixel the colour of the nearest body
pixel the drawing shows (flat colour regions grow into the hole, as cel-shaded art is
painted), ``telea`` is OpenCV's inpainting. ``tools/evaluate_layers.py`` measures both
against the rig's own body under its arms: Telea is nearer (``DEFAULT_FILL``); the regions'
nearest pixel leaves streaks where the hole is wide.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from avatar_app.fit.proxy import ProxyModel, Silhouettes, ViewParams
from avatar_app.io.sheet_udp import SHEET_FILL_DIR
from avatar_app.io.udp import save_udp

FILL_DIR = SHEET_FILL_DIR
FILLS = ("regions", "telea")
DEFAULT_FILL = "telea"  # measured: tools/evaluate_layers.py, README
HIDDEN_DISTANCE = 0.02  # UDP units (~3 cm): the body point under an arm pixel is not the one drawn there
SURFACE_SLOPE = 3.0  # UDP change per pixel of distance (in the body's pixel height) a surface may have
SOLID_ALPHA = 200  # as the drawn detail's: antialiased edge pixels give no colour
TELEA_RADIUS = 5


def hidden_by_arms(udp: np.ndarray, under: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hidden, shown) bool [S, S]: body points under the arms inside the drawing, and body
    points the drawing shows (solidly drawn, the same point with and without the arms).

    A hidden point must continue the shown body around it (``SURFACE_SLOPE``): where an arm
    joins the body, taking the arm off opens a hole through which the inside of the far side
    shows, which no drawing stands for."""
    body = under[..., 3] > 0.5
    same = (udp[..., 3] > 0.5) & (np.linalg.norm(udp[..., :3] - under[..., :3], axis=-1) < HIDDEN_DISTANCE)
    hidden = body & ~same & (alpha > 0)
    shown = body & same & (alpha >= SOLID_ALPHA)
    if hidden.any() and shown.any():
        distance, (rows, cols) = ndimage.distance_transform_edt(~shown, return_indices=True)
        rows_spanned = np.nonzero(body.any(axis=1))[0]
        per_pixel = 1.0 / max(rows_spanned[-1] - rows_spanned[0] + 1, 1)  # UDP units (the body's height)
        step = np.linalg.norm(under[..., :3] - under[rows, cols, :3], axis=-1)
        hidden &= step <= HIDDEN_DISTANCE + SURFACE_SLOPE * per_pixel * distance
    return hidden, shown


def fill_hidden(rgb: np.ndarray, hidden: np.ndarray, shown: np.ndarray, method: str = "regions") -> np.ndarray:
    """uint8 [S, S, 3]: ``rgb`` (straight) with the ``hidden`` pixels given colours from the
    ``shown`` ones (module docstring); other pixels as they were."""
    if method not in FILLS:
        raise ValueError(f"fill method {method!r}: expected one of {FILLS}")
    out = rgb.copy()
    if not hidden.any() or not shown.any():
        return out
    _, (rows, cols) = ndimage.distance_transform_edt(~shown, return_indices=True)
    nearest = rgb[rows, cols]
    if method == "regions":
        out[hidden] = nearest[hidden]
        return out
    # Telea fills the masked pixels from the unmasked ones around them: everything that is not
    # the shown body is masked (arms, the outline's edge), and the picture outside the body is
    # first given the nearest body colour so that no background bleeds in.
    base = np.where(shown[..., None], rgb, nearest)
    filled = cv2.inpaint(np.ascontiguousarray(base), (~shown).astype(np.uint8), TELEA_RADIUS, cv2.INPAINT_TELEA)
    out[hidden] = filled[hidden]
    return out


def view_fill(
    silhouettes: Silhouettes,
    model: ProxyModel,
    params: ViewParams,
    straight: np.ndarray,
    udp: np.ndarray,
    method: str = "regions",
) -> tuple[np.ndarray, np.ndarray] | None:
    """(RGBA uint8 [S, S, 4], UDP float32 [S, S, 4]) of the body under the arms in one view:
    opaque and with UDP only where the arms hid it; None where they hide nothing.
    ``straight``: the view's straight RGBA at the UDP's size."""
    under = silhouettes.render_under_arms(model, params)
    hidden, shown = hidden_by_arms(udp, under, straight[..., 3])
    if hidden.sum() < 4:
        return None
    rgb = fill_hidden(straight[..., :3], hidden, shown, method)
    rgba = np.zeros_like(straight)
    rgba[hidden, :3] = rgb[hidden]
    rgba[hidden, 3] = 255
    fill_udp = np.where(hidden[..., None], under, 0.0).astype(np.float32)
    return rgba, fill_udp


def save_fill(folder: Path, stem: str, rgba: np.ndarray, udp: np.ndarray) -> None:
    """``folder/<stem>.png`` (straight RGBA) and ``folder/<stem>.npz`` (its UDP), in the fit's
    temporary folder (``fit.outputs`` moves the whole folder into place)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(folder / f"{stem}.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)):
        raise OSError(f"could not write {folder / stem}.png")
    save_udp(folder / f"{stem}.npz", udp)


def layers_picture(views: list[tuple[str, np.ndarray, np.ndarray | None]], height: int = 320) -> np.ndarray:
    """RGB uint8: per view (name, straight RGBA, fill RGBA or None) the drawing, its arms'
    layer lifted off (the drawing with the fill in place, hidden pixels outlined)."""
    panels = []
    for name, straight, fill in views:
        size = straight.shape[0]
        drawn = _on_checker(straight)
        if fill is None:
            under = drawn.copy()
        else:
            lifted = straight.copy()
            hidden = fill[..., 3] > 0
            lifted[hidden] = fill[hidden]
            under = _on_checker(lifted)
            contours, _ = cv2.findContours(hidden.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(under, contours, -1, (230, 20, 20), max(1, size // 256))
        pair = np.concatenate([drawn, under], axis=1)
        pair = cv2.resize(pair, (2 * height, height), interpolation=cv2.INTER_AREA)
        label = np.full((24, 2 * height, 3), 255, np.uint8)
        text = f"{name[:24]}: drawn | under the arms ({'filled' if fill is not None else 'nothing hidden'})"
        cv2.putText(label, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
        panels.append(np.concatenate([pair, label], axis=0))
    return np.concatenate(panels, axis=1)


def _on_checker(rgba: np.ndarray) -> np.ndarray:
    size = rgba.shape[0]
    checker = ((np.indices((size, size)).sum(axis=0) // 16) % 2 * 30 + 200).astype(np.float32)[..., None]
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    return np.clip(rgba[..., :3] * a + checker * (1.0 - a), 0, 255).astype(np.uint8)
