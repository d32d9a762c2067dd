"""Stack :class:`Sample` s into a batch of float tensors (a DataLoader ``collate_fn``).

Sheets stay uint8 in samples (4x less memory per cached or pickled sample) and become
float in [0, 1] only here, once per batch. ``views`` truncates every sample to its first
m views, which is how one dataset serves 1-, 2- and 4-view training: samples come with
their views in a random order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from avatar_app.core.errors import SettingError
from avatar_app.training.drawn_family import face_mask
from avatar_app.training.sample import Sample

__all__ = ["collate"]


def collate(samples: Sequence[Sample], views: int | None = None) -> dict[str, torch.Tensor]:
    """``sheet_rgb`` [N,M,3,S,S] and ``sheet_alpha`` [N,M,1,S,S] in [0, 1] (premultiplied, as
    stored), ``sheet_udp`` [N,M,4,S,S] when every sample has one, ``target_udp`` [N,4,S,S],
    ``target_rgba`` [N,4,S,S], ``face_mask`` [N,1,S,S] (0/1) when every sample's meta has a
    ``face_region``; all float32."""
    if not samples:
        raise SettingError("collate(samples)", "at least one Sample", "an empty batch", "check the dataset's length")
    counts = {s.num_views for s in samples}
    sizes = {(s.size, s.target_udp.shape[-1]) for s in samples}
    if len(sizes) != 1:
        raise SettingError(
            "collate(samples)", "samples of one size", f"sizes {sorted(sizes)}", "build the dataset at one size"
        )
    if views is None:
        if len(counts) != 1:
            raise SettingError(
                "collate(samples)",
                "the same number of views in every sample",
                f"view counts {sorted(counts)}",
                "pass views=m to use the first m",
            )
        views = counts.pop()
    elif not (isinstance(views, int) and 1 <= views <= min(counts)):
        raise SettingError(
            "collate(views)", f"1 to {min(counts)} views (the fewest any sample has)", repr(views), "lower views"
        )

    batch = {
        "sheet_rgb": _stack([s.sheet_rgb[:views] for s in samples], divisor=255.0),
        "sheet_alpha": _stack([s.sheet_alpha[:views] for s in samples], divisor=255.0),
        "target_udp": _stack([s.target_udp for s in samples]),
        "target_rgba": _stack([s.target_rgba for s in samples]),
    }
    if all(s.sheet_udp is not None for s in samples):
        batch["sheet_udp"] = _stack([s.sheet_udp[:views] for s in samples])
    if all(s.meta.get("face_region") for s in samples):
        batch["face_mask"] = _stack([face_mask(s.target_udp, s.meta["face_region"])[None] for s in samples])
    return batch


def _stack(arrays: list[np.ndarray], divisor: float | None = None) -> torch.Tensor:
    tensor = torch.from_numpy(np.stack(arrays)).float()
    return tensor if divisor is None else tensor.div_(divisor)  # 255 -> exactly 1.0
