"""Virtual camera output through pyvirtualcam (v4l2loopback, OBS Virtual Camera, Unity Capture).

Virtual cameras carry no alpha and the Linux v4l2loopback backend rejects RGBA, so
frames are composited over ``background_rgb`` (chroma-key green by default) and sent
as RGB. pyvirtualcam is imported lazily: a machine without it still starts, and the
error says how to install it. When no driver or device is there, the error keeps the
library's own message (it names the backend and the device) and adds the fix for
this operating system.
"""

from __future__ import annotations

import logging
import platform

from avatar_app.core.errors import DeviceError, SettingError
from avatar_app.core.frames import RgbaFrame
from avatar_app.outputs._pixels import OverBackground
from avatar_app.outputs.base import FrameSink, check_background_rgb, check_fps

log = logging.getLogger(__name__)

_BROWSER_ALTERNATIVE = (
    "Or use the browser-source output instead: OBS shows it as a Browser Source, with no driver and with transparency."
)


def virtual_camera_fix(system: str | None = None, device: str | None = None) -> str:
    """What to do when no virtual camera can be opened, for ``system`` (platform.system())."""
    system = system or platform.system()
    if system == "Linux":
        fix = (
            "install v4l2loopback (Debian/Ubuntu: sudo apt install v4l2loopback-dkms) and load it with "
            'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="avatar_app"'
        )
        if device:
            fix += (
                f"; check that {device} is a v4l2loopback device (v4l2-ctl --list-devices) "
                "and that no other program writes to it"
            )
    elif system == "Windows":
        fix = (
            "install OBS Studio 26 or newer and start its Virtual Camera once (Controls > Start Virtual Camera, "
            "then stop it), or install Unity Capture"
        )
    elif system == "Darwin":
        fix = (
            "install OBS Studio 26 or newer and start its Virtual Camera once so macOS installs the camera "
            "extension (approve it in System Settings > Privacy & Security if asked)"
        )
    else:
        fix = f"pyvirtualcam has no virtual camera backend for {system!r}"
    return f"{fix}. {_BROWSER_ALTERNATIVE}"


class VirtualCameraSink(FrameSink):
    """Sends frames to a virtual camera as RGB composited over ``background_rgb``.

    ``backend``/``device`` are passed to ``pyvirtualcam.Camera`` (None: first that works).
    """

    def __init__(
        self,
        width: int,
        height: int,
        fps: float = 30,
        background_rgb=(0, 255, 0),
        backend: str | None = None,
        device: str | None = None,
    ):
        super().__init__(width, height, name=f"virtual camera ({width}x{height})")
        self.fps = check_fps(fps)
        self.background_rgb = check_background_rgb(background_rgb)
        self._composite = OverBackground(height, width, self.background_rgb)
        self._camera = _open_camera(int(width), int(height), self.fps, backend, device)
        log.info("virtual camera open: %s via %s, %dx%d at %g fps", self.device, self.backend, width, height, self.fps)

    @property
    def device(self) -> str:
        """The device in use, as the backend names it (e.g. /dev/video2, OBS Virtual Camera)."""
        return self._camera.device

    @property
    def backend(self) -> str:
        return self._camera.backend

    def _send(self, frame: RgbaFrame) -> None:
        # The backend copies the frame into the device before returning, so one buffer serves every frame.
        self._camera.send(self._composite(frame))

    def _close(self) -> None:
        self._camera.close()
        log.info("virtual camera closed after %d frames", self.frames_sent)


def _open_camera(width: int, height: int, fps: float, backend: str | None, device: str | None):
    try:
        import pyvirtualcam
    except ImportError as exc:
        raise DeviceError(
            f"virtual camera: the pyvirtualcam package is not installed ({exc}). "
            "Fix: pip install pyvirtualcam (or pip install -e '.[live]'). " + _BROWSER_ALTERNATIVE
        ) from exc
    registered = sorted(getattr(getattr(pyvirtualcam, "camera", None), "BACKENDS", {}) or {})
    if backend is not None and registered and backend not in registered:
        raise SettingError(
            "virtual camera backend",
            f"one of {registered} or None (try each)",
            repr(backend),
            "leave the backend unset, or install the software that provides it",
        )
    try:
        return pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=device, backend=backend)
    except RuntimeError as exc:
        said = str(exc).strip() or "no virtual camera backend is available on this system"
        raise DeviceError(
            f"virtual camera ({width}x{height} at {fps:g} fps, backend={backend or 'any'}, device={device or 'any'}) "
            f"could not be opened.\npyvirtualcam says: {said}\nFix: {virtual_camera_fix(device=device)}"
        ) from exc
