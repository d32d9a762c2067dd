"""Character-sheet loading: reference-exact premultiplication and centring, helpful errors."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from avatar_app.core.errors import SettingError, SheetError
from avatar_app.io.sheet import load_sheet, premultiply, prepare_view

# ---------------------------------------------------------------- loading


def test_folder_views_load_in_natural_name_order(tmp_path, write_rgba, character):
    for name, seed in [("view_10.png", 10), ("view_2.webp", 2), ("view_1.png", 1)]:
        params = [cv2.IMWRITE_WEBP_QUALITY, 101] if name.endswith(".webp") else []
        write_rgba(tmp_path / name, character(seed=seed), params)
    (tmp_path / "notes.txt").write_text("not a view")
    (tmp_path / "._view_3.png").write_bytes(b"macOS resource fork, not a PNG")

    sheet = load_sheet(tmp_path, size=128)

    assert sheet.names == ("view_1.png", "view_2.webp", "view_10.png")
    assert sheet.rgb_premultiplied.shape == (3, 3, 128, 128) and sheet.rgb_premultiplied.dtype == np.uint8
    assert sheet.alpha.shape == (3, 1, 128, 128) and sheet.alpha.dtype == np.uint8
    assert sheet.source == str(tmp_path)


def test_a_list_of_files_keeps_the_given_order(tmp_path, write_rgba, character):
    back = write_rgba(tmp_path / "back.png", character(seed=1))
    front = write_rgba(tmp_path / "front.png", character(seed=2))
    sheet = load_sheet([front, back], size=128)
    assert sheet.names == ("front.png", "back.png")


def test_a_single_file_is_a_one_view_sheet(tmp_path, write_rgba, character):
    sheet = load_sheet(write_rgba(tmp_path / "only.png", character()), size=256)
    assert sheet.num_views == 1 and sheet.size == 256


def test_max_views_keeps_the_first_views(tmp_path, write_rgba, character, caplog):
    for i in range(4):
        write_rgba(tmp_path / f"v{i}.png", character(seed=i))
    with caplog.at_level(logging.INFO, logger="avatar_app.io.sheet"):
        sheet = load_sheet(tmp_path, size=128, max_views=2)
    assert sheet.names == ("v0.png", "v1.png")
    assert "first 2 of 4" in caplog.text


def test_views_of_different_sizes_are_each_centred_at_the_model_size(tmp_path, write_rgba, character):
    write_rgba(tmp_path / "a.png", character(60, 40))
    write_rgba(tmp_path / "b.png", character(700, 500))
    sheet = load_sheet(tmp_path, size=256)
    assert sheet.alpha.shape == (2, 1, 256, 256)
    assert all(sheet.alpha[i].any() for i in range(2))


def test_16_bit_views_are_reduced_to_8_bit_by_rounding(tmp_path, write_rgba):
    rgba16 = np.zeros((128, 128, 4), np.uint16)
    rgba16[:, :64] = (65535, 257 * 100 + 129, 257 * 100 + 128, 65535)  # rounds to 255, 101, 100
    rgba16[0, 127, 3] = 65535  # widen the bbox to the full 128x128: no resize
    sheet = load_sheet(write_rgba(tmp_path / "deep.png", rgba16), size=128)
    assert tuple(sheet.rgb_premultiplied[0, :, 5, 5]) == (255, 101, 100)
    assert sheet.alpha[0, 0, 5, 5] == 255


# ---------------------------------------------------------------- premultiplication


def test_premultiplication_truncates_the_float64_product_like_the_reference():
    rgb = np.arange(256, dtype=np.uint8)[:, None].repeat(256, 1)
    alpha = np.arange(256, dtype=np.uint8)[None, :].repeat(256, 0)
    rgba = np.stack([rgb, rgb, rgb, alpha], axis=-1)
    out = premultiply(rgba)
    expected = (rgb * (alpha / 255.0)).clip(0, 255).astype(np.uint8)  # data_loader.py, verbatim arithmetic
    np.testing.assert_array_equal(out[..., 0], expected)
    np.testing.assert_array_equal(out[..., 3], alpha)
    # pinned values, including pairs where float64 lands just under an integer
    assert out[255, 128, 0] == 128  # 255 * 128/255 = 128
    assert out[100, 51, 0] == 20
    assert out[200, 1, 0] == 0  # 0.78 truncated, not rounded
    assert out[254, 254, 0] == 253  # 253.0039
    assert out[51, 155, 0] == 30  # exact 31, float64 gives 30.999999999999996
    assert out[204, 155, 0] == 123  # exact 124, float64 gives 123.99999999999999
    assert out[7, 0, 0] == 0 and out[255, 255, 0] == 255


def test_loaded_sheet_stores_reference_premultiplied_values(tmp_path, write_rgba):
    # a 128x128 view whose alpha bbox is the whole image: no crop, pad or resize happens
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (128, 128, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(rng.random((128, 128)) < 0.5, 0, rgba[..., 3])
    rgba[0, 0, 3] = rgba[127, 127, 3] = 200
    rgba[5, 5] = (51, 204, 255, 155)
    sheet = load_sheet(write_rgba(tmp_path / "v.png", rgba), size=128)

    expected = (rgba[..., :3] * (rgba[..., 3:4] / 255.0)).clip(0, 255).astype(np.uint8)
    np.testing.assert_array_equal(sheet.rgb_premultiplied[0].transpose(1, 2, 0), expected)
    np.testing.assert_array_equal(sheet.alpha[0, 0], rgba[..., 3])
    assert tuple(sheet.rgb_premultiplied[0, :, 5, 5]) == (30, 123, 155)


# ---------------------------------------------------------------- crop / pad / resize geometry


def _centroid(alpha: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(alpha.shape)
    weight = alpha.astype(np.float64)
    return float((rows * weight).sum() / weight.sum()), float((cols * weight).sum() / weight.sum())


def test_off_centre_square_frame_ends_centred_and_filling_the_frame(tmp_path, write_rgba):
    rgba = np.zeros((300, 400, 4), np.uint8)
    top, left, side, thickness = 20, 300, 64, 8  # off-centre, near the top-right corner
    rgba[top : top + side, left : left + side] = (200, 100, 50, 255)
    rgba[top + thickness : top + side - thickness, left + thickness : left + side - thickness] = 0
    sheet = load_sheet(write_rgba(tmp_path / "frame.png", rgba), size=256)
    alpha = sheet.alpha[0, 0]

    assert (alpha[0] == 255).all() and (alpha[-1] == 255).all()  # touches every edge
    assert (alpha[:, 0] == 255).all() and (alpha[:, -1] == 255).all()
    assert (alpha[40:216, 40:216] == 0).all()  # the hole stays a hole, scaled x4
    assert _centroid(alpha) == pytest.approx((127.5, 127.5), abs=1e-6)
    assert tuple(sheet.rgb_premultiplied[0, :, 3, 3]) == (200, 100, 50)


def test_tall_character_is_centred_horizontally_with_transparent_sides(tmp_path, write_rgba):
    rgba = np.zeros((300, 400, 4), np.uint8)
    cv2.ellipse(rgba, (320, 60), (20, 40), 0, 0, 360, (90, 180, 30, 255), -1)  # 41 wide, 81 tall
    sheet = load_sheet(write_rgba(tmp_path / "tall.png", rgba), size=256)
    alpha = sheet.alpha[0, 0]
    assert alpha[0].any() and alpha[-1].any()  # fills the height
    assert not alpha[:, :60].any() and not alpha[:, -60:].any()  # transparent side margins
    row, col = _centroid(alpha)
    assert row == pytest.approx(127.5, abs=1.0) and col == pytest.approx(127.5, abs=1.0)


@pytest.mark.parametrize("left, expected_pad_left", [(0, 2), (1, 1), (2, 2), (3, 1)])
def test_odd_margin_splits_by_half_to_even_rounding_like_the_reference(left, expected_pad_left):
    # bbox 128 tall x 125 wide -> 3 columns of padding; round(left - 1.5) is half-to-even
    rgba = np.zeros((128, 140, 4), np.uint8)
    rgba[:, left : left + 125] = (10, 20, 30, 255)
    rgba[::2, left + 60 : left + 64, 3] = 0  # keep the mean alpha under 0.95
    rgba[64:, left + 10 : left + 40, 3] = 0
    view = prepare_view(rgba, 128)
    opaque_columns = np.flatnonzero(view[..., 3].any(axis=0))
    assert opaque_columns[0] == expected_pad_left
    assert opaque_columns[-1] == expected_pad_left + 124


def test_enlarging_is_bilinear_and_shrinking_is_area_averaged(character):
    small = character(64, 64, seed=5)
    big = cv2.resize(small, (512, 512), interpolation=cv2.INTER_NEAREST)
    for rgba, interpolation in [(small, cv2.INTER_LINEAR), (big, cv2.INTER_AREA)]:
        ys, xs = np.nonzero(rgba[..., 3])
        box = premultiply(rgba)[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        side = max(box.shape[:2])
        square = np.zeros((side, side, 4), np.uint8)
        r0 = int(round(ys.min() - (side - box.shape[0]) / 2))
        c0 = int(round(xs.min() - (side - box.shape[1]) / 2))
        square[ys.min() - r0 : ys.min() - r0 + box.shape[0], xs.min() - c0 : xs.min() - c0 + box.shape[1]] = box
        np.testing.assert_array_equal(
            prepare_view(rgba, 256), cv2.resize(square, (256, 256), interpolation=interpolation)
        )


# ---------------------------------------------------------------- errors


def test_missing_folder_is_rejected_with_hint(tmp_path, assert_helpful):
    missing = tmp_path / "no_such_sheet"
    with pytest.raises(SheetError) as exc_info:
        load_sheet(missing)
    assert_helpful(exc_info, missing, "no such file", fix_words=["check the path"])


def test_folder_without_views_is_rejected_listing_what_it_holds(tmp_path, write_rgba, character, assert_helpful):
    write_rgba(tmp_path / "front.jpg", character()[..., :3].copy())
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(exc_info, tmp_path, "no .png or .webp", "front.jpg", fix_words=["png", "transparent"])


def test_empty_folder_is_rejected_with_hint(tmp_path, assert_helpful):
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(exc_info, tmp_path, "empty folder", fix_words=["export"])


def test_empty_file_list_is_rejected():
    with pytest.raises(SheetError, match="empty list"):
        load_sheet([])


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8)),
    ],
)
def test_corrupt_view_file_is_rejected_with_hint(tmp_path, content, assert_helpful):
    bad = tmp_path / "broken.png"
    bad.write_bytes(content)
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(exc_info, bad, "cannot decode" if content else "empty file", fix_words=["re-export"])


def test_truncated_png_is_rejected_with_hint(tmp_path, write_rgba, character, assert_helpful):
    path = write_rgba(tmp_path / "cut.png", character())
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(exc_info, path, "truncated", fix_words=["re-export"])


def test_sheet_without_alpha_is_rejected_with_hint(tmp_path, write_rgba, character, assert_helpful):
    path = write_rgba(tmp_path / "flat.png", character()[..., :3].copy())
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(exc_info, path, "3-channel", "no alpha", fix_words=["export with transparency"])


def test_grayscale_view_is_rejected_with_hint(tmp_path, write_rgba, assert_helpful):
    path = write_rgba(tmp_path / "gray.png", np.full((64, 64), 128, np.uint8))
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(exc_info, path, "1-channel", "grayscale", fix_words=["alpha"])


def test_wrong_channel_count_is_rejected_with_hint(assert_helpful):
    with pytest.raises(SheetError) as exc_info:
        prepare_view(np.zeros((64, 64, 2), np.uint8), 128, source="two_channels.tif")
    assert_helpful(exc_info, "two_channels.tif", "(64, 64, 2)", fix_words=["rgba"])


def test_square_opaque_picture_is_rejected_for_its_background(tmp_path, write_rgba, character, assert_helpful):
    rgba = character(128, 128)
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0  # one transparent pixel does not make a transparent background
    path = write_rgba(tmp_path / "opaque.png", rgba)
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(
        exc_info,
        path,
        "mean alpha",
        "opaque background",
        fix_words=["needs a transparent background", "export with transparency"],
    )


def test_fully_opaque_picture_is_rejected_for_its_background(tmp_path, write_rgba, character, assert_helpful):
    rgba = character(90, 160)
    rgba[..., 3] = 255  # 16:9: after padding to a square its mean alpha would be only 0.56
    path = write_rgba(tmp_path / "photo.png", rgba)
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(exc_info, path, "no transparent pixel", fix_words=["needs a transparent background"])


def test_wide_solid_background_with_transparent_margin_is_rejected(tmp_path, write_rgba, character, assert_helpful):
    rgba = np.zeros((200, 300, 4), np.uint8)
    rgba[40:130, 20:280] = (250, 250, 250, 255)  # a white card; padded square mean alpha ~0.35
    path = write_rgba(tmp_path / "card.png", rgba)
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(
        exc_info,
        path,
        "solid 260x90 rectangle",
        fix_words=["needs a transparent background", "export with transparency"],
    )


def test_fully_transparent_view_is_rejected_with_hint(tmp_path, write_rgba, character, assert_helpful):
    rgba = character()
    rgba[..., 3] = 0
    path = write_rgba(tmp_path / "ghost.png", rgba)
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(exc_info, path, "fully transparent", fix_words=["visible"])


def test_tiny_character_is_rejected_with_hint(tmp_path, write_rgba, assert_helpful):
    rgba = np.zeros((400, 400, 4), np.uint8)
    rgba[100:103, 100:103] = (255, 0, 0, 255)  # 9 px of 160,000: the reference would emit an empty view
    path = write_rgba(tmp_path / "speck.png", rgba)
    with pytest.raises(SheetError) as exc_info:
        load_sheet(tmp_path)
    assert_helpful(exc_info, path, "only 9 visible", fix_words=["crop the canvas"])


@pytest.mark.parametrize("size", [0, 100, 320, -128, 256.0])
def test_model_size_not_a_multiple_of_128_is_rejected(tmp_path, write_rgba, character, size):
    write_rgba(tmp_path / "v.png", character())
    with pytest.raises(SettingError) as exc_info:
        load_sheet(tmp_path, size=size)
    assert "multiple of 128" in str(exc_info.value) and "Fix:" in str(exc_info.value)


@pytest.mark.parametrize("max_views", [0, -1, 1.5])
def test_bad_max_views_is_rejected(tmp_path, write_rgba, character, max_views):
    write_rgba(tmp_path / "v.png", character())
    with pytest.raises(SettingError, match="max_views"):
        load_sheet(tmp_path, size=128, max_views=max_views)
