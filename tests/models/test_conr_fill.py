"""The synthetic-weight recipe reproduces the kit's checksums."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatar_app.models import NETWORK_NAMES, fill_state_dict, fill_tensor, state_dict_checksums


def _expected(official_layout, name):
    return official_layout["networks"][name]["fill_check"]


@pytest.mark.parametrize("name", ["rgbadecodernet", "target_pose_encoder"])
def test_fill_of_small_networks_matches_reference_sha256_and_sums(official_layout, name):
    shapes = [(k, s) for k, s, _ in official_layout["networks"][name]["state_dict"]]
    sha, sums = state_dict_checksums(fill_state_dict(name, shapes))
    check = _expected(official_layout, name)
    np.testing.assert_allclose(sums, check["per_tensor_sum_float64"], rtol=1e-9, atol=1e-9)
    assert sha == check["sha256_of_concatenated_float32_le"]


def test_filled_official_networks_match_reference_sha256_for_all_four(official_networks, official_layout):
    for name in NETWORK_NAMES:
        sha, _ = state_dict_checksums(official_networks.network(name).state_dict())
        assert sha == _expected(official_layout, name)["sha256_of_concatenated_float32_le"], name


def test_fill_scales_each_kind_of_tensor_as_documented():
    norm = fill_tensor("x", "a.bn1.norm.weight", (4096,))
    prelu = fill_tensor("x", "a.conv0.1.weight", (4096,))
    bias = fill_tensor("x", "a.conv.bias", (4096,))
    conv = fill_tensor("x", "a.conv.weight", (64, 32, 3, 3))
    convt = fill_tensor("x", "b.conv_last.2.weight", (64, 32, 4, 4))
    assert abs(norm.mean() - 1.0) < 0.01 and abs(norm.std() - 0.1) < 0.01
    assert abs(prelu.mean() - 0.25) < 0.001 and abs(prelu.std() - 0.01) < 0.001
    assert abs(bias.std() - 0.01) < 0.001
    assert abs(conv.std() - (1.5 / (32 * 9)) ** 0.5) < 0.01 * (1.5 / (32 * 9)) ** 0.5 * 5
    # transposed conv: fan-in = in * 4 * 4 / 4 (2x2 taps per input channel reach an output pixel)
    assert abs(convt.std() - (1.5 / (64 * 4)) ** 0.5) < 0.05 * (1.5 / (64 * 4)) ** 0.5


def test_fill_is_a_pure_function_of_network_key_and_shape():
    a = fill_tensor("shader", "decoder_blocks.0.conv0.0.bias", (224,))
    b = fill_tensor("shader", "decoder_blocks.0.conv0.0.bias", (224,))
    c = fill_tensor("udpparsernet", "decoder_blocks.0.conv0.0.bias", (224,))
    assert torch.equal(a, b) and not torch.equal(a, c)
