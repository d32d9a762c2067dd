"""What ``tools/fuzz.py`` feeds to each loader: valid seed files, the ways they are broken, the checks.

Each :class:`Target` pairs one loader with a hypothesis strategy. Binary formats are fuzzed
by mutating a valid seed (flipped, overwritten, inserted, deleted and cut bytes; "interesting"
32-bit values where headers keep sizes) and by valid encodings of arbitrary pixel arrays, so
both the decoder's error paths and our checks after decoding are reached. Text formats are
mutated at their own level: JSON by replacing or deleting any node of a valid document, BVH
token by token, TOML and CSV built from their parts. ``run`` loads one case; a result must
pass the target's checks (finite numbers, a settings file that writes back), an error must be
the project's own (``tools/fuzz.py`` checks that).

The seeds come from code: the sheet and UDP files are drawn here, the glTF/VRM documents are
the rig tests' hand-made figure (``tests/rig/gltf_fixtures.py``) and the BVH is
``tests/bvh_clip.py``'s clip.
"""

from __future__ import annotations

import copy
import io
import json
import math
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "tests", REPO / "tests" / "rig"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

SIZE = 128  # the model size the sheet is prepared at (the smallest the app accepts)


@dataclass(frozen=True)
class Target:
    """One loader under fuzzing: ``run(case, workdir, resources)`` loads one generated case."""

    name: str
    loader: str  # what is called, for the report
    strategy: Callable[[], st.SearchStrategy]
    run: Callable[[object, Path, dict], None]
    notes: str = ""
    resources: Callable[[], dict] = field(default=dict)  # made once per run (e.g. a VMC receiver)


# --------------------------------------------------------------------------- generic mutations

INTERESTING_U32 = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x10000)


def _apply_byte_ops(data: bytes, ops) -> bytes:
    out = bytearray(data)
    for op in ops:
        kind, a, b = op
        n = len(out)
        if kind == "flip" and n:
            out[a % n] ^= b or 1
        elif kind == "set32" and n >= 4:
            i = a % (n - 3)
            out[i : i + 4] = struct.pack(">I" if b[1] else "<I", b[0])
        elif kind == "insert":
            i = a % (n + 1)
            out[i:i] = b
        elif kind == "delete" and n:
            i = a % n
            del out[i : i + b]
        elif kind == "cut":
            del out[a % (n + 1) :]
    return bytes(out)


def mutated_bytes(seed: bytes, max_ops: int = 6) -> st.SearchStrategy[bytes]:
    """``seed`` with up to ``max_ops`` byte edits (positions wrap, so every edit lands)."""
    index = st.integers(0, 1 << 30)
    op = st.one_of(
        st.tuples(st.just("flip"), index, st.integers(1, 255)),
        st.tuples(st.just("set32"), index, st.tuples(st.sampled_from(INTERESTING_U32), st.booleans())),
        st.tuples(st.just("insert"), index, st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("delete"), index, st.integers(1, 64)),
        st.tuples(st.just("cut"), index, st.none()),
    )
    return st.lists(op, min_size=1, max_size=max_ops).map(lambda ops: _apply_byte_ops(seed, ops))


def _json_paths(node, prefix=()) -> list[tuple]:
    paths = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            paths += _json_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            paths += _json_paths(v, (*prefix, i))
    return paths


_DELETE = object()

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -1, 2, 5, 7, 255, 2**31, 2**32, 2**63, -(2**63), 10**30]),
    st.integers(-1000, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["", "full", "bust", "lite", "1.0", "0.0", "data:,", "../x", "SCALAR", "MAT4", "VEC3"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)


def _apply_json_edits(doc, paths: list[tuple], edits):
    doc = copy.deepcopy(doc)
    for index, value in edits:
        path = paths[index % len(paths)]
        if not path:
            doc = {} if value is _DELETE else value
            continue
        parent = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            if value is _DELETE:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):  # an earlier edit removed or replaced this path
            continue
    return doc


