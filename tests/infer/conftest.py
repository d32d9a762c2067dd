"""Fixtures for the inference tests: synthetic official networks, the golden case, small sheets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avatar_app.core.frames import CharacterSheet
from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder
from avatar_app.models import CoNR, create_conr, fill_networks

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE_DIR = REPO / ".." / "shared" / "conformance"


def synthetic_conr(config, preset: str = "official"):
    """Same store as tests/models/conftest.py: one filled copy per session (720 MB, ~3 s)."""
    store = config.__dict__.setdefault("_avatar_app_synthetic_conr", {})
    if preset not in store:
        store[preset] = fill_networks(create_conr(preset, init=False))
    return store[preset]


@pytest.fixture(scope="session")
def official_networks(request) -> CoNR:
    return synthetic_conr(request.config, "official")


@pytest.fixture(scope="session")
def lite_networks(request) -> CoNR:
    return synthetic_conr(request.config, "lite")


@pytest.fixture(scope="session")
def encoder(official_networks) -> SheetEncoder:
    return SheetEncoder(official_networks)


@pytest.fixture(scope="session")
def renderer(official_networks) -> FrameRenderer:
    # fast=False: these tests pin our data flow; the Winograd layers have their own tests.
    return FrameRenderer(official_networks, fast=False)


@pytest.fixture(scope="session")
def golden_256() -> dict:
    path = CONFORMANCE_DIR / "golden_256_2views.npz"
    if not path.is_file():
        pytest.skip(
            f"conformance kit not found at {CONFORMANCE_DIR.resolve()} (needs ../shared/conformance next to the repo)"
        )
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def blob_sheet(views: int, size: int = 128, seed: int = 0) -> CharacterSheet:
    """Soft-edged coloured ellipses on transparency, premultiplied like the reference loader."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    rgb, alpha = [], []
    for _ in range(views):
        cx, cy = rng.uniform(0.4, 0.6, 2)
        rx, ry = rng.uniform(0.2, 0.35, 2)
        r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
        a = np.clip((1.0 - r) * size * rx / 3.0, 0.0, 1.0)
        a8 = np.round(255 * a).astype(np.uint8)
        phase = rng.uniform(0, 2 * np.pi, (3, 1, 1))
        colour = 0.5 + 0.5 * np.sin(6 * xx[None] + 4 * yy[None] + phase)
        c8 = np.round(255 * (0.8 * colour + 0.2 * rng.uniform(size=(3, size, size)))).astype(np.uint8)
        rgb.append((c8.astype(np.uint16) * a8[None] // 255).astype(np.uint8))
        alpha.append(a8[None])
    return CharacterSheet(np.stack(rgb), np.stack(alpha), tuple(f"view{i}.png" for i in range(views)), "blobs")


def blob_target(size: int = 128, seed: int = 1, frames: int = 1) -> torch.Tensor:
    """``cat(xyz*a, a)`` ``[frames,4,S,S]``: smooth xyz fields on a hard-edged blob."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(frames):
        cx, cy = rng.uniform(0.45, 0.55, 2)
        a = (((xx - cx) / 0.3) ** 2 + ((yy - cy) / 0.4) ** 2 < 1).astype(np.float32)
        xyz = np.stack(
            [0.5 + 0.5 * np.sin(rng.uniform(2, 6) * xx + rng.uniform(0, 6) * yy + rng.uniform(0, 6)) for _ in range(3)]
        )
        out.append(np.concatenate([xyz * a, a[None]]).astype(np.float32))
    return torch.from_numpy(np.stack(out))


@pytest.fixture(scope="session")
def make_sheet():
    return blob_sheet


@pytest.fixture(scope="session")
def make_target():
    return blob_target
