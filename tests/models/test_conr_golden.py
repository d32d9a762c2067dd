"""The plain CoNR forward reproduces the kit's 256x256, 2-view golden case."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatar_app.models import CoNR

# README §4, suggested acceptance for an fp32 re-implementation.
RGBA_MAX, RGBA_P999, RGBA_MEAN = 1e-2, 3e-3, 2e-4
# Block flows: reference fp32 vs fp64 differ by up to 1.1e-3 (README §4).
FLOW_MAX = 5e-3


def golden_inputs(golden):
    rgb = torch.from_numpy(golden["character_images"]).float() / 255.0
    alpha = torch.from_numpy(golden["character_masks"]).float() / 255.0
    pose_label = torch.from_numpy(golden["pose_label"])
    pose_mask = torch.from_numpy(golden["pose_mask"]).float() / 255.0
    return rgb, alpha, CoNR.target_input(pose_label[:, :3], pose_mask)


def assert_rgba_close(ours: np.ndarray, ref: np.ndarray):
    d = np.abs(ours.astype(np.float64) - ref)
    assert ours.shape == ref.shape
    stats = (d.max(), np.quantile(d, 0.999), d.mean())
    assert stats[0] <= RGBA_MAX and stats[1] <= RGBA_P999 and stats[2] <= RGBA_MEAN, stats


def test_target_input_equals_golden_exactly(golden_256):
    *_, target = golden_inputs(golden_256)
    assert np.array_equal(target.numpy(), golden_256["x_target_sudp_a"])


@pytest.fixture(scope="module")
def plain_run(official_networks, golden_256):
    debug: dict = {}
    with torch.inference_mode():
        rgba = official_networks(*golden_inputs(golden_256), debug=debug)
    return rgba.numpy(), debug


def test_plain_forward_rgba_matches_golden(plain_run, golden_256):
    assert_rgba_close(plain_run[0], golden_256["rgba"])


@pytest.mark.parametrize("p", range(6))
def test_plain_forward_block_flows_match_golden(plain_run, golden_256, p):
    key = f"block{p}_residual_flow"
    ours, ref = plain_run[1][key].numpy(), golden_256[key]
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= FLOW_MAX