def mutated_json(doc, max_edits: int = 4) -> st.SearchStrategy:
    """``doc`` with up to ``max_edits`` of its nodes (any depth) replaced by any JSON value or deleted."""
    paths = _json_paths(doc)
    edit = st.tuples(st.integers(0, len(paths) - 1), st.one_of(st.just(_DELETE), json_values))
    return st.lists(edit, min_size=1, max_size=max_edits).map(lambda edits: _apply_json_edits(doc, paths, edits))


def _dumps(doc) -> str:
    return json.dumps(doc, allow_nan=True)  # Python's reader takes NaN/Infinity: a hostile file may hold them


def _finite(name: str, *arrays) -> None:
    for array in arrays:
        if array is not None and not np.all(np.isfinite(np.asarray(array, dtype=np.float64))):
            raise AssertionError(f"{name}: the loader returned non-finite values")


# --------------------------------------------------------------------------- sheet (PNG / WebP)


@cache
def _sheet_rgba() -> np.ndarray:
    """A 40x48 drawing: an ellipse 'character' on a transparent background (straight RGBA)."""
    rgba = np.zeros((48, 40, 4), np.uint8)
    cv2.ellipse(rgba, (20, 24), (10, 18), 0, 0, 360, (200, 120, 60, 255), -1)
    cv2.ellipse(rgba, (20, 12), (6, 6), 0, 0, 360, (240, 200, 180, 255), -1)
    return rgba


@cache
def sheet_seed(ext: str) -> bytes:
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if ext == ".webp" else []  # 101: lossless WebP
    ok, data = cv2.imencode(ext, cv2.cvtColor(_sheet_rgba(), cv2.COLOR_RGBA2BGRA), params)
    assert ok
    return data.tobytes()


def png_with_fixed_crcs(data: bytes) -> bytes:
    """Recompute every chunk's CRC, so an edit inside a chunk reaches the decoder instead of
    stopping at libpng's checksum test (chunks whose length field was broken are left as they are)."""
    import zlib

    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    out, i = bytearray(data[:8]), 8
    while i + 12 <= len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        end = i + 12 + length
        if end > len(data):
            break
        body = data[i + 4 : i + 8 + length]
        out += data[i : i + 8 + length] + struct.pack(">I", zlib.crc32(body))
        i = end
    return bytes(out + data[i:])


def png_mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(mutated_bytes(seed), mutated_bytes(seed, max_ops=2).map(png_with_fixed_crcs))


def _load_sheet_file(data: bytes, workdir: Path, name: str) -> None:
    from avatar_app.io.sheet import load_sheet

    path = workdir / name
    path.write_bytes(data)
    sheet = load_sheet(path, size=SIZE)
    assert sheet.rgb_premultiplied.shape == (1, 3, SIZE, SIZE) and sheet.alpha.shape == (1, 1, SIZE, SIZE)
    assert bool((sheet.rgb_premultiplied <= sheet.alpha).all()), "premultiplied colour above alpha"


def sheet_pixel_arrays() -> st.SearchStrategy[np.ndarray]:
    """Any small image OpenCV writes as PNG: 8/16-bit, 1/3/4 channels, any pixels."""
    shapes = st.tuples(st.integers(1, 24), st.integers(1, 24), st.sampled_from([0, 1, 3, 4]))

    def array(shape, dtype):
        h, w, c = shape
        dims = (h, w) if c == 0 else (h, w, c)
        elements = st.sampled_from([0, 1, 128, 254, 255, 65535]) | st.integers(0, 65535)
        if dtype == np.uint8:
            elements = st.sampled_from([0, 1, 128, 254, 255]) | st.integers(0, 255)
        return hnp.arrays(dtype, dims, elements=elements)

    noise = st.tuples(shapes, st.sampled_from([np.uint8, np.uint16])).flatmap(lambda sd: array(*sd))
    return st.one_of(noise, drawings())


