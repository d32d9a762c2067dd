"""A small synthetic dataset for the training tests, skipped where the machine cannot draw one."""

from __future__ import annotations

import pytest

from avatar_app.core.errors import DeviceError
from avatar_app.training.synthetic import SyntheticDataset

SIZE = 128


def small_dataset(**kwargs) -> SyntheticDataset:
    """Two characters at SIZE, seed 0 unless ``kwargs`` say otherwise; one sample drawn to check it works."""
    pytest.importorskip("mannequin", reason="needs mannequin-x: pip install mannequin-x (the 'tools' extra)")
    dataset = SyntheticDataset(**{"size": SIZE, "num_characters": 2, "seed": 0, **kwargs})
    try:
        dataset[0]
    except DeviceError as exc:
        pytest.skip(str(exc))
    return dataset
