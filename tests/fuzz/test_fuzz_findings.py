"""What ``tools/fuzz.py`` found, one test each: before the fix every one of these crashed (or kept NaN).

Each test is the shrunk case the fuzzer printed (or its sibling found while fixing it), so it
fails again if the fix goes.
"""

from __future__ import annotations

import io
import json
import math
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from avatar_app.core.errors import UdpFileError
from avatar_app.core.settings_file import dumps, load_settings
from avatar_app.io.character_folder import CharacterFolderError, open_character_folder
from avatar_app.io.udp import load_udp, npz_frame_count
from avatar_app.rig import load_gltf
from avatar_app.rig.bvh import load_bvh
from avatar_app.rig.errors import MotionFileError, RigFileError

from bvh_clip import HIERARCHY, bvh_frame

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rig"))  # gltf_fixtures: the rig tests' figure

# --------------------------------------------------------------------------- character.json


def _character(tmp_path: Path, **fields) -> Path:
    root = tmp_path / "CHAR"
    (root / "sheet").mkdir(parents=True)
    (root / "avatar.glb").touch()
    info = {"schema": 1, "name": "c", "framing": {"name": "full", "cut": None}, "views": [], **fields}
    (root / "character.json").write_text(json.dumps(info))
    return root


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"framing": None}, None),  # was AttributeError: 'NoneType' object has no attribute 'get'
        ({"views": None}, None),  # was TypeError in .views
        ({"made_by": None}, None),  # was AttributeError in describe()
        ({"framing": []}, "framing as an object"),
        ({"framing": {"name": "full", "cut": "tall"}}, "framing.cut"),  # was ValueError in .cut
        ({"framing": {"name": "full", "cut": float("nan")}}, "framing.cut"),
        ({"views": [3]}, "views as a list of objects"),
        ({"proxy": []}, "proxy as an object"),
    ],
)
def test_character_json_fields_of_the_wrong_type_are_refused_or_read_as_absent(tmp_path, fields, expected):
    root = _character(tmp_path, **fields)
    if expected is None:
        folder = open_character_folder(root)
        assert folder.framing == "full" and folder.views == [] and "c:" in folder.describe()
        return
    with pytest.raises(CharacterFolderError, match=expected) as err:
        open_character_folder(root)
    assert "character.json" in err.value.source and "avatar-app fit" in err.value.fix


# --------------------------------------------------------------------------- glTF / VRM


@pytest.fixture
def gltf_doc() -> dict:
    from gltf_fixtures import gltf_json

    return gltf_json()


def _write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "avatar.gltf"
    path.write_text(json.dumps(doc))
    return path


def test_a_gltf_that_is_a_json_list_is_refused(tmp_path):
    with pytest.raises(RigFileError, match="unreadable file"):  # was AttributeError inside pygltflib
        load_gltf(_write(tmp_path, []))


def test_a_node_translation_of_two_numbers_is_refused(tmp_path, gltf_doc):
    gltf_doc["nodes"][1]["translation"] = [1.0, 0.0]  # was ValueError: could not broadcast (2,) into (3,)
    with pytest.raises(RigFileError, match="inconsistent file") as err:
        load_gltf(_write(tmp_path, gltf_doc))
    assert "avatar.gltf" in err.value.source and "re-export" in err.value.fix


def test_a_child_index_past_the_nodes_is_refused(tmp_path, gltf_doc):
    gltf_doc["nodes"][2]["children"] = [99]  # was IndexError
    with pytest.raises(RigFileError, match="inconsistent file"):
        load_gltf(_write(tmp_path, gltf_doc))


def test_a_nan_node_translation_is_refused_not_loaded(tmp_path, gltf_doc):
    gltf_doc["nodes"][2]["translation"] = [0.0, float("nan"), 0.0]  # was a character with NaN joints
    with pytest.raises(RigFileError, match="NaN or infinite transform values"):  # was LinAlgError from the SVD
        load_gltf(_write(tmp_path, gltf_doc))


# --------------------------------------------------------------------------- BVH


def _bvh(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clip.bvh"
    path.write_text(text)
    return path


def _clip(frame_time: str = "0.0333", frames: tuple[str, ...] = ()) -> str:
    rows = frames or (bvh_frame(), bvh_frame())
    return HIERARCHY + f"MOTION\nFrames: {len(rows)}\nFrame Time: {frame_time}\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize(
    "text, match",
    [
        (_clip().replace("OFFSET 0 10 0", "OFFSET 0 1e999 0", 1), "finite number for OFFSET y"),
        (_clip().replace("OFFSET 0 10 0", "OFFSET 0 nan 0", 1), "finite number for OFFSET y"),
        (_clip(frames=(bvh_frame(), bvh_frame(hips=(0.0, math.inf, 0.0)))), "finite numbers in frame lines"),
        (_clip(frame_time="inf"), "positive frame time"),
        (_clip().replace("CHANNELS 3", "CHANNELS \u00b2", 1), "a channel count"),  # '²'.isdigit() was True
    ],
    ids=["inf-offset", "nan-offset", "inf-frame", "inf-frame-time", "superscript-count"],
)
def test_bvh_numbers_that_are_not_finite_are_refused(tmp_path, text, match):
    with pytest.raises(MotionFileError, match=match) as err:
        load_bvh(_bvh(tmp_path, text))
    assert "clip.bvh" in err.value.source


