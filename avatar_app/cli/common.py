"""What several sub-commands share: finding and loading weights, parsing sizes and colours."""

from __future__ import annotations

import logging

from avatar_app.core.errors import SettingError

# Moved to pipeline/defaults.py (the GUI shares them); re-exported for the sub-commands and tools.
from avatar_app.pipeline.defaults import (  # noqa: F401
    ASSETS,
    DEFAULT_CHARACTER,
    DEFAULT_WEIGHTS,
    REPO_ROOT,
    load_character,
    load_networks,
)

log = logging.getLogger(__name__)


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


def load_motion(spec: str):
    """'demo' or a BVH file -> an object with ``pose_at(t) -> HumanoidPose``."""
    from avatar_app.rig import DemoMotion, load_bvh

    return DemoMotion() if spec == "demo" else load_bvh(spec)
