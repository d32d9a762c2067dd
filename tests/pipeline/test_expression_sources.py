"""Every source carries an expression with its pose: VMC blendshapes, the demo's script, a BVH side track."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from avatar_app.core.errors import AvatarAppError
from avatar_app.pipeline import MotionSource, VmcSource
from avatar_app.rig import DemoMotion, load_bvh
from avatar_app.rig.expression_track import side_track_path

from helpers import ManualClock, wait_until


def _send(port: int, values: dict) -> None:
    from pythonosc.udp_client import SimpleUDPClient

    client = SimpleUDPClient("127.0.0.1", port)
    for name, value in values.items():
        client.send_message("/VMC/Ext/Blend/Val", [name, value])
    client.send_message("/VMC/Ext/Blend/Apply", [])


def test_vmc_blendshapes_become_the_samples_expression_bad_ones_warned_once(caplog):
    with caplog.at_level(logging.WARNING), VmcSource(port=0, fps=None) as source:
        _send(source.port, {"Blink_L": 1.0, "A": 0.6, "Joy": 1.0, "Smirk": 1.0, "O": float("nan")})
        assert wait_until(lambda: source.receiver.snapshot().blendshapes)
        for _ in range(30):
            sample = source.read(0.1)
        _send(source.port, {"Smirk": 0.5, "O": float("nan")})
        assert wait_until(lambda: source.receiver.snapshot().blendshapes.get("Smirk") == 0.5)
        for _ in range(30):
            sample = source.read(0.1)
        malformed = source.receiver.malformed
    e = sample.expression
    assert e["blinkLeft"] == pytest.approx(1.0, abs=0.02) and e["blinkRight"] == 0.0
    assert e["aa"] == pytest.approx(0.6, abs=0.02) and e["oh"] == 0.0
    assert e["blink"] == 0.0, "the sender sends eyelids: no idle blink on top"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("Smirk" in w for w in warnings) == 1, "an unknown name is warned about once"
    assert malformed == 2, "a NaN value is refused where it arrives (both sends), never reaching the face"


def test_the_demo_blinks_and_talks_on_its_script():
    clock = ManualClock()
    source = MotionSource(DemoMotion(), fps=50.0, clock=clock)
    samples = []
    for _ in range(800):  # 16 s: one loop
        samples.append(source.read(1.0))
        clock.advance(0.02)
    blink = np.array([s.expression["blink"] for s in samples])
    mouth = np.array([max(s.expression[v] for v in ("aa", "ih", "ou", "ee", "oh")) for s in samples])
    closed = blink > 0.99
    assert 5 <= (closed[1:] & ~closed[:-1]).sum() <= 8, "a blink every few seconds"
    t = np.arange(800) * 0.02
    talking = (t > 4.3) & (t < 7.6)
    assert mouth[talking].max() > 0.7 and (mouth[talking] > 0.3).mean() > 0.4
    assert mouth[~talking].max() == 0.0, "the mouth moves only while it talks"


def test_a_bvh_side_track_drives_the_face_and_bad_cells_do_not_stop_it(bvh_file, caplog):
    side_track_path(bvh_file).write_text("time,Blink,A,Wink\n0,0,0,1\n0.5,1,0.5,x\n1.0,0,nan,1\n")
    motion = load_bvh(bvh_file)
    assert motion.has_expressions
    clock = ManualClock()
    source = MotionSource(motion, fps=20.0, clock=clock)
    got = []
    for _ in range(11):
        got.append(source.read(1.0).expression)
        clock.advance(0.05)
    assert got[0]["blink"] == 0.0 and got[5]["blink"] == pytest.approx(0.5) and got[10]["blink"] == 1.0
    assert got[10]["aa"] == pytest.approx(0.5)
    assert any("Wink" in r.getMessage() for r in caplog.records)


def test_a_side_track_that_is_not_a_table_is_an_error_naming_it(bvh_file):
    side_track_path(bvh_file).write_text("blink\n1\n")
    with pytest.raises(AvatarAppError, match="expressions.csv"):
        load_bvh(bvh_file)


def test_a_bvh_without_a_side_track_blinks_idly(bvh_file):
    clock = ManualClock()
    source = MotionSource(load_bvh(bvh_file), fps=50.0, clock=clock)
    lids = []
    for _ in range(500):
        lids.append(source.read(1.0).expression["blink"])
        clock.advance(0.02)
    assert max(lids) == 1.0 and np.mean(lids) < 0.2
