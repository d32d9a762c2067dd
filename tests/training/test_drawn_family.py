"""The drawn synthetic family: its vocabulary is reachable, its data deterministic, its sheets drawings."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest
import torch

from avatar_app.core.errors import SettingError
from avatar_app.raster.drawn_look import (
    BROW_KINDS,
    COLLAR_KINDS,
    EXTRA_PATTERNS,
    EYE_SHAPES,
    MOUTH_KINDS,
    PATTERN_CODES,
    DrawnStyle,
)
from avatar_app.raster.framing import FRAMINGS
from avatar_app.rig.avatar_style import PATTERN_KINDS, SHAPE_CHOICES, SHAPE_CONTINUOUS
from avatar_app.training.batches import batch_for_step, make_datasets
from avatar_app.training.drawn_family import FAMILIES, VARIANT_SPREAD, drawing_variant, random_drawn_style
from avatar_app.training.settings import TrainSettings
from avatar_app.training.synthetic import SyntheticDataset, character_style

from synthetic_helpers import SIZE, small_dataset


def _dataset(**kwargs) -> SyntheticDataset:
    return small_dataset(**{"family": "drawn", **kwargs})


@pytest.fixture(scope="module")
def drawn():
    dataset = _dataset()
    yield dataset
    dataset.close()


def test_every_drawn_style_choice_is_reachable():
    rng = np.random.default_rng(0)
    styles = [random_drawn_style(rng) for _ in range(400)]
    choices = {
        "eye_shape": set(EYE_SHAPES),
        "mouth": set(MOUTH_KINDS),
        "brows": set(BROW_KINDS),
        "collar": set(COLLAR_KINDS),
        "top_extra": set(EXTRA_PATTERNS),
        "skirt_extra": set(EXTRA_PATTERNS),
        "shadow_steps": {0, 1, 2},
        "highlights": {1, 2},
        "blush": {True, False},
        "hair_shine": {True, False},
        "trims": {True, False},
        "buttons": {True, False},
    }
    for name, options in choices.items():
        assert {getattr(s, name) for s in styles} == options, name
    assert {s.hair_strands > 0 for s in styles} == {True, False}
    assert {s.pleats > 0 for s in styles} == {True, False}
    assert len({s.line_color for s in styles}) > 1
    for name in ("line_weight", "saturation", "eye_size", "shadow_cut", "lash_weight"):
        values = [getattr(s, name) for s in styles]
        assert np.ptp(values) > 0.3 * abs(np.mean(values)), name
    assert set(PATTERN_CODES) == set(PATTERN_KINDS) | set(EXTRA_PATTERNS) - {"none"}
    assert {f.name for f in fields(DrawnStyle)} >= set(choices), "the table names real fields"


def test_every_shape_choice_and_framing_is_drawn_in_the_drawn_family():
    styles = [character_style("train", k)[1] for k in range(400)]
    for name, options in SHAPE_CHOICES.items():
        assert {getattr(s, name) for s in styles} == set(options), name
    family = FAMILIES["drawn"]
    assert set(family.target_framing_shares) == set(FRAMINGS)
    assert all(share > 0 for share in family.target_framing_shares.values())
    assert set(family.sheet_framing_shares) == {"full", "knee", "waist"}
    assert family.target_framing_shares["full"] < FAMILIES["toon"].target_framing_shares["full"]


def test_a_drawing_variant_is_a_little_off_and_inside_the_fitter_s_bounds():
    style = character_style("train", 3)[1]
    variants = [drawing_variant(style, np.random.default_rng(k)) for k in range(50)]
    for name, spread in VARIANT_SPREAD.items():
        low, high = SHAPE_CONTINUOUS[name]
        values = np.array([getattr(v, name) for v in variants])
        assert np.all((values >= low) & (values <= high)), name
        assert np.any(values != getattr(style, name)), name
        base = getattr(style, name)
        limit = spread if name == "hair_length" else spread * base
        assert np.all(np.abs(values - base) <= limit + 1e-9), name
    assert all(v.hair_style == style.hair_style and v.colors == style.colors for v in variants)


def test_the_drawn_dataset_is_deterministic_per_seed_split_and_index(drawn):
    again = _dataset()
    try:
        for i in (0, 3):
            a, b = drawn[i], again[i]
            for name in ("sheet_rgb", "sheet_alpha", "sheet_udp", "target_udp", "target_rgba"):
                assert np.array_equal(getattr(a, name), getattr(b, name)), (i, name)
            assert a.meta == b.meta and a.character == b.character
    finally:
        again.close()
    other_seed = _dataset(seed=1)
    try:
        assert not np.array_equal(other_seed[0].target_rgba, drawn[0].target_rgba)
    finally:
        other_seed.close()
    assert drawn[0].character.startswith("drw") and drawn[0].meta["family"] == "drawn"


def test_a_step_s_batch_depends_on_seed_step_and_rank_only(tmp_path):
    pytest.importorskip("mannequin", reason="needs mannequin-x")
    s = TrainSettings(size=SIZE, batch=1, max_views=2, train_characters=2, val_characters=1, seed=5, family="drawn")
    first, _ = make_datasets(s)
    second, _ = make_datasets(s)
    try:
        for step, rank in ((0, 0), (3, 1)):
            a, m = batch_for_step(first, s, step, rank, world=2)
            b, n = batch_for_step(second, s, step, rank, world=2)
            assert m == n
            for key, value in a.items():
                if torch.is_tensor(value):
                    assert torch.equal(value, b[key]), (step, rank, key)
        other, _ = batch_for_step(first, s, 0, 1, world=2)
        assert not torch.equal(other["target_rgba"], batch_for_step(first, s, 0, 0, world=2)[0]["target_rgba"])
    finally:
        first.close()
        second.close()


def test_the_sheet_is_drawn_from_a_variant_while_its_udp_is_the_target_body_s(drawn):
    from avatar_app.raster.character_view import sheet_cameras
    from avatar_app.raster.rasterizer import Rasterizer
    from avatar_app.rig.default_avatar import build_default_avatar
    from avatar_app.training.synthetic import SHEET_VIEWS, _stream

    cached = drawn.character(0)
    views = drawn.sheet_views(0)
    drawing = build_default_avatar(drawing_variant(cached.style, _stream("train", 0, 3)))
    cameras = sheet_cameras(drawing, yaws=SHEET_VIEWS, framings=cached.sheet_framings)
    cached.mesh.update(cached.character.rest_vertices())
    with Rasterizer(2 * SIZE) as rasterizer:
        for (name, rgba, udp), camera in zip(views, cameras):
            body_udp = rasterizer.render(cached.mesh, camera, udp_only=True).udp
            assert np.array_equal(udp, body_udp), f"{name}: the UDP is the target body's, in the drawing's camera"
            drawn_mask, udp_mask = rgba[..., 3] > 0, udp[..., 3] > 0
            iou = (drawn_mask & udp_mask).sum() / (drawn_mask | udp_mask).sum()
            assert 0.8 < iou < 0.99, f"{name}: close to the body, but not an exact render of it ({iou:.3f})"


def test_drawn_targets_are_premultiplied_and_cover_exactly_the_udp(drawn):
    for i in range(3):
        sample = drawn[i]
        rgba = sample.target_rgba
        assert np.array_equal(rgba[3] > 0, sample.target_udp[3] > 0)
        assert np.all(rgba[:3] <= rgba[3:] + 1e-6)
        assert np.all(sample.sheet_rgb <= sample.sheet_alpha)


def test_an_unknown_family_is_refused_with_the_choices():
    with pytest.raises(SettingError, match="toon"):
        SyntheticDataset(size=SIZE, family="pastel")


def test_evaluate_tool_scores_the_drawn_held_out_set(load_tool, tmp_path):
    pytest.importorskip("mannequin", reason="needs mannequin-x")
    from avatar_app.models import PRESET_FILE, create_conr, save_conr_weights

    torch.manual_seed(0)
    weights = tmp_path / "weights"
    save_conr_weights(create_conr("lite"), weights)
    (weights / PRESET_FILE).write_text(json.dumps({"preset": "lite"}))
    out = tmp_path / "e.json"
    tool = load_tool("evaluate")
    args = [str(weights), "--size", str(SIZE), "--views", "1", "--samples", "1", "--json", str(out)]
    assert tool.main([*args, "--family", "drawn"]) == 0
    result = json.loads(out.read_text())
    assert result["dataset"]["family"] == "drawn"
    assert result["per_sample"][0]["character"].startswith("drw")


def test_the_face_region_holds_the_eyes_and_not_the_chest(drawn):
    from avatar_app.raster.character_view import raster_mesh
    from avatar_app.raster.framing import cut_height, drawing_camera
    from avatar_app.raster.rasterizer import Rasterizer
    from avatar_app.training.drawn_family import face_mask

    cached = drawn.character(0)
    character = cached.character
    rest = character.rest_vertices()
    camera = drawing_camera(rest, cut_height(character, "bust"), 1.0, 0.03, (0, 0, 1))
    with Rasterizer(SIZE) as rasterizer:
        udp = rasterizer.render(raster_mesh(character), camera, udp_only=True).udp.transpose(2, 0, 1).copy()
    mask = face_mask(udp, cached.face_region)
    eye = np.asarray(cached.look.uniforms["eye_centre"])
    chest = character.skeleton.rest_world_matrices[character.humanoid["upperChest"], :3, 3] + [0, 0, 0.1]
    for point, inside in ((eye, True), (eye * [-1, 1, 1], True), (chest, False)):
        col, row, _ = camera.project(point, SIZE, SIZE)[0]
        assert mask[int(row), int(col)] == inside, point
    assert 0.01 < mask.mean() < 0.5


def test_face_psnr_is_the_psnr_over_the_face_pixels_only():
    from avatar_app.training.evaluation import _image_scores

    target = torch.zeros(4, 16, 16)
    pred = target.clone()
    pred[:, :8] = 0.1  # wrong in the top half only
    face = torch.zeros(16, 16, dtype=torch.bool)
    face[8:] = True
    assert _image_scores(pred, target, face)["face_psnr"] == pytest.approx(100.0)
    face[4:8] = True  # a third of the face is wrong by 0.1: MSE 0.01 / 3
    assert _image_scores(pred, target, face)["face_psnr"] == pytest.approx(10 * np.log10(3 / 0.01), rel=1e-5)
