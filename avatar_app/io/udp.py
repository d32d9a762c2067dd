"""UDP (ultra-dense pose) maps on disk: ``.npz``, ``.exr`` and 16-bit ``.png``.

A UDP map is float32 [H, W, 4]: x, y, z of the body's rest-pose surface in [0, 1]
and a visibility (alpha) in [0, 1]; the background is all zeros. On disk:

* ``.npz``: key ``"i"``, float [H, W, 4] in the order x, y, z, visibility -- the
  reference loader's layout (``np.load(f)["i"]``). [N, H, W, 4] under the same key is
  a sequence of N frames (see ``udp_sequence``); [1, H, W, 4] is one frame.
* ``.exr``: 4-channel float (R, G, B, A) = (x, y, z, visibility). OpenCV hands
  channels over as B, G, R, A, so they are swapped on the way in and out: x is R.
* ``.png``: 16-bit RGBA, R, G, B = round(xyz * 65535), A = round(visibility * 65535).
  8-bit PNGs are refused: 1/255 of the body height is ~7 mm on a 1.8 m body, far
  coarser than the network resolves, and a coordinate rounded that much is wrong in a
  way no later stage can see.

Loading checks dims, channels, NaN/inf and the [0, 1] range (values within
``VALUE_TOLERANCE`` of it, e.g. float16 EXR rounding, are clipped silently; beyond it is
an error, since a wrong coordinate convention would otherwise render garbage quietly).
xyz where visibility is 0 are set to 0 and logged at info: the network multiplies xyz
by the mask anyway (conformance README §3), so this only makes maps compare equal.
Fractional visibility is kept as stored; xyz are not divided or multiplied by it.
"""

from __future__ import annotations

import io
import logging
import math
import os
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np

from avatar_app.core.errors import UdpFileError
from avatar_app.core.frames import UdpMap, check_model_size
from avatar_app.io._files import channel_count, decode_image, describe_pixels, read_bytes

log = logging.getLogger(__name__)

UDP_SUFFIXES = (".npz", ".exr", ".png")
NPZ_KEY = "i"
VALUE_TOLERANCE = 1e-3
PNG_SCALE = 65535.0
CHANNEL_NAMES = ("x", "y", "z", "visibility")

# zipfile's answers to a member it cannot read: an unknown zip version or compression method
# (NotImplementedError) and an encrypted member (RuntimeError); found by tools/fuzz.py
_ZIP_UNSUPPORTED = (NotImplementedError, RuntimeError)
_EXPECTED = "a UDP map (.npz key 'i', 4-channel float .exr, or 16-bit RGBA .png)"
_RANGE_FIX = "store x, y, z normalised to [0, 1] (x' = x/H + 0.5, y' = y/H, z' = z/H + 0.5) and visibility as 0..1"


def load_udp(path: str | Path, timestamp: float = 0.0) -> UdpMap:
    """Load one UDP map, validated (see the module docstring for the formats)."""
    path = Path(path)
    frames = read_udp_frames(path)
    if frames.shape[0] != 1:
        raise UdpFileError(
            path,
            "one UDP map [H, W, 4]",
            f"a sequence of {frames.shape[0]} frames {list(frames.shape)}",
            "open it with iter_udp_sequence() (or `avatar-app render`), which plays every frame",
        )
    return UdpMap(frames[0], timestamp)


