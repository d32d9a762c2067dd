"""Write a fit as a character folder (``io.character_folder``), never half-written.

Everything is written into a temporary folder beside ``out`` and moved into place at the
end, so a cancelled or failed fit leaves ``out`` as it was. An existing character folder
at ``out`` is replaced, keeping its ``weights/`` (adapted weights outlive a re-fit); a
non-empty folder that is not a character folder is refused.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.fit.layers import DEFAULT_FILL, FILL_DIR, layers_picture, save_fill, view_fill
from avatar_app.fit.proxy import Silhouettes, ViewParams
from avatar_app.fit.search import FitResult, ViewFit
from avatar_app.fit.variants import Variant
from avatar_app.io.character_folder import EXPRESSIONS_DIR, is_character_folder, save_character_info
from avatar_app.io.sheet import prepare_view
from avatar_app.io.udp import save_udp
from avatar_app.raster.framing import classify_cut
from avatar_app.rig import save_glb

PANEL_HEIGHT = 320


def check_out_folder(out: Path) -> None:
    """Refuse to write over a folder that holds something other than a character."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not is_character_folder(out))):
        raise SettingError(
            "--out",
            "a new folder, or an existing character folder to replace",
            f"{out} holds other files" if out.is_dir() else f"{out} is a file",
            "pass a new folder name, e.g. --out characters/NAME",
        )


def view_cut(view: ViewFit) -> float | None:
    """World height of the drawing's bottom edge on the proxy, for a drawing cut off there."""
    if not view.drawing.cut_bottom:
        return None
    rows = np.nonzero(view.drawing.mask.any(axis=1))[0]
    size = view.drawing.size
    pixels_per_metre = size / (2.0 * view.params.half_height)
    return float(view.params.centre_y - (rows[-1] + 1 - size / 2.0) / pixels_per_metre)


def view_framing(result: FitResult, view: ViewFit) -> str:
    cut = view_cut(view)
    return "full" if cut is None else classify_cut(result.model.character, cut)


def live_framing(result: FitResult) -> tuple[str, float | None]:
    """The live camera's framing: the front-most view's (the one a stream looks like)."""
    front = min(result.views, key=lambda v: min(abs(v.params.yaw) % 360.0, 360.0 - abs(v.params.yaw) % 360.0))
    cut = view_cut(front)
    return view_framing(result, front), cut


def write_character_folder(
    result: FitResult,
    out: str | Path,
    *,
    sheet_size: int,
    sources: list[Path],
    variants: list[Variant] | None = None,
    framings: list[str] | None = None,
    note=lambda text: None,
) -> Path:
    """``variants`` become ``sheet/expressions/``; None keeps the expressions ``out`` has (a
    re-save from the fit editor). ``framings``: each view's, as the user set them (default: as
    measured from where the drawing is cut)."""
    out = Path(out)
    check_out_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (work / "sheet").mkdir()
        (work / "sheet_udp").mkdir()
        for view in result.views:
            shutil.copyfile(view.drawing.path, work / "sheet" / view.drawing.path.name)
        if variants is not None:
            write_expressions(work / "sheet", result, variants)
        elif (out / "sheet" / EXPRESSIONS_DIR).is_dir():
            shutil.copytree(out / "sheet" / EXPRESSIONS_DIR, work / "sheet" / EXPRESSIONS_DIR)
        udp_maps = render_sheet_udp(result, sheet_size)
        for view, udp in zip(result.views, udp_maps):
            save_udp(work / "sheet_udp" / f"{view.drawing.path.stem}.npz", udp)
        write_fills(work, result, udp_maps, sheet_size, note)
        save_glb(result.model.character, work / "avatar.glb")
        cv2.imwrite(str(work / "fit.png"), cv2.cvtColor(fit_picture(result, udp_maps, framings), cv2.COLOR_RGB2BGR))
        framing, cut = live_framing(result)
        info = character_info(result, framing, cut, sheet_size, sources)
        for view, chosen in zip(info["views"], framings or []):
            view["framing"] = chosen
        if variants is not None:
            info["expressions"] = {v.name: f"{v.drawing.path.name} as view {v.view}" for v in variants}
        save_character_info(work, info)
        if out.exists() and (out / "weights").is_dir():
            shutil.move(str(out / "weights"), work / "weights")
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    note(
        f"wrote {out}: sheet/, sheet_udp/ ({sheet_size}x{sheet_size}), sheet_fill/, avatar.glb, fit.png, layers.png, "
        "character.json"
    )
    return out


def write_expressions(sheet: Path, result: FitResult, variants: list[Variant]) -> None:
    """``sheet/expressions/<name>/``: for each expression, every view's file under the view's
    own name (the renderer needs the sheet's view count and order); a view drawn without that
    expression shows its usual face."""
    for name in sorted({v.name for v in variants}):
        folder = sheet / EXPRESSIONS_DIR / name
        folder.mkdir(parents=True)
        drawn = {v.view: v.drawing.path for v in variants if v.name == name}
        for index, view in enumerate(result.views):
            shutil.copyfile(drawn.get(index, view.drawing.path), folder / view.drawing.path.name)


