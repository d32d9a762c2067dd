"""Eileen's two drawings of one pose as the sheet (``happy``) and its ``mouth_open`` expression sheet.

Fitted from ``happy.png`` alone, with ``very_happy_mouth_open.png`` placed as
``sheet/expressions/mouth_open/happy.png``, the character renders the open-mouth drawing's
mouth when the frame's expression opens the mouth, and the closed smile when it does not: the
drawings differ only in the face, so the variant borrows the fitted UDP (drawn detail).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from avatar_app.cli.main import main
from avatar_app.core.frames import UdpMap
from avatar_app.io.sheet import load_sheet
from avatar_app.io.sheet_udp import load_sheet_udp, sheet_udp_dir
from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS, load_networks
from avatar_app.pipeline.drawn_details import drawn_details
from avatar_app.pipeline.expression_sheets import load_expression_sheets
from avatar_app.pipeline.renderers import ConrRenderer
from avatar_app.rig.expressions import Expression

SIZE = 256  # the mouth is a few pixels at 128


@pytest.fixture(scope="module")
def character(tmp_path_factory, eileen):
    drawings = tmp_path_factory.mktemp("drawing")
    shutil.copy(eileen / "happy.png", drawings)
    out = tmp_path_factory.mktemp("characters") / "eileen"
    assert main(["fit", "--sheet", str(drawings), "--out", str(out), "--size", str(SIZE), "--rounds", "1"]) == 0
    variant = out / "sheet" / "expressions" / "mouth_open"
    variant.mkdir(parents=True)
    shutil.copy(eileen / "very_happy_mouth_open.png", variant / "happy.png")
    return out


def unit(image: np.ndarray) -> np.ndarray:
    """uint8 (0..255) or float (0..1) pixels as float32 0..1."""
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)


def test_an_open_mouth_renders_the_open_mouth_drawing(character):
    sheet_dir = character / "sheet"
    sheet = load_sheet(sheet_dir, size=SIZE)
    variants = load_expression_sheets(sheet_dir, SIZE, None, sheet.num_views)
    detail, by_variant = drawn_details(sheet_dir, sheet, variants, SIZE)
    assert set(by_variant) == {"mouth_open"}
    udp, _ = load_sheet_udp(sheet_udp_dir(sheet_dir), sheet.names, SIZE)
    pose = UdpMap(np.ascontiguousarray(udp[0].transpose(1, 2, 0)))  # the drawing's own pose
    frames = {}
    with ConrRenderer(
        load_networks(DEFAULT_WEIGHTS),
        sheet,
        expression_sheets=variants,
        drawn_detail=detail,
        drawn_detail_variants=by_variant,
    ) as renderer:
        for name, face in (("shut", Expression.of()), ("open", Expression.of(aa=1.0))):
            renderer.express(face)
            frames[name] = unit(renderer.render(pose, None).data)
    drawings = {
        name: unit(view.rgb_premultiplied[0].transpose(1, 2, 0))
        for name, view in (("shut", sheet), ("open", variants["mouth_open"]))
    }
    mouth = np.abs(drawings["open"] - drawings["shut"]).max(axis=-1) > 0.3  # where the two drawings differ
    mouth[: int(0.25 * SIZE)] = False  # below the eyes, which differ too
    assert mouth.sum() > 10
    for name, other in (("open", "shut"), ("shut", "open")):
        own = np.abs(frames[name][..., :3] - drawings[name][..., :3])[mouth].mean()
        wrong = np.abs(frames[name][..., :3] - drawings[other][..., :3])[mouth].mean()
        assert own < 0.5 * wrong, (name, own, wrong)
