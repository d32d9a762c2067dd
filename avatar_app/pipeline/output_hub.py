"""How frames leave the pipeline in the GUI: the preview slot, the pipeline's tap and the outputs.

* `PreviewSink` is the pipeline's only sink: it puts each frame in a latest-value slot
  for the preview and hands it to the `OutputHub`.
* `OutputHub` forwards frames to the outputs switched on (virtual camera, recording,
  browser source). It outlives a pipeline, so changing the source keeps the virtual
  camera open; an output that fails is switched off with its error, never the pipeline.
* `PreviewTap` is the pipeline's ``tap``: the newest camera picture (with landmarks) and
  UDP map, for the insets.

The UI timer reads the slots; nothing here touches Qt.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from avatar_app.core.frames import RgbaFrame
from avatar_app.core.slots import LatestSlot
from avatar_app.outputs.base import FrameSink

log = logging.getLogger(__name__)

OUTPUT_KINDS = ("virtual_camera", "record", "browser")


@dataclass(frozen=True)
class OutputRequest:
    virtual_camera: bool = False
    virtual_camera_backend: str | None = None  # None: the first pyvirtualcam backend that works
    record_path: Path | None = None  # a new path per recording
    browser_port: int | None = None  # None: off; 0 picks a free port
    background_rgb: tuple[int, int, int] = (0, 255, 0)


@dataclass(frozen=True)
class OutputState:
    state: str = "off"  # off | waiting (asked for, pipeline not running) | on | failed
    detail: str = ""  # the device, file or URL while on; the saved file after a recording
    error: str = ""  # the error, with its fix, when failed


class PreviewTap:
    """The pipeline's tap: keeps the newest camera picture (with landmarks), expression and UDP map."""

    def __init__(self):
        self.camera: LatestSlot = LatestSlot()  # (rgb, landmarks or None)
        self.udp: LatestSlot = LatestSlot()  # UdpMap
        self.expression: LatestSlot = LatestSlot()  # rig.expressions.Expression

    def __call__(self, stage: str, frame) -> None:
        if stage == "pose" and frame.expression is not None:
            self.expression.put(frame.expression)
        if stage == "pose" and frame.image is not None:
            self.camera.put((frame.image, frame.landmarks))
        elif stage == "raster" and frame.udp is not None:
            self.udp.put(frame.udp)


class OutputHub:
    """Hands every frame to the preview slot and to the outputs switched on.

    ``deliver`` runs on the pipeline's send thread; ``attach``/``detach`` on the session
    worker. The lock makes a detached sink's last ``send`` finish before anyone closes it.
    """

    def __init__(self, on_failure=None):
        self.latest: LatestSlot[RgbaFrame] = LatestSlot()
        self._lock = threading.Lock()
        self._sinks: dict[str, FrameSink] = {}
        self._failed: dict[str, tuple[FrameSink, str]] = {}
        self._on_failure = on_failure

    def deliver(self, frame: RgbaFrame) -> None:
        self.latest.put(frame)
        failed = False
        with self._lock:
            for kind, sink in list(self._sinks.items()):
                try:
                    sink.send(frame)
                except Exception as exc:  # one broken output must not stop the avatar
                    log.warning("output %s failed, switching it off: %s", sink.name, exc)
                    del self._sinks[kind]
                    self._failed[kind] = (sink, _describe(exc))
                    failed = True
        if failed and self._on_failure is not None:
            self._on_failure()

    def attach(self, kind: str, sink: FrameSink) -> None:
        with self._lock:
            self._sinks[kind] = sink

    def detach(self, kind: str) -> FrameSink | None:
        with self._lock:
            return self._sinks.pop(kind, None)

    def take_failures(self) -> dict[str, tuple[FrameSink, str]]:
        with self._lock:
            failed, self._failed = self._failed, {}
        return failed


class PreviewSink(FrameSink):
    """The pipeline's only sink in the GUI: the newest frame for the preview, every frame to the outputs.

    Closing it leaves the outputs open: they belong to the session, not to one pipeline.
    """

    def __init__(self, hub: OutputHub):
        super().__init__(name="preview")
        self.hub = hub

    def _send(self, frame: RgbaFrame) -> None:
        self.hub.deliver(frame)

    def _close(self) -> None:
        pass


def _describe(exc: BaseException) -> str:
    """Our own errors read as they are (they name the file, the expected, the found and the fix)."""
    from avatar_app.core.errors import AvatarAppError

    return str(exc) if isinstance(exc, AvatarAppError) else f"{type(exc).__name__}: {exc}"


def open_output(kind: str, request: OutputRequest, size: int, fps: float) -> tuple[FrameSink, str]:
    """The output ``kind`` as ``request`` describes it, opened by the one sink factory; (sink, what to show)."""
    from avatar_app.pipeline.specs import SinkSpec, open_sink

    spec = {
        "virtual_camera": SinkSpec("virtualcam", backend=request.virtual_camera_backend),
        "record": SinkSpec("file", path=request.record_path),
        "browser": SinkSpec("browser", port=request.browser_port),
    }[kind]
    sink = open_sink(spec, size=size, fps=fps, background_rgb=request.background_rgb)
    if kind == "virtual_camera":
        return sink, f"{sink.device} ({sink.backend})"
    return sink, str(request.record_path) if kind == "record" else sink.url
