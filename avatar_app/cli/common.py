"""What several sub-commands share: finding and loading weights, parsing sizes and colours."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from avatar_app.core.errors import SettingError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSETS = REPO_ROOT / "assets"
DEFAULT_CHARACTER = ASSETS / "characters" / "default"
DEFAULT_WEIGHTS = ASSETS / "weights" / "lite"
PRESET_FILE = "model.json"  # {"preset": "lite"} beside the four .pth files; absent = official


def weights_preset(folder: Path) -> str:
    meta = folder / PRESET_FILE
    if meta.is_file():
        try:
            return str(json.loads(meta.read_text())["preset"])
        except (ValueError, KeyError) as e:
            raise SettingError(meta, 'JSON like {"preset": "lite"}', f"unreadable ({e})", "fix or delete the file") from e
    return "official"


def load_networks(weights: str | Path | None, preset: str | None = None):
    """Build the CoNR networks of the folder's preset and load its four files (strict)."""
    from avatar_app.models import create_conr, load_conr_weights

    folder = Path(weights) if weights else DEFAULT_WEIGHTS
    if weights is None and not folder.is_dir():
        raise SettingError(
            "--weights",
            "a folder with udpparsernet.pth, target_pose_encoder.pth, shader.pth, rgbadecodernet.pth",
            f"no trained weights shipped yet (looked in {folder})",
            "pass --weights DIR (official CoNR weights, or `python tools/make_random_weights.py DIR` for a smoke test)",
        )
    preset = preset or weights_preset(folder)
    model = create_conr(preset, init=False)
    load_conr_weights(model, folder)
    return model.eval()


def parse_colour(text: str) -> tuple[int, int, int]:
    """'#00ff00', '00ff00' or '0,255,0' -> (r, g, b)."""
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
        raise SettingError("--background", "a colour like #00ff00 or 0,255,0", repr(text), "use e.g. --background #00ff00") from None
    return rgb  # type: ignore[return-value]


def load_character(path: str | Path | None = None):
    """A glTF/VRM character, or the built-in default (shipped .glb, else built procedurally)."""
    from avatar_app.rig import build_default_avatar, load_gltf

    if path:
        return load_gltf(path)
    shipped = DEFAULT_CHARACTER / "avatar.glb"
    return load_gltf(shipped) if shipped.is_file() else build_default_avatar()


def load_motion(spec: str):
    """'demo' or a BVH file -> an object with ``pose_at(t) -> HumanoidPose``."""
    from avatar_app.rig import DemoMotion, load_bvh

    return DemoMotion() if spec == "demo" else load_bvh(spec)