def read_udp_frames(path: str | Path) -> np.ndarray:
    """Every frame stored in one file, validated: float32 [N, H, W, 4]."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in UDP_SUFFIXES:
        raise UdpFileError(
            path,
            _EXPECTED,
            f"the extension '{path.suffix or '(none)'}'",
            "export the pose as .npz, .exr or 16-bit .png",
        )
    if suffix == ".npz":
        raw = _read_npz(path)
    else:
        data = read_bytes(path, UdpFileError, _EXPECTED)
        raw = _read_exr(path, data) if suffix == ".exr" else _read_png(path, data)
    return validate_udp_array(raw, path)


def save_udp(path: str | Path, udp: UdpMap | np.ndarray) -> Path:
    """Write a UDP map as ``.npz``, ``.exr`` or 16-bit ``.png`` (chosen by suffix).

    ``.npz`` also takes a [N, H, W, 4] array (a sequence). The data is validated
    first, so a file this writes always loads.
    """
    path = Path(path)
    array = udp.data if isinstance(udp, UdpMap) else np.asarray(udp)
    suffix = path.suffix.lower()
    if suffix not in UDP_SUFFIXES:
        raise UdpFileError(
            path,
            "a file name ending in .npz, .exr or .png",
            f"'{path.suffix or '(none)'}'",
            "pick one of those extensions",
        )
    frames = validate_udp_array(array, path)
    if suffix != ".npz" and frames.shape[0] != 1:
        raise UdpFileError(
            path, "one UDP map [H, W, 4]", f"{frames.shape[0]} frames", "save sequences as .npz, or one file per frame"
        )
    if suffix == ".npz":
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{NPZ_KEY: frames[0] if array.ndim == 3 else frames})
        encoded = buffer.getvalue()
    elif suffix == ".exr":
        encoded = _encode(path, ".exr", cv2.cvtColor(frames[0], cv2.COLOR_RGBA2BGRA))
    else:
        quantised = np.round(frames[0].astype(np.float64) * PNG_SCALE).astype(np.uint16)
        encoded = _encode(path, ".png", cv2.cvtColor(quantised, cv2.COLOR_RGBA2BGRA))
    try:
        path.write_bytes(encoded)
    except OSError as exc:
        raise UdpFileError(
            path,
            "a writable file",
            f"an error writing it ({exc.strerror or exc})",
            "check that the folder exists and is writable",
        ) from exc
    return path


def fit_udp(udp: UdpMap, size: int | tuple[int, int]) -> UdpMap:
    """Resize a UDP map to the model size (``size`` or (height, width)), keeping its aspect.

    Nearest-neighbour (``INTER_NEAREST_EXACT``, as the reference uses for UDP labels):
    blending would average the coordinates of a front arm and the torso behind it into a
    point on neither, and smear visibility into fractions. The map is scaled to fit and
    centred; the margin is background (zeros).
    """
    height, width = size if isinstance(size, tuple) else (size, size)
    height, width = check_model_size(height, "UDP height"), check_model_size(width, "UDP width")
    in_height, in_width = udp.size
    if (in_height, in_width) == (height, width):
        return udp
    scale = min(height / in_height, width / in_width)
    new_height = min(height, max(1, round(in_height * scale)))
    new_width = min(width, max(1, round(in_width * scale)))
    resized = cv2.resize(udp.data, (new_width, new_height), interpolation=cv2.INTER_NEAREST_EXACT)
    out = np.zeros((height, width, 4), dtype=np.float32)
    top, left = (height - new_height) // 2, (width - new_width) // 2
    out[top : top + new_height, left : left + new_width] = resized.reshape(new_height, new_width, 4)
    return UdpMap(out, udp.timestamp)


def validate_udp_array(array: np.ndarray, source: str | Path) -> np.ndarray:
    """Check and normalise raw UDP data to float32 [N, H, W, 4] (see module docstring)."""
    if not np.issubdtype(array.dtype, np.floating):
        raise UdpFileError(
            source,
            "float x, y, z, visibility in [0, 1]",
            f"{array.dtype} values",
            "convert to float32 in [0, 1] before saving",
        )
    if array.ndim not in (3, 4) or array.shape[-1] != 4 or 0 in array.shape:
        hint = " (xyz without visibility)" if array.ndim in (3, 4) and array.shape[-1] == 3 else ""
        raise UdpFileError(
            source,
            "shape [H, W, 4] (x, y, z, visibility) or [N, H, W, 4]",
            f"shape {list(array.shape)}{hint}",
            "add a visibility channel (1 on the body, 0 elsewhere) as the 4th channel"
            if hint
            else "store the map as [H, W, 4] float",
        )
    # a float32 copy as [N, H, W, 4]: the fixes below must not touch the caller's data
    frames = np.array(array if array.ndim == 4 else array[np.newaxis], dtype=np.float32)

    bad = ~np.isfinite(frames)
    if bad.any():
        raise UdpFileError(
            source,
            "finite values",
            f"{int(bad.sum())} NaN/inf value(s), first at {_where(bad, frames.shape[0])}",
            "re-export the pose; check the exporter for divisions by zero",
        )
    low, high = -VALUE_TOLERANCE, 1.0 + VALUE_TOLERANCE
    outside = (frames < low) | (frames > high)
    if outside.any():
        raise UdpFileError(
            source,
            "values in [0, 1]",
            f"{int(outside.sum())} value(s) outside it (min {frames.min():.4g}, max {frames.max():.4g}), "
            f"first at {_where(outside, frames.shape[0])}",
            _RANGE_FIX,
        )
    np.clip(frames, 0.0, 1.0, out=frames)

    hidden = frames[..., 3] == 0
    stray = hidden & frames[..., :3].any(axis=-1)
    if stray.any():
        log.info("%s: zeroing xyz at %d pixel(s) where visibility is 0", source, int(stray.sum()))
        frames[..., :3][hidden] = 0.0
    return frames


def npz_frame_count(path: Path) -> int:
    """Frames in an .npz UDP file, from the array header only (no decompression)."""
    if not path.is_file():
        raise UdpFileError(path, "an .npz UDP file", "no such file", "check the path")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if f"{NPZ_KEY}.npy" not in names:
                raise _missing_key(path, [n.removesuffix(".npy") for n in names])
            with archive.open(f"{NPZ_KEY}.npy") as member:
                shape, _ = _npy_header(member)
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, *_ZIP_UNSUPPORTED) as exc:
        raise _corrupt(path, exc) from exc
    return shape[0] if len(shape) == 4 else 1


def _read_npz(path: Path) -> np.ndarray:
    data = read_bytes(path, UdpFileError, _EXPECTED)
    if data.startswith(b"\x93NUMPY"):
        raise UdpFileError(path, "an .npz archive with key 'i'", "a bare .npy array", "save with np.savez(path, i=udp)")
    if not data.startswith(b"PK"):
        raise _corrupt(path, "not a zip archive")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if NPZ_KEY not in npz.files:
                raise _missing_key(path, npz.files)
            _check_declared_size(path, npz.zip)
            return npz[NPZ_KEY]
    except MemoryError as exc:  # an honest header over a huge (e.g. deflated zeros) member
        raise UdpFileError(
            path, "a UDP array that fits in memory", f"one too large to load ({exc})", "split it into shorter files"
        ) from exc
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise UdpFileError(
                path,
                "a numeric array under key 'i'",
                "pickled Python objects",
                "save a float32 array: np.savez(path, i=udp.astype('float32'))",
            ) from exc
        raise _corrupt(path, exc) from exc
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, *_ZIP_UNSUPPORTED) as exc:
        raise _corrupt(path, exc) from exc


def _npy_header(member) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(member)
    return shape, dtype


def _check_declared_size(path: Path, archive: zipfile.ZipFile) -> None:
    """The array header may not promise more bytes than the archive holds: numpy allocates what the
    header says before reading (a 200-byte file asking for 4 TiB was a MemoryError; tools/fuzz.py)."""
    info = archive.getinfo(f"{NPZ_KEY}.npy")
    with archive.open(info) as member:
        shape, dtype = _npy_header(member)
        held = info.file_size - member.tell()
    if dtype.hasobject:  # pickled objects: np.load refuses them with its own message (handled by the caller)
        return
    declared = math.prod(shape) * dtype.itemsize
    if declared > held:
        raise _corrupt(path, f"its array header declares {list(shape)} {dtype} ({declared:,} bytes) over {held:,}")


def _read_exr(path: Path, data: bytes) -> np.ndarray:
    if os.environ.get("OPENCV_IO_ENABLE_OPENEXR", "").lower() not in ("1", "true", "on", "yes"):
        raise UdpFileError(
            path,
            _EXPECTED,
            "EXR decoding disabled (OPENCV_IO_ENABLE_OPENEXR is not 1)",
            "set OPENCV_IO_ENABLE_OPENEXR=1, or convert the pose to .npz",
        )
    image = decode_image(data, path, UdpFileError, _EXPECTED, "re-export the pose as a 4-channel float EXR")
    _check_channels(image, path, "a 4-channel (RGBA) float EXR")
    return cv2.cvtColor(image.astype(np.float32, copy=False), cv2.COLOR_BGRA2RGBA)


def _read_png(path: Path, data: bytes) -> np.ndarray:
    image = decode_image(data, path, UdpFileError, _EXPECTED, "re-export the pose as a 16-bit RGBA PNG")
    if image.dtype == np.uint8:
        raise UdpFileError(
            path,
            "a 16-bit RGBA PNG (xyz * 65535, visibility * 65535)",
            f"{describe_pixels(image)}: 1/255 steps are too coarse for body coordinates",
            "export 16 bits per channel (or use .exr / .npz)",
        )
    if image.dtype != np.uint16:
        raise UdpFileError(path, "a 16-bit RGBA PNG", describe_pixels(image), "export 16 bits per channel")
    _check_channels(image, path, "a 16-bit RGBA PNG (x, y, z, visibility)")
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA).astype(np.float32) / np.float32(PNG_SCALE)


def _check_channels(image: np.ndarray, path: Path, expected: str) -> None:
    channels = channel_count(image)
    if channels != 4:
        fix = (
            "add the visibility as the alpha channel"
            if channels == 3
            else "export x, y, z and visibility as R, G, B, A"
        )
        raise UdpFileError(path, expected, describe_pixels(image), fix)


def _encode(path: Path, extension: str, image: np.ndarray) -> bytes:
    try:
        ok, encoded = cv2.imencode(extension, image)
    except cv2.error as exc:
        fix = (
            "set OPENCV_IO_ENABLE_OPENEXR=1 before starting the app, or save as .npz"
            if extension == ".exr"
            else "save as .npz"
        )
        raise UdpFileError(
            path, f"OpenCV to encode {extension}", f"an OpenCV error ({str(exc).strip().splitlines()[-1]})", fix
        ) from exc
    if not ok:
        raise UdpFileError(path, f"OpenCV to encode {extension}", "the encoder refused the data", "save as .npz")
    return encoded.tobytes()


def _where(mask: np.ndarray, frame_count: int) -> str:
    frame, row, col, channel = (int(v) for v in np.argwhere(mask)[0])
    prefix = f"frame {frame}, " if frame_count > 1 else ""
    return f"{prefix}row {row}, column {col}, channel {CHANNEL_NAMES[channel]}"


def _missing_key(path: Path, keys) -> UdpFileError:
    found = "keys " + ", ".join(repr(k) for k in keys) if keys else "no arrays at all"
    return UdpFileError(path, "an .npz with the UDP map under key 'i'", found, "save it with np.savez(path, i=udp)")


def _corrupt(path: Path, reason: Exception | str) -> UdpFileError:
    detail = reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
    return UdpFileError(
        path, "a readable .npz archive", f"a corrupt or truncated file ({detail})", "re-export the pose file"
    )
