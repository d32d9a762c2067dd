"""BrowserSourceSink: the page, the wire format, bounded delivery, shutdown, and a real
headless Chromium drawing the frames on a transparent canvas."""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("websockets")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from avatar_app.core.errors import SettingError  # noqa: E402
from avatar_app.outputs import BrowserSourceSink  # noqa: E402
from avatar_app.outputs.browser_page import HEADER, MAGIC, WINDOW  # noqa: E402

from helpers import wait_until  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_thread_leaks")


def ws_url(sink):
    return sink.url.replace("http://", "ws://") + "ws"


def parse(message):
    magic, width, height, index = HEADER.unpack_from(message)
    assert magic == MAGIC
    return index, np.frombuffer(message, np.uint8, offset=HEADER.size).reshape(height, width, 4)


# ---- the page and the server --------------------------------------------------------


def test_page_is_served_self_contained():
    with BrowserSourceSink() as sink:
        assert sink.port > 0 and sink.url == f"http://127.0.0.1:{sink.port}/"
        with urllib.request.urlopen(sink.url, timeout=10) as response:
            assert response.headers["Content-Type"].startswith("text/html")
            page = response.read().decode()
    assert "<canvas" in page and "background: transparent" in page
    assert " src=" not in page and " href=" not in page  # nothing fetched from elsewhere (OBS may be offline)


def test_unknown_path_is_404():
    with BrowserSourceSink() as sink:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(sink.url + "favicon.ico", timeout=10)
    assert info.value.code == 404


def test_other_sites_cannot_open_the_stream():
    with BrowserSourceSink() as sink:
        with pytest.raises(InvalidStatus) as info:
            connect(ws_url(sink), origin="http://example.com", open_timeout=10)
        assert info.value.response.status_code == 403
        with connect(ws_url(sink), origin=f"http://localhost:{sink.port}", open_timeout=10):
            pass  # the page itself, under either name of this machine


def test_busy_port_is_a_setting_error_and_leaves_no_thread():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SettingError, match="port 0"):
            BrowserSourceSink(port=taken.getsockname()[1])


def test_send_without_clients_only_keeps_the_newest_frame(make_regions_frame):
    with BrowserSourceSink() as sink:
        for _ in range(20):
            sink.send(make_regions_frame())
        assert sink.frames_sent == 20 and sink.frames_delivered == 0 and sink.client_count == 0


# ---- what a client receives ---------------------------------------------------------


def test_frame_message_carries_size_index_and_straight_rgba(make_random_frame):
    frame = make_random_frame(24, 40)
    with BrowserSourceSink() as sink, connect(ws_url(sink), open_timeout=10) as client:
        assert wait_until(lambda: sink.client_count == 1), "the client to register"
        sink.send(frame)
        index, rgba = parse(client.recv(timeout=10))
    assert index == 1
    assert np.array_equal(rgba, frame.to_straight_rgba8())


def test_slow_client_gets_the_newest_frame_never_a_backlog(make_regions_frame):
    frame = make_regions_frame(16, 16)
    with BrowserSourceSink(max_fps=None) as sink, connect(ws_url(sink), open_timeout=10) as client:
        assert wait_until(lambda: sink.client_count == 1), "the client to register"
        for _ in range(50):
            sink.send(frame)
            time.sleep(0.002)
        # Without acknowledgements the server stops after WINDOW frames ...
        unacknowledged = [parse(client.recv(timeout=10))[0] for _ in range(WINDOW)]
        with pytest.raises(TimeoutError):
            client.recv(timeout=0.5)
        assert sink.frames_delivered == WINDOW
        # ... and an acknowledgement brings the newest frame, not the next in line.
        client.send(json.dumps({"type": "ack", "frame": unacknowledged[0]}))
        index, _ = parse(client.recv(timeout=10))
    assert index == 50


def test_max_fps_caps_the_rate_per_client(make_regions_frame):
    frame = make_regions_frame(16, 16)
    received = []
    with BrowserSourceSink(max_fps=10) as sink, connect(ws_url(sink), open_timeout=10) as client:
        assert wait_until(lambda: sink.client_count == 1), "the client to register"

        def produce():
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                sink.send(frame)
                time.sleep(0.005)

        producer = threading.Thread(target=produce, name="test-producer")
        producer.start()
        start = time.monotonic()
        while time.monotonic() - start < 1.0:
            try:
                index, _ = parse(client.recv(timeout=0.2))
            except TimeoutError:
                continue
            received.append(index)
            client.send('{"type": "ack"}')
        producer.join()
    assert 2 <= len(received) <= 12, received  # 10 per second, with one-frame slack for timing
    assert received == sorted(received)


def test_every_client_gets_frames(make_regions_frame):
    with (
        BrowserSourceSink() as sink,
        connect(ws_url(sink), open_timeout=10) as a,
        connect(ws_url(sink), open_timeout=10) as b,
    ):
        assert wait_until(lambda: sink.client_count == 2), "both clients to register"
        sink.send(make_regions_frame())
        assert parse(a.recv(timeout=10))[0] == 1
        assert parse(b.recv(timeout=10))[0] == 1