def test_a_bvh_nested_deeper_than_python_recurses_is_refused(tmp_path):
    depth = 3000  # was RecursionError
    joints = "".join(f"JOINT j{i}\n{{\nOFFSET 0 1 0\n" for i in range(depth)) + "}\n" * depth
    text = "HIERARCHY\nROOT Hips\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n" + joints + "}\n"
    with pytest.raises(MotionFileError, match="joint hierarchy"):
        load_bvh(_bvh(tmp_path, text + "MOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0\n"))


# --------------------------------------------------------------------------- UDP .npz


def _npz_with_central_field(offset: int, value: int) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, i=np.zeros((2, 2, 4), np.float32))
    data = bytearray(buffer.getvalue())
    central = data.find(b"PK\x01\x02")
    data[central + offset : central + offset + 2] = struct.pack("<H", value)
    return bytes(data)


@pytest.mark.parametrize(
    "offset, value",
    [(6, 127), (8, 1), (10, 99)],
    ids=["zip-version-12.7", "encrypted", "compression-99"],  # NotImplementedError / RuntimeError before
)
def test_an_npz_that_zipfile_cannot_open_is_a_corrupt_udp_file(tmp_path, offset, value):
    path = tmp_path / "pose.npz"
    path.write_bytes(_npz_with_central_field(offset, value))
    with pytest.raises(UdpFileError, match="corrupt or truncated"):
        load_udp(path)
    with pytest.raises(UdpFileError, match="corrupt or truncated"):
        npz_frame_count(path)


def test_an_npz_header_promising_terabytes_is_refused_before_allocating(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**40,)})
    path = tmp_path / "pose.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("i.npy", header.getvalue())  # the shrunk case: 4 TiB declared, nothing stored
    with pytest.raises(UdpFileError, match="declares") as err:  # was MemoryError: Unable to allocate 4.00 TiB
        load_udp(path)
    assert "re-export" in err.value.fix


def test_an_npz_holding_pickled_objects_runs_nothing(tmp_path):
    from planted import plant_npz

    marker = tmp_path / "ran"
    with pytest.raises(UdpFileError, match="pickled Python objects"):
        load_udp(plant_npz(tmp_path / "pose.npz", marker))
    assert not marker.exists()


# --------------------------------------------------------------------------- settings.toml


def test_a_nan_setting_falls_back_to_the_default_and_the_file_writes_back(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[live]\nfps = nan\n[window]\nwidth = 900\n")
    settings, warnings = load_settings(path)  # was fps = nan, then ValueError when the window saved it
    assert settings.fps == 30.0 and settings.width == 900
    assert any("live.fps should be a finite number" in w for w in warnings)
    assert "fps = 30.0" in dumps(settings)


# --------------------------------------------------------------------------- VMC


@pytest.fixture
def vmc():
    from avatar_app.tracking.vmc import VmcReceiver

    with VmcReceiver(port=0) as receiver:
        yield receiver


def _packet(address: str, *args) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


@pytest.mark.parametrize(
    "address, args",
    [
        ("/VMC/Ext/Bone/Pos", ("Hips", 0.0, 1.0, 0.0, "Hips", 0.0, 0.0, 1.0)),  # was ValueError
        ("/VMC/Ext/Bone/Pos", ("Hips", 0.0, 1.0, 0.0, None, 0.0, 0.0, 1.0)),  # was TypeError
        ("/VMC/Ext/Bone/Pos", ("Hips", 0.0, float("nan"), 0.0, 0.0, 0.0, 0.0, 1.0)),  # was a NaN bone
        ("/VMC/Ext/Bone/Pos", ("Hips", 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)),  # zero quaternion: was NaN
        ("/VMC/Ext/Root/Pos", ("root", 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, b"x")),
        ("/VMC/Ext/Blend/Val", ("Joy", "high")),  # was ValueError
        ("/VMC/Ext/Blend/Val", ("Joy", float("inf"))),
    ],
)
def test_vmc_messages_with_bad_arguments_are_counted_and_ignored(vmc, address, args):
    handle = vmc._server.dispatcher.call_handlers_for_packet
    handle(_packet(address, *args), ("127.0.0.1", 9))
    handle(_packet("/VMC/Ext/Blend/Apply"), ("127.0.0.1", 9))
    state = vmc.snapshot()
    assert vmc.malformed == 1 and not state.bones and state.root is None and not state.blendshapes


def test_a_vmc_time_that_is_nan_is_ignored(vmc):
    vmc._server.dispatcher.call_handlers_for_packet(_packet("/VMC/Ext/T", float("nan")), ("127.0.0.1", 9))
    assert vmc.snapshot().sender_time is None


def test_a_packet_whose_address_is_not_utf8_is_counted_not_raised(vmc):
    packet = b"/\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x00\x00\x00\x80\x00\x00\x00"  # the shrunk case
    vmc._server.dispatcher.call_handlers_for_packet(packet, ("127.0.0.1", 9))  # was UnicodeDecodeError
    assert vmc.malformed == 1


def test_good_vmc_messages_still_arrive(vmc):
    handle = vmc._server.dispatcher.call_handlers_for_packet
    handle(_packet("/VMC/Ext/Bone/Pos", "Hips", 0.5, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0), ("127.0.0.1", 9))
    handle(_packet("/VMC/Ext/Blend/Val", "Joy", 1), ("127.0.0.1", 9))
    handle(_packet("/VMC/Ext/Blend/Apply"), ("127.0.0.1", 9))
    state = vmc.snapshot()
    assert vmc.malformed == 0 and state.blendshapes == {"Joy": 1.0}
    np.testing.assert_array_equal(state.bones["hips"].position, [-0.5, 1.0, 0.0])  # x mirrored (module doc)