def drawings() -> st.SearchStrategy[np.ndarray]:
    """Transparent canvases of any size with a few rectangles of any colour and alpha: mostly
    loadable views, so the crop / pad / resize path sees odd shapes, slivers and single pixels."""

    def draw(height, width, boxes, depth):
        canvas = np.zeros((height, width, 4), np.uint16 if depth == 16 else np.uint8)
        top = 65535 if depth == 16 else 255
        for y, x, h, w, colour, alpha in boxes:
            y, x = y % height, x % width
            canvas[y : y + h, x : x + w] = [c * top // 255 for c in colour] + [alpha * top // 255]
        return canvas

    box = st.tuples(
        st.integers(0, 1 << 16),
        st.integers(0, 1 << 16),
        st.integers(1, 300),
        st.integers(1, 300),
        st.lists(st.integers(0, 255), min_size=3, max_size=3),
        st.sampled_from([1, 128, 255]) | st.integers(0, 255),
    )
    return st.builds(
        draw, st.integers(1, 300), st.integers(1, 300), st.lists(box, max_size=4), st.sampled_from([8, 16])
    )


def _load_sheet_pixels(pixels: np.ndarray, workdir: Path, resources: dict) -> None:
    ok, data = cv2.imencode(".png", pixels)
    assert ok
    _load_sheet_file(data.tobytes(), workdir, "view.png")


# --------------------------------------------------------------------------- UDP (.npz / .exr / .png)


@cache
def _udp_map() -> np.ndarray:
    udp = np.zeros((12, 10, 4), np.float32)
    yy, xx = np.mgrid[0:12, 0:10]
    body = (yy - 6) ** 2 / 25 + (xx - 5) ** 2 / 9 < 1
    udp[..., 0], udp[..., 1], udp[..., 2] = xx / 10, yy / 12, 0.5
    udp[..., 3] = body
    udp[~body, :3] = 0
    return udp


@cache
def udp_seed(ext: str) -> bytes:
    udp = _udp_map()
    if ext == ".npz":  # stored, not deflated: edits reach the .npy header and data, not a zlib stream
        buffer = io.BytesIO()
        np.savez(buffer, i=udp)
        return buffer.getvalue()
    if ext == ".exr":
        ok, data = cv2.imencode(".exr", cv2.cvtColor(udp, cv2.COLOR_RGBA2BGRA))
    else:
        ok, data = cv2.imencode(".png", cv2.cvtColor(np.round(udp * 65535).astype(np.uint16), cv2.COLOR_RGBA2BGRA))
    assert ok
    return data.tobytes()


def udp_arrays() -> st.SearchStrategy[np.ndarray]:
    """Arrays of any small shape and a few dtypes, values anywhere (NaN, inf, out of range)."""
    dtypes = st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.uint8, np.bool_])
    shapes = hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5) | st.sampled_from(
        [(4, 4, 4), (1, 4, 4, 4), (3, 4, 4, 4), (4, 4, 3), (4, 4, 5)]
    )
    return st.tuples(dtypes, shapes).flatmap(lambda ds: hnp.arrays(ds[0], ds[1]))


def _read_udp(data: bytes, workdir: Path, name: str) -> None:
    from avatar_app.io.udp import npz_frame_count, read_udp_frames

    path = workdir / name
    path.write_bytes(data)
    frames = read_udp_frames(path)
    assert frames.dtype == np.float32 and frames.ndim == 4 and frames.shape[-1] == 4
    _finite(name, frames)
    assert frames.min() >= 0.0 and frames.max() <= 1.0, "UDP values outside [0, 1] after loading"
    if name.endswith(".npz"):
        assert npz_frame_count(path) == frames.shape[0], "the header's frame count differs from the data's"


def _npz_case(case, workdir: Path, resources: dict) -> None:
    if isinstance(case, bytes):
        return _read_udp(case, workdir, "pose.npz")
    key, array = case
    buffer = io.BytesIO()
    np.savez(buffer, **{key: array})
    return _read_udp(buffer.getvalue(), workdir, "pose.npz")


