"""tools/conformance.py works for any size, view count and frame count, and fails when it should."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatar_app.models import CoNR


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("conformance")


@pytest.fixture(scope="module")
def self_golden(official_networks, tool):
    """A golden file in the kit's format made by our plain model: 128x128, 3 views, 2 frames."""
    rng = np.random.default_rng(3)
    n, m, s = 2, 3, 128
    yy, xx = np.mgrid[0:s, 0:s] / s
    blob = (((xx - 0.5) / 0.3) ** 2 + ((yy - 0.5) / 0.4) ** 2 < 1).astype(np.float32)
    masks = np.round(255 * blob * rng.uniform(0.6, 1.0, (n, m, 1, s, s))).astype(np.uint8)
    colour = rng.integers(0, 256, (n, m, 3, s, s)).astype(np.uint16)
    images = (colour * masks // 255).astype(np.uint8)
    pose_mask = (255 * blob[None, None].repeat(n, 0)).astype(np.uint8)
    pose_label = np.concatenate([rng.uniform(0, 1, (n, 3, s, s)) * blob, blob[None, None].repeat(n, 0)], 1).astype(
        np.float32
    )
    golden = {"character_images": images, "character_masks": masks, "pose_label": pose_label, "pose_mask": pose_mask}
    rgb = torch.from_numpy(images).float() / 255
    alpha = torch.from_numpy(masks).float() / 255
    target = CoNR.target_input(torch.from_numpy(pose_label[:, :3]), torch.from_numpy(pose_mask).float() / 255)
    debug: dict = {}
    with torch.inference_mode():
        golden["rgba"] = official_networks(rgb, alpha, target, debug=debug).numpy()
        golden["parser_pred"] = (
            official_networks.udpparsernet((rgb.flatten(0, 1) - 0.6) / 0.297).clamp(0, 1).view(n, m, 4, s, s).numpy()
        )
    golden["x_target_sudp_a"] = target.numpy()
    golden.update({k: v.numpy() for k, v in debug.items()})
    ours = tool.run_golden(golden, fast=False, model=official_networks)
    for key in ("parser_feature_shapes", "target_feature_shapes"):
        golden[key] = ours[key]
    return golden, ours


def test_tool_passes_a_golden_of_another_size_view_and_frame_count(tool, self_golden):
    golden, ours = self_golden
    assert ours["rgba"].shape == (2, 4, 128, 128)
    assert ours["parser_feature_shapes"].tolist()[0] == [2, 3, 512 * 4, 4, 4]
    lines, ok = tool.compare(golden, ours)
    assert ok, "\n".join(lines)


def test_tool_fails_outside_tolerance(tool, self_golden):
    golden, ours = self_golden
    bad = dict(golden, rgba=golden["rgba"] + 0.02)
    lines, ok = tool.compare(bad, ours)
    assert not ok
    assert any(line.startswith("rgba") and "FAIL" in line for line in lines)


def test_tool_fails_on_an_inexact_target_input(tool, self_golden):
    golden, ours = self_golden
    bad = dict(golden, x_target_sudp_a=golden["x_target_sudp_a"] + 1e-6)
    assert not tool.compare(bad, ours)[1]
