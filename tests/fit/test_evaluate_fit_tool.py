"""tools/evaluate_fit.py: its synthetic drawings are cut like real ones, and its summary counts right."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.raster.rasterizer import Rasterizer


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("evaluate_fit")


def test_cases_are_deterministic_and_held_out(tool):
    a, b = tool.make_case(3, 0), tool.make_case(3, 0)
    assert a["style"] == b["style"] and a["framing"] == b["framing"] and a["params"] == b["params"]
    assert tool.make_case(4, 0)["style"] != a["style"]


def test_a_cut_drawing_touches_the_bottom_edge_and_a_full_one_does_not(tool):
    case = tool.make_case(0, 0)
    with Rasterizer(256, color_samples=4) as rasterizer:
        cut = tool.draw(replace_framing(case, "waist"), rasterizer)
        full = tool.draw(replace_framing(case, "full"), rasterizer)
    assert cut[-1, :, 3].max() > 0, "a waist-up drawing is cut off at the picture's bottom edge"
    assert full[-1, :, 3].max() == 0, "a full-body drawing has room below the feet"
    assert cut[..., 3].mean() > full[..., 3].mean()


def replace_framing(case: dict, framing: str) -> dict:
    return {**case, "framing": framing}


def test_the_summary_counts_framings_and_spreads_the_iou(tool):
    facing = {"yaw": 10.0, "asked": False, "facing_ok": True}
    rows = [
        {"iou": 0.8, "framing": "knee", "framing_ok": True, "landmarks": True, **facing},
        {"iou": 0.9, "framing": "knee", "framing_ok": False, "landmarks": False, **facing},
        {"iou": 1.0, "framing": "bust", "framing_ok": True, "landmarks": True, **facing},
    ]
    summary = tool.summarize(rows)
    assert summary["mean_iou"] == pytest.approx(0.9)
    assert summary["framing_found"] == pytest.approx(2 / 3)
    assert summary["landmarks_found"] == pytest.approx(2 / 3)
    assert summary["per_framing"]["knee"] == {"cases": 2, "found": 1, "mean_iou": pytest.approx(0.85)}
    assert np.isnan(summary["per_framing"]["full"]["mean_iou"])
    assert sum(summary["histogram"].values()) == 3
    assert "framing found 67%" in tool.format_summary(summary)


def test_the_summary_counts_facing_per_side_and_leaves_asked_cases_out_of_the_iou(tool):
    fitted = {"iou": 0.9, "framing": "full", "framing_ok": True, "landmarks": False, "asked": False}
    rows = [
        {**fitted, "yaw": 5.0, "facing_ok": True},
        {**fitted, "yaw": 180.0, "facing_ok": False},
        {**fitted, "yaw": -50.0, "facing_ok": True},
        {"framing": "full", "yaw": 190.0, "asked": True, "facing_ok": False, "landmarks": False},
    ]
    summary = tool.summarize(rows)
    assert summary["facing_right"] == pytest.approx(0.5) and summary["asked"] == pytest.approx(0.25)
    assert summary["per_side"] == {
        "front": {"cases": 1, "right": 1, "asked": 0},
        "3/4": {"cases": 1, "right": 1, "asked": 0},
        "back": {"cases": 2, "right": 0, "asked": 1},
    }
    assert summary["cases"] == 3 and summary["mean_iou"] == pytest.approx(0.9)
    assert "facing right (within 35 degrees) 50%, asked 25%" in tool.format_summary(summary)


def test_cases_come_from_every_side(tool):
    yaws = np.array([tool.make_case(k, 0)["params"].yaw for k in range(60)])
    assert (np.abs(yaws) <= 25).sum() >= 15 and (yaws >= 155).sum() >= 8
    assert ((np.abs(yaws) > 30) & (np.abs(yaws) < 70)).sum() >= 4


def test_half_the_cases_hold_their_arms_where_the_outline_cannot_see_them(tool):
    poses = [tool.make_case(k, 0)["arms"] for k in range(80)]
    assert 25 <= poses.count("down") <= 55
    for pose in ("crossed", "behind", "front", "hips"):
        assert poses.count(pose) >= 3, pose


def test_the_arm_mask_of_crossed_arms_lies_over_the_torso(tool):
    """The drawn arms' mask is where the arms are seen: crossed, across the chest's middle
    column; hanging down, beside the body and never there."""
    crossed = next(c for c in (tool.make_case(k, 0) for k in range(80)) if c["arms"] == "crossed")
    crossed = {**crossed, "framing": "full", "params": crossed["params"].with_values(yaw=0.0)}
    down = {
        **crossed,
        "params": crossed["params"].with_values(
            left_arm_forward=0.0,
            right_arm_forward=0.0,
            left_elbow=0.0,
            right_elbow=0.0,
            left_elbow_forward=0.0,
            right_elbow_forward=0.0,
        ),
    }
    with Rasterizer(256, color_samples=4) as rasterizer:
        masks = [tool.draw(case, rasterizer, arms=True) for case in (crossed, down)]
    for mask, over_chest in zip(masks, (True, False)):
        arms = (mask[..., 0] > 128) & (mask[..., 3] > 128)
        columns = np.nonzero(mask[..., 3].max(axis=0) > 0)[0]
        middle = arms[:, (columns[0] + columns[-1]) // 2]
        assert middle.any() == over_chest
        assert arms.sum() > 100


def test_the_summary_gives_the_arm_iou_per_arm_pose(tool):
    fitted = {"framing": "full", "framing_ok": True, "landmarks": True, "asked": False, "yaw": 0.0, "facing_ok": True}
    rows = [
        {**fitted, "iou": 0.9, "arms": "crossed", "arm_iou": 0.5},
        {**fitted, "iou": 0.8, "arms": "crossed", "arm_iou": 0.7},
        {**fitted, "iou": 0.9, "arms": "down", "arm_iou": None},
    ]
    summary = tool.summarize(rows)
    assert summary["mean_arm_iou"] == pytest.approx(0.6)
    crossed = summary["per_arm_pose"]["crossed"]
    assert crossed["cases"] == 2 and crossed["mean_arm_iou"] == pytest.approx(0.6)
    assert crossed["mean_iou"] == pytest.approx(0.85)
    assert np.isnan(summary["per_arm_pose"]["down"]["mean_arm_iou"])
    assert "arms crossed" in tool.format_summary(summary)
