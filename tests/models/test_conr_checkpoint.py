"""Strict loading of the four-file checkpoint layout, and errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from planted import plant_raw_pickle, plant_torch

from avatar_app.core.errors import CheckpointError
from avatar_app.models import (
    CHECKPOINT_FILES,
    BackboneConfig,
    CoNRConfig,
    checkpoint_filter_fn,
    create_conr,
    fill_networks,
    load_conr_weights,
    save_conr_weights,
)

# Same structure as the official network at a few thousand parameters: file IO stays instant.
TINY = CoNRConfig(
    name="tiny",
    parser=BackboneConfig(
        in_channels=3,
        block="basic",
        layers=(1, 1, 1, 1),
        widths=(16, 16, 16, 16),
        stem_width=16,
        stem_pool="conv",
        decoder_filters=(16, 16, 16, 16, 16),
        out_channels=4,
    ),
    target=BackboneConfig(
        in_channels=4,
        block="basic",
        layers=(1, 1, 1, 1),
        widths=(8, 8, 8, 8),
        stem_width=8,
        stem_pool="max",
        decoder_filters=(8, 8, 8, 8, 8),
        out_channels=1,
    ),
    shader_width=16,
    residual_groups=(1, 1, 1, 1, 1, 1),
    convs_per_group=1,
)


@pytest.fixture()
def tiny_folder(tmp_path) -> Path:
    save_conr_weights(fill_networks(create_conr(TINY, init=False)), tmp_path)
    return tmp_path


def _load(folder):
    return load_conr_weights(create_conr(TINY), folder)


def _rewrite(folder, name, edit):
    path = folder / CHECKPOINT_FILES[name]
    sd = torch.load(path, weights_only=True)
    torch.save(edit(sd), path)


def test_saved_weights_load_back_identically(tiny_folder):
    expected = fill_networks(create_conr(TINY, init=False)).state_dict()
    loaded = _load(tiny_folder).state_dict()
    assert list(loaded) == list(expected)
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_dataparallel_module_prefix_is_accepted(tiny_folder):
    _rewrite(tiny_folder, "shader", lambda sd: {f"module.{k}": v for k, v in sd.items()})
    expected = fill_networks(create_conr(TINY, init=False)).shader.state_dict()
    loaded = _load(tiny_folder).shader.state_dict()  # create_conr(TINY) starts from other (random) weights
    assert list(loaded) == list(expected)
    assert all(torch.equal(loaded[k], expected[k]) for k in expected), "the prefixed weights are the ones loaded"


def test_checkpoint_filter_fn_unwraps_state_dict_containers():
    sd = {"state_dict": {"module.a.weight": torch.zeros(1)}}
    assert list(checkpoint_filter_fn(sd)) == ["a.weight"]


def test_missing_file_names_it_and_lists_what_the_folder_must_contain(tiny_folder):
    (tiny_folder / "shader.pth").unlink()
    with pytest.raises(CheckpointError) as err:
        _load(tiny_folder)
    msg = str(err.value)
    assert "shader.pth" in err.value.source
    for filename in CHECKPOINT_FILES.values():
        assert filename in msg
    assert "make_random_weights" in err.value.fix


def test_missing_folder_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such folder"):
        _load(tmp_path / "nope")


def test_corrupt_file_is_a_clear_checkpoint_error(tiny_folder):
    (tiny_folder / "rgbadecodernet.pth").write_bytes(b"this is not a torch file" * 10)
    with pytest.raises(CheckpointError, match="unreadable") as err:
        _load(tiny_folder)
    assert "rgbadecodernet.pth" in err.value.source
    assert "corrupt or truncated" in err.value.fix


def test_truncated_file_is_a_clear_checkpoint_error(tiny_folder):
    path = tiny_folder / "udpparsernet.pth"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="unreadable"):
        _load(tiny_folder)


class _NotAllowed:
    pass


def test_pickled_objects_are_refused_by_weights_only_loading(tiny_folder):
    torch.save({"x": _NotAllowed()}, tiny_folder / "shader.pth")
    with pytest.raises(CheckpointError, match="refused, nothing in it ran") as err:
        _load(tiny_folder)
    assert "_NotAllowed" in err.value.found
    assert "weights_only=False" not in str(err.value) and "safe_globals" not in str(err.value)  # no unsafe advice


@pytest.mark.parametrize("plant", [plant_torch, plant_raw_pickle], ids=["torch-zip", "bare-pickle"])
def test_a_weights_file_that_would_run_code_is_refused_and_runs_nothing(tiny_folder, tmp_path, plant):
    marker = tmp_path / "ran"
    plant(tiny_folder / "udpparsernet.pth", marker)
    with pytest.raises(CheckpointError, match="refused, nothing in it ran") as err:
        _load(tiny_folder)
    assert "udpparsernet.pth" in err.value.source and "do not trust this file" in err.value.fix
    assert not marker.exists()


def test_a_file_that_is_not_a_state_dict_is_rejected(tiny_folder):
    torch.save(torch.zeros(3), tiny_folder / "shader.pth")
    with pytest.raises(CheckpointError, match="state_dict"):
        _load(tiny_folder)


def test_shape_mismatch_lists_key_with_expected_and_found_shapes(tiny_folder):
    key = "decoder_blocks.2.conv0.0.weight"

    def edit(sd):
        sd[key] = torch.zeros(3, 3, 3, 3)
        return sd

    _rewrite(tiny_folder, "shader", edit)
    with pytest.raises(CheckpointError) as err:
        _load(tiny_folder)
    found = err.value.found
    assert "1 shape mismatches" in found
    assert (
        f"{key} (expected {list(create_conr(TINY, init=False).shader.state_dict()[key].shape)}, found [3, 3, 3, 3])"
        in found
    )


def test_missing_and_unexpected_keys_are_listed_first_few_then_counted(tiny_folder):
    def edit(sd):
        keys = list(sd)
        for k in keys[:7]:
            del sd[k]
        sd["extra.weight"] = torch.zeros(1)
        return sd

    _rewrite(tiny_folder, "target_pose_encoder", edit)
    with pytest.raises(CheckpointError) as err:
        _load(tiny_folder)
    found = err.value.found
    assert "7 missing keys: backbone.0.weight" in found
    assert "(2 more)" in found
    assert "1 unexpected keys: extra.weight" in found
    assert "target_pose_encoder.pth" in err.value.source


def test_weights_of_another_preset_do_not_load(tiny_folder):
    other = create_conr(TINY.__class__(**{**TINY.__dict__, "shader_width": 24}))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_conr_weights(other, tiny_folder)


def test_make_random_weights_tool_writes_the_four_files(tmp_path, load_tool):
    tool = load_tool("make_random_weights")
    paths = tool.write_random_weights(tmp_path, TINY)
    assert sorted(p.name for p in paths) == sorted(CHECKPOINT_FILES.values())
    loaded = _load(tmp_path)
    expected = fill_networks(create_conr(TINY, init=False))
    assert torch.equal(
        loaded.shader.decoder_blocks[5].conv_last[2].weight, expected.shader.decoder_blocks[5].conv_last[2].weight
    )
