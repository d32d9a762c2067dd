"""Synthetic samples: deterministic, held-out characters, exact targets, sheets like the app's; collate."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar_app.core.errors import DeviceError, SettingError
from avatar_app.core.frames import RgbaFrame
from avatar_app.io.sheet import prepare_view
from avatar_app.raster.character_view import CharacterView, sheet_cameras
from avatar_app.raster.framing import FRAMINGS
from avatar_app.training.collate import collate
from avatar_app.training.losses import LossWeights, compute_losses
from avatar_app.training.sample import Sample
from avatar_app.training.synthetic import (
    SHEET_FRAMING_SHARES,
    SHEET_VIEWS,
    TARGET_FRAMING_SHARES,
    VAL_STYLE_OFFSET,
    SyntheticDataset,
    character_style,
    sheet_framings,
)

from synthetic_helpers import SIZE, small_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def train():
    dataset = small_dataset()
    yield dataset
    dataset.close()


@pytest.fixture(scope="module")
def samples(train) -> list[Sample]:
    return [train[i] for i in range(4)]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_an_item_depends_only_on_seed_split_and_index(train, samples):
    again = train[1]  # after other items, and again from a fresh dataset
    fresh = small_dataset()
    try:
        for other in (again, fresh[1]):
            for name in ("sheet_rgb", "sheet_alpha", "sheet_udp", "target_udp", "target_rgba"):
                assert np.array_equal(getattr(other, name), getattr(samples[1], name)), name
            assert other.meta == samples[1].meta and other.character == samples[1].character
        reseeded = small_dataset(seed=1)
        try:
            assert not np.array_equal(reseeded[1].target_udp, samples[1].target_udp)
            assert reseeded[1].character == samples[1].character  # the seed moves poses, not characters
        finally:
            reseeded.close()
    finally:
        fresh.close()
    assert not np.array_equal(samples[0].target_udp, samples[2].target_udp)  # same character, another pose
    assert samples[0].character == samples[2].character != samples[1].character


def test_validation_characters_are_never_training_characters():
    train_ids = {character_style("train", k)[0] for k in range(1000)}
    val = [character_style("val", k) for k in range(50)]
    assert not train_ids & {cid for cid, _ in val}
    train_styles = {character_style("train", k)[1] for k in range(50)}
    assert not train_styles & {style for _, style in val}
    assert val[0][0] == f"syn{VAL_STYLE_OFFSET:07d}"


def test_target_udp_is_exact_and_target_rgba_premultiplied_on_its_mask(samples):
    for sample in samples:
        assert sample.target_udp.shape == (4, SIZE, SIZE) and sample.target_udp.dtype == np.float32
        visible = sample.target_udp[3]
        assert set(np.unique(visible)) == {0.0, 1.0}
        xyz = sample.target_udp[:3]
        assert xyz.min() >= 0.0 and xyz.max() <= 1.0
        assert not xyz[:, visible == 0].any()
        # the whole character or a framed part of it, not a speck and not a face filling the picture
        assert 0.03 < visible.mean() < (0.3 if sample.meta["framing"] == "full" else 0.7)
        rgba = sample.target_rgba
        assert rgba.shape == (4, SIZE, SIZE) and rgba.dtype == np.float32
        assert rgba.min() >= 0.0 and rgba.max() <= 1.0
        assert np.all(rgba[:3] <= rgba[3:] + 1e-6)  # premultiplied
        assert _iou(rgba[3] > 0.5, visible > 0) > 0.99  # same pass: the alpha is the mask


def test_antialiased_targets_keep_to_the_mask(samples):
    dataset = small_dataset(num_characters=1, color_samples=4)
    try:
        sample = dataset[2]
    finally:
        dataset.close()
    assert np.array_equal(sample.target_udp, samples[2].target_udp)  # colour options leave the UDP alone
    alpha = sample.target_rgba[3]
    assert ((alpha > 0) & (alpha < 1)).sum() > 50  # soft edges
    assert _iou(alpha > 0.5, sample.target_udp[3] > 0) > 0.95


def test_targets_look_from_many_sides(train):
    yaws = [train[i].meta["target_yaw"] for i in range(24)]
    assert all(-180.0 <= y <= 180.0 for y in yaws)
    assert sum(abs(y) <= 45.0 for y in yaws) >= 8  # mostly from the front half
    assert any(abs(y) > 60.0 for y in yaws)


def test_sheet_views_come_shuffled_with_their_yaws(samples):
    orders = {tuple(s.meta["sheet_yaws"]) for s in samples}
    assert len(orders) > 1
    for sample in samples:
        assert sorted(sample.meta["sheet_yaws"]) == [0.0, 45.0, 90.0, 180.0]
        assert sample.sheet_rgb.shape == (4, 3, SIZE, SIZE) and sample.sheet_rgb.dtype == np.uint8
        assert sample.sheet_alpha.shape == (4, 1, SIZE, SIZE) and sample.sheet_alpha.dtype == np.uint8
        alpha = sample.sheet_alpha[:, 0]
        assert alpha.min() == 0 and alpha.max() == 255  # transparent background, opaque character
        assert np.all(sample.sheet_rgb <= sample.sheet_alpha)  # premultiplied


def test_sheet_matches_prepare_view_of_a_direct_render(train, samples):
    sys.path.insert(0, str(ROOT / "tools"))
    from make_default_avatar import render_sheet

    cached = train.character(0)
    character = cached.character
    assert set(cached.sheet_framings) > {"full"}  # character 0 has full and cut views: both are checked
    shipped = render_sheet(character, 2 * SIZE)  # the shipped sheet's recipe: front, 3/4, side, back
    with CharacterView(character, 2 * SIZE, springs=False, color_samples=4, reduction=0.0) as view:
        cameras = sheet_cameras(character, yaws=SHEET_VIEWS, framings=cached.sheet_framings)
        framed = [
            RgbaFrame(view.render_vertices(character.rest_vertices(), c).color).to_straight_rgba8() for c in cameras
        ]
    sample = samples[0]
    for position, (yaw, framing) in enumerate(zip(sample.meta["sheet_yaws"], sample.meta["sheet_framings"])):
        k = [0.0, 45.0, 90.0, 180.0].index(yaw)
        assert framing == cached.sheet_framings[k]
        rgba = shipped[k][1] if framing == "full" else framed[k]
        if framing == "full":
            assert np.array_equal(framed[k], rgba)  # a full view is the shipped sheet's view
        view = prepare_view(rgba, SIZE)
        assert np.array_equal(view[..., :3].transpose(2, 0, 1), sample.sheet_rgb[position]), yaw
        assert np.array_equal(view[..., 3], sample.sheet_alpha[position, 0]), yaw


def test_cut_sheet_views_touch_the_bottom_edge_like_drawings(train):
    seen = set()
    for k in range(2):
        framings = train.character(k).sheet_framings
        for framing, (name, rgba, udp) in zip(framings, train.sheet_views(k)):
            alpha = rgba[..., 3] > 0
            assert alpha[-1].any() == (framing != "full"), (name, framing)  # the paper's edge cuts the body
            assert not alpha[0].any() and not alpha[:, 0].any() and not alpha[:, -1].any(), name
            assert (udp[..., 3] > 0)[-1].any() == alpha[-1].any()  # the UDP is cut where the colour is
            seen.add(framing)
    assert {"full", "knee"} <= seen


def test_sheet_framings_follow_their_shares_and_depend_on_the_character_only():
    drawn = [sheet_framings("train", k) for k in range(500)]
    assert drawn[:3] == [sheet_framings("train", k) for k in range(3)]
    assert [sheet_framings("val", k) for k in range(20)] != drawn[:20]
    views = [f for framings in drawn for f in framings]
    for framing, share in SHEET_FRAMING_SHARES.items():
        assert abs(views.count(framing) / len(views) - share) < 0.04, framing
    assert set(views) == set(SHEET_FRAMING_SHARES)


def test_targets_come_in_every_framing_with_the_head_in_the_picture(train):
    by_framing = {framing: [] for framing in FRAMINGS}
    for i in range(len(train)):  # 128
        sample = train[i]
        by_framing[sample.meta["framing"]].append(sample.target_udp)
    for framing, share in TARGET_FRAMING_SHARES.items():
        assert abs(len(by_framing[framing]) / len(train) - share) < 0.1, framing
    for framing, udps in by_framing.items():
        for udp in udps:
            visible = udp[3] > 0
            assert udp[1][visible].max() > 0.97  # the top of the head (UDP y' = height / rest height)
            if framing != "full":
                assert visible[-1].any()  # the picture's bottom edge cuts the body
        lowest = np.median([udp[1][udp[3] > 0].min() for udp in udps])
        assert lowest < 0.05 if framing == "full" else lowest > 0.15, framing  # feet only in full pictures


def test_sheet_udp_lines_up_with_the_sheet_views(samples):
    sample = samples[0]
    udp = sample.sheet_udp
    assert udp.shape == (4, 4, SIZE, SIZE) and udp.dtype == np.float32
    assert set(np.unique(udp[:, 3])) == {0.0, 1.0}
    for view in range(4):
        assert _iou(udp[view, 3] > 0, sample.sheet_alpha[view, 0] > 127) > 0.9
    front = sample.meta["sheet_yaws"].index(0.0)
    back = sample.meta["sheet_yaws"].index(180.0)

    def visible_z(v):
        return udp[v, 2][udp[v, 3] > 0].mean()

    assert visible_z(front) > visible_z(back)  # the front view shows the front (+z) surface


def test_views_keeps_that_many_sheet_views():
    dataset = small_dataset(num_characters=1, views=2)
    try:
        sample = dataset[0]
    finally:
        dataset.close()
    assert sample.num_views == 2 and sample.sheet_udp.shape[0] == 2 and len(sample.meta["sheet_yaws"]) == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_process_forked_after_rendering_refuses_to_render_instead_of_hanging(train):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the error text through the pipe, never return into pytest
        try:
            SyntheticDataset(size=SIZE, num_characters=1)[0]
            message = "no error"
        except DeviceError as exc:
            message = str(exc)
        except BaseException as exc:  # noqa: BLE001 - anything else is the test's failure message
            message = f"{type(exc).__name__}: {exc}"
        os.write(write, message.encode()[:4000])
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    message = os.read(read, 4000).decode()
    os.close(read)
    assert "forked" in message and "multiprocessing_context='spawn'" in message, message


def test_pickles_without_gl_state_for_dataloader_workers(train):
    clone = pickle.loads(pickle.dumps(train))
    assert clone._renderers is None and not clone._characters
    assert len(clone) == len(train)


@pytest.mark.parametrize(
    "kwargs, setting",
    [
        ({"split": "test"}, "split"),
        ({"size": 100}, "size"),
        ({"views": 5}, "views"),
        ({"num_characters": 0}, "num_characters"),
    ],
)
def test_bad_settings_are_rejected_with_the_fix(kwargs, setting):
    with pytest.raises(SettingError, match=setting) as info:
        SyntheticDataset(**kwargs)
    assert "Fix:" in str(info.value)


def test_index_out_of_range_is_an_index_error(train):
    with pytest.raises(IndexError):
        train[len(train)]


def test_collate_stacks_float_tensors_and_keeps_the_first_views(samples):
    batch = collate(samples[:3])
    assert {k: tuple(v.shape) for k, v in batch.items()} == {
        "sheet_rgb": (3, 4, 3, SIZE, SIZE),
        "sheet_alpha": (3, 4, 1, SIZE, SIZE),
        "sheet_udp": (3, 4, 4, SIZE, SIZE),
        "target_udp": (3, 4, SIZE, SIZE),
        "target_rgba": (3, 4, SIZE, SIZE),
        "face_mask": (3, 1, SIZE, SIZE),
    }
    assert all(v.dtype == torch.float32 for v in batch.values())
    assert batch["sheet_rgb"].max() <= 1.0 and batch["sheet_alpha"].max() == 1.0
    torch.testing.assert_close(batch["sheet_alpha"][1] * 255, torch.from_numpy(samples[1].sheet_alpha).float())
    two = collate(samples[:3], views=2)
    assert two["sheet_rgb"].shape[1] == 2 and torch.equal(two["sheet_udp"], batch["sheet_udp"][:, :2])
    without_udp = Sample(
        samples[0].sheet_rgb, samples[0].sheet_alpha, None, samples[0].target_udp, samples[0].target_rgba
    )
    assert "sheet_udp" not in collate([without_udp, samples[1]])
    assert "face_mask" not in collate([without_udp, samples[1]])  # no face_region in its meta


def test_the_face_weight_multiplies_the_colour_error_of_face_pixels_only(samples):
    """--face-weight: a colour error on the face counts more, one elsewhere less (the L1 stays a mean)."""
    batch = collate(samples[:2])
    face = batch["face_mask"]
    gt = batch["target_rgba"]
    assert 20 < face.sum() < 0.5 * gt[:, 3:].sum()  # a face, not the body
    body = (gt[:, 3:] > 0.5).float() * (1 - face)

    def rgb_loss(error_where, face_weight, batch=batch):
        pred = gt.clone()
        pred[:, :3] += 0.1 * error_where
        forward = lambda *_: (pred, torch.zeros(10, 4, SIZE, SIZE), torch.zeros_like(gt[:, 3:]))  # noqa: E731
        return compute_losses(forward, batch, LossWeights(face=face_weight))[1]["rgb"]

    assert rgb_loss(face, 4.0) > 2.0 * rgb_loss(face, 1.0)
    assert rgb_loss(body, 4.0) < rgb_loss(body, 1.0)
    without_mask = {k: v for k, v in batch.items() if k != "face_mask"}
    assert rgb_loss(face, 4.0, without_mask) == rgb_loss(face, 1.0)  # no face mask: the weight does nothing


def test_collate_refuses_mixed_view_counts_without_views(samples):
    fewer = Sample(
        samples[0].sheet_rgb[:2], samples[0].sheet_alpha[:2], None, samples[0].target_udp, samples[0].target_rgba
    )
    with pytest.raises(SettingError, match="views"):
        collate([fewer, samples[1]])
    assert collate([fewer, samples[1]], views=2)["sheet_rgb"].shape[1] == 2
    with pytest.raises(SettingError, match="views"):
        collate([fewer, samples[1]], views=3)