def _image_udp_case(ext: str):
    def run(case, workdir: Path, resources: dict) -> None:
        if isinstance(case, bytes):
            return _read_udp(case, workdir, f"pose{ext}")
        array = case
        if ext == ".exr":
            array = array.astype(np.float32, copy=False)
        elif array.dtype not in (np.uint8, np.uint16):
            array = np.clip(np.nan_to_num(array), 0, 65535).astype(np.uint16)
        try:
            ok, data = cv2.imencode(ext, array)
        except cv2.error:
            return  # OpenCV cannot write this one: nothing to load
        if ok:
            _read_udp(data.tobytes(), workdir, f"pose{ext}")

    return run


def image_udp_arrays(ext: str) -> st.SearchStrategy[np.ndarray]:
    shapes = st.tuples(st.integers(1, 8), st.integers(1, 8)).flatmap(
        lambda hw: st.sampled_from([hw, (*hw, 1), (*hw, 3), (*hw, 4)])
    )
    if ext == ".exr":
        return shapes.flatmap(lambda s: hnp.arrays(np.float32, s, elements=st.floats(width=32)))
    return st.tuples(st.sampled_from([np.uint8, np.uint16]), shapes).flatmap(lambda ds: hnp.arrays(*ds))


# --------------------------------------------------------------------------- glTF / GLB / VRM


@cache
def gltf_seeds() -> tuple[dict, ...]:
    from gltf_fixtures import VRM0, VRM1, gltf_json

    return (gltf_json(), gltf_json(extensions=VRM1), gltf_json(extensions=VRM0))


def glb_bytes(doc: dict) -> bytes:
    """The .glb container of a glTF document whose one buffer is a data: URI (moved to the BIN chunk)."""
    import base64

    doc = copy.deepcopy(doc)
    blob = base64.b64decode(doc["buffers"][0].pop("uri").split(",", 1)[1])
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    blob += b"\0" * (-len(blob) % 4)
    chunks = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", len(blob), 0x004E4942) + blob
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def _load_gltf_file(data: bytes, workdir: Path, name: str) -> None:
    from avatar_app.rig import load_gltf

    path = workdir / name
    path.write_bytes(data)
    character = load_gltf(path)
    skeleton = character.skeleton
    _finite(name, skeleton.rest_translations, skeleton.rest_rotations, character.mesh.positions)


def _gltf_json_case(doc, workdir: Path, resources: dict) -> None:
    _load_gltf_file(_dumps(doc).encode(), workdir, "avatar.vrm")


def _glb_case(data: bytes, workdir: Path, resources: dict) -> None:
    _load_gltf_file(data, workdir, "avatar.glb")


# --------------------------------------------------------------------------- BVH and its expression track


@cache
def bvh_seed() -> str:
    from bvh_clip import HIERARCHY, bvh_frame

    frames = [bvh_frame(), bvh_frame(LeftArm=(80.0, 0.0, 0.0)), bvh_frame(LeftForeArm=(0.0, 0.0, 90.0))]
    return HIERARCHY + "MOTION\nFrames: 3\nFrame Time: 0.0333333\n" + "\n".join(frames) + "\n"


BVH_TOKENS = st.one_of(
    st.sampled_from(
        ["HIERARCHY", "ROOT", "JOINT", "End", "Site", "OFFSET", "CHANNELS", "{", "}", "MOTION", "Frames:", "Frame"]
        + ["Time:", "Xrotation", "Yrotation", "Zrotation", "Xposition", "Wrotation", "Hips", "0", "-1", "3", "6"]
        + ["1e999", "-1e999", "nan", "inf", "1e308", "99999999999", "0x10", "", "Frames:0", "\t"]
    ),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-5, 10**6).map(str),
    st.text(max_size=6),
)


def _apply_token_ops(lines: list[list[str]], ops) -> str:
    lines = [list(line) for line in lines]
    for kind, a, b, token in ops:
        if not lines:
            break
        line = lines[a % len(lines)]
        if kind == "replace" and line:
            line[b % len(line)] = token
        elif kind == "insert":
            line.insert(b % (len(line) + 1), token)
        elif kind == "delete" and line:
            del line[b % len(line)]
        elif kind == "drop_line":
            del lines[a % len(lines)]
        elif kind == "copy_line":
            lines.insert(b % (len(lines) + 1), list(line))
    return "\n".join(" ".join(line) for line in lines) + "\n"


