"""What several sub-commands share: finding and loading weights, parsing sizes and colours, progress lines."""

from __future__ import annotations

import logging
import sys

# Moved to pipeline/defaults.py (the GUI shares them); re-exported for the sub-commands and tools.
from avatar_app.pipeline.defaults import (  # noqa: F401
    ASSETS,
    DEFAULT_CHARACTER,
    DEFAULT_WEIGHTS,
    REPO_ROOT,
    load_character,
    load_networks,
    parse_colour,
)

log = logging.getLogger(__name__)


def load_motion(spec: str):
    """'demo' or a BVH file -> an object with ``pose_at(t) -> HumanoidPose``."""
    from avatar_app.rig import DemoMotion, load_bvh

    return DemoMotion() if spec == "demo" else load_bvh(spec)


def print_export_progress(fraction: float, text: str) -> None:
    """``progress`` of ``open_backend``: the one-off ONNX export, said on stderr."""
    from avatar_app.infer.deploy import export_note

    note = export_note(fraction, text)
    if note is not None:
        print(note, file=sys.stderr, flush=True)
