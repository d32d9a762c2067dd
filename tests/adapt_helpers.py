"""A tiny character folder with exact sheet UDP, made without a fit (the built-in body, one front view)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from avatar_app.io.character_folder import save_character_info
from avatar_app.io.udp import save_udp
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, load_character
from avatar_app.raster.character_view import raster_mesh
from avatar_app.raster.context import create_headless_context
from avatar_app.raster.rasterizer import Rasterizer
from avatar_app.rig.avatar_style import AvatarStyle
from avatar_app.training.views import prepare_udp_view, render_rest_views

TINY_SIZE = 128  # the adapt tests' model size


def tiny_character(root: Path, size: int = TINY_SIZE) -> Path:
    """``root``: sheet/0_front.png (the built-in body drawn at 2x ``size``), sheet_udp/0_front.npz
    (its exact UDP at ``size``), avatar.glb, character.json (framing full)."""
    character = load_character(DEFAULT_CHARACTER / "avatar.glb")
    ctx = create_headless_context()
    try:
        with ctx:
            rasterizer = Rasterizer(2 * size, ctx=ctx, color_samples=4)
            ((name, rgba, udp),) = render_rest_views(rasterizer, character, raster_mesh(character), ("front",))
            rasterizer.close()
    finally:
        ctx.release()
    (root / "sheet").mkdir(parents=True)
    cv2.imwrite(str(root / "sheet" / f"{name}.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    (root / "sheet_udp").mkdir()
    save_udp(root / "sheet_udp" / f"{name}.npz", np.ascontiguousarray(prepare_udp_view(udp, rgba[..., 3], size)))
    (root / "avatar.glb").write_bytes((DEFAULT_CHARACTER / "avatar.glb").read_bytes())
    save_character_info(
        root,
        {
            "name": "Tiny",
            "made_by": {"tool": "test", "sources": []},
            "proxy": AvatarStyle().describe(),
            "framing": {"name": "full", "cut": None},
            "sheet_udp_size": size,
            "views": [{"file": f"sheet/{name}.png", "framing": "full", "iou": 1.0, "start": "test"}],
        },
    )
    return root
