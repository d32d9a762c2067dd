"""Generic ways ``tools/fuzz.py`` breaks valid inputs: bytes, JSON documents, whitespace tokens.

Each is a hypothesis strategy over edits of one valid seed, so a failure shrinks to the few
edits that matter (positions wrap, so every edit lands however short the seed has become).
"""

from __future__ import annotations

import copy
import json
import struct
import zlib

import numpy as np
from hypothesis import strategies as st

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


def dumps_json(doc) -> str:
    return json.dumps(doc, allow_nan=True)  # Python's reader takes NaN/Infinity: a hostile file may hold them


def check_finite(name: str, *arrays) -> None:
    for array in arrays:
        if array is not None and not np.all(np.isfinite(np.asarray(array, dtype=np.float64))):
            raise AssertionError(f"{name}: the loader returned non-finite values")


def png_with_fixed_crcs(data: bytes) -> bytes:
    """Recompute every chunk's CRC, so an edit inside a chunk reaches the decoder instead of
    stopping at libpng's checksum test (chunks whose length field was broken are left as they are)."""
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
