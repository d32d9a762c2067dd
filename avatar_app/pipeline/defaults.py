"""What the CLI and the GUI both start from: the built-in character, the weights folder,
loading them, choosing the renderer (CoNR when weights exist, else the proxy), and
reading a background colour. Here, not in ``cli``, because the window shares them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from avatar_app.core.errors import SettingError
from avatar_app.io.character_folder import CharacterFolder, open_character_folder
from avatar_app.raster.framing import FRAMINGS

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSETS = REPO_ROOT / "assets"
DEFAULT_CHARACTER = ASSETS / "characters" / "default"
DEFAULT_WEIGHTS = ASSETS / "weights" / "lite"

NO_WEIGHTS_WARNING = (
    "avatar-app: warning: no trained CoNR weights found (looked in {folder}; a checkout ships them there); "
    "streaming the proxy renderer "
    "(the rig's flat colours, not your character). Pass --weights DIR to render the sheet with CoNR."
)


def load_networks(weights: str | Path | None, preset: str | None = None):
    """Build the CoNR networks of the folder's preset and load its four files (strict), on the torch thread."""
    from avatar_app.infer.torch_thread import on_torch_thread
    from avatar_app.models import load_weights_folder

    folder = Path(weights) if weights else DEFAULT_WEIGHTS
    if weights is None and not folder.is_dir():
        raise SettingError(
            "--weights",
            "a folder with udpparsernet.pth, target_pose_encoder.pth, shader.pth, rgbadecodernet.pth",
            f"no trained weights (looked in {folder}, where a checkout ships them)",
            "pass --weights DIR (official CoNR weights, or `python tools/make_random_weights.py DIR` for a smoke test)",
        )
    return on_torch_thread(load_weights_folder, folder, preset)


def load_character(path: str | Path | None = None):
    """A glTF/VRM character, or the built-in default (shipped .glb, else built procedurally)."""
    from avatar_app.rig import build_default_avatar, load_gltf

    if path:
        return load_gltf(path)
    shipped = DEFAULT_CHARACTER / "avatar.glb"
    return load_gltf(shipped) if shipped.is_file() else build_default_avatar()


BODY_SUFFIXES = (".glb", ".vrm", ".gltf")


@dataclass(frozen=True)
class CharacterChoice:
    """What ``--character`` names: a character folder, or a bare body file (.glb/.vrm)."""

    body: Path | None  # the rig's body (None: the built-in one)
    folder: CharacterFolder | None

    @property
    def sheet_dir(self) -> Path:
        return self.folder.sheet_dir if self.folder else DEFAULT_CHARACTER / "sheet"

    @property
    def weights(self) -> Path | None:
        return self.folder.weights if self.folder else None

    @property
    def framing(self) -> str | float:
        """The live framing: the folder's cut height where the fit measured one, else its name."""
        if self.folder is None:
            return "full"
        return self.folder.cut if self.folder.cut is not None else self.folder.framing

    def framing_or(self, override: str | None) -> str | float:
        """``--framing`` when given (checked), else the character's own."""
        return check_framing(override) if override is not None else self.framing

    def describe(self) -> str:
        if self.folder is not None:
            return self.folder.describe()
        return f"{self.body.name}: its own body" if self.body else "the built-in character's body"


def open_character_arg(arg: str | Path | None) -> CharacterChoice:
    """``--character``: a character folder (``avatar-app fit`` makes them), a .glb/.vrm, or None (built-in)."""
    if arg is None or str(arg) == "":
        folder = DEFAULT_CHARACTER
        return CharacterChoice(None, open_character_folder(folder) if (folder / "character.json").is_file() else None)
    path = Path(arg)
    if path.is_dir():
        folder = open_character_folder(path)
        return CharacterChoice(folder.avatar, folder)
    if path.suffix.lower() in BODY_SUFFIXES:
        if not path.is_file():
            raise SettingError(
                "--character", "an existing .glb/.vrm file or character folder", f"no {path}", "check the path"
            )
        return CharacterChoice(path, None)
    raise SettingError(
        "--character",
        "a character folder (from avatar-app fit) or a .glb/.vrm body",
        f"{path}" + ("" if path.exists() else " (no such file or folder)"),
        "make one with avatar-app fit --sheet DRAWINGS --out CHAR, then pass --character CHAR",
    )


def check_framing(value: str | float | None, setting: str = "--framing") -> str | float | None:
    """A framing name, a cut height in metres (a number), or None."""
    if value is None or isinstance(value, float):
        return value
    text = str(value).strip()
    if text in FRAMINGS:
        return text
    try:
        return float(text)
    except ValueError:
        raise SettingError(
            setting,
            f"one of {', '.join(FRAMINGS)} (or a cut height in metres)",
            repr(value),
            "use e.g. --framing waist",
        ) from None


def udp_map_for(weights: str | Path | None):
    """The UDP map saved beside these weights by ``fit --weights`` (an ``UdpAffine``), or None."""
    from avatar_app.rig.udp_calibration import UDP_MAP_FILENAME, load_udp_affine

    path = Path(weights or DEFAULT_WEIGHTS) / UDP_MAP_FILENAME
    return load_udp_affine(path) if path.is_file() else None


def choose_renderer(
    requested: str | None, weights: str | None, default_weights: Path = DEFAULT_WEIGHTS
) -> tuple[str, Path | None, str | None]:
    """(renderer, weights folder or None, warning or None): conr when weights exist, else proxy with a warning."""
    folder = Path(weights) if weights else (default_weights if default_weights.is_dir() else None)
    if weights and not folder.is_dir():
        raise SettingError(
            "--weights", "a folder with the four CoNR .pth files", f"no folder {folder}", "check the path"
        )
    if requested is None:
        if folder is None:
            return "proxy", None, NO_WEIGHTS_WARNING.format(folder=default_weights)
        return "conr", folder, None
    if requested == "conr" and folder is None:
        raise SettingError(
            "--renderer conr",
            "trained CoNR weights (--weights DIR)",
            f"none (no trained weights in {default_weights}, where a checkout ships them)",
            "pass --weights DIR (official CoNR weights, "
            "or `python tools/make_random_weights.py DIR --preset lite` for a smoke test), "
            "or use --renderer proxy",
        )
    return requested, folder, None


def parse_colour(text: str, setting: str = "--background") -> tuple[int, int, int]:
    """'#00ff00', '00ff00' or '0,255,0' -> (r, g, b); a :class:`SettingError` naming ``setting`` otherwise."""
    t = text.strip().lstrip("#")
    try:
        if "," in t:
            rgb = tuple(int(v) for v in t.split(","))
        elif len(t) == 6:
            rgb = tuple(int(t[i : i + 2], 16) for i in (0, 2, 4))
        else:
            raise ValueError
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise ValueError
    except ValueError:
        raise SettingError(
            setting, "a colour like #00ff00 or 0,255,0", repr(text), f"use e.g. {setting} #00ff00"
        ) from None
    return rgb  # type: ignore[return-value]
