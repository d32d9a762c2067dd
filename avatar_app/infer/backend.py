"""One opened inference backend: its parts behind ``encode`` / ``render`` / ``detect``, closed together.

``registry.open_backend`` is the one way to get a :class:`Backend`; the CLI, the window, the
pipeline's renderer and the benchmarks hold one and call :meth:`Backend.close` (or use it as
a context manager) when done, so ONNX Runtime sessions, TensorRT engines and the CUDA graphs
captured on them are released when the user changes a setting, not when the process ends.
"""

from __future__ import annotations

import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import CharacterSheet, RgbaFrame, UdpMap
from avatar_app.infer.sheet_state import SheetState

__all__ = ["PARTS", "Backend", "close_all"]

PARTS = ("sheet_encoder", "frame_renderer", "udp_detector")


def close_all(parts) -> None:
    """Close each of ``parts``; the first failure is raised once every one was tried."""
    failure = None
    for part in parts:
        try:
            part.close()
        except Exception as err:  # noqa: BLE001 - re-raised below, after the others are closed
            failure = failure or err
    if failure is not None:
        raise failure


class Backend:
    """The parts of backend ``name`` (torch, onnxruntime or tensorrt) opened at ``size`` and ``precision``.

    ``sheet_encoder``, ``frame_renderer`` and ``udp_detector`` are the part objects, None
    where they were not asked for; calling a method of a missing part says which part and
    how to open it. ``acceleration``: what the frame renderer runs (the torch renderer says
    which convolutions), else the backend's name.
    """

    def __init__(self, name: str, precision: str, size: int, parts: dict):
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise SettingError(
                "backend parts", f"some of {', '.join(PARTS)}", ", ".join(sorted(unknown)), "ask for listed parts only"
            )
        self.name, self.precision, self.size = name, precision, int(size)
        self.sheet_encoder = parts.get("sheet_encoder")
        self.frame_renderer = parts.get("frame_renderer")
        self.udp_detector = parts.get("udp_detector")
        self.acceleration = getattr(self.frame_renderer, "acceleration", name)
        self.closed = False

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts that are open."""
        return tuple(p for p in PARTS if getattr(self, p) is not None)

    def _part(self, part: str):
        obj = getattr(self, part)
        if obj is None:
            found = "closed" if self.closed else f"only {', '.join(self.parts) or 'no parts'} opened"
            fix = "open a new backend" if self.closed else f"pass parts=(..., {part!r}) to open_backend"
            raise SettingError(f"{self.name} backend", f"a {part}", found, fix)
        return obj

    def encode(self, sheet: CharacterSheet) -> SheetState:
        """The sheet's :class:`SheetState` (once per sheet; cached by the encoder's ``SheetCache``)."""
        return self._part("sheet_encoder").encode(sheet)

    def render(self, state: SheetState, udp: UdpMap) -> RgbaFrame:
        """One frame: ``state`` from :meth:`encode`, ``udp`` at the sheet's size."""
        return self._part("frame_renderer").render(state, udp)

    def detect(self, image: np.ndarray, timestamp: float = 0.0) -> UdpMap:
        """A picture (uint8 RGB or straight RGBA) -> its UDP map."""
        return self._part("udp_detector").detect(image, timestamp)

    def close(self) -> None:
        """Release every part (sessions, engines, CUDA graphs, buffers); safe to call more than once."""
        objects = [getattr(self, part) for part in self.parts]
        self.sheet_encoder = self.frame_renderer = self.udp_detector = None
        self.closed = True
        close_all(objects)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ", ".join(self.parts)
        return f"<Backend {self.name} {self.precision} {self.size}² ({state})>"
