"""VmcReceiver over real UDP loopback, fed by python-osc's own client."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient
from scipy.spatial.transform import Rotation

from avatar_app.core.errors import SettingError
from avatar_app.tracking.vmc import UNITY_TO_VRM, VmcReceiver, unity_position_to_ours, unity_rotation_to_ours


@pytest.fixture
def receiver():
    with VmcReceiver(port=0) as rx:
        yield rx


def client_for(rx):
    return SimpleUDPClient(rx.host, rx.port)


def wait_for_messages(rx, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = rx.snapshot()
        if state.messages >= count:
            return state
        time.sleep(0.005)
    raise AssertionError(f"received {rx.snapshot().messages} of {count} VMC messages")


def unity_quat(axis, degrees):
    # The quaternion <-> matrix algebra is the same in Unity; only the handedness of the frame differs.
    return Rotation.from_euler(axis, degrees, degrees=True).as_quat()


def test_bone_rotation_is_converted_so_directions_mirror_consistently(receiver):
    # In Unity this rotation turns +x (the character's right) into +y (up): "right arm raised".
    q_unity = unity_quat("z", 90)
    np.testing.assert_allclose(Rotation.from_quat(q_unity).apply([1, 0, 0]), [0, 1, 0], atol=1e-12)
    client_for(receiver).send_message("/VMC/Ext/Bone/Pos", ["RightUpperArm", 0.1, 0.2, 0.3, *map(float, q_unity)])
    state = wait_for_messages(receiver, 1)
    bone = state.bones["rightUpperArm"]
    np.testing.assert_allclose(bone.position, [-0.1, 0.2, 0.3], atol=1e-6)
    # Ours: the character's right is -x, so the same physical motion turns -x into +y.
    np.testing.assert_allclose(Rotation.from_quat(bone.rotation).apply([-1, 0, 0]), [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(bone.rotation, [q_unity[0], -q_unity[1], -q_unity[2], q_unity[3]], atol=1e-6)


def test_conversion_of_an_arbitrary_rotation_is_the_x_mirror_conjugate():
    mirror = np.diag([-1.0, 1.0, 1.0])
    for q in Rotation.random(20, random_state=3).as_quat():
        ours = Rotation.from_quat(unity_rotation_to_ours(q)).as_matrix()
        np.testing.assert_allclose(ours, mirror @ Rotation.from_quat(q).as_matrix() @ mirror, atol=1e-12)
    np.testing.assert_allclose(unity_position_to_ours([1, 2, 3]), [-1, 2, 3])


def test_blendshapes_apply_only_on_apply_and_persist(receiver):
    client = client_for(receiver)
    client.send_message("/VMC/Ext/Blend/Val", ["Blink", 0.8])
    client.send_message("/VMC/Ext/Blend/Val", ["A", 0.5])
    state = wait_for_messages(receiver, 2)
    assert dict(state.blendshapes) == {}
    client.send_message("/VMC/Ext/Blend/Apply", [])
    state = wait_for_messages(receiver, 3)
    assert dict(state.blendshapes) == pytest.approx({"Blink": 0.8, "A": 0.5})
    client.send_message("/VMC/Ext/Blend/Val", ["A", 0.1])
    state = wait_for_messages(receiver, 4)
    assert state.blendshapes["A"] == pytest.approx(0.5)
    client.send_message("/VMC/Ext/Blend/Apply", [])
    state = wait_for_messages(receiver, 5)
    assert dict(state.blendshapes) == pytest.approx({"Blink": 0.8, "A": 0.1})


def test_a_bundle_like_real_senders_send_updates_root_bones_and_status(receiver):
    bundle = OscBundleBuilder(IMMEDIATELY)

    def add(address, *args):
        msg = OscMessageBuilder(address=address)
        for arg in args:
            msg.add_arg(arg)
        bundle.add_content(msg.build())

    add("/VMC/Ext/OK", 1)
    add("/VMC/Ext/T", 12.5)
    add("/VMC/Ext/Root/Pos", "root", 1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0)
    add("/VMC/Ext/Bone/Pos", "Hips", 0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 1.0)
    add("/VMC/Ext/Bone/Pos", "LeftThumbProximal", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    add("/VMC/Ext/Bone/Pos", "NotABone", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    add("/VMC/Ext/Blend/Val", "Joy", 1.0)
    add("/VMC/Ext/Blend/Apply")
    client_for(receiver).send(bundle.build())
    state = wait_for_messages(receiver, 8)
    assert state.available is True and state.sender_time == pytest.approx(12.5)
    np.testing.assert_allclose(state.root.position, [-1.0, 0.0, 2.0])
    np.testing.assert_allclose(state.root_offset, [-0.5, 0.0, 0.0])
    np.testing.assert_allclose(state.bones["hips"].position, [0.0, 0.9, 0.0], atol=1e-6)
    assert "leftThumbMetacarpal" in state.bones  # Unity's thumb proximal is VRM 1.0's metacarpal
    assert state.unknown_bones == {"NotABone"}
    assert state.blendshapes == {"Joy": 1.0}
    assert state.received_at > 0


def test_malformed_messages_are_counted_not_raised(receiver):
    client = client_for(receiver)
    client.send_message("/VMC/Ext/Bone/Pos", ["Hips", 1.0])
    client.send_message("/VMC/Ext/Bone/Pos", ["Hips", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    wait_for_messages(receiver, 1)
    assert receiver.malformed == 1
    assert "hips" in receiver.snapshot().bones


def test_snapshot_is_a_stable_copy(receiver):
    client = client_for(receiver)
    client.send_message("/VMC/Ext/Bone/Pos", ["Head", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    before = wait_for_messages(receiver, 1)
    client.send_message("/VMC/Ext/Bone/Pos", ["Head", 0.0, 0.0, 0.0, *unity_quat("y", 40)])
    after = wait_for_messages(receiver, 2)
    np.testing.assert_allclose(before.bones["head"].rotation, [0, 0, 0, 1])
    assert not np.allclose(after.bones["head"].rotation, [0, 0, 0, 1])
    with pytest.raises(ValueError):
        after.bones["head"].rotation[0] = 1.0


def test_port_in_use_is_a_setting_error_with_a_fix():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(SettingError, match="Fix: close the other VMC receiver"):
            VmcReceiver(port=taken.getsockname()[1])


def test_close_stops_the_thread_and_frees_the_port():
    rx = VmcReceiver(port=0)
    port = rx.port
    rx.close()
    rx.close()
    with VmcReceiver(port=port) as again:
        assert again.port == port


def test_name_map_covers_the_vrm_humanoid_body():
    for unity, vrm in [
        ("Hips", "hips"),
        ("UpperChest", "upperChest"),
        ("LeftUpperArm", "leftUpperArm"),
        ("RightLowerLeg", "rightLowerLeg"),
        ("LeftToes", "leftToes"),
        ("RightLittleDistal", "rightLittleDistal"),
    ]:
        assert UNITY_TO_VRM[unity] == vrm
    assert len(UNITY_TO_VRM) == 55  # Unity HumanBodyBones without LastBone
