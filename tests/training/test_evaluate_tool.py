"""evaluate() and tools/evaluate.py: scores through the app's inference path, clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar_app.core.errors import CheckpointError, DeviceError, SettingError
from avatar_app.models import PRESET_FILE, create_conr, load_weights_folder, save_conr_weights
from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS
from avatar_app.training.evaluation import evaluate
from avatar_app.training.sample import Sample

S = 128
YAWS = [0.0, 90.0, 180.0]


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("evaluate")


@pytest.fixture(scope="module")
def lite_weights(tmp_path_factory) -> Path:
    """Randomly initialised lite weights with their model.json, as training writes them."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("lite_weights")
    save_conr_weights(create_conr("lite"), folder)
    (folder / PRESET_FILE).write_text(json.dumps({"preset": "lite"}))
    return folder


def make_sample(seed: int, target_view: int = 1) -> Sample:
    """Three elliptic views with random colours and a UDP per view; the target is one of them."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32) / S
    alpha, udp = [], []
    for v in range(len(YAWS)):
        cx, cy = rng.uniform(0.4, 0.6, 2)
        blob = (((xx - cx) / 0.3) ** 2 + ((yy - cy) / 0.4) ** 2 < 1).astype(np.float32)
        alpha.append((255 * blob).astype(np.uint8)[None])
        udp.append(np.stack([xx * blob, yy * blob, (0.2 + 0.3 * v) * blob, blob]))
    alpha, udp = np.stack(alpha), np.stack(udp).astype(np.float32)
    rgb = (rng.integers(0, 256, (len(YAWS), 3, S, S)) * alpha // 255).astype(np.uint8)
    return Sample(
        sheet_rgb=rgb,
        sheet_alpha=alpha,
        sheet_udp=udp,
        target_udp=udp[target_view].copy(),
        target_rgba=np.concatenate([rgb[target_view], alpha[target_view]]).astype(np.float32) / 255,
        character=f"hand-made-{seed}",
        meta={"target_yaw": YAWS[target_view] + 10.0, "sheet_yaws": list(YAWS)},
    )


def test_evaluate_scores_the_model_both_baselines_and_the_detector(lite_weights):
    dataset = [make_sample(0), make_sample(1), make_sample(2)]
    result = evaluate(lite_weights, dataset, views=3, limit=2)
    assert (result["preset"], result["size"], result["views"], result["samples"]) == ("lite", S, 3, 2)
    assert [r["character"] for r in result["per_sample"]] == ["hand-made-0", "hand-made-1"]
    methods = result["methods"]
    assert set(methods) == {"model", "nearest_view", "udp_lookup"}
    # the target is a sheet view and its UDP is that view's: both baselines are perfect here
    for method in ("nearest_view", "udp_lookup"):
        assert methods[method]["psnr"] == pytest.approx(100.0)
        assert methods[method]["ssim"] == pytest.approx(1.0, abs=1e-5)
        assert methods[method]["alpha_iou"] == 1.0
    model = methods["model"]
    assert 0 < model["psnr"] < 100 and -1 <= model["ssim"] <= 1 and 0 <= model["alpha_iou"] <= 1
    assert result["psnr_gain_over_nearest_view_db"] == pytest.approx(model["psnr"] - 100.0)
    assert 0 <= result["detector"]["xyz_l1"] <= 1 and 0 <= result["detector"]["mask_iou"] <= 1
    assert 0 < result["detector_reference"]["xyz_l1"] < 0.5
    # only view 1 shows the target's surface (the others' UDP differ in z), where no flow is right
    assert result["flow"]["zero_flow_epe_px"] == 0.0 and result["flow"]["epe_px"] >= 0.0


def test_evaluate_takes_the_first_views_and_skips_udp_lookup_without_sheet_udp(lite_weights):
    sample = make_sample(3, target_view=2)
    sample.sheet_udp = None
    model = load_weights_folder(lite_weights)
    result = evaluate(model, [sample], views=2)
    assert result["views"] == 2
    assert "udp_lookup" not in result["methods"]
    # with views 0 and 1 left, yaw 190 is nearest to view 1 (180 was cut): not the target
    assert result["methods"]["nearest_view"]["psnr"] < 100
    assert math.isnan(result["flow"]["epe_px"])  # no sheet UDP, no flow targets


def test_evaluate_restores_the_train_flags_of_a_model_in_training():
    model = create_conr("lite")
    model.train()
    model.shader.eval()  # a deliberately frozen part stays frozen
    before = {name: m.training for name, m in model.named_modules()}
    evaluate(model, [make_sample(4)], views=3)
    assert {name: m.training for name, m in model.named_modules()} == before


def test_evaluate_refuses_more_views_than_the_samples_have(lite_weights):
    with pytest.raises(SettingError, match="views"):
        evaluate(lite_weights, [make_sample(0)], views=4)


def test_load_model_builds_the_preset_named_in_model_json(lite_weights, tmp_path):
    assert load_weights_folder(lite_weights).cfg.name == "lite"
    for f in lite_weights.glob("*.pth"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / PRESET_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="model.json"):
        load_weights_folder(tmp_path)
    (tmp_path / PRESET_FILE).unlink()  # no model.json: official, which these files do not fit
    with pytest.raises(CheckpointError, match="official") as err:
        load_weights_folder(tmp_path)
    assert PRESET_FILE in err.value.fix


def test_tool_reports_a_missing_weights_folder_in_one_line_with_exit_2(tool, tmp_path, capsys):
    assert tool.main([str(tmp_path / "nowhere"), "--json", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("evaluate: error:") and "nowhere" in err and "\n" not in err
    assert not (tmp_path / "e.json").exists()


def test_tool_report_has_every_method_the_detector_and_the_gain(tool, lite_weights):
    result = evaluate(lite_weights, [make_sample(5)], views=3)
    report = tool.format_report(result)
    for label in (
        "model (lite)",
        "nearest-view paste",
        "UDP lookup",
        "UDP detector",
        "mean xyz (reference)",
        "PSNR gain",
        "px mean end-point error (no flow at all: 0.00 px)",
    ):
        assert label in report
    assert report.splitlines()[0] == "| method | PSNR (dB) | SSIM | alpha IoU |"
    nan = dict(result, detector={"xyz_l1": math.nan, "mask_iou": 1.0})
    assert "| UDP detector | n/a | 1.0000 |" in tool.format_report(nan)
    assert tool._json_safe({"a": [math.nan, 1.0]}) == {"a": [None, 1.0]}


def test_tool_scores_held_out_synthetic_characters_end_to_end(tool, lite_weights, tmp_path, capsys):
    pytest.importorskip(
        "mannequin", reason="the synthetic characters need mannequin-x: pip install mannequin-x (the 'tools' extra)"
    )
    from avatar_app.raster import create_headless_context

    try:  # the synthetic dataset draws with OpenGL
        create_headless_context().release()
    except DeviceError as exc:
        pytest.skip(str(exc))
    out = tmp_path / "out" / "evaluate.json"
    assert (
        tool.main(
            [str(lite_weights), "--size", "128", "--samples", "2", "--views", "2", "--threads", "1", "--json", str(out)]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| model (lite) |" in printed and "| UDP lookup |" in printed and "PSNR gain" in printed
    result = json.loads(out.read_text())
    assert (result["samples"], result["size"], result["views"]) == (2, 128, 2)
    assert result["dataset"]["split"] == "val"
    assert all(r["character"].startswith("syn1") for r in result["per_sample"])  # the val pool (style seeds from 1e6)
    for method in ("model", "nearest_view", "udp_lookup"):
        assert result["methods"][method]["samples"] == 2
        assert 0 < result["methods"][method]["psnr"] < 100
    # real correspondences: the UDP lookup beats pasting the nearest view
    assert result["methods"]["udp_lookup"]["psnr"] > result["methods"]["nearest_view"]["psnr"]


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_dir(), reason="needs the shipped lite weights")
def test_adaptation_mode_scores_before_after_and_the_drawn_detail(tool, tmp_path, capsys):
    out = tmp_path / "adapt.json"
    argv = [str(DEFAULT_WEIGHTS), "--adapt", "0.05", "--characters", "1", "--samples", "3", "--size", "128"]
    assert tool.main([*argv, "--json", str(out)]) == 0
    methods = json.loads(out.read_text())["methods"]
    assert set(methods) == {
        "udp_lookup",
        "before",
        "before + drawn detail",
        "adapted 0.05 min",
        "adapted 0.05 min + drawn detail",
    }
    assert all(math.isfinite(m["psnr"]) for m in methods.values())
    # against the rig's ground truth: the drawing's own face beats the network's blurred one
    assert methods["before + drawn detail"]["face_psnr"] > methods["before"]["face_psnr"] + 1.0
    assert "| adapted 0.05 min + drawn detail |" in capsys.readouterr().out


def test_adaptation_mode_refuses_marks_that_do_not_increase(tool, tmp_path, capsys):
    assert tool.main([str(tmp_path), "--adapt", "15,5"]) == 2
    assert "--adapt: expected increasing minutes" in capsys.readouterr().err
