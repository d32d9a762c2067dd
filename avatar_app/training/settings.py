"""What defines a training run: :class:`TrainSettings` (saved in the checkpoint; a resumed run keeps it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from avatar_app.training.losses import LossWeights

__all__ = ["TrainSettings"]


@dataclass
class TrainSettings:
    """Everything that defines a run (saved in the checkpoint; a resumed run keeps it)."""

    out: str = "runs/lite"
    preset: str = "lite"
    size: int = 128
    batch: int = 4
    steps: int = 1000
    lr: float = 1e-3
    warmup: int = 50
    max_views: int = 4
    train_characters: int = 48
    val_characters: int = 8
    val_samples: int = 16
    val_every: int = 250
    preview_every: int = 250
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "cpu"
    data: str | None = None  # a folder dataset (docs/dataset.md) instead of synthetic characters
    init: str | None = None  # start from this weights folder (fine-tuning)
    colour_augment: float = 0.0  # share of samples whose colours are remapped (augment_colours)
    family: str = "toon"  # synthetic characters: "toon" (the shipped weights' data), "drawn" (drawn_family.py), "mix"
    losses: LossWeights = field(default_factory=LossWeights)

    @staticmethod
    def from_dict(d: dict) -> TrainSettings:
        d = dict(d)
        d["losses"] = LossWeights(**d.get("losses", {}))
        return TrainSettings(**d)
