"""`avatar-app stream --api PORT`: a websocket client on loopback opens the avatar's mouth in the written frames."""

from __future__ import annotations

import json
import socket
import threading

import cv2
import numpy as np
import pytest
from websockets.sync.client import connect

from avatar_app.cli.main import main

from bvh_clip import bvh_frame, write_bvh
from helpers import wait_until

SIZE = 256


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stream_with_api(tmp_path, name: str, messages: list[dict]):
    """(exit status, last frame, replies): a still pose streamed while a client sends ``messages``."""
    bvh = write_bvh(tmp_path / "rest.bvh", [bvh_frame(), bvh_frame()], frame_time=0.5)
    frames, port = tmp_path / name, free_tcp_port()
    argv = ["stream", "--source", f"motion:{bvh}", "--renderer", "proxy", "--size", str(SIZE), "--framing", "bust"]
    argv += ["--no-springs", "--sink", f"file:{frames}", "--frames", "45", "--api", str(port)]
    argv += ["--hotkey", "F1 surprised toggle"]
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(main(argv)), name="test-stream", daemon=True)
    thread.start()
    replies = []
    clients = []
    assert wait_until(lambda: clients.append(_try_connect(port)) or clients[-1] is not None, timeout=60, interval=0.1)
    with clients[-1] as client:
        for message in messages:
            client.send(json.dumps(message))
            replies.append(json.loads(client.recv(timeout=10)))
    thread.join(120)
    last = sorted(frames.glob("*.png"))[-1]
    return result[0], cv2.imread(str(last), cv2.IMREAD_UNCHANGED).astype(np.int16), replies


def _try_connect(port: int):
    try:
        return connect(f"ws://127.0.0.1:{port}", open_timeout=2)
    except OSError:
        return None


def test_a_client_opens_the_mouth_in_the_streamed_frames_and_presses_a_hotkey(tmp_path, capsys):
    eyes_open = {"type": "set_expression", "name": "blink", "value": 0}  # no idle blink in either run
    code, neutral, _ = stream_with_api(tmp_path, "neutral", [eyes_open])
    assert code == 0
    talk = [eyes_open, {"type": "set_expression", "name": "mouth_open"}, {"type": "hotkey", "key": "F1"}]
    talk.append({"type": "hotkey", "key": "F1"})  # toggled off again
    talk.append({"type": "status"})
    code, talking, replies = stream_with_api(tmp_path, "talking", talk)
    assert code == 0
    assert [r["type"] for r in replies] == ["ok"] * 5, replies
    assert replies[2]["active"] == {"blink": 0.0, "aa": 1.0, "surprised": 1.0}
    assert replies[3]["active"] == {"blink": 0.0, "aa": 1.0}
    status = replies[4]
    assert status["state"] in ("starting", "running"), "the client may be quicker than the pipeline's start"
    assert status["renderer"] == "proxy" and status["hotkeys"] == ["F1 surprised toggle"]
    assert "control API: ws://127.0.0.1:" in capsys.readouterr().err
    rows, cols = np.nonzero(np.abs(talking - neutral).max(axis=-1) > 24)
    assert len(rows) >= 20, "the mouth is open in the last frame"
    assert np.ptp(rows) < 0.12 * SIZE and abs(cols.mean() - SIZE / 2) < 0.1 * SIZE, "only the mouth changed"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--hotkey", "F1 joy toggle"], "--api PORT as well"),
        (["--api", "8770", "--hotkey", "F1 smirk toggle"], "smirk"),
        (["--api", "70000"], "a port from 1 to 65535"),
    ],
)
def test_bad_api_options_are_setting_errors_with_a_fix(argv, message, capsys):
    assert main(["stream", "--renderer", "proxy", "--size", "128", "--sink", "virtualcam", "--frames", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert "avatar-app: error:" in err and message in err and "Fix:" in err
