"""Webcams for the source picker: listing them (quickly) and a preview capture while not live."""

from __future__ import annotations

import glob
import logging
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from avatar_app.tracking.capture import CaptureSource

log = logging.getLogger(__name__)

PROBE_INDICES = range(10)


@dataclass(frozen=True)
class CameraDevice:
    camera: int | str  # what CaptureSource / the "webcam:" spec takes
    label: str


def _natural(path: str) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path))


def list_cameras(probe=None) -> list[CameraDevice]:
    """Linux: the /dev/video* nodes (named from sysfs). Elsewhere: indices 0..9 that OpenCV opens.

    ``probe(index) -> bool`` replaces the OpenCV probe (tests). Opening a camera can take a
    second on some systems: run this off the UI thread.
    """
    if sys.platform.startswith("linux") and probe is None:
        devices = []
        for node in sorted(glob.glob("/dev/video*"), key=_natural):
            name_file = Path("/sys/class/video4linux") / Path(node).name / "name"
            try:
                name = name_file.read_text().strip()
            except OSError:
                name = ""
            devices.append(CameraDevice(node, f"{name} ({node})" if name else node))
        return devices
    if probe is None:
        import cv2

        def probe(index: int) -> bool:
            cap = cv2.VideoCapture(index)
            try:
                return bool(cap.isOpened())
            finally:
                cap.release()

    return [CameraDevice(i, f"Camera {i}") for i in PROBE_INDICES if probe(i)]


class CameraPreview:
    """A capture of one camera for the picker's small preview while the pipeline does not use it.

    `latest` takes the newest frame (the UI timer calls it); `close` hands the join to a
    short-lived thread so the UI never waits on a driver. `join` waits for that at exit.
    """

    def __init__(self, camera: int | str, capture_factory=None):
        options = {} if capture_factory is None else {"capture_factory": capture_factory}
        self.camera = camera
        self.capture = CaptureSource(camera, width=320, height=240, **options)
        self.capture.start()
        self._closer: threading.Thread | None = None

    def latest(self):
        """The newest frame not shown yet (RGB), or None."""
        frame = self.capture.frames.take(0)
        return None if frame is None else frame.rgb

    @property
    def status(self) -> str:
        return self.capture.status

    def close(self) -> None:
        if self._closer is None:
            self._closer = threading.Thread(target=self.capture.close, name="gui-close-camera-preview", daemon=True)
            self._closer.start()

    def join(self, timeout: float = 5.0) -> None:
        self.close()
        self._closer.join(timeout)
