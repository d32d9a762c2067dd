"""The local control API (#31 item 3): a real websocket client on loopback, bad messages, who may connect.

No test sends traffic anywhere but loopback: the server binds 127.0.0.1 (port 0: a free one),
and the one other address tried is 127.0.0.2, another loopback address, which must be refused.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from avatar_app.pipeline import Loaders, PipelineSettings, build_pipeline
from avatar_app.pipeline.control_api import ControlHandler, ControlServer
from avatar_app.pipeline.control_messages import MESSAGES
from avatar_app.pipeline.expression_control import ExpressionOverrides
from avatar_app.pipeline.hotkeys import Hotkey, HotkeyActions
from avatar_app.pipeline.specs import SourceSpec

from bvh_clip import bvh_frame, write_bvh
from helpers import wait_until
from pipeline_helpers import RecordingSink

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def overrides():
    return ExpressionOverrides()


@pytest.fixture
def server(overrides, no_new_threads):
    hotkeys = HotkeyActions(overrides, [Hotkey("F1", "joy", "toggle")])
    handler = ControlHandler(overrides, hotkeys, status=lambda: {"state": "running"})
    with ControlServer(handler, port=0) as server:
        yield server


def ask(client, message) -> dict:
    client.send(message if isinstance(message, str) else json.dumps(message))
    return json.loads(client.recv(timeout=5))


def test_a_client_sets_clears_and_reads_the_expressions_and_triggers_a_hotkey(server, overrides):
    with connect(server.url, open_timeout=5) as client:
        reply = ask(client, {"type": "set_expression", "name": "Joy", "value": 0.8, "id": 7})
        assert reply == {"type": "ok", "request": "set_expression", "name": "happy", "active": {"happy": 0.8}, "id": 7}
        assert overrides.active() == {"happy": pytest.approx(0.8)}
        assert ask(client, {"type": "clear_expression"})["active"] == {}
        assert ask(client, {"type": "hotkey", "key": "F1"})["active"] == {"happy": 1.0}
        status = ask(client, {"type": "status"})
        assert status["state"] == "running" and status["active"] == {"happy": 1.0}
        assert status["hotkeys"] == ["F1 joy toggle"] and "surprised" in status["expressions"]
    assert server.connections == 1


BAD = [
    ("not json", "not JSON", "JSON object"),
    ("[1, 2]", "a JSON list", "JSON object"),
    ('{"name": "joy"}', "no type", '"set_expression"'),
    ('{"type": "dance"}', 'type "dance"', '"status"'),
    ('{"type": ["status"]}', "type list", '"status"'),  # found by tools/fuzz.py: a TypeError, once
    ('{"type": "set_expression"}', "no name", "an expression name"),
    ('{"type": "set_expression", "name": "smirk"}', "not an expression name", "eyes_closed, mouth_open"),
    ('{"type": "set_expression", "name": "joy", "value": 2}', "value is 2", "from 0 to 1"),
    ('{"type": "set_expression", "name": "joy", "value": NaN}', "not JSON", "JSON object"),
    ('{"type": "set_expression", "name": "joy", "seconds": -1}', "seconds is -1", "above 0"),
    ('{"type": "set_expression", "name": "joy", "colour": 1}', "unknown field(s) colour", "name, value, seconds"),
    ('{"type": "hotkey", "key": "F9"}', "not bound", "bound keys (F1)"),
    ('{"type": "hotkey", "key": "F1", "state": "twice"}', "state is", '"tap" (default)'),
    ('{"type": "status", "id": [1]}', "id is list", "string or a number"),
    ('{"type": "set_character", "path": "/no/such/character"}', "not available here", "restart it with --character"),
]


@pytest.mark.parametrize(("message", "error", "expected"), BAD, ids=[b[0][:30] for b in BAD])
def test_a_bad_message_gets_an_error_naming_what_was_expected_and_the_connection_stays(
    server, message, error, expected
):
    with connect(server.url, open_timeout=5) as client:
        reply = ask(client, message)
        assert reply["type"] == "error", reply
        assert error in reply["error"] and expected in reply["expected"], reply
        assert ask(client, {"type": "status"})["type"] == "ok", "the connection is still served"


def test_every_message_type_is_in_the_docs():
    docs = (REPO / "docs" / "control_api.md").read_text()
    for kind, fields in MESSAGES.items():
        assert f'"type": "{kind}"' in docs, kind
        for name in fields:
            assert f"`{name}`" in docs, (kind, name)


def test_the_example_client_sets_an_expression_and_says_when_it_was_refused(server, overrides, capsys):
    spec = importlib.util.spec_from_file_location("control_client", REPO / "examples" / "control_client.py")
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    assert client.main(["--url", server.url, "set", "surprised", "--seconds", "30"]) == 0
    assert overrides.active() == {"surprised": 1.0}
    assert json.loads(capsys.readouterr().out)["name"] == "surprised"
    assert client.main(["--url", server.url, "set", "smirk"]) == 1
    assert client.main(["--url", server.url, "clear"]) == 0 and overrides.active() == {}


def test_by_default_only_127_0_0_1_answers(server):
    assert server.host == "127.0.0.1"
    with pytest.raises(ConnectionRefusedError):
        connect(f"ws://127.0.0.2:{server.port}", open_timeout=5)


def test_a_web_page_from_elsewhere_cannot_drive_it_but_a_local_page_can(server):
    with pytest.raises(InvalidStatus, match="403"):
        connect(server.url, origin="https://example.com", open_timeout=5)
    with connect(server.url, origin=f"http://localhost:{server.port + 1}", open_timeout=5) as client:
        assert ask(client, {"type": "status"})["type"] == "ok"


def test_with_remote_allowed_it_listens_beyond_127_0_0_1(overrides, no_new_threads):
    with ControlServer(ControlHandler(overrides), port=0, allow_remote=True) as server:
        assert server.host == "0.0.0.0"
        with connect(f"ws://127.0.0.2:{server.port}", open_timeout=5) as client:  # still loopback traffic only
            assert ask(client, {"type": "status"})["type"] == "ok"


def test_a_port_in_use_is_a_setting_error_naming_it(server, overrides):
    from avatar_app.core.errors import SettingError

    with pytest.raises(SettingError, match=f"{server.port}.*choose another port"):
        ControlServer(ControlHandler(overrides), port=server.port)


def test_an_expression_set_through_the_api_shows_in_the_rendered_frame(tmp_path, overrides, no_new_threads):
    """A still pose (a rest BVH, springs off, bust framing), the proxy renderer: only the API's message
    changes the picture, and only at the mouth."""
    size = 256
    bvh = write_bvh(tmp_path / "rest.bvh", [bvh_frame(), bvh_frame()], frame_time=0.5)
    sink = RecordingSink()
    settings = PipelineSettings(
        SourceSpec("motion", path=bvh), renderer="proxy", size=size, springs=False, framing="bust"
    )
    pipeline = build_pipeline(settings, [sink], loaders=Loaders(), expression_overrides=overrides)
    with pipeline, ControlServer(ControlHandler(overrides), port=0) as server, connect(server.url) as client:
        assert ask(client, {"type": "set_expression", "name": "blink", "value": 0})["type"] == "ok"  # no idle blink
        pipeline.start()
        assert wait_until(lambda: len(sink.snapshot()) >= 3, timeout=30)
        neutral = sink.snapshot()[-1].data
        assert ask(client, {"type": "set_expression", "name": "mouth_open"})["active"] == {"blink": 0.0, "aa": 1.0}
        after = len(sink.snapshot())
        assert wait_until(lambda: len(sink.snapshot()) >= after + 4, timeout=30)  # past the frames in flight
        talking = sink.snapshot()[-1].data
    rows, cols = np.nonzero(np.abs(talking - neutral).max(axis=-1) > 0.1)
    assert len(rows) >= 20, "the mouth opens"
    assert np.ptp(rows) < 0.12 * size and np.ptp(cols) < 0.12 * size, "in one small place"
    assert abs(cols.mean() - size / 2) < 0.1 * size, "in the middle of the face"
