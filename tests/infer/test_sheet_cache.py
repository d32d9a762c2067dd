"""Sheet encoding: checks at the door, memory and disk caching, corrupt cache files."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from planted import plant_torch

from avatar_app.core.errors import SettingError, SheetError
from avatar_app.core.frames import CharacterSheet
from avatar_app.infer.sheet_state import SheetCache
from avatar_app.infer.torch_backend import SheetEncoder


def _same_state(a, b):
    assert a.key == b.key and a.size == b.size and a.num_views == b.num_views
    for x, y in zip([*a.features, *a.warp_sources, a.level0_conv], [*b.features, *b.warp_sources, b.level0_conv]):
        assert torch.equal(x, y)


def test_encoding_the_same_sheet_twice_hits_the_memory_cache(official_networks, make_sheet):
    encoder = SheetEncoder(official_networks)
    sheet = make_sheet(2, seed=21)
    assert encoder.encode(sheet) is encoder.encode(sheet)


def test_disk_cache_survives_a_new_encoder_and_gives_the_same_state(official_networks, make_sheet, tmp_path):
    sheet = make_sheet(2, seed=22)
    first = SheetEncoder(official_networks, cache=SheetCache(tmp_path)).encode(sheet)
    files = list(tmp_path.glob("*.pt"))
    assert len(files) == 1 and files[0].stem == first.key
    encoder = SheetEncoder(official_networks, cache=SheetCache(tmp_path))
    encoder.encode_tensors = None  # a disk hit must not recompute
    _same_state(encoder.encode(sheet), first)


def test_corrupt_cache_file_is_ignored_and_replaced(official_networks, make_sheet, tmp_path, caplog):
    sheet = make_sheet(2, seed=23)
    first = SheetEncoder(official_networks, cache=SheetCache(tmp_path)).encode(sheet)
    path = tmp_path / f"{first.key}.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with caplog.at_level(logging.WARNING):
        again = SheetEncoder(official_networks, cache=SheetCache(tmp_path)).encode(sheet)
    assert "ignoring unreadable sheet cache file" in caplog.text
    _same_state(again, first)
    assert SheetCache(tmp_path).get(first.key) is not None  # rewritten, readable


def test_a_cache_file_that_would_run_code_is_refused_runs_nothing_and_is_replaced(
    official_networks, make_sheet, tmp_path, caplog
):
    sheet = make_sheet(2, seed=26)
    first = SheetEncoder(official_networks, cache=SheetCache(tmp_path)).encode(sheet)
    path = tmp_path / f"{first.key}.pt"
    marker = tmp_path / "ran"
    plant_torch(path, marker, around=torch.load(path, weights_only=True))  # a valid state plus the payload
    with caplog.at_level(logging.WARNING):
        assert SheetCache(tmp_path).get(first.key) is None
    assert not marker.exists()
    assert "refused, nothing in it ran" in caplog.text and path.name in caplog.text
    again = SheetEncoder(official_networks, cache=SheetCache(tmp_path)).encode(sheet)  # encoded again
    _same_state(again, first)
    assert not marker.exists()


def test_cache_key_depends_on_pixels_weights_size_and_preset(official_networks, make_sheet):
    encoder = SheetEncoder(official_networks)
    sheet = make_sheet(2, seed=24)
    key = encoder.key(sheet)
    changed = sheet.rgb_premultiplied.copy()
    changed[0, 0, 64, 64] ^= 1
    assert encoder.key(CharacterSheet(changed, sheet.alpha)) != key
    assert encoder.key(sheet.subset([1, 0])) != key
    keys = {
        SheetCache.make_key("s", "w", 128, "official"),
        SheetCache.make_key("s", "w2", 128, "official"),
        SheetCache.make_key("s", "w", 256, "official"),
        SheetCache.make_key("s", "w", 128, "lite"),
    }
    assert len(keys) == 4


def test_weights_hash_covers_the_parser_and_level0_conv(official_networks):
    a = SheetEncoder(official_networks)
    b = SheetEncoder(official_networks)
    with torch.no_grad():
        b.level0.weight[0, 0, 0, 0] += 1.0  # the encoder's private copy; the network is untouched
    assert a.weights_hash != b.weights_hash


def test_opaque_view_is_refused_with_a_fix(official_networks, make_sheet):
    sheet = make_sheet(2, seed=25)
    alpha = sheet.alpha.copy()
    alpha[1] = 255
    with pytest.raises(SheetError, match="transparent") as err:
        SheetEncoder(official_networks).encode(CharacterSheet(sheet.rgb_premultiplied, alpha, sheet.names, "s"))
    assert "view1.png" in str(err.value)


def test_sheet_size_must_be_a_multiple_of_128(official_networks):
    rgb = np.zeros((1, 3, 192, 192), np.uint8)
    with pytest.raises(SettingError, match="multiple of 128"):
        SheetEncoder(official_networks).encode(CharacterSheet(rgb, np.zeros((1, 1, 192, 192), np.uint8)))


def test_unwritable_cache_directory_costs_the_cache_not_the_encode(official_networks, make_sheet, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING):
        state = SheetEncoder(official_networks, cache=SheetCache(blocker / "sheets")).encode(make_sheet(1, seed=26))
    assert state.num_views == 1
    assert "could not write sheet cache file" in caplog.text