def character_info(result: FitResult, framing: str, cut: float | None, sheet_size: int, sources) -> dict:
    from avatar_app import __version__

    return {
        "name": "",
        "made_by": {
            "tool": "avatar-app fit",
            "version": __version__,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "sources": [str(p) for p in sources],
        },
        "proxy": result.style.describe(),
        "framing": {"name": framing, "cut": cut},
        "sheet_udp_size": sheet_size,
        "views": [
            {
                "file": f"sheet/{v.drawing.path.name}",
                "framing": view_framing(result, v),
                "params": v.params.to_dict(),
                "iou": round(v.iou, 4),
                "start": v.start,
                "face": v.face.describe() if v.face is not None else None,
            }
            for v in result.views
        ],
    }


def write_fills(work: Path, result: FitResult, udp_maps: list[np.ndarray], size: int, note) -> None:
    """``sheet_fill/``: each view's body under its arms, filled (``fit.layers``), and
    ``layers.png`` showing them."""
    shown = []
    with Silhouettes(size) as silhouettes:
        for view, udp in zip(result.views, udp_maps):
            straight = straight_view(view.drawing.original, size)
            fill = view_fill(silhouettes, result.model, view.params, straight, udp, DEFAULT_FILL)
            if fill is not None:
                save_fill(work / FILL_DIR, view.drawing.path.stem, *fill)
            shown.append((view.drawing.name, straight, None if fill is None else fill[0]))
    cv2.imwrite(str(work / "layers.png"), cv2.cvtColor(layers_picture(shown), cv2.COLOR_RGB2BGR))
    filled = sum(f is not None for _, _, f in shown)
    note(f"the body under the arms filled in {filled} of {len(shown)} view(s) ({FILL_DIR}/, layers.png)")


def straight_view(original: np.ndarray, size: int) -> np.ndarray:
    """Straight RGBA uint8 [size, size, 4] of a drawing, framed as the sheet view is."""
    premultiplied = prepare_view(original, size).astype(np.float32)
    alpha = premultiplied[..., 3:4]
    rgb = np.where(alpha > 0, premultiplied[..., :3] * 255.0 / np.maximum(alpha, 1.0), 0.0)
    return np.concatenate([np.clip(rgb + 0.5, 0, 255), alpha], axis=-1).astype(np.uint8)


def render_sheet_udp(result: FitResult, size: int) -> list[np.ndarray]:
    """Each view's UDP at ``size``, pixel-aligned with ``load_sheet(size=size)``'s view."""
    with Silhouettes(size) as silhouettes:
        return [silhouettes.render(result.model, v.params) for v in result.views]


def fit_picture(result: FitResult, udp_maps: list[np.ndarray], framings: list[str] | None = None) -> np.ndarray:
    """RGB uint8: each drawing with the proxy's UDP over it and its outline, labelled with its
    framing (``framings``: as the user set them; default: as measured)."""
    panels = []
    for k, (view, udp) in enumerate(zip(result.views, udp_maps)):
        panels.append(_panel(view, udp, framings[k] if framings else view_framing(result, view)))
    return np.concatenate(panels, axis=1)


def _panel(view: ViewFit, udp: np.ndarray, framing: str) -> np.ndarray:
    drawing = view.drawing
    size = drawing.size
    alpha = drawing.square[..., 3:4].astype(np.float32) / 255.0
    checker = ((np.indices((size, size)).sum(axis=0) // 16) % 2 * 30 + 200).astype(np.float32)[..., None]
    picture = drawing.square[..., :3].astype(np.float32) + checker * (1.0 - alpha)
    udp = cv2.resize(udp, (size, size), interpolation=cv2.INTER_NEAREST) if udp.shape[0] != size else udp
    mask = udp[..., 3] > 0.5
    picture[mask] = 0.55 * picture[mask] + 0.45 * 255.0 * udp[mask][:, :3]
    picture = np.clip(picture, 0, 255).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(picture, contours, -1, (230, 20, 20), max(1, size // 256))
    scale = PANEL_HEIGHT / size
    picture = cv2.resize(picture, (PANEL_HEIGHT, PANEL_HEIGHT), interpolation=cv2.INTER_AREA if scale < 1 else 1)
    label = np.full((44, PANEL_HEIGHT, 3), 255, np.uint8)
    start = "landmarks" if view.start == "landmarks" else "no landmarks"
    face = {"face": "face", "back": "back of head"}.get(view.face.kind, "no face") if view.face else ""
    lines = (f"{drawing.name[:20]}  yaw {view.params.yaw:.0f}  {face}", f"IoU {view.iou:.3f}  {framing}  {start}")
    for row, text in enumerate(lines):
        cv2.putText(label, text, (6, 17 + 20 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([picture, label], axis=0)


def params_from_info(view: dict) -> ViewParams:
    return ViewParams.from_dict(view.get("params", {}))
