"""The clocked sources, the VMC source over real OSC packets, and what tracked sources show when tracking drops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.pipeline import IDLE_POSE, LivePipeline, MotionSource, PoseHold, ProxyRenderer, Ticker, VmcSource
from avatar_app.rig import HumanoidPose, load_bvh
from avatar_app.rig.quaternion import quat_from_axis_angle

from helpers import ManualClock, wait_until
from pipeline_helpers import SIZE, silhouette


def angle_between(a: HumanoidPose, b: HumanoidPose, bone: str) -> float:
    d = abs(float(np.dot(a.rotation(bone), b.rotation(bone))))
    return math.degrees(2 * math.acos(min(1.0, d)))


def test_ticker_paces_at_its_rate_and_skips_ticks_it_is_late_for():
    clock = ManualClock(start=10.0)
    ticker = Ticker(64.0, clock=clock)  # a period of 1/64 s: exact in binary, so the arithmetic below is too
    period = ticker.period
    ticks = []
    for _ in range(6):
        ticks.append(ticker.wait(1.0))  # each tick is due now: no waiting
        clock.advance(period)
    assert ticks == [10.0 + k * period for k in range(6)], "ticks are exact multiples of the period"
    clock.advance(5 * period)  # the caller is five ticks late
    late = ticker.wait(1.0)
    assert late == 10.0 + 6 * period, "the tick it was late for, at once"
    assert ticker.skipped == 4, "the ticks it missed meanwhile are skipped, not burst"
    assert ticker.wait(1.0) == 10.0 + 11 * period == clock(), "then back on the beat"
    assert Ticker(1.0, clock=clock).wait(0.01) == clock(), "the first tick is at once"
    with pytest.raises(SettingError, match="fps"):
        Ticker(0)


def test_motion_source_plays_a_bvh_clip_on_the_clock(bvh_file):
    clock = ManualClock()
    source = MotionSource(load_bvh(bvh_file), fps=20.0, clock=clock)
    samples = []
    for _ in range(11):
        samples.append(source.read(1.0))
        clock.advance(0.05)
    assert all(s is not None and s.pose is not None for s in samples)
    assert samples[0].timings_ms["pose"] >= 0
    t = [s.timestamp - samples[0].timestamp for s in samples]
    assert t[10] == pytest.approx(0.5)
    # 0.5 s in: both arms raised 80 degrees from the T-pose of the first frame.
    assert angle_between(samples[0].pose, samples[10].pose, "leftUpperArm") == pytest.approx(80, abs=1)


def test_pose_hold_holds_then_eases_to_idle_then_eases_back():
    raised = HumanoidPose.from_bones({"leftUpperArm": quat_from_axis_angle(np.array([0, 0, 1.0]), math.radians(80))})
    hold = PoseHold(hold_s=0.5, ease_s=1.0, resume_s=0.25)
    assert hold.tracked(raised, 1.0) is raised
    assert angle_between(hold.missing(1.4), raised, "leftUpperArm") == pytest.approx(0, abs=1e-3), "held at first"
    halfway = hold.missing(2.0)
    assert 5 < angle_between(halfway, raised, "leftUpperArm") < angle_between(IDLE_POSE, raised, "leftUpperArm") - 5
    assert angle_between(hold.missing(2.6), IDLE_POSE, "leftUpperArm") == pytest.approx(0, abs=1e-3), "then idle"
    back = hold.tracked(raised, 3.0)
    assert angle_between(back, IDLE_POSE, "leftUpperArm") == pytest.approx(0, abs=1e-3), "no snap when tracking returns"
    assert angle_between(hold.tracked(raised, 3.3), raised, "leftUpperArm") == pytest.approx(0, abs=1e-3)
    assert PoseHold().missing(0.0) is IDLE_POSE, "nothing tracked yet: idle"


def _send_arms_up(port: int) -> None:
    from pythonosc.udp_client import SimpleUDPClient
    from scipy.spatial.transform import Rotation

    client = SimpleUDPClient("127.0.0.1", port)
    # Unity frame: rotating the left arm (-x in Unity is the character's left) about z by -80 degrees raises it.
    for bone, degrees in (("LeftUpperArm", -80.0), ("RightUpperArm", 80.0)):
        q = Rotation.from_euler("z", degrees, degrees=True).as_quat()
        client.send_message("/VMC/Ext/Bone/Pos", [bone, 0.0, 0.0, 0.0, *map(float, q)])
    client.send_message("/VMC/Ext/Root/Pos", ["root", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])


def test_vmc_packets_drive_the_avatar_through_the_pipeline(character, make_sink, no_new_threads):
    sink = make_sink()
    source = VmcSource(port=0, fps=30.0, stale_after_s=0.5)
    with LivePipeline(source, ProxyRenderer(), [sink], character=character, size=SIZE) as pipeline:
        assert wait_until(lambda: pipeline.frames_sent >= 3)
        assert pipeline.status.source == f"waiting for VMC data on 127.0.0.1:{source.port}"
        idle = sink.snapshot()[-1]
        _send_arms_up(source.port)
        assert wait_until(lambda: pipeline.status.source == "running")
        sent = pipeline.frames_sent
        assert wait_until(lambda: pipeline.frames_sent >= sent + 20), "spring bones settle; frames keep coming"
        raised = sink.snapshot()[-1]
        assert wait_until(lambda: pipeline.status.source.startswith("no VMC data for")), "a silent sender is reported"
    changed = silhouette(idle) != silhouette(raised)
    assert changed.mean() > 0.02, "raised arms change the silhouette"
    # The raised arms reach above the shoulders: the top rows that had no avatar pixels now have some.
    assert silhouette(raised)[: SIZE // 3].sum() > silhouette(idle)[: SIZE // 3].sum()


def test_vmc_port_in_use_is_a_setting_error():
    with VmcSource(port=0) as first:
        with pytest.raises(SettingError, match="port"):
            VmcSource(port=first.port)
