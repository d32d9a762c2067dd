"""``--family mix``: drawn and toon characters in turn, every batch holding both, still a function of the index."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.training.batches import MixedFamilies, batch_for_step, make_datasets
from avatar_app.training.settings import TrainSettings

from synthetic_helpers import SIZE


def test_the_mix_takes_both_families_in_turn_and_repeats_itself():
    s = TrainSettings(size=SIZE, batch=2, max_views=1, train_characters=2, val_characters=1, seed=3, family="mix")
    train, val = make_datasets(s)
    again, _ = make_datasets(s)
    try:
        assert isinstance(train, MixedFamilies) and isinstance(val, MixedFamilies)
        families = [train[i].meta["family"] for i in range(4)]
        assert families == ["drawn", "toon", "drawn", "toon"]
        assert val[0].meta["family"] == "drawn" and val[1].meta["family"] == "toon"
        assert np.array_equal(train[2].target_rgba, again[2].target_rgba)
        assert not np.array_equal(train[0].target_rgba, train[2].target_rgba)
        batch, _ = batch_for_step(train, s, 0)
        assert batch["target_rgba"].shape[0] == 2
        with pytest.raises(IndexError):
            train[len(train)]
    finally:
        for dataset in (train, val, again):
            dataset.close()