def token_mutations(text: str, tokens: st.SearchStrategy[str], max_ops: int = 5) -> st.SearchStrategy[str]:
    lines = [line.split() for line in text.splitlines()]
    index = st.integers(0, 1 << 20)
    op = st.tuples(st.sampled_from(["replace", "insert", "delete", "drop_line", "copy_line"]), index, index, tokens)
    return st.lists(op, min_size=1, max_size=max_ops).map(lambda ops: _apply_token_ops(lines, ops))


def _bvh_case(text: str, workdir: Path, resources: dict) -> None:
    from avatar_app.rig.bvh import load_bvh

    path = workdir / "clip.bvh"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    motion = load_bvh(path)
    _finite("clip.bvh", motion.rotations, motion.translations)
    assert motion.frame_count >= 1 and math.isfinite(motion.frame_time) and motion.frame_time > 0


EXPRESSION_NAMES = st.sampled_from(["happy", "blink", "blinkLeft", "aa", "Joy", "A", "neutral", "", "time", "x y"])
CSV_CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "1", "0.5", "-1", "2", "nan", "inf", "", " ", "1e999", '"1,2"', "true"]),
    st.text(max_size=5),
)


def expression_csvs() -> st.SearchStrategy[str]:
    header = st.lists(EXPRESSION_NAMES | st.text(max_size=5), max_size=5).map(lambda names: ["time", *names])
    header = header | st.lists(CSV_CELLS, min_size=1, max_size=4)
    rows = st.lists(st.lists(CSV_CELLS, min_size=0, max_size=6), max_size=6)
    times = st.lists(st.floats(0, 100), min_size=1, max_size=6, unique=True).map(sorted)
    timed = st.tuples(times, st.lists(st.lists(CSV_CELLS, max_size=5), min_size=6, max_size=6)).map(
        lambda tc: [[repr(t), *cells] for t, cells in zip(tc[0], tc[1])]
    )
    return st.tuples(header, rows | timed).map(lambda hr: "\n".join(",".join(r) for r in [hr[0], *hr[1]]) + "\n")


def _expressions_case(text: str, workdir: Path, resources: dict) -> None:
    from avatar_app.rig.expression_track import load_expression_track

    path = workdir / "clip.expressions.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    curve = load_expression_track(path, loop_s=2.0)
    _finite(path.name, curve.times, curve.values)
    for t in (-1.0, 0.0, 0.7, 5.0):
        _finite(path.name, curve.at(t).values)


# --------------------------------------------------------------------------- character.json


@cache
def character_seed() -> dict:
    return {
        "schema": 1,
        "name": "Fuzz",
        "made_by": {"tool": "avatar-app fit", "version": "0", "date": "2026-01-01", "sources": ["a.png"]},
        "proxy": {"height": 1.6, "head": 1.0, "hair": {"style": "bob"}},
        "framing": {"name": "waist", "cut": 1.1},
        "sheet_udp_size": 256,
        "views": [{"file": "sheet/0_front.png", "framing": "waist", "camera": {"yaw": 0.0}, "pose": {}, "iou": 0.9}],
    }


def _character_case(doc, workdir: Path, resources: dict) -> None:
    from avatar_app.io.character_folder import open_character_folder

    root = workdir / "CHAR"
    (root / "sheet").mkdir(parents=True, exist_ok=True)
    (root / "avatar.glb").touch()
    (root / "character.json").write_text(_dumps(doc), encoding="utf-8")
    folder = open_character_folder(root)
    # what the app reads from it (window, render, stream, adapt): each must answer, not crash
    assert isinstance(folder.name, str) and isinstance(folder.framing, str) and isinstance(folder.describe(), str)
    cut = folder.cut
    assert cut is None or math.isfinite(cut)
    assert isinstance(folder.views, list) and all(isinstance(v, dict) for v in folder.views)
    assert folder.proxy is None or isinstance(folder.proxy, dict)


