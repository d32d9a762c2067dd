"""Expression sheets: variants of the sheet found by folder name, encoded once, picked per frame."""

from __future__ import annotations

import logging
import shutil

import cv2
import numpy as np

from avatar_app.core.frames import UdpMap
from avatar_app.io.sheet import load_sheet
from avatar_app.io.udp import load_udp
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER
from avatar_app.pipeline.expression_sheets import ExpressionChooser, load_expression_sheets, variant_folders
from avatar_app.pipeline.renderers import ConrRenderer
from avatar_app.rig.expressions import Expression

SHEET = DEFAULT_CHARACTER / "sheet"
SIZE = 128


def test_the_default_character_ships_eyes_closed_and_mouth_open_that_differ_only_in_the_face():
    assert set(variant_folders(SHEET)) == {"eyes_closed", "mouth_open"}
    neutral = cv2.imread(str(SHEET / "0_front.png"), cv2.IMREAD_UNCHANGED).astype(np.int16)
    figure_rows = np.nonzero(neutral[..., 3].any(axis=1))[0]
    for name in ("eyes_closed", "mouth_open"):
        assert len(list((SHEET / "expressions" / name).glob("*.png"))) == 4
        variant = cv2.imread(str(SHEET / "expressions" / name / "0_front.png"), cv2.IMREAD_UNCHANGED)
        changed = np.abs(variant.astype(np.int16) - neutral).max(axis=-1) > 24
        rows, _ = np.nonzero(changed)
        assert 20 < changed.sum() < 0.01 * changed.size, name
        assert rows.max() < figure_rows.min() + 0.15 * (figure_rows.max() - figure_rows.min()), name


def test_the_chooser_picks_what_the_expression_calls_for_most():
    chooser = ExpressionChooser(["eyes_closed", "mouth_open", "joy"])
    assert chooser.choose(None) is None
    assert chooser.choose(Expression.of(blink=0.4)) is None  # under the threshold: the sheet itself
    assert chooser.choose(Expression.of(blink=0.9, aa=0.6)) == "eyes_closed"
    assert chooser.choose(Expression.of(blinkLeft=1.0)) is None  # one eye shut is not "eyes closed"
    assert chooser.choose(Expression.of(oh=0.7, happy=0.6)) == "mouth_open"
    assert chooser.choose(Expression.of(happy=0.8, aa=0.6)) == "joy"


def test_folders_with_other_names_or_view_counts_are_skipped_with_a_warning(tmp_path, caplog):
    sheet = tmp_path / "sheet"
    shutil.copytree(SHEET, sheet)
    (sheet / "expressions" / "smug").mkdir()
    shutil.copy(SHEET / "0_front.png", sheet / "expressions" / "smug")
    (sheet / "expressions" / "mouth_open" / "3_back.png").unlink()
    with caplog.at_level(logging.WARNING):
        variants = load_expression_sheets(sheet, SIZE, None, 4)
    assert set(variants) == {"eyes_closed"}
    text = caplog.text
    assert "smug" in text and "mouth_open" in text and "3 view(s)" in text


def test_conr_renders_with_the_chosen_sheet_and_back(lite_networks):
    sheet = load_sheet(SHEET, size=SIZE, max_views=1)
    variants = load_expression_sheets(SHEET, SIZE, 1, 1)
    udp = load_udp(DEFAULT_CHARACTER / "sheet_udp" / "0_front.npz")
    udp = UdpMap(cv2.resize(getattr(udp, "data", udp), (SIZE, SIZE), interpolation=cv2.INTER_NEAREST))
    with ConrRenderer(lite_networks, sheet, expression_sheets=variants) as renderer:
        neutral = renderer.render(udp, None).data.copy()
        renderer.express(Expression.of(blink=1.0))
        assert renderer.variant == "eyes_closed"
        closed = renderer.render(udp, None).data.copy()
        renderer.express(Expression())
        assert renderer.variant is None
        again = renderer.render(udp, None).data
    assert np.abs(closed - neutral).max() > 1e-3, "the closed-eye sheet is what is rendered"
    np.testing.assert_allclose(again, neutral, atol=1e-6)
