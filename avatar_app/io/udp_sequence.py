"""Sequences of UDP maps: a folder of per-frame files, or one .npz holding [N, H, W, 4].

The file list is checked when the sequence is opened (missing folder, no UDP files,
unknown extension, unreadable .npz headers), so a bad path fails before rendering
starts; each frame's pixels are decoded and validated only when it is reached.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from avatar_app.core.errors import SettingError, UdpFileError
from avatar_app.core.frames import UdpMap
from avatar_app.io._files import natural_sort_key
from avatar_app.io.udp import UDP_SUFFIXES, npz_frame_count, read_udp_frames

log = logging.getLogger(__name__)


class UdpSequence:
    """A sized, re-iterable sequence of UdpMaps; frame ``k`` gets timestamp ``k / fps`` seconds."""

    def __init__(self, paths: list[Path], fps: float = 30.0):
        if not fps > 0:
            raise SettingError("fps", "a positive frame rate", repr(fps), "use e.g. 30")
        self.paths = list(paths)
        self.fps = float(fps)
        self._counts = [npz_frame_count(p) if p.suffix.lower() == ".npz" else 1 for p in self.paths]

    def __len__(self) -> int:
        return sum(self._counts)

    def __iter__(self) -> Iterator[UdpMap]:
        index = 0
        for path in self.paths:
            for frame in read_udp_frames(path):
                yield UdpMap(frame, index / self.fps)
                index += 1


def list_udp_files(path_or_dir: str | Path) -> list[Path]:
    """The UDP files of a folder in natural order (frame_2 before frame_10), or ``[file]``."""
    path = Path(path_or_dir)
    if not path.exists():
        raise UdpFileError(path, "a UDP file or a folder of them", "no such file or folder", "check the path")
    if path.is_file():
        if path.suffix.lower() not in UDP_SUFFIXES:
            raise UdpFileError(
                path,
                "a .npz, .exr or 16-bit .png UDP file",
                f"the extension '{path.suffix or '(none)'}'",
                "export the pose as .npz, .exr or 16-bit .png",
            )
        return [path]
    entries = sorted((p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")), key=natural_sort_key)
    frames = [p for p in entries if p.suffix.lower() in UDP_SUFFIXES]
    skipped = [p.name for p in entries if p.suffix.lower() not in UDP_SUFFIXES]
    if skipped:
        log.info("%s: ignoring %d non-UDP file(s), e.g. %s", path, len(skipped), skipped[0])
    if not frames:
        found = (
            "an empty folder"
            if not entries
            else f"no .npz/.exr/.png files ({len(entries)} other file(s), e.g. {entries[0].name})"
        )
        raise UdpFileError(
            path,
            "a folder of UDP frames (.npz, .exr or 16-bit .png)",
            found,
            "export one UDP file per frame into this folder",
        )
    return frames


def iter_udp_sequence(path_or_dir: str | Path, fps: float = 30.0) -> UdpSequence:
    """Every UDP frame under ``path_or_dir`` (a file, an [N, H, W, 4] .npz, or a folder)."""
    return UdpSequence(list_udp_files(path_or_dir), fps=fps)
