"""The data of a run: train/val datasets and the batch of every step, a pure function of ``(seed, step, rank)``.

Because a step's batch depends on nothing else, a resumed run sees the same batches as an
uninterrupted one, and background workers change the speed, never the batches.
"""

from __future__ import annotations

import random

import torch
from torch.utils.data import Subset

from avatar_app.core.errors import SettingError
from avatar_app.training.collate import collate
from avatar_app.training.flow_targets import correspondence_flow
from avatar_app.training.settings import TrainSettings

__all__ = [
    "MixedFamilies",
    "augment_colours",
    "batch_for_step",
    "make_datasets",
    "step_batches",
    "step_indices",
    "step_views",
    "to_device",
]


def make_datasets(s: TrainSettings):
    """(train, val) datasets: synthetic characters (held-out val characters), or a folder."""
    if s.data:
        from avatar_app.training.folder_dataset import FolderDataset

        full = FolderDataset(s.data, size=s.size)
        if len(full) < 2:
            found = f"{len(full)} in {s.data}"
            expected = "a folder dataset with at least 2 samples"
            raise SettingError("--data", expected, found, "add samples (docs/dataset.md)")
        n_val = max(1, min(s.val_samples, len(full) // 10))
        idx = list(range(len(full)))
        return Subset(full, idx[n_val:]), Subset(full, idx[:n_val])
    from avatar_app.training.synthetic import SyntheticDataset

    def synthetic(split: str, characters: int, family: str):
        return SyntheticDataset(size=s.size, split=split, num_characters=characters, seed=s.seed, family=family)

    if s.family == "mix":
        return tuple(
            MixedFamilies(synthetic(split, n, "drawn"), synthetic(split, n, "toon"))
            for split, n in (("train", s.train_characters), ("val", s.val_characters))
        )
    return synthetic("train", s.train_characters, s.family), synthetic("val", s.val_characters, s.family)


class MixedFamilies:
    """Two synthetic families in turn (``--family mix``): even indices from the first, odd from the second.

    Fine-tuning the shipped weights on drawn characters alone made them forget the toon ones
    (2,000 steps at 128² on this CPU: +0.55 dB on the drawn held-out set, -3.8 dB on the
    model card's); every batch of the mix holds both. A sample is still a pure function of
    its index, so batches stay a function of ``(seed, step, rank)``.
    """

    def __init__(self, first, second):
        self.parts = (first, second)

    def __len__(self) -> int:
        return 2 * min(len(p) for p in self.parts)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"MixedFamilies: index {index} out of range for {len(self)} samples")
        index %= len(self)
        return self.parts[index % 2][index // 2]

    def close(self) -> None:
        for part in self.parts:
            part.close()


def _step_rng(seed: int, step: int) -> random.Random:
    return random.Random(seed * 1_000_003 + step)


def step_indices(s: TrainSettings, step: int, rank: int = 0, world: int = 1, total: int | None = None) -> list[int]:
    """Dataset indices of ``step`` on ``rank``: consecutive, disjoint across ranks, wrapping at ``total``."""
    first = step * s.batch * world + rank * s.batch
    return [(first + k) % total if total else first + k for k in range(s.batch)]


def step_views(s: TrainSettings, step: int) -> int:
    """Sheet views used at ``step``: 1..max_views, drawn from the step number (equal on every rank)."""
    return _step_rng(s.seed, step).randint(1, s.max_views)


def augment_colours(batch: dict, share: float, rng: random.Random) -> dict:
    """Remap the colours of about ``share`` of the samples, sheet and target alike (in place).

    Per chosen sample: a random permutation of R, G, B, and each channel inverted
    (``a - c`` on premultiplied values, which stays premultiplied) with probability 1/4.
    A character's colours then cannot be guessed from its pose or its body part: the
    network has to carry them over from the sheet, which is what it is for.
    """
    if share <= 0.0:
        return batch
    for i in range(batch["target_rgba"].shape[0]):
        if rng.random() >= share:
            continue
        order = [0, 1, 2]
        rng.shuffle(order)
        invert = [rng.random() < 0.25 for _ in range(3)]
        sheet = (batch["sheet_rgb"][i], batch["sheet_alpha"][i])
        target = (batch["target_rgba"][i, :3], batch["target_rgba"][i, 3:4])
        for rgb, alpha in (sheet, target):
            mapped = rgb[..., order, :, :].clone()
            for c in range(3):
                if invert[c]:
                    mapped[..., c, :, :] = alpha[..., 0, :, :] - mapped[..., c, :, :]
            rgb.copy_(mapped.clamp_(min=0.0))
    return batch


def batch_for_step(dataset, s: TrainSettings, step: int, rank: int = 0, world: int = 1) -> tuple[dict, int]:
    """The collated samples of ``step`` for this rank (colours augmented) and their view count.

    With the flow loss on, the batch carries its ``flow_targets`` too: their nearest-neighbour
    searches run on the CPU, so they are made with the batch (in the data workers, if any).
    """
    m = step_views(s, step)
    batch = collate([dataset[i] for i in step_indices(s, step, rank, world, len(dataset))], views=m)
    if s.losses.flow and "sheet_udp" in batch:
        batch["flow_targets"] = correspondence_flow(batch["sheet_udp"], batch["target_udp"])
    return augment_colours(batch, s.colour_augment, _step_rng(s.seed + 7919 * (rank + 1), step)), m


def to_device(batch: dict, device) -> dict:
    """The batch with its tensors on ``device`` (other values as they are)."""
    return {k: (v.to(device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}


class _StepBatches(torch.utils.data.Dataset):
    """Item ``k``: what :func:`batch_for_step` gives for step ``start + k`` (for DataLoader workers)."""

    def __init__(self, dataset, s: TrainSettings, start: int, end: int, rank: int, world: int):
        self.dataset, self.s, self.start, self.end, self.rank, self.world = dataset, s, start, end, rank, world

    def __len__(self) -> int:
        return self.end - self.start

    def __getitem__(self, k: int) -> tuple[dict, int]:
        return batch_for_step(self.dataset, self.s, self.start + k, self.rank, self.world)


def step_batches(
    dataset, s: TrainSettings, start: int, end: int, rank: int = 0, world: int = 1, workers: int = 0, pin: bool = False
):
    """The batches of steps ``start..end-1`` in order, made here or by ``workers`` processes.

    Every batch depends on ``(seed, step, rank)`` alone, so the workers change the speed,
    never the batches. They are spawned, not forked: a process that has rendered with
    Mesa cannot be forked safely (``synthetic.py``), and validation renders here.
    """
    if workers <= 0:
        return (batch_for_step(dataset, s, step, rank, world) for step in range(start, end))
    loader = torch.utils.data.DataLoader(
        _StepBatches(dataset, s, start, end, rank, world),
        batch_size=None,
        shuffle=False,
        num_workers=workers,
        multiprocessing_context="spawn",
        prefetch_factor=2,
        pin_memory=pin,
    )
    return iter(loader)
