"""Reading and writing the app's files: character sheets, UDP maps, videos.

OpenCV only decodes EXR when ``OPENCV_IO_ENABLE_OPENEXR`` is set before its
first EXR call (it caches the answer), so it is set here, before any module of
this package touches cv2. An explicit value from the user (e.g. "0" for
hardening) is respected; the EXR loader's error then says how to turn it on.
"""

import os

os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")

from avatar_app.io.sheet import SHEET_SUFFIXES, load_sheet  # noqa: E402
from avatar_app.io.udp import UDP_SUFFIXES, fit_udp, load_udp, save_udp  # noqa: E402
from avatar_app.io.udp_sequence import UdpSequence, iter_udp_sequence, list_udp_files  # noqa: E402
from avatar_app.io.video import (  # noqa: E402
    AviWriter,
    FrameWriter,
    Mp4Writer,
    OutputFileError,
    PngSequenceWriter,
    open_writer,
    read_video_frames,
)

__all__ = [
    "SHEET_SUFFIXES",
    "UDP_SUFFIXES",
    "AviWriter",
    "FrameWriter",
    "Mp4Writer",
    "OutputFileError",
    "PngSequenceWriter",
    "UdpSequence",
    "fit_udp",
    "iter_udp_sequence",
    "list_udp_files",
    "load_sheet",
    "load_udp",
    "open_writer",
    "read_video_frames",
    "save_udp",
]
