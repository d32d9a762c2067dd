"""Where rendered frames go: virtual camera, video/PNG files, OBS browser source.

Every sink is a ``FrameSink``: ``send(RgbaFrame)``, ``close()``, a context manager.
Heavy or optional libraries (pyvirtualcam, websockets) are imported only when the
sink that needs them is opened.
"""

from avatar_app.outputs.base import FrameMismatchError, FrameSink, SinkClosedError
from avatar_app.outputs.browser_source import BrowserSourceSink
from avatar_app.outputs.file import FileSink
from avatar_app.outputs.virtual_camera import VirtualCameraSink, virtual_camera_fix

__all__ = [
    "BrowserSourceSink",
    "FileSink",
    "FrameMismatchError",
    "FrameSink",
    "SinkClosedError",
    "VirtualCameraSink",
    "virtual_camera_fix",
]