# --------------------------------------------------------------------------- settings.toml


def _toml_value() -> st.SearchStrategy[str]:
    scalars = st.one_of(
        st.integers(-(2**63), 2**63 - 1).map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.sampled_from(["nan", "inf", "-inf", "+nan", "true", "false", "1979-05-27", "07:32:00", "0x1F", "1_000"]),
        st.text(max_size=10).map(lambda s: json.dumps(s)),
        st.text(max_size=6).map(lambda s: f"'{s}'"),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3).map(lambda v: "[" + ", ".join(v) + "]")
            | st.lists(st.tuples(st.sampled_from(["a", "b", "fps"]), inner), max_size=2).map(
                lambda kv: "{" + ", ".join(f"{k} = {v}" for k, v in dict(kv).items()) + "}"
            )
        ),
        max_leaves=4,
    )


def settings_texts() -> st.SearchStrategy[str]:
    from avatar_app.core.settings_file import SECTIONS, AppSettings, dumps

    known = [(section, key) for section, keys in SECTIONS.items() for key in keys]
    pairs = st.sampled_from(known) | st.tuples(st.sampled_from([*SECTIONS, "extra"]), st.sampled_from(["x", "a b"]))

    def toml(entries) -> str:
        sections: dict[str, dict[str, str]] = {}
        for (section, key), value in entries:
            sections.setdefault(section, {})[key] = value
        return "".join(
            f"[{name}]\n" + "".join(f'"{k}" = {v}\n' for k, v in items.items()) for name, items in sections.items()
        )

    built = st.lists(st.tuples(pairs, _toml_value()), max_size=6).map(toml)
    seed = dumps(AppSettings()).encode()
    mutated = mutated_bytes(seed, max_ops=3).map(lambda b: b.decode("utf-8", errors="replace"))
    return st.one_of(built, mutated, st.text(max_size=60))


def _settings_case(text: str, workdir: Path, resources: dict) -> None:
    from avatar_app.core.settings_file import dumps, load_settings

    path = workdir / "settings.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    settings, _warnings = load_settings(path)
    # what the window does with it at exit: write it back; the file it writes must read back the same
    again = workdir / "again.toml"
    again.write_text(dumps(settings), encoding="utf-8")
    reread, warnings = load_settings(again)
    assert reread == settings and not warnings, f"settings do not round-trip: {warnings}"


# --------------------------------------------------------------------------- VMC (OSC over UDP)

