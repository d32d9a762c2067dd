"""Deterministic synthetic weights (conformance README §2).

Every tensor is a pure function of (network name, state-dict key, shape): a CPU
``torch.Generator`` seeded with CRC-32 of ``"{network}/{key}"`` draws a standard
normal tensor, which is then scaled by tensor kind. Golden files were made with
these weights, so conformance needs no real checkpoint. Gain 1.5 (and counting a
stride-2 4x4 transposed conv as 4 taps per input channel) keeps flows, masks and
the RGBA output away from both "constant" and "saturated".
"""

from __future__ import annotations

import hashlib
import zlib
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np
import torch

from avatar_app.models.conr import NETWORK_NAMES, CoNR

__all__ = ["FILL_GAIN", "fill_tensor", "fill_state_dict", "fill_networks", "state_dict_checksums"]

FILL_GAIN = 1.5
# The only ConvTranspose2d weights (layout [in, out, kh, kw]) in the four networks.
_TRANSPOSED_KEY_ENDINGS = (".up.weight", ".conv_last.0.weight", ".conv_last.2.weight")


def fill_tensor(network: str, key: str, shape: Iterable[int], gain: float = FILL_GAIN) -> torch.Tensor:
    shape = tuple(int(s) for s in shape)
    gen = torch.Generator(device="cpu").manual_seed(zlib.crc32(f"{network}/{key}".encode()))
    r = torch.randn(shape, generator=gen, dtype=torch.float32)
    if len(shape) >= 2:
        if key.endswith(_TRANSPOSED_KEY_ENDINGS):
            # stride 2: each output pixel receives 2x2 of the 4x4 taps per input channel
            fan_in = shape[0] * shape[2] * shape[3] / 4
        else:
            fan_in = float(np.prod(shape[1:]))
        return r * (gain / fan_in) ** 0.5
    if key.endswith(".norm.weight"):  # InstanceNorm scale
        return 1.0 + 0.1 * r
    if key.endswith("weight"):  # PReLU slopes: the only other 1-d weights
        return 0.25 + 0.01 * r
    return 0.01 * r  # biases


def fill_state_dict(
    network: str, shapes: Iterable[tuple[str, Iterable[int]]], gain: float = FILL_GAIN
) -> OrderedDict[str, torch.Tensor]:
    """``{key: tensor}`` for ``(key, shape)`` pairs, in the given order."""
    return OrderedDict((k, fill_tensor(network, k, s, gain)) for k, s in shapes)


@torch.no_grad()
def fill_networks(model: CoNR, names: Iterable[str] = NETWORK_NAMES, gain: float = FILL_GAIN) -> CoNR:
    """Overwrite ``model``'s weights in place with the synthetic recipe; returns ``model``."""
    for name in names:
        for key, tensor in model.network(name).state_dict(keep_vars=True).items():
            tensor.copy_(fill_tensor(name, key, tensor.shape, gain))
    return model


def state_dict_checksums(state_dict) -> tuple[str, list[float]]:
    """SHA-256 of all tensors concatenated as little-endian float32 in order, and per-tensor float64 sums.

    The format of ``fill_check`` in ``conr_official_state_dicts.json``.
    """
    h = hashlib.sha256()
    sums = []
    for t in state_dict.values():
        a = t.detach().to("cpu", torch.float32).contiguous().numpy()
        h.update(a.astype("<f4", copy=False).tobytes())
        sums.append(float(a.sum(dtype=np.float64)))
    return h.hexdigest(), sums
