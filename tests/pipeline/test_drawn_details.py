"""The drawn-detail pass in the pipeline: found beside a character's sheet, shared by aligned expression sheets."""

from __future__ import annotations

import shutil

import numpy as np

from avatar_app.core.frames import UdpMap
from avatar_app.io.sheet import load_sheet
from avatar_app.io.sheet_udp import load_sheet_udp
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER
from avatar_app.pipeline.drawn_details import drawn_details
from avatar_app.pipeline.expression_sheets import load_expression_sheets
from avatar_app.pipeline.renderers import ConrRenderer
from avatar_app.rig.expressions import Expression

SHEET = DEFAULT_CHARACTER / "sheet"
SIZE = 128


def _straight(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) / np.maximum(alpha.astype(np.float32), 1.0)


def test_the_frame_shows_the_drawing_and_the_closed_eyes_drawing_when_blinking(lite_networks):
    sheet = load_sheet(SHEET, size=SIZE, max_views=1)
    variants = load_expression_sheets(SHEET, SIZE, 1, 1)
    notes = []
    detail, by_variant = drawn_details(SHEET, sheet, variants, SIZE, notes.append)
    assert detail is not None and set(by_variant) == {"eyes_closed", "mouth_open"}
    assert "drawn detail" in notes[0]
    udp, _ = load_sheet_udp(DEFAULT_CHARACTER / "sheet_udp", sheet.names, SIZE)
    pose = UdpMap(np.ascontiguousarray(udp[0].transpose(1, 2, 0)))  # the front view's own pose
    solid = (sheet.alpha[0, 0] >= 200) & (udp[0, 3] > 0.5)
    closed = variants["eyes_closed"]
    eyes = (
        np.abs(
            _straight(closed.rgb_premultiplied[0], closed.alpha[0])
            - _straight(sheet.rgb_premultiplied[0], sheet.alpha[0])
        ).max(0)
        > 0.1
    )
    eyes &= solid
    assert eyes.sum() > 5
    with (
        ConrRenderer(
            lite_networks, sheet, expression_sheets=variants, drawn_detail=detail, drawn_detail_variants=by_variant
        ) as renderer,
        ConrRenderer(lite_networks, sheet) as plain,
    ):
        bare = plain.render(pose, None).data
        neutral = renderer.render(pose, None).data
        renderer.express(Expression.of(blink=1.0))
        blink = renderer.render(pose, None).data
    inner = solid & (np.minimum.reduce([np.roll(solid, s, a) for s in (-3, 3) for a in (0, 1)]))  # off the seam
    drawing = _straight(sheet.rgb_premultiplied[0], sheet.alpha[0]).transpose(1, 2, 0)
    shown = neutral[..., :3] / np.maximum(neutral[..., 3:4], 1e-6)
    assert np.abs(shown[inner] - drawing[inner]).mean() < 0.02  # the drawing's own colours
    assert np.abs(bare[..., :3] / np.maximum(bare[..., 3:4], 1e-6) - drawing)[inner].mean() > 0.1  # not the network's
    np.testing.assert_array_equal(neutral[..., 3], bare[..., 3])  # the outline stays the network's
    shut = _straight(closed.rgb_premultiplied[0], closed.alpha[0]).transpose(1, 2, 0)
    blinked = blink[..., :3] / np.maximum(blink[..., 3:4], 1e-6)
    assert np.abs(blinked[eyes & inner] - shut[eyes & inner]).mean() < 0.05  # the closed eyes are drawn


def test_no_sheet_udp_beside_the_sheet_means_no_detail(tmp_path):
    sheet_dir = tmp_path / "sheet"
    shutil.copytree(SHEET, sheet_dir)
    sheet = load_sheet(sheet_dir, size=SIZE)
    assert drawn_details(sheet_dir, sheet, {}, SIZE) == (None, {})
    (tmp_path / "sheet_udp").mkdir()
    shutil.copy(DEFAULT_CHARACTER / "sheet_udp" / "0_front.npz", tmp_path / "sheet_udp")
    notes = []
    assert drawn_details(sheet_dir, sheet, {}, SIZE, notes.append) == (None, {})
    assert "1_three_quarter.png" in notes[0] and "avatar-app fit" in notes[0]


def _character_copy(tmp_path):
    for name in ("sheet", "sheet_udp"):
        shutil.copytree(DEFAULT_CHARACTER / name, tmp_path / name)
    sheet_dir = tmp_path / "sheet"
    return sheet_dir, load_sheet(sheet_dir, size=SIZE)


def _write_fill(folder, stem: str, point, colour) -> None:
    """A fill (fit.layers) of a 6x6 block whose pixels all stand for ``point``."""
    import cv2

    from avatar_app.io.udp import save_udp

    folder.mkdir(exist_ok=True)
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    udp = np.zeros((SIZE, SIZE, 4), np.float32)
    rgba[40:46, 40:46] = (*colour, 255)
    udp[40:46, 40:46] = (*point, 1.0)
    cv2.imwrite(str(folder / f"{stem}.png"), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    save_udp(folder / f"{stem}.npz", udp)


def test_the_body_under_the_arms_filled_at_fit_time_is_drawn_where_a_frame_shows_it(tmp_path):
    """A point no drawing shows (inside the body's bounding box, away from every drawn
    surface point) is left to the network; with a fill standing for it, the fill's colour."""
    sheet_dir, sheet = _character_copy(tmp_path)
    point = (0.5, 0.5, 0.5)
    frame = np.zeros((8, 8, 4), np.float32)
    frame[2:4, 2:4] = (*point, 1.0)
    bare, _ = drawn_details(sheet_dir, sheet, {}, SIZE)
    assert not bare.coverage(frame)[1].any()
    _write_fill(tmp_path / "sheet_fill", "0_front", point, (250, 10, 10))
    notes = []
    detail, _ = drawn_details(sheet_dir, sheet, {}, SIZE, notes.append)
    colour, covered = detail.coverage(frame)
    assert covered[2:4, 2:4].all() and covered.sum() == 4
    np.testing.assert_allclose(colour[2, 2], np.array([250, 10, 10]) / 255.0, atol=0.01)
    assert "under the arms" in notes[-1]


def test_a_broken_fill_is_said_and_the_drawn_detail_goes_on_without_it(tmp_path):
    sheet_dir, sheet = _character_copy(tmp_path)
    (tmp_path / "sheet_fill").mkdir()
    (tmp_path / "sheet_fill" / "0_front.png").write_bytes(b"not a png")
    (tmp_path / "sheet_fill" / "0_front.npz").write_bytes(b"not an npz")
    notes = []
    detail, _ = drawn_details(sheet_dir, sheet, {}, SIZE, notes.append)
    assert detail is not None
    assert "0_front.png" in notes[0] and "avatar-app fit" in notes[0]
