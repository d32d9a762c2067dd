"""What the renderer keeps of a character sheet, and where it keeps it.

A :class:`SheetState` is everything of README §5 "sheet only": the parser
pyramid, the reference RGBA ``R = cat(a*rgb, a)`` at every level size, and
level 0's first-conv contribution. It is worth caching: it is the whole sheet
side of the network, and the sheet never changes while streaming.

:class:`SheetCache` keeps recent states in memory and, given a directory, on
disk, keyed by sheet pixels + weights + size + preset. A cache file that cannot
be read back (truncated, from an older format, tampered) is logged, deleted and
recomputed - never fatal.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from avatar_app.models.checkpoint import torch_load_data

__all__ = ["SheetState", "SheetCache", "default_cache_dir", "FORMAT_VERSION"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(eq=False)
class SheetState:
    """The sheet side of CoNR for one sheet, on one device.

    * ``features``: parser pyramid ``F[0..4]`` ``[M, C, h, w]``, deepest first
      (``F[1..4]`` are views into ``warp_sources``).
    * ``warp_sources[i]``: what is resampled by the accumulated flow after block ``i``:
      ``cat(resize(R, s_{i+1}), F[i+1])`` for i = 0..3 and the full-size ``R`` for i = 4.
    * ``level0_conv``: level 0's first conv over the sheet channels, bias included
      ``[M, width, s0/2, s0/2]``.
    """

    key: str
    preset: str
    size: int
    features: list
    warp_sources: list
    level0_conv: torch.Tensor

    @property
    def num_views(self) -> int:
        return self.level0_conv.shape[0]

    @property
    def device(self) -> torch.device:
        return self.level0_conv.device

    @property
    def reference(self) -> torch.Tensor:
        """``R = cat(a*rgb, a)`` ``[M, 4, H, W]``."""
        return self.warp_sources[-1]

    @property
    def references(self) -> list[torch.Tensor]:
        """``R`` resized to ``s_1..s_4`` and at full size (views into ``warp_sources``).

        Level 0's resized ``R`` only feeds level 0's first conv and lives on inside
        ``level0_conv``.
        """
        return [s[:, :4] for s in self.warp_sources]

    @property
    def level_sizes(self) -> list[tuple[int, int]]:
        """``s_0..s_4`` (sizes of ``F``) and the full size."""
        return [tuple(f.shape[-2:]) for f in self.features] + [tuple(self.reference.shape[-2:])]

    def subset(self, views) -> SheetState:
        """The state of the sheet's ``views`` alone (indices, in order), as if only they were encoded.

        Every tensor here is per view and the shader meets views only in its per-frame
        weighting, so a subset is exactly the encode of those views."""
        index = torch.as_tensor(list(views), dtype=torch.long, device=self.device)
        d = self._primary()
        d["key"] = f"{self.key}/views{'-'.join(str(int(v)) for v in views)}"
        d["feature0"] = d["feature0"].index_select(0, index)
        d["warp_sources"] = [t.index_select(0, index) for t in d["warp_sources"]]
        d["level0_conv"] = d["level0_conv"].index_select(0, index)
        return SheetState._from_primary(d)

    def to(self, device) -> SheetState:
        return SheetState._from_primary(self._primary(), device)

    # Only these tensors are stored; the rest are views rebuilt on load.
    def _primary(self) -> dict:
        return {
            "key": self.key,
            "preset": self.preset,
            "size": self.size,
            "feature0": self.features[0],
            "warp_sources": list(self.warp_sources),
            "level0_conv": self.level0_conv,
        }

    @staticmethod
    def _from_primary(d: dict, device=None) -> SheetState:
        srcs = [t.to(device) if device is not None else t for t in d["warp_sources"]]
        f0 = d["feature0"].to(device) if device is not None else d["feature0"]
        l0 = d["level0_conv"].to(device) if device is not None else d["level0_conv"]
        features = [f0] + [s[:, 4:] for s in srcs[:4]]
        return SheetState(d["key"], d["preset"], int(d["size"]), features, srcs, l0)

    def _check(self) -> None:
        m, size = self.num_views, self.size
        if len(self.warp_sources) != 5 or len(self.features) != 5:
            raise ValueError("SheetState needs 5 warp sources and 5 feature levels")
        for i, t in enumerate(self.warp_sources):
            if t.dim() != 4 or t.shape[0] != m or t.shape[1] < 4:
                raise ValueError(f"warp source {i} has shape {tuple(t.shape)}")
        if tuple(self.reference.shape[-2:]) != (size, size) or tuple(self.features[0].shape[:1]) != (m,):
            raise ValueError("SheetState sizes do not agree")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/avatar_app/sheets`` (``~/.cache/avatar_app/sheets``)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "avatar_app" / "sheets"


class SheetCache:
    """Recently encoded sheets in memory (LRU) and, if ``directory`` is given, on disk.

    ``SheetCache()`` uses :func:`default_cache_dir`; ``SheetCache(None)`` is memory only.
    """

    _DEFAULT = object()

    def __init__(self, directory=_DEFAULT, memory_items: int = 2):
        if directory is SheetCache._DEFAULT:
            directory = default_cache_dir()
        self.directory = Path(directory) if directory is not None else None
        self.memory_items = memory_items
        self._memory: OrderedDict[str, SheetState] = OrderedDict()

    @staticmethod
    def make_key(sheet_hash: str, weights_hash: str, size: int, preset: str) -> str:
        text = f"v{FORMAT_VERSION}|{sheet_hash}|{weights_hash}|{size}|{preset}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def path(self, key: str) -> Path | None:
        return self.directory / f"{key}.pt" if self.directory is not None else None

    def get(self, key: str, device="cpu") -> SheetState | None:
        state = self._memory.get(key)
        if state is not None:
            self._memory.move_to_end(key)
            return state if state.device == torch.device(device) else state.to(device)
        path = self.path(key)
        if path is None or not path.is_file():
            return None
        try:
            d = torch_load_data(path, "a sheet-state cache file", "none needed: it is encoded again")  # data only
            if not isinstance(d, dict) or d.get("format") != FORMAT_VERSION or d.get("key") != key:
                raise ValueError("not a sheet-state file of this version")
            state = SheetState._from_primary(d, device)
            state._check()
        except Exception as err:  # noqa: BLE001 - a damaged file makes torch.load raise almost anything
            log.warning("ignoring unreadable sheet cache file %s (%s: %s); recomputing", path, type(err).__name__, err)
            path.unlink(missing_ok=True)
            return None
        self._remember(key, state)
        return state

    def put(self, state: SheetState) -> None:
        self._remember(state.key, state)
        path = self.path(state.key)
        if path is None:
            return
        try:
            self._write(path, state)
        except OSError as err:  # a full or read-only disk costs the cache, not the render
            log.warning("could not write sheet cache file %s (%s); continuing without it", path, err)

    @staticmethod
    def _write(path: Path, state: SheetState) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        d = dict(state._primary())
        d["format"] = FORMAT_VERSION
        d["feature0"] = d["feature0"].cpu()
        d["warp_sources"] = [t.cpu() for t in d["warp_sources"]]
        d["level0_conv"] = d["level0_conv"].cpu()
        # Write then rename: a crash mid-write never leaves a half file under the real name.
        fd, tmp = tempfile.mkstemp(prefix=f".{state.key}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(d, f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _remember(self, key: str, state: SheetState) -> None:
        if self.memory_items <= 0:
            return
        self._memory[key] = state
        self._memory.move_to_end(key)
        while len(self._memory) > self.memory_items:
            self._memory.popitem(last=False)

    def clear_memory(self) -> None:
        self._memory.clear()
