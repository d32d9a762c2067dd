"""What several sub-commands share and the window does not: motions by name, progress lines on stderr.

The defaults the window shares (the built-in character, the weights folder, loading them,
colours) live in ``pipeline/defaults.py``.
"""

from __future__ import annotations

import sys

from avatar_app.rig.motion_framing import ROOT_MODES  # noqa: F401 (the commands' --root choices)

ROOT_HELP = (
    "a .bvh file's root motion: follow (default: the picture follows the character, which stays in it), "
    "hold (in place) or free (as recorded; it may leave the picture)"
)


def load_motion(spec: str, root: str = "follow"):
    """'demo', 'turn' (a slow turn on the spot) or a BVH file -> an object with
    ``pose_at(t) -> HumanoidPose``; ``root``: a BVH's root motion (``rig.motion_framing``)."""
    from avatar_app.rig import DemoMotion, load_bvh
    from avatar_app.rig.demo_motion import TurnMotion

    if spec == "demo":
        return DemoMotion()
    return TurnMotion() if spec == "turn" else load_bvh(spec, root=root)


def print_export_progress(fraction: float, text: str) -> None:
    """``progress`` of ``open_backend``: the one-off ONNX export, said on stderr."""
    from avatar_app.infer.deploy import export_notes

    export_notes(lambda line: print(line, file=sys.stderr, flush=True))(fraction, text)


def add_character_arguments(p) -> None:
    """``--character`` and ``--framing``, the same in every command that poses a character."""
    p.add_argument(
        "--character",
        default=None,
        help="a character folder (made by `avatar-app fit`: its body, sheet, framing and weights) "
        "or a .glb/.vrm body (default: the built-in character)",
    )
    p.add_argument(
        "--framing",
        default=None,
        help="full, knee, waist or bust (or a cut height in metres): how much of the body the camera shows "
        "(default: the character's, from its fit; full for a bare body)",
    )
