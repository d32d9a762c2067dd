"""The browser source's client (OBS) drops in the middle of a frame and connects again: the server
forgets it without an error, the avatar's frames keep being taken, and the new connection gets
whole, newest frames. The drop is a TCP reset after part of a 4 MiB frame (tools/soak.py's client)."""

from __future__ import annotations

import json
import logging
import threading

import numpy as np
import pytest

pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

from avatar_app.core.frames import RgbaFrame  # noqa: E402
from avatar_app.outputs import BrowserSourceSink  # noqa: E402
from avatar_app.outputs.browser_page import HEADER, MAGIC, WS_PATH  # noqa: E402

from helpers import wait_until  # noqa: E402

SIDE = 1024  # 4 MiB a frame: a reset after 4 KiB is surely in the middle of one


def frame_with_level(level: int) -> RgbaFrame:
    """Opaque grey of ``level`` (0..199): the k-th frame sent has level k % 200, so a received frame
    says by its pixels which one it was."""
    data = np.full((SIDE, SIDE, 4), level / 255.0, np.float32)
    data[..., 3] = 1.0
    return RgbaFrame(data)


class Producer:
    """Sends frames 1, 2, 3 ... to the sink from its own thread, as the pipeline's send stage does."""

    def __init__(self, sink: BrowserSourceSink):
        self.sink, self.sent, self.errors = sink, 0, []
        self._stop = threading.Event()
        self._frames = [frame_with_level(level) for level in range(200)]
        self._thread = threading.Thread(target=self._run, name="test-producer")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sink.send(self._frames[(self.sent + 1) % 200])
            except Exception as exc:  # noqa: BLE001 the test asserts there were none
                self.errors.append(exc)
                return
            self.sent += 1
            self._stop.wait(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


def test_a_client_dropping_mid_frame_is_forgotten_and_a_new_one_gets_whole_newest_frames(
    load_tool, caplog, no_new_threads
):
    drop_mid_frame = load_tool("soak").drop_mid_frame
    caplog.set_level(logging.INFO, logger="avatar_app.outputs.browser_source")
    with BrowserSourceSink(max_fps=None) as sink, Producer(sink) as producer:
        assert wait_until(lambda: producer.sent >= 1)
        for _ in range(3):
            read = drop_mid_frame(sink.host, sink.port)
            assert read < HEADER.size + SIDE * SIDE * 4, "the client must leave in the middle of a frame"
            assert wait_until(lambda: sink.client_count == 0), "the dropped client is still served"
        with connect(f"ws://{sink.host}:{sink.port}{WS_PATH}", open_timeout=10, max_size=None) as client:
            indices = []
            for _ in range(3):
                message = client.recv(timeout=30)
                magic, width, height, index = HEADER.unpack_from(message)
                assert (magic, width, height) == (MAGIC, SIDE, SIDE)
                pixels = np.frombuffer(message, np.uint8, offset=HEADER.size).reshape(SIDE, SIDE, 4)
                assert (pixels[..., :3] == index % 200).all() and (pixels[..., 3] == 255).all(), "a whole frame"
                indices.append(index)
                client.send(json.dumps({"type": "ack", "frame": index}))
            assert indices == sorted(set(indices)), "newer frames each time, never an old one again"
        assert wait_until(lambda: sink.client_count == 0)
        sent_before = producer.sent
        assert wait_until(lambda: producer.sent >= sent_before + 5), "the avatar's frames are still taken"
    assert producer.errors == []
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == [], f"a client leaving is not a problem: {[r.getMessage() for r in problems]}"
    assert sum("client connected" in r.getMessage() for r in caplog.records) == 4
