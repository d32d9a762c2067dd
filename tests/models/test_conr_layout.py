"""The networks' state dicts equal the official checkpoint layout, key for key."""

from __future__ import annotations

import pytest
import torch

from avatar_app.core.errors import SettingError
from avatar_app.models import NETWORK_NAMES, PRESETS, CoNR, CoNRConfig, create_conr

# README §5 table: block input / output channels per level.
OFFICIAL_BLOCK_CHANNELS = [(2572, 6212), (5388, 3140), (2700, 1604), (1356, 836), (652, 260), (140, 164)]


@pytest.fixture(scope="module")
def official_meta():
    # Meta-device build: shapes only, no memory, no init time.
    with torch.device("meta"):
        return CoNR(PRESETS["official"]())


@pytest.mark.parametrize("name", NETWORK_NAMES)
def test_state_dict_keys_shapes_and_order_equal_official_checkpoint(official_meta, official_layout, name):
    expected = official_layout["networks"][name]
    ours = [
        (k, list(v.shape), str(v.dtype).removeprefix("torch."))
        for k, v in official_meta.network(name).state_dict().items()
    ]
    assert ours == [tuple(e) for e in [(k, s, d) for k, s, d in expected["state_dict"]]]
    assert sum(v.numel() for v in official_meta.network(name).state_dict().values()) == expected["num_parameters"]
    assert len(list(official_meta.network(name).buffers())) == expected["num_buffers"] == 0


@pytest.mark.parametrize("name", ["udpparsernet", "target_pose_encoder"])
def test_encoder_backbone_parameter_counts_match_official(official_meta, official_layout, name):
    backbone = official_meta.network(name).backbone
    assert sum(p.numel() for p in backbone.parameters()) == official_layout["networks"][name]["num_parameters_backbone"]


def test_total_parameters_match_official(official_meta, official_layout):
    assert sum(p.numel() for p in official_meta.parameters()) == official_layout["total_parameters"]


def test_level_layout_matches_readme_channel_table():
    cfg = PRESETS["official"]()
    assert [(lv.in_channels, lv.out_channels) for lv in cfg.levels] == OFFICIAL_BLOCK_CHANNELS


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds_blocks_that_agree_with_its_level_layout(preset):
    with torch.device("meta"):
        model = CoNR(PRESETS[preset]())
    for lv, block in zip(model.cfg.levels, model.shader.decoder_blocks):
        assert block.conv0[0].in_channels == lv.in_channels
        assert block.conv_last[2].out_channels == lv.out_channels
        assert len(block.convblocks) == model.cfg.residual_groups[lv.p]
    assert model.rgbadecodernet.bottleneck.r0.conv1.in_channels == model.cfg.level(5).msg


def test_lite_preset_is_smaller_and_renders_a_frame_of_the_right_shape():
    model = create_conr("lite")
    assert sum(p.numel() for p in model.parameters()) < 0.5 * 180_403_745
    g = torch.Generator().manual_seed(0)
    rgb, alpha = torch.rand(1, 2, 3, 128, 128, generator=g), torch.rand(1, 2, 1, 128, 128, generator=g)
    with torch.inference_mode():
        out = model(rgb * alpha, alpha, torch.rand(1, 4, 128, 128, generator=g))
    assert out.shape == (1, 4, 128, 128)
    assert torch.isfinite(out).all()


def test_unknown_preset_is_a_setting_error_that_names_the_choices():
    with pytest.raises(SettingError, match="lite"):
        create_conr("huge")


def test_config_rejects_message_widths_the_flow_groups_cannot_split():
    with pytest.raises(ValueError, match="flow_groups"):
        CoNRConfig(flow_groups=48)
