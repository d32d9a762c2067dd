"""A fitted character as the fit editor changes it: the proxy's shape, each view's camera, pose and
framing, and the live framing; re-fitting from those edits and saving them into the folder.

No Qt here: the editor dialog (``fit_editor``) holds a `CharacterEdit`, runs `refit` and `save`
on a background task, and shows what they return. Both read the folder's drawings again
(``sheet/``), so an edit is always checked against what the user drew.

Saving goes through ``fit.outputs.write_character_folder`` (the one writer of character folders:
a new ``avatar.glb``, ``sheet_udp/`` and ``fit.png`` for the edited shape, ``weights/`` kept),
then writes into ``character.json`` what the writer cannot know: the name and the framings the
user chose. A live framing chosen by hand drops the measured ``cut``, because the live camera
prefers a cut to a name (``pipeline.defaults.CharacterChoice.framing``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avatar_app.io.character_folder import CharacterFolder, CharacterFolderError, open_character_folder
from avatar_app.pipeline.defaults import FRAMINGS
from avatar_app.rig import avatar_style
from avatar_app.rig.avatar_style import AvatarStyle, Pattern

REFIT_ROUNDS = 1  # a re-fit starts from a fit already close to the drawings
Note = Callable[[str], None]


def shape_tables() -> tuple[dict[str, tuple[float, float]], dict[str, tuple]]:
    """(continuous factors with their bounds, discrete choices): what the fitter varies, so what the user may edit."""
    continuous = dict(getattr(avatar_style, "SHAPE_CONTINUOUS", {}))
    choices = dict(getattr(avatar_style, "SHAPE_CHOICES", {}))
    return continuous, choices


def style_from_info(data: dict | None) -> AvatarStyle:
    """The `AvatarStyle` that ``character.json["proxy"]`` describes (``AvatarStyle.describe()``'s dict)."""
    if not data:
        return AvatarStyle()
    from_dict = getattr(AvatarStyle, "from_dict", None)
    if from_dict is not None:
        return from_dict(data)
    names = {f.name for f in dataclasses.fields(AvatarStyle)}
    values = {}
    for name, value in data.items():
        if name not in names:
            continue
        if name == "colors":
            value = tuple(tuple(c) for c in value)
        elif name.endswith("_pattern"):
            value = Pattern(**{**value, "color": tuple(value.get("color", (1.0, 1.0, 1.0)))})
        values[name] = value
    return AvatarStyle(**values)


@dataclass(frozen=True)
class ViewEdit:
    """One view as the editor shows it: ``file`` is relative to the folder (``sheet/front.png``)."""

    file: str
    params: object  # fit.proxy.ViewParams
    framing: str
    iou: float
    start: str

    @property
    def name(self) -> str:
        return Path(self.file).stem


@dataclass(frozen=True)
class CharacterEdit:
    """What the editor shows and changes; every change makes a new one (`with_shape`, `with_view_framing`)."""

    folder: CharacterFolder
    style: AvatarStyle
    views: tuple[ViewEdit, ...]
    framing: str  # the live camera's
    overlay: np.ndarray | None = None  # RGB of the last re-fit, not saved yet (None: the folder's fit.png)

    @classmethod
    def open(cls, folder: CharacterFolder) -> CharacterEdit:
        from avatar_app.fit.outputs import params_from_info

        if not folder.views or not all("params" in v for v in folder.views):
            raise CharacterFolderError(
                folder.root / "character.json",
                "the views of a fit, each with its camera and pose (avatar-app fit writes them)",
                "no views" if not folder.views else "views without params",
                f"make the folder with avatar-app fit --sheet DRAWINGS --out {folder.root}",
            )
        views = tuple(
            ViewEdit(
                file=str(v.get("file", "")),
                params=params_from_info(v),
                framing=str(v.get("framing", "full")),
                iou=float(v.get("iou", 0.0)),
                start=str(v.get("start", "")),
            )
            for v in folder.views
        )
        return cls(folder, style_from_info(folder.proxy), views, folder.framing)

    def with_shape(self, name: str, value) -> CharacterEdit:
        """A SettingError (from AvatarStyle) when ``value`` is out of the shape's range."""
        return replace(self, style=replace(self.style, **{name: value}))

    def with_view_framing(self, index: int, framing: str) -> CharacterEdit:
        views = list(self.views)
        views[index] = replace(views[index], framing=_check_framing(framing))
        return replace(self, views=tuple(views))

    def with_framing(self, framing: str) -> CharacterEdit:
        return replace(self, framing=_check_framing(framing))

    def picture(self) -> np.ndarray | None:
        """RGB uint8: the re-fit's overlay, else the folder's fit.png (None when there is neither)."""
        if self.overlay is not None:
            return self.overlay
        import cv2

        bgr = cv2.imread(str(self.folder.root / "fit.png"), cv2.IMREAD_COLOR)
        return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _check_framing(framing: str) -> str:
    if framing not in FRAMINGS:
        raise CharacterFolderError("framing", f"one of {', '.join(FRAMINGS)}", repr(framing), "pick one from the list")
    return framing


def _drawings(edit: CharacterEdit) -> list:
    """The folder's drawings in the order of its views (matched by file name)."""
    from avatar_app.fit.drawing import load_drawings
    from avatar_app.fit.run import FIT_SIZE

    by_name = {d.path.name: d for d in load_drawings(edit.folder.sheet_dir, FIT_SIZE)}
    missing = [v.file for v in edit.views if Path(v.file).name not in by_name]
    if missing:
        raise CharacterFolderError(
            edit.folder.root,
            "a drawing in sheet/ for every view in character.json",
            f"none for {', '.join(missing)}",
            f"make the folder again: avatar-app fit --sheet DRAWINGS --out {edit.folder.root}",
        )
    return [by_name[Path(v.file).name] for v in edit.views]


def refit(edit: CharacterEdit, *, cancel: threading.Event | None = None, note: Note = lambda text: None):
    """``fit_views`` again, from the edited shape and each view's current camera and pose.

    Returns the re-fitted `CharacterEdit` (framings as the user left them) with the new overlay;
    ``fit.search.FitCancelled`` when ``cancel`` is set. Nothing is written."""
    from avatar_app.fit.outputs import fit_picture, render_sheet_udp
    from avatar_app.fit.run import find_landmarks
    from avatar_app.fit.search import fit_views

    drawings = _drawings(edit)
    landmarks = find_landmarks(drawings, note)
    fixed = {i: v.params for i, v in enumerate(edit.views)}
    result = fit_views(
        drawings, landmarks, style=edit.style, fixed_views=fixed, rounds=REFIT_ROUNDS, cancel=cancel, note=note
    )
    for old, new in zip(edit.views, result.views):
        new.start = old.start  # "given" by us; how the view was first found is what the user wants to read
    views = tuple(replace(old, params=new.params, iou=float(new.iou)) for old, new in zip(edit.views, result.views))
    overlay = fit_picture(result, render_sheet_udp(result, drawings[0].size), [v.framing for v in edit.views])
    note(f"re-fit: mean IoU {result.mean_iou:.3f} (not saved yet)")
    return replace(edit, style=result.style, views=views, overlay=overlay)


def preview(edit: CharacterEdit) -> tuple[np.ndarray, tuple[float, ...]]:
    """(overlay RGB, each view's IoU) of exactly the edited shape, views and framings, without
    searching: what the editor redraws as a control moves (a fraction of a second)."""
    from avatar_app.fit.outputs import fit_picture, render_sheet_udp

    result = fit_result(edit)
    overlay = fit_picture(
        result, render_sheet_udp(result, result.views[0].drawing.size), [v.framing for v in edit.views]
    )
    return overlay, tuple(float(v.iou) for v in result.views)


def fit_result(edit: CharacterEdit, note: Note = lambda text: None):
    """A ``fit.search.FitResult`` of exactly the edited shape and views (each view's IoU measured again)."""
    return measured_result(_drawings(edit), edit.style, [v.params for v in edit.views], [v.start for v in edit.views])


def measured_result(drawings: list, style: AvatarStyle, params: list, starts: list[str]):
    """``FitResult`` for given shape and views without searching: what ``write_character_folder`` takes."""
    from avatar_app.fit.search import measure_views

    return measure_views(drawings, style, params, starts)


def save(edit: CharacterEdit, note: Note = lambda text: None) -> CharacterEdit:
    """Rewrite the character folder from the edits (see module docstring); the reopened edit."""
    from avatar_app.fit.outputs import write_character_folder
    from avatar_app.io.character_folder import save_character_info

    old = edit.folder
    result = fit_result(edit, note)
    sources = [Path(s) for s in old.info.get("made_by", {}).get("sources", [])] or [
        v.drawing.path for v in result.views
    ]
    root = write_character_folder(
        result,
        old.root,
        sheet_size=int(old.info.get("sheet_udp_size", 256)),
        sources=sources,
        framings=[v.framing for v in edit.views],
        note=note,
    )
    info = {k: v for k, v in open_character_folder(root).info.items() if k != "schema"}
    info["name"] = old.info.get("name", info.get("name", ""))
    framing = dict(info.get("framing", {}))
    if framing.get("name") != edit.framing:
        framing = {"name": edit.framing, "cut": None}  # chosen by hand: the name, not the measured cut
    info["framing"] = framing
    if "expressions" in old.info:  # the expression sheets stay in sheet/expressions/ (fit.outputs)
        info["expressions"] = old.info["expressions"]
    save_character_info(root, info)
    note(f"saved {root}")
    return CharacterEdit.open(open_character_folder(root))