VMC_ADDRESSES = [
    "/VMC/Ext/Bone/Pos",
    "/VMC/Ext/Root/Pos",
    "/VMC/Ext/Blend/Val",
    "/VMC/Ext/Blend/Apply",
    "/VMC/Ext/OK",
    "/VMC/Ext/T",
    "/VMC/Ext/Other",
]
OSC_ARGS = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.floats(width=32, allow_nan=True, allow_infinity=True),
    st.sampled_from(["Hips", "Head", "LeftUpperArm", "Spine", "Joy", "Blink_L", "A", "", "nan"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0"), max_size=6),
    st.booleans(),
    st.none(),
    st.binary(min_size=1, max_size=8),  # pythonosc cannot build an empty blob
)


def vmc_packets() -> st.SearchStrategy[bytes]:
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    def message(address, args):
        builder = OscMessageBuilder(address=address)
        for arg in args:
            builder.add_arg(arg)
        return builder.build()

    messages = st.builds(message, st.sampled_from(VMC_ADDRESSES), st.lists(OSC_ARGS, max_size=15))

    def bundle(items):
        builder = OscBundleBuilder(IMMEDIATELY)
        for item in items:
            builder.add_content(item)
        return builder.build().dgram

    valid = st.one_of(messages.map(lambda m: m.dgram), st.lists(messages, min_size=1, max_size=4).map(bundle))
    return st.one_of(valid, valid.flatmap(lambda d: mutated_bytes(d, max_ops=3)), st.binary(max_size=64))


def _vmc_resources() -> dict:
    from avatar_app.tracking.vmc import VmcReceiver

    return {"vmc": VmcReceiver(port=0)}


def _vmc_case(packet: bytes, workdir: Path, resources: dict) -> None:
    receiver = resources["vmc"]
    receiver._server.dispatcher.call_handlers_for_packet(packet, ("127.0.0.1", 9))  # what its server thread does
    state = receiver.snapshot()
    for name, bone in [*state.bones.items(), ("root", state.root)]:
        if bone is not None:
            _finite(f"VMC bone {name}", bone.position, bone.rotation)
    _finite("VMC root scale/offset", state.root_scale, state.root_offset, list(state.blendshapes.values()))
    assert state.sender_time is None or math.isfinite(state.sender_time)


# --------------------------------------------------------------------------- the list


def _bytes_or_array(seed: Callable[[], bytes], arrays: Callable[[], st.SearchStrategy]):
    return lambda: st.one_of(mutated_bytes(seed()), arrays())


TARGETS: tuple[Target, ...] = (
    Target(
        "sheet_png",
        "io.sheet.load_sheet (a .png view)",
        lambda: png_mutations(sheet_seed(".png")),
        lambda case, w, r: _load_sheet_file(case, w, "view.png"),
    ),
    Target(
        "sheet_webp",
        "io.sheet.load_sheet (a .webp view)",
        lambda: mutated_bytes(sheet_seed(".webp")),
        lambda case, w, r: _load_sheet_file(case, w, "view.webp"),
    ),
    Target("sheet_pixels", "io.sheet.load_sheet (any pixels, valid PNG)", sheet_pixel_arrays, _load_sheet_pixels),
    Target(
        "udp_npz",
        "io.udp.read_udp_frames + npz_frame_count (.npz)",
        lambda: st.one_of(
            mutated_bytes(udp_seed(".npz")), st.tuples(st.sampled_from(["i", "x", "i.npy"]), udp_arrays())
        ),
        _npz_case,
    ),
    Target(
        "udp_exr",
        "io.udp.read_udp_frames (.exr)",
        _bytes_or_array(lambda: udp_seed(".exr"), lambda: image_udp_arrays(".exr")),
        _image_udp_case(".exr"),
    ),
    Target(
        "udp_png",
        "io.udp.read_udp_frames (16-bit .png)",
        lambda: st.one_of(png_mutations(udp_seed(".png")), image_udp_arrays(".png")),
        _image_udp_case(".png"),
    ),
    Target(
        "gltf_json",
        "rig.load_gltf (.gltf/.vrm JSON: plain, VRM 1.0, VRM 0.x)",
        lambda: st.sampled_from(gltf_seeds()).flatmap(mutated_json),
        _gltf_json_case,
    ),
    Target(
        "glb",
        "rig.load_gltf (.glb bytes)",
        lambda: st.sampled_from([glb_bytes(d) for d in gltf_seeds()]).flatmap(mutated_bytes),
        _glb_case,
    ),
    Target("bvh", "rig.bvh.load_bvh", lambda: token_mutations(bvh_seed(), BVH_TOKENS, max_ops=3), _bvh_case),
    Target("expressions_csv", "rig.expression_track.load_expression_track", expression_csvs, _expressions_case),
    Target(
        "character_json",
        "io.character_folder.open_character_folder + its properties",
        lambda: mutated_json(character_seed()),
        _character_case,
    ),
    Target("settings_toml", "core.settings_file.load_settings (+ write back)", settings_texts, _settings_case),
    Target(
        "vmc_osc",
        "tracking.vmc.VmcReceiver (OSC packets, as its server thread gets them)",
        vmc_packets,
        _vmc_case,
        resources=_vmc_resources,
    ),
)


def npz_with_header(shape: tuple, member_bytes: int = 64) -> bytes:
    """A stored .npz whose 'i' header declares ``shape`` (float32) over only ``member_bytes`` of data."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("i.npy", header.getvalue() + b"\0" * member_bytes)
    return buffer.getvalue()
