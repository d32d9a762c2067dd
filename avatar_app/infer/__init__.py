"""Inference backends behind one small interface (DESIGN.md §3).

Torch is imported lazily: ``import avatar_app.infer`` stays cheap, and a missing
heavy library only matters to the backend that needs it.

* ``SheetEncoder(networks, device).encode(sheet) -> SheetState`` - once per sheet.
* ``FrameRenderer(networks, device, fast=True).render(state, udp) -> RgbaFrame`` - per frame.
* ``UDPDetector(networks, device).detect(image) -> UdpMap`` - pose from a picture.
* ``SheetCache(directory)`` - memory + disk cache of encoded sheets.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SheetEncoder": "avatar_app.infer.torch_backend",
    "FrameRenderer": "avatar_app.infer.torch_backend",
    "UDPDetector": "avatar_app.infer.torch_backend",
    "SheetState": "avatar_app.infer.sheet_state",
    "SheetCache": "avatar_app.infer.sheet_state",
    "default_cache_dir": "avatar_app.infer.sheet_state",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'avatar_app.infer' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
