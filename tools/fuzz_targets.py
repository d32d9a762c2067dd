"""What ``tools/fuzz.py`` feeds to each loader: the valid seeds, how they are broken, the checks.

Each :class:`Target` pairs one loader with a hypothesis strategy. Binary formats (this file) are
fuzzed by mutating a valid seed (``fuzz_mutations``: flipped, overwritten, inserted, deleted and
cut bytes, "interesting" 32-bit values where headers keep sizes; PNG chunks get their CRCs
recomputed half the time so edits reach the decoder) and by valid encodings of arbitrary pixel
arrays, so both the decoders' error paths and our checks after decoding are reached. Text
formats and messages are in ``fuzz_text``. ``run`` loads one case; a result must pass the
target's checks (shapes, finite numbers), an error must be the project's own (``tools/fuzz.py``
checks that).

The seeds come from code: the sheet and UDP files are drawn here, the glTF/VRM documents are
the rig tests' hand-made figure (``tests/rig/gltf_fixtures.py``), the BVH is
``tests/bvh_clip.py``'s clip.
"""

from __future__ import annotations

import copy
import io
import json
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

from fuzz_mutations import (  # noqa: E402
    check_finite,
    dumps_json,
    mutated_bytes,
    mutated_json,
    png_mutations,
    token_mutations,
)
from fuzz_text import (  # noqa: E402
    BVH_TOKENS,
    bvh_case,
    bvh_seed,
    character_case,
    character_seed,
    control_case,
    control_messages,
    expression_csvs,
    expressions_case,
    settings_case,
    settings_texts,
    vmc_case,
    vmc_packets,
    vmc_resources,
)

SIZE = 128  # the model size the sheet is prepared at (the smallest the app accepts)


@dataclass(frozen=True)
class Target:
    """One loader under fuzzing: ``run(case, workdir, resources)`` loads one generated case."""

    name: str
    loader: str  # what is called, for the report
    strategy: Callable[[], st.SearchStrategy]
    run: Callable[[object, Path, dict], None]
    resources: Callable[[], dict] = field(default=dict)  # made once per run (e.g. a VMC receiver)


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


def npz_with_header(shape: tuple, descr: str, data_bytes: int) -> bytes:
    """A stored .npz whose 'i' header declares ``shape`` and ``descr`` over ``data_bytes`` of zeros."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("i.npy", header.getvalue() + b"\0" * data_bytes)
    return buffer.getvalue()


def npz_headers() -> st.SearchStrategy[bytes]:
    """Headers that promise any shape, small or astronomical, over a few bytes: the reader must
    not believe them (allocate first, read after)."""
    side = st.sampled_from([0, 1, 2, 4, 7, 1000, 10**6, 2**31, 2**40]) | st.integers(0, 64)
    shape = st.lists(side, max_size=5).map(tuple)
    descr = st.sampled_from(["<f4", "<f8", "<f2", "|u1", "<i4", "|b1"])
    return st.builds(npz_with_header, shape, descr, st.integers(0, 4096))


def _read_udp(data: bytes, workdir: Path, name: str) -> None:
    from avatar_app.io.udp import npz_frame_count, read_udp_frames

    path = workdir / name
    path.write_bytes(data)
    frames = read_udp_frames(path)
    assert frames.dtype == np.float32 and frames.ndim == 4 and frames.shape[-1] == 4
    check_finite(name, frames)
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
    check_finite(name, skeleton.rest_translations, skeleton.rest_rotations, character.mesh.positions)


def _gltf_json_case(doc, workdir: Path, resources: dict) -> None:
    _load_gltf_file(dumps_json(doc).encode(), workdir, "avatar.vrm")


def _glb_case(data: bytes, workdir: Path, resources: dict) -> None:
    _load_gltf_file(data, workdir, "avatar.glb")


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
            mutated_bytes(udp_seed(".npz")),
            st.tuples(st.sampled_from(["i", "x", "i.npy"]), udp_arrays()),
            npz_headers(),
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
    Target("bvh", "rig.bvh.load_bvh", lambda: token_mutations(bvh_seed(), BVH_TOKENS, max_ops=3), bvh_case),
    Target("expressions_csv", "rig.expression_track.load_expression_track", expression_csvs, expressions_case),
    Target(
        "character_json",
        "io.character_folder.open_character_folder + its properties",
        lambda: mutated_json(character_seed()),
        character_case,
    ),
    Target("settings_toml", "core.settings_file.load_settings (+ write back)", settings_texts, settings_case),
    Target(
        "vmc_osc",
        "tracking.vmc.VmcReceiver (OSC packets, as its server thread gets them)",
        vmc_packets,
        vmc_case,
        resources=vmc_resources,
    ),
    Target(
        "control_message",
        "pipeline.control_api.ControlHandler.handle (websocket messages)",
        control_messages,
        control_case,
    ),
)
