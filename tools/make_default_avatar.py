#!/usr/bin/env python3
"""Build the built-in default character into assets/characters/default/.

    python tools/make_default_avatar.py [--out assets/characters/default] [--size 512]

Writes ``character.json``, ``avatar.glb`` (skinned mesh, VRM humanoid map, spring bones), a character
sheet ``sheet/{0_front,1_three_quarter,2_side,3_back}.png`` (RGBA, straight alpha,
antialiased) and the exact UDP map of each view ``sheet_udp/<view>.npz`` (key ``i``,
float32 [S,S,4], rendered without antialiasing from the same camera), and the face's
expression sheets ``sheet/expressions/{eyes_closed,mouth_open}/`` (the same views with the
face morphs applied, pipeline/expression_sheets.py). Deterministic.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar_app.core.frames import RgbaFrame  # noqa: E402
from avatar_app.io.character_folder import save_character_info  # noqa: E402
from avatar_app.io.udp import save_udp  # noqa: E402
from avatar_app.raster.character_view import CharacterView, sheet_cameras  # noqa: E402
from avatar_app.rig import build_default_avatar, save_glb  # noqa: E402
from avatar_app.rig.expressions import Expression  # noqa: E402

VIEWS = ("front", "three_quarter", "side", "back")


def sheet_view_names() -> list[str]:
    return [f"{i}_{v}" for i, v in enumerate(VIEWS)]


# expression sheet folder -> the expression its views are drawn with
EXPRESSION_SHEETS = {"eyes_closed": {"blink": 1.0}, "mouth_open": {"aa": 1.0}}


def render_sheet(character, size: int, expression=None):
    """[(name, straight RGBA uint8 [S,S,4], UDP float32 [S,S,4])] for the four views, rest pose
    (with ``expression``'s face morphs, when given)."""
    rest = character.rest_vertices()
    if expression is not None:
        mesh = character.mesh
        rest = mesh.skin(character.skeleton.rest_world_matrices, mesh.morphs.weights_for(expression))
    out = []
    with CharacterView(character, size, springs=False, color_samples=4, reduction=0.0) as view:
        for name, camera in zip(sheet_view_names(), sheet_cameras(character)):
            result = view.render_vertices(rest, camera)
            rgba = RgbaFrame(np.ascontiguousarray(result.color)).to_straight_rgba8()
            out.append((name, rgba, result.udp.copy()))
    return out


def character_info() -> dict:
    """character.json of the built-in character (io/character_folder.py): a full-body sheet."""
    from avatar_app.rig.avatar_style import AvatarStyle

    return {
        "name": "default",
        "made_by": {"tool": "tools/make_default_avatar.py", "sources": []},
        "proxy": AvatarStyle().describe(),
        "framing": {"name": "full", "cut": None},
        "views": [
            {"file": f"sheet/{name}.png", "framing": "full", "yaw": yaw}
            for name, yaw in zip(sheet_view_names(), (0.0, 45.0, 90.0, 180.0))
        ],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "assets" / "characters" / "default"))
    p.add_argument("--size", type=int, default=512)
    args = p.parse_args(argv)
    out = Path(args.out)
    (out / "sheet").mkdir(parents=True, exist_ok=True)
    (out / "sheet_udp").mkdir(parents=True, exist_ok=True)
    character = build_default_avatar()
    save_glb(character, out / "avatar.glb")
    for name, rgba, udp in render_sheet(character, args.size):
        cv2.imwrite(str(out / "sheet" / f"{name}.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
        save_udp(out / "sheet_udp" / f"{name}.npz", udp)
    for folder, values in EXPRESSION_SHEETS.items():
        (out / "sheet" / "expressions" / folder).mkdir(parents=True, exist_ok=True)
        for name, rgba, _ in render_sheet(character, args.size, Expression.of(**values)):
            path = out / "sheet" / "expressions" / folder / f"{name}.png"
            cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    save_character_info(out, character_info())
    print(
        f"wrote {out}/avatar.glb, {len(VIEWS)} sheet views, their UDP maps and expression sheets "
        f"{', '.join(EXPRESSION_SHEETS)} ({args.size}x{args.size})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
