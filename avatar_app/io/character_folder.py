"""A character folder: the unit a user works with.

::

    CHAR/
      character.json      what the character is (below), schema SCHEMA_VERSION
      sheet/*.png         the drawings CoNR renders from (one view per file)
      sheet_udp/<view>.npz  each view's UDP (key "i", float32 [S, S, 4]), pixel-aligned with
                          the view as ``io.sheet.load_sheet`` prepares it at size ``sheet_udp_size``
      sheet_fill/<view>.png, .npz  the body a view's arms hide, filled (``fit.layers``): for
                          the drawn detail where an arm moved away
      avatar.glb          the proxy body the pose drives
      fit.png             the fit's overlay (made by ``avatar-app fit``)
      layers.png          each view and the body under its arms, filled
      weights/            optional: CoNR weights adapted to this character

``character.json`` holds ``schema``, ``name``, ``made_by`` (tool, version, date, source
drawings), ``proxy`` (the shape the fit chose: ``AvatarStyle.describe()``), ``framing``
(the live camera's: full | knee | waist | bust, and ``cut``, the height the sheet's
drawings are cut at, in metres on the proxy) and ``views`` (per view: ``file``, ``framing``,
``camera``/``pose`` (``fit.proxy.ViewParams``), ``iou``, ``start``).

This module reads and writes the folder's files; it knows nothing of rigs or networks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from avatar_app.core.atomic import write_text_atomic
from avatar_app.core.errors import InputError

SCHEMA_VERSION = 1
CHARACTER_JSON = "character.json"
FRAMING_NAMES = ("full", "knee", "waist", "bust")  # raster.framing.FRAMINGS (io may not import raster)
WEIGHT_FILES = ("udpparsernet.pth", "target_pose_encoder.pth", "shader.pth", "rgbadecodernet.pth")
EXPRESSIONS_DIR = "expressions"  # sheet/expressions/<name>/: the views drawn with another face
REFIT_FIX = "make the folder again: avatar-app fit --sheet {root}/sheet --out {root}"


class CharacterFolderError(InputError):
    """A character folder (or its character.json) is unusable."""


@dataclass(frozen=True)
class CharacterFolder:
    """An opened character folder (see module docstring); ``info`` is its character.json."""

    root: Path
    info: dict

    @property
    def name(self) -> str:
        return str(self.info.get("name") or self.root.name)

    @property
    def sheet_dir(self) -> Path:
        return self.root / "sheet"

    @property
    def sheet_udp_dir(self) -> Path:
        return self.root / "sheet_udp"

    @property
    def avatar(self) -> Path:
        return self.root / "avatar.glb"

    @property
    def weights(self) -> Path | None:
        """``weights/`` when it holds the four CoNR files (an empty or partial one is not used)."""
        folder = self.root / "weights"
        return folder if all((folder / name).is_file() for name in WEIGHT_FILES) else None

    @property
    def framing(self) -> str:
        return str((self.info.get("framing") or {}).get("name", "full"))

    @property
    def cut(self) -> float | None:
        cut = (self.info.get("framing") or {}).get("cut")
        return None if cut is None else float(cut)

    @property
    def views(self) -> list[dict]:
        return list(self.info.get("views") or [])

    @property
    def proxy(self) -> dict | None:
        return self.info.get("proxy")

    def describe(self) -> str:
        """One line for the user: which body and framing this character uses."""
        made = (self.info.get("made_by") or {}).get("tool", "unknown")
        if made == "avatar-app fit":
            return f"{self.name}: made from your drawings (its fitted proxy body), framing {self.framing}"
        if made == "tools/make_default_avatar.py":
            return f"the built-in character, framing {self.framing}"
        return f"{self.name}: its body ({self.avatar.name}), framing {self.framing}"


def is_character_folder(path: str | Path) -> bool:
    path = Path(path)
    return path.is_dir() and (path / CHARACTER_JSON).is_file()


def open_character_folder(path: str | Path) -> CharacterFolder:
    """Open ``path``; a clear :class:`CharacterFolderError` when it is not a usable character folder."""
    root = Path(path)
    if not root.is_dir():
        raise CharacterFolderError(
            root,
            "a character folder (with character.json, sheet/, avatar.glb)",
            "no such folder" if not root.exists() else "a file",
            "pass the folder `avatar-app fit --out` made, or a .glb/.vrm file",
        )
    file = root / CHARACTER_JSON
    if not file.is_file():
        pngs = sorted(p.name for p in root.glob("*.png"))
        hint = (
            f"this looks like a folder of drawings ({', '.join(pngs[:3])}); make a character from them: "
            f"avatar-app fit --sheet {root} --out CHAR"
            if pngs
            else "make one with avatar-app fit --sheet DRAWINGS --out CHAR"
        )
        raise CharacterFolderError(root, f"a {CHARACTER_JSON} in the folder", "none", hint)
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CharacterFolderError(
            file, "a readable JSON file", f"{type(exc).__name__}: {exc}", REFIT_FIX.format(root=root)
        ) from exc
    if not isinstance(info, dict):
        raise CharacterFolderError(file, "a JSON object", type(info).__name__, REFIT_FIX.format(root=root))
    schema = info.get("schema")
    if schema != SCHEMA_VERSION:
        older = isinstance(schema, int) and schema < SCHEMA_VERSION
        found = (
            "no schema version"
            if schema is None
            else f"schema {schema!r} ({'older' if older else 'newer'} than this app's {SCHEMA_VERSION})"
        )
        fix = REFIT_FIX.format(root=root) if older or schema is None else "update avatar-app to open this folder"
        raise CharacterFolderError(file, f"schema {SCHEMA_VERSION}", found, fix)
    _check_fields(file, info, REFIT_FIX.format(root=root))
    framing = (info.get("framing") or {}).get("name", "full")
    if framing not in FRAMING_NAMES:
        raise CharacterFolderError(
            file, f"framing.name one of {', '.join(FRAMING_NAMES)}", repr(framing), 'set it to e.g. "waist"'
        )
    folder = CharacterFolder(root, info)
    for needed, what in ((folder.sheet_dir, "a sheet/ folder of drawings"), (folder.avatar, "avatar.glb")):
        if not needed.exists():
            raise CharacterFolderError(root, what, f"no {needed.name}", REFIT_FIX.format(root=root))
    return folder


_FIELD_KINDS = {
    "framing": (dict, "an object"),
    "made_by": (dict, "an object"),
    "proxy": (dict, "an object"),
    "views": (list, "a list of objects"),
}


def _check_fields(file: Path, info: dict, fix: str) -> None:
    """The fields the app reads have the JSON type it reads them as (found by tools/fuzz.py:
    ``"framing": null`` or a text ``cut`` made opening the folder, or drawing it, crash)."""
    for key, (kind, expected) in _FIELD_KINDS.items():
        value = info.get(key)
        if value is not None and not isinstance(value, kind):
            raise CharacterFolderError(file, f"{key} as {expected}", f"{type(value).__name__} {value!r:.60}", fix)
    views = info.get("views") or []
    odd = next((i for i, view in enumerate(views) if not isinstance(view, dict)), None)
    if odd is not None:
        raise CharacterFolderError(file, "views as a list of objects", f"view {odd}: {views[odd]!r:.60}", fix)
    cut = (info.get("framing") or {}).get("cut")
    if cut is not None and (isinstance(cut, bool) or not isinstance(cut, (int, float)) or not math.isfinite(cut)):
        raise CharacterFolderError(file, "framing.cut as a height in metres (or null)", f"{cut!r:.60}", fix)


def write_json_atomic(path: str | Path, data: dict) -> Path:
    """Write ``data`` as JSON to ``path`` through a temporary file: never half-written."""
    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def save_character_info(root: str | Path, info: dict) -> Path:
    """(Re)write ``root/character.json`` with this app's schema version."""
    return write_json_atomic(Path(root) / CHARACTER_JSON, {"schema": SCHEMA_VERSION, **info})
