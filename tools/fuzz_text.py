"""Text formats and messages for ``tools/fuzz.py``: BVH and its expression CSV, character.json,
settings.toml, VMC's OSC packets.

Each is broken at its own level: the BVH token by token, CSV and TOML built from their parts
(with the keys the app knows, so the values reach the checks behind the parser), character.json
by replacing or deleting any node of a valid document, OSC packets from VMC's addresses with
arguments of every OSC type (then also byte-mutated, and raw bytes).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

from fuzz_mutations import check_finite, dumps_json, mutated_bytes
from hypothesis import strategies as st

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


def bvh_case(text: str, workdir: Path, resources: dict) -> None:
    from avatar_app.rig.bvh import load_bvh

    path = workdir / "clip.bvh"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    motion = load_bvh(path)
    check_finite("clip.bvh", motion.rotations, motion.translations)
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


def expressions_case(text: str, workdir: Path, resources: dict) -> None:
    from avatar_app.rig.expression_track import load_expression_track

    path = workdir / "clip.expressions.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    curve = load_expression_track(path, loop_s=2.0)
    check_finite(path.name, curve.times, curve.values)
    for t in (-1.0, 0.0, 0.7, 5.0):
        check_finite(path.name, curve.at(t).values)


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


def character_case(doc, workdir: Path, resources: dict) -> None:
    from avatar_app.io.character_folder import open_character_folder

    root = workdir / "CHAR"
    (root / "sheet").mkdir(parents=True, exist_ok=True)
    (root / "avatar.glb").touch()
    (root / "character.json").write_text(dumps_json(doc), encoding="utf-8")
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


def settings_case(text: str, workdir: Path, resources: dict) -> None:
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


def vmc_resources() -> dict:
    from avatar_app.tracking.vmc import VmcReceiver

    return {"vmc": VmcReceiver(port=0)}


def vmc_case(packet: bytes, workdir: Path, resources: dict) -> None:
    receiver = resources["vmc"]
    receiver._server.dispatcher.call_handlers_for_packet(packet, ("127.0.0.1", 9))  # what its server thread does
    state = receiver.snapshot()
    for name, bone in [*state.bones.items(), ("root", state.root)]:
        if bone is not None:
            check_finite(f"VMC bone {name}", bone.position, bone.rotation)
    check_finite("VMC root scale/offset", state.root_scale, state.root_offset, list(state.blendshapes.values()))
    assert state.sender_time is None or math.isfinite(state.sender_time)


# --------------------------------------------------------------------------- control API messages (websocket text)

CONTROL_SEEDS = [
    {"type": "set_expression", "name": "joy", "value": 0.5, "seconds": 2, "id": 1},
    {"type": "clear_expression", "name": "joy"},
    {"type": "hotkey", "key": "F1", "state": "down", "id": "a"},
    {"type": "set_character", "path": "/no/such/character"},
    {"type": "status"},
]


def control_messages() -> st.SearchStrategy:
    from fuzz_mutations import dumps_json, mutated_json

    mutated = st.sampled_from(CONTROL_SEEDS).flatmap(mutated_json).map(dumps_json)
    return st.one_of(mutated, st.text(max_size=80), st.binary(max_size=80))


def control_case(message, workdir: Path, resources: dict) -> None:
    """Every message gets one JSON reply, ``ok`` or an ``error`` naming what was expected; nothing raises."""
    import json

    from avatar_app.pipeline.control_api import ControlHandler
    from avatar_app.pipeline.defaults import open_character_arg
    from avatar_app.pipeline.expression_control import ExpressionOverrides
    from avatar_app.pipeline.hotkeys import Hotkey, HotkeyActions

    overrides = ExpressionOverrides()
    hotkeys = HotkeyActions(overrides, [Hotkey("F1", "joy", "hold")])
    handler = ControlHandler(overrides, hotkeys, switch_character=lambda path: open_character_arg(path).describe())
    reply = handler.handle(message)
    json.dumps(reply, allow_nan=False)  # what the server sends: strict JSON
    assert reply["type"] in ("ok", "error"), reply
    if reply["type"] == "error":
        assert reply["error"] and reply["expected"], reply
    for value in overrides.active().values():
        assert 0.0 <= value <= 1.0, overrides.active()