def test_close_disconnects_clients_and_stops_the_thread():
    sink = BrowserSourceSink()
    with connect(ws_url(sink), open_timeout=10) as client:
        assert wait_until(lambda: sink.client_count == 1), "the client to register"
        start = time.monotonic()
        sink.close()
        assert time.monotonic() - start < 5
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=5)
    assert not [t for t in threading.enumerate() if t.name == "avatar-browser-source"]


def test_close_does_not_wait_for_an_idle_connection_that_never_sent_a_request():
    """Browsers open spare sockets ahead of need (Chromium's preconnect); close() drops them at once
    instead of waiting out the handshake timeout (a CI run once took 10 s here)."""
    sink = BrowserSourceSink()
    with socket.create_connection(("127.0.0.1", sink.port), timeout=5) as idle:
        time.sleep(0.2)  # let the server accept it
        start = time.monotonic()
        sink.close()
        assert time.monotonic() - start < 5
        assert idle.recv(1) == b""  # the server closed it
    assert not [t for t in threading.enumerate() if t.name == "avatar-browser-source"]


# ---- a real browser -----------------------------------------------------------------

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium for the browser test (Debian: apt-get install chromium)"
)


@pytest.fixture
def open_in_chromium(tmp_path):
    """Opens a URL in headless Chromium (its own profile and process group); killed afterwards."""
    processes = []
    log_path = tmp_path / "chromium.log"

    def open_page(url):
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
        ]
        log_file = open(log_path, "ab")
        processes.append(
            subprocess.Popen([CHROMIUM, *flags, url], stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        )
        log_file.close()

    open_page.log_path = log_path
    yield open_page
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # the group we started: browser, zygote, renderers
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        deadline = time.monotonic() + 10  # the renderer and zygote children exit a moment later
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def _stream_until_drawn(sink, frame, open_in_chromium, timeout_s=90):
    """Sends ``frame`` repeatedly until the page reports drawing it; returns the report."""
    deadline = time.monotonic() + timeout_s
    first_index = sink.frames_sent + 1
    while time.monotonic() < deadline:
        sink.send(frame)
        report = sink.last_client_report
        if report is not None and report["frame"] >= first_index:
            return report
        time.sleep(0.03)
    log = open_in_chromium.log_path.read_text(errors="replace")[-3000:] if open_in_chromium.log_path.exists() else ""
    raise AssertionError(f"Chromium reported no drawn frame within {timeout_s} s; its log ends:\n{log}")


@needs_chromium
def test_chromium_draws_the_avatar_opaque_and_the_background_transparent(make_regions_frame, open_in_chromium):
    frame = make_regions_frame(48, 64)
    expected = frame.to_straight_rgba8()
    with BrowserSourceSink() as sink:
        open_in_chromium(sink.url + "?selftest=1")
        report = _stream_until_drawn(sink, frame, open_in_chromium)
        assert sink.client_count == 1
    rgba = report["rgba"]
    assert (report["width"], report["height"]) == (64, 48) and rgba.shape == (48, 64, 4)
    assert report["body_background"] == "rgba(0, 0, 0, 0)" and report["canvas_background"] == "rgba(0, 0, 0, 0)"
    avatar, strip, background = (
        (slice(None), slice(0, 32)),
        (slice(0, 12), slice(32, 64)),
        (slice(12, 48), slice(32, 64)),
    )
    assert np.all(rgba[avatar][..., 3] == 255)
    assert np.array_equal(rgba[avatar], expected[avatar])  # opaque pixels survive exactly
    assert np.all(rgba[background][..., 3] == 0)
    # Half-transparent pixels: the canvas stores premultiplied 8-bit, so allow its rounding.
    assert np.all(rgba[strip][..., 3] == 128)
    assert np.abs(rgba[strip].astype(int) - expected[strip].astype(int)).max() <= 2


@needs_chromium
def test_chromium_follows_the_live_stream(make_regions_frame, open_in_chromium):
    red, blue = (
        make_regions_frame(48, 64, avatar_rgb=(1.0, 0.0, 0.0)),
        make_regions_frame(48, 64, avatar_rgb=(0.0, 0.0, 1.0)),
    )
    with BrowserSourceSink() as sink:
        open_in_chromium(sink.url + "?selftest=1")
        first = _stream_until_drawn(sink, red, open_in_chromium)
        second = _stream_until_drawn(sink, blue, open_in_chromium)
        start = time.monotonic()
    assert time.monotonic() - start < 5  # close() with the browser still connected
    assert tuple(first["rgba"][20, 10]) == (255, 0, 0, 255)
    assert tuple(second["rgba"][20, 10]) == (0, 0, 255, 255)
    assert second["frames_drawn"] > first["frames_drawn"]


@needs_chromium
def test_chromium_page_acknowledges_frames_without_selftest(make_regions_frame, open_in_chromium):
    """The plain page (what OBS loads) keeps the stream flowing: more than WINDOW frames arrive."""
    frame = make_regions_frame(48, 64)
    with BrowserSourceSink(max_fps=None) as sink:
        open_in_chromium(sink.url)
        deadline = time.monotonic() + 90
        while sink.frames_delivered <= 3 * WINDOW and time.monotonic() < deadline:
            sink.send(frame)
            time.sleep(0.02)
        assert sink.frames_delivered > 3 * WINDOW, "the page stopped acknowledging frames"
        assert sink.last_client_report is None  # read-backs only with ?selftest=1
