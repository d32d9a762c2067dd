"""One glTF/GLB/VRM file's buffers and accessors as numpy arrays, and the sRGB transfer functions.

What ``gltf_read`` builds a character from: every accessor (sparse, normalised, strided)
comes back as a float or integer array, every failure as a :class:`RigFileError` naming
the file.
"""

from __future__ import annotations

import base64
import struct
import urllib.parse
from pathlib import Path

import numpy as np

from avatar_app.rig.errors import RigFileError

_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, None)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


class GltfFile:
    """Accessor and buffer reading for one loaded file."""

    def __init__(self, path: Path):
        import pygltflib  # noqa: PLC0415 - keep import of the package light

        self.path = path
        self.source = str(path)
        try:
            with open(path, "rb") as f:
                magic = f.read(4)
            self.gltf = (
                pygltflib.GLTF2().load_binary(str(path)) if magic == b"glTF" else pygltflib.GLTF2().load_json(str(path))
            )
        except (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError, struct.error) as exc:
            # pygltflib checks little: any JSON that is not a glTF object fails somewhere inside it (tools/fuzz.py)
            raise RigFileError(
                path,
                "a glTF 2.0 file (.glb, .gltf or .vrm)",
                f"an unreadable file ({type(exc).__name__}: {exc})",
                "re-export it as glTF 2.0 binary (.glb)",
            ) from exc
        if self.gltf is None:
            raise RigFileError(
                path,
                "a glTF 2.0 file (.glb, .gltf or .vrm)",
                "an unreadable file",
                "re-export it as glTF 2.0 binary (.glb)",
            )
        self._buffers: dict[int, bytes] = {}

    def buffer(self, index: int) -> bytes:
        if index not in self._buffers:
            buf = self.gltf.buffers[index]
            if buf.uri is None:
                data = self.gltf.binary_blob()
            elif buf.uri.startswith("data:"):
                data = base64.b64decode(buf.uri.split(",", 1)[1])
            else:
                target = self.path.parent / urllib.parse.unquote(buf.uri)
                if not target.is_file():
                    raise RigFileError(
                        self.path,
                        f"its buffer file {target.name}",
                        "no such file",
                        "keep the .bin next to the .gltf or export a .glb",
                    )
                data = target.read_bytes()
            if data is None or len(data) < (buf.byteLength or 0):
                raise RigFileError(
                    self.path,
                    f"buffer {index} of {buf.byteLength} bytes",
                    f"{0 if data is None else len(data)} bytes",
                    "the file is truncated; re-export it",
                )
            self._buffers[index] = data
        return self._buffers[index]

    def accessor(self, index: int) -> np.ndarray:
        acc = self.gltf.accessors[index]
        dtype = np.dtype(_DTYPES[acc.componentType])
        width = _WIDTH[acc.type]
        if acc.bufferView is None:
            out = np.zeros((acc.count, width), dtype=dtype)
        else:
            view = self.gltf.bufferViews[acc.bufferView]
            data = self.buffer(view.buffer)
            start = (view.byteOffset or 0) + (acc.byteOffset or 0)
            stride = view.byteStride or dtype.itemsize * width
            needed = start + stride * (acc.count - 1) + dtype.itemsize * width if acc.count else start
            if needed > len(data):
                raise RigFileError(
                    self.path,
                    f"accessor {index} inside its buffer",
                    f"it ends at byte {needed} of {len(data)}",
                    "the file is truncated; re-export it",
                )
            out = np.ndarray(
                (acc.count, width), dtype=dtype, buffer=data, offset=start, strides=(stride, dtype.itemsize)
            ).copy()
        if acc.sparse is not None and acc.sparse.count:
            sp = acc.sparse
            idx_view = self.gltf.bufferViews[sp.indices.bufferView]
            idx = np.frombuffer(
                self.buffer(idx_view.buffer),
                dtype=_DTYPES[sp.indices.componentType],
                count=sp.count,
                offset=(idx_view.byteOffset or 0) + (sp.indices.byteOffset or 0),
            )
            val_view = self.gltf.bufferViews[sp.values.bufferView]
            vals = np.frombuffer(
                self.buffer(val_view.buffer),
                dtype=dtype,
                count=sp.count * width,
                offset=(val_view.byteOffset or 0) + (sp.values.byteOffset or 0),
            )
            out[idx.astype(np.int64)] = vals.reshape(-1, width)
        if acc.normalized and dtype.kind in "iu":
            info = np.iinfo(dtype)
            out = np.maximum(out.astype(np.float64) / info.max, -1.0)
        return out
