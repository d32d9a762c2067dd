"""The data that flows between stages: character sheets, UDP maps, RGBA frames.

Plain numpy containers, validated at construction so later stages never
re-check them per frame.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from avatar_app.core.errors import SettingError

MODEL_SIZE_MULTIPLE = 128


def check_model_size(size: int, setting: str = "size") -> int:
    """Return ``size`` if the CoNR shader can run at it, else raise with the fix.

    Level 0 of the shader runs at H/32 and downsamples by 4 again, so H and W
    must be multiples of 128 (conformance README, pitfall 1).
    """
    if not isinstance(size, (int, np.integer)) or size <= 0 or size % MODEL_SIZE_MULTIPLE:
        lower = (
            max(MODEL_SIZE_MULTIPLE, (int(size) // MODEL_SIZE_MULTIPLE) * MODEL_SIZE_MULTIPLE)
            if isinstance(size, (int, np.integer))
            else 256
        )
        raise SettingError(
            setting,
            f"a positive multiple of {MODEL_SIZE_MULTIPLE} (e.g. 256 or 512)",
            repr(size),
            f"use {lower} or {lower + MODEL_SIZE_MULTIPLE}",
        )
    return int(size)


@dataclass(frozen=True, eq=False)
class CharacterSheet:
    """M views of one character at the model size, as the reference loader makes them.

    ``rgb_premultiplied`` holds ``floor(rgb * a / 255)`` (uint8), ``alpha`` the
    view alpha 0..255; both are square at ``size``.
    """

    rgb_premultiplied: np.ndarray  # uint8 [M, 3, S, S]
    alpha: np.ndarray  # uint8 [M, 1, S, S]
    names: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self):
        rgb, a = self.rgb_premultiplied, self.alpha
        if rgb.dtype != np.uint8 or a.dtype != np.uint8:
            raise TypeError(f"CharacterSheet wants uint8 arrays, got {rgb.dtype} and {a.dtype}")
        if rgb.ndim != 4 or rgb.shape[1] != 3 or a.shape != (rgb.shape[0], 1, *rgb.shape[2:]):
            raise ValueError(f"CharacterSheet shapes must be [M,3,S,S] and [M,1,S,S], got {rgb.shape} and {a.shape}")
        if rgb.shape[0] < 1:
            raise ValueError("CharacterSheet needs at least one view")

    @property
    def num_views(self) -> int:
        return self.rgb_premultiplied.shape[0]

    @property
    def size(self) -> int:
        return self.rgb_premultiplied.shape[2]

    def content_hash(self) -> str:
        """SHA-256 of the pixels (not the names): the key of the sheet-feature cache."""
        h = hashlib.sha256()
        h.update(np.asarray(self.rgb_premultiplied.shape, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(self.rgb_premultiplied).tobytes())
        h.update(np.ascontiguousarray(self.alpha).tobytes())
        return h.hexdigest()

    def subset(self, indices) -> CharacterSheet:
        idx = list(indices)
        return CharacterSheet(
            self.rgb_premultiplied[idx],
            self.alpha[idx],
            tuple(self.names[i] for i in idx) if self.names else (),
            self.source,
        )


@dataclass(frozen=True, eq=False)
class UdpMap:
    """A target pose: per pixel the rest-pose xyz in [0,1] and a visibility in [0,1].

    ``data`` is float32 [H, W, 4]; the background is all zeros, and xyz are
    already multiplied by visibility.
    """

    data: np.ndarray
    timestamp: float = 0.0

    def __post_init__(self):
        d = self.data
        if d.dtype != np.float32 or d.ndim != 3 or d.shape[2] != 4:
            raise ValueError(f"UdpMap wants float32 [H,W,4], got {d.dtype} {d.shape}")

    @property
    def xyz(self) -> np.ndarray:
        return self.data[..., :3]

    @property
    def visibility(self) -> np.ndarray:
        return self.data[..., 3]

    @property
    def size(self) -> tuple[int, int]:
        return self.data.shape[0], self.data.shape[1]


@dataclass(frozen=True, eq=False)
class RgbaFrame:
    """A rendered frame: premultiplied RGBA, float32 [H, W, 4] in [0, 1]."""

    data: np.ndarray
    timestamp: float = 0.0
    timings_ms: dict = field(default_factory=dict)

    def __post_init__(self):
        d = self.data
        if d.dtype != np.float32 or d.ndim != 3 or d.shape[2] != 4:
            raise ValueError(f"RgbaFrame wants float32 [H,W,4], got {d.dtype} {d.shape}")

    def over(self, background_rgb=(0, 255, 0)) -> np.ndarray:
        """Composite over a solid colour; returns uint8 RGB [H, W, 3]."""
        bg = np.asarray(background_rgb, dtype=np.float32) / 255.0
        rgb = self.data[..., :3] + (1.0 - self.data[..., 3:4]) * bg
        return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def to_straight_rgba8(self) -> np.ndarray:
        """Un-premultiplied uint8 RGBA [H, W, 4], for PNG files."""
        a = self.data[..., 3:4]
        rgb = np.where(a > 1e-6, self.data[..., :3] / np.maximum(a, 1e-6), 0.0)
        out = np.concatenate([np.clip(rgb, 0, 1), np.clip(a, 0, 1)], axis=-1)
        return (out * 255.0 + 0.5).astype(np.uint8)
