"""What every output shares: the FrameSink contract and its boundary checks.

A sink is opened with the frame size it will carry (or learns it from the first
frame), checks each frame against it in ``send`` the way pyvirtualcam does
(expected vs actual shape and dtype in the message), and is closed exactly once,
explicitly or by ``with``. Subclasses implement ``_send`` and ``_close`` only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from avatar_app.core.errors import InputError, SettingError
from avatar_app.core.frames import RgbaFrame


class FrameMismatchError(InputError, ValueError):
    """A frame handed to ``send`` does not have the size or type the sink was opened for."""


class SinkClosedError(ValueError):
    """``send`` was called after ``close``."""


class OutputStoppedError(InputError):
    """A sink can deliver no more (the disk filled under a recording) and has closed itself cleanly:
    what it delivered is kept. The pipeline switches it off and goes on with its other sinks."""


class FrameSink(ABC):
    """Takes premultiplied RGBA frames of one size and delivers them somewhere.

    ``width``/``height`` fix the frame size now; leave both ``None`` to let the first
    frame fix it (file and browser sinks can follow the renderer). Not thread-safe:
    call ``send`` and ``close`` from one thread (the pipeline's sink stage).
    """

    def __init__(self, width: int | None = None, height: int | None = None, *, name: str | None = None):
        self.name = name or type(self).__name__
        if (width is None) != (height is None):
            raise SettingError(
                f"{self.name} size",
                "both width and height, or neither",
                f"width={width!r}, height={height!r}",
                "give both (e.g. width=512, height=512) or leave both out to use the first frame's size",
            )
        self._shape: tuple[int, int, int] | None = None
        if width is not None:
            self._shape = (
                check_positive_int(height, f"{self.name} height"),
                check_positive_int(width, f"{self.name} width"),
                4,
            )
        self.frames_sent = 0  # frames accepted by send()
        self._closed = False

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height), or None until the first frame when opened without a size."""
        return None if self._shape is None else (self._shape[1], self._shape[0])

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, frame: RgbaFrame) -> None:
        if self._closed:
            raise SinkClosedError(f"{self.name}: send() after close(); open a new sink")
        if not isinstance(frame, RgbaFrame):
            raise TypeError(
                f"{self.name}: send() expects an RgbaFrame (premultiplied float32 [H,W,4]), got {type(frame).__name__}"
            )
        data = frame.data
        if self._shape is None:
            self._shape = data.shape
            self._on_size_known(data.shape[1], data.shape[0])
        elif data.shape != self._shape or data.dtype != np.float32:
            height, width = self._shape[:2]
            raise FrameMismatchError(
                self.name,
                f"frames of shape {self._shape} float32 ({width}x{height})",
                f"shape {data.shape} {data.dtype}",
                f"render at {width}x{height}, or open the sink at the renderer's size",
            )
        self._send(frame)
        self.frames_sent += 1

    def close(self) -> None:
        """Release the device, file or server; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _on_size_known(self, width: int, height: int) -> None:  # noqa: B027 optional no-op hook
        """Called once when a sink opened without a size sees its first frame."""

    @abstractmethod
    def _send(self, frame: RgbaFrame) -> None:
        """Deliver one frame that already passed the size check."""

    @abstractmethod
    def _close(self) -> None:
        """Release resources; called exactly once."""


def check_positive_int(value, setting: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise SettingError(setting, "a positive whole number of pixels", repr(value), "use e.g. 512")
    return int(value)


def check_fps(value, setting: str = "fps") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not 0 < value <= 1000:
        raise SettingError(setting, "a frame rate above 0 and at most 1000", repr(value), "use e.g. 30")
    return float(value)


def check_background_rgb(colour, setting: str = "background_rgb") -> tuple[int, int, int]:
    values = tuple(colour) if isinstance(colour, (tuple, list, np.ndarray)) else ()
    if len(values) != 3 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 255 for v in values
    ):
        raise SettingError(
            setting, "three integers 0..255, e.g. (0, 255, 0)", repr(colour), "use (0, 255, 0) for chroma-key green"
        )
    return tuple(int(v) for v in values)
