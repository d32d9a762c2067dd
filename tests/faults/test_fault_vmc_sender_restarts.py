"""The VMC sender (VSeeFace, VMagicMirror ...) stops and is started again: while it is silent the
stream goes on with its last pose held and the silence said; the restarted sender (a new socket,
so a new source port) drives the avatar again. Real OSC over UDP to the real receiver."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

pytest.importorskip("pythonosc")
from fault_helpers import SIZE, CountingSink  # noqa: E402
from pythonosc.udp_client import SimpleUDPClient  # noqa: E402

from avatar_app.pipeline import LivePipeline, ProxyRenderer, VmcSource  # noqa: E402
from avatar_app.rig.humanoid import BONE_INDEX  # noqa: E402
from avatar_app.tracking.vmc import unity_rotation_to_ours  # noqa: E402

from helpers import wait_until  # noqa: E402

ARM = BONE_INDEX["leftUpperArm"]


def unity_z_rotation(degrees: float) -> tuple[float, float, float, float]:
    half = math.radians(degrees) / 2
    return (0.0, 0.0, math.sin(half), math.cos(half))


class Sender:
    """A VMC sender on its own socket, sending one arm rotation 30 times a second until stopped."""

    def __init__(self, port: int, degrees: float):
        self.client = SimpleUDPClient("127.0.0.1", port)
        self.rotation = unity_z_rotation(degrees)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-vmc-sender")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.client.send_message("/VMC/Ext/Bone/Pos", ["LeftUpperArm", 0.0, 0.0, 0.0, *self.rotation])
            self._stop.wait(1 / 30)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client._sock.close()  # the sender quits: its socket is gone


class PoseLog:
    """The pipeline's tap: the newest arm rotation the pose stage made."""

    def __init__(self):
        self.arm = None

    def __call__(self, stage, frame) -> None:
        if stage == "pose":
            self.arm = frame.pose.rotations[ARM].copy()

    def arm_is(self, degrees: float) -> bool:
        expected = unity_rotation_to_ours(unity_z_rotation(degrees))
        return self.arm is not None and abs(abs(float(np.dot(self.arm, expected))) - 1.0) < 1e-6


def test_a_silent_sender_holds_the_pose_and_a_restarted_one_drives_again(character, no_new_threads):
    poses, sink = PoseLog(), CountingSink()
    source = VmcSource(port=0, fps=30.0, stale_after_s=0.3)
    with LivePipeline(source, ProxyRenderer(), [sink], character=character, size=SIZE, tap=poses) as pipeline:
        assert pipeline.status.source.startswith("waiting for VMC data")
        with Sender(source.port, 40.0):
            assert wait_until(lambda: pipeline.status.source == "running" and poses.arm_is(40.0), timeout=30)
        assert wait_until(lambda: pipeline.status.source.startswith("no VMC data for"), timeout=30)
        assert "(holding the last pose): is the sender still running and sending to port" in pipeline.status.source
        assert pipeline.status.source.endswith(f" {source.port}?"), "the message names the port to check"
        silent_at = sink.count
        assert wait_until(lambda: sink.count >= silent_at + 10, timeout=60), "the stream stopped with the sender"
        assert poses.arm_is(40.0), "the last pose is held while the sender is silent"
        with Sender(source.port, -25.0):  # started again
            assert wait_until(lambda: pipeline.status.source == "running" and poses.arm_is(-25.0), timeout=30)
        assert pipeline.status.state == "running" and pipeline.status.error is None
