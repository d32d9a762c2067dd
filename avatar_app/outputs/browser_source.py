"""Browser-source output: a local web page that shows the avatar with real transparency.

OBS's Browser Source (on every OS, no driver) loads ``sink.url``; the page receives
frames over a WebSocket and draws them on a transparent canvas. The server (the
``websockets`` package, HTTP and WebSocket on one port) runs on an asyncio loop in a
named thread. ``send`` only stores the newest frame and wakes the loop; each client
task converts and sends the newest frame when the client has acknowledged enough
(see ``browser_page`` for the wire format and the flow control), so nothing queues:
a slow client skips frames, and frames nobody is waiting for cost nothing.

Frames are treated as values: the renderer must not modify a frame's array after
handing it to ``send`` (the conversion reads it later, on the server thread).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

import numpy as np

from avatar_app.core.errors import DeviceError, SettingError
from avatar_app.core.frames import RgbaFrame
from avatar_app.outputs._pixels import StraightRgba8
from avatar_app.outputs.base import FrameSink, check_fps
from avatar_app.outputs.browser_page import HEADER, MAGIC, PAGE_HTML, WINDOW, WS_PATH

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0
_MAX_CLIENT_MESSAGE_BYTES = 64 * 2**20  # a self-test read-back of a 2048x2048 frame, base64
_PAGE_BYTES = PAGE_HTML.encode("utf-8")


@dataclass(eq=False)
class _Client:
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    credits: int = WINDOW
    frames_sent: int = 0


class BrowserSourceSink(FrameSink):
    """Serves ``url`` (the page) and streams frames to every page that has it open.

    ``port=0`` picks a free port. ``max_fps`` caps the rate per client (None: no cap).
    ``width``/``height`` fix the frame size; without them the first frame does.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        max_fps: float | None = 30,
        *,
        width: int | None = None,
        height: int | None = None,
    ):
        super().__init__(width, height, name=f"browser source ({host}:{port})")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise SettingError(
                "browser source port", "a TCP port 1..65535, or 0 to pick a free one", repr(port), "use 0"
            )
        self.host = host
        self.max_fps = None if max_fps is None else check_fps(max_fps, "browser source max_fps")
        self._min_interval_s = 0.0 if self.max_fps is None else 1.0 / self.max_fps

        # Shared with the server thread; _lock guards _latest/_version/_last_report.
        self._lock = threading.Lock()
        self._latest: RgbaFrame | None = None
        self._version = 0
        self._last_report: dict | None = None
        self._wake_pending = False
        self.frames_delivered = 0  # messages sent, summed over clients

        # Owned by the server thread.
        self._clients: set[_Client] = set()
        self._converter: StraightRgba8 | None = None
        self._encoded_version = -1
        self._encoded: bytearray | None = None
        self._stopping = False

        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._connections: set = set()  # every accepted TCP connection, for close()
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self.port = port
        self._thread = threading.Thread(target=self._run, name="avatar-browser-source", daemon=True)
        self._thread.start()
        if not self._started.wait(_START_TIMEOUT_S):
            raise DeviceError(f"browser source: the server thread did not start within {_START_TIMEOUT_S:g} s")
        if self._start_error is not None:
            self._thread.join(_STOP_TIMEOUT_S)
            self._closed = True
            if not isinstance(self._start_error, OSError):
                raise DeviceError(
                    f"browser source: the server could not start ({self._start_error!r})"
                ) from self._start_error
            raise SettingError(
                "browser source address",
                "a host and port this machine can listen on",
                f"{host}:{port} ({self._start_error})",
                "use port 0 to pick a free port, or another host (127.0.0.1 for this machine only)",
            ) from self._start_error
        self.name = f"browser source ({self.url})"
        log.info("browser source serving %s (add it in OBS as a Browser Source)", self.url)

    @property
    def url(self) -> str:
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def client_count(self) -> int:
        return len(self._clients)

    @property
    def last_client_report(self) -> dict | None:
        """The newest ``?selftest=1`` read-back.

        Keys: frame, frames_drawn, width, height, backgrounds, rgba (uint8 [H,W,4]).
        """
        with self._lock:
            return self._last_report

    # ---- caller thread -------------------------------------------------------------

    def _send(self, frame: RgbaFrame) -> None:
        with self._lock:
            self._latest = frame
            self._version += 1
        if self._clients and not self._wake_pending:
            self._wake_pending = True
            try:
                self._loop.call_soon_threadsafe(self._wake_clients)
            except RuntimeError:  # the loop stopped under us (close() from another thread)
                pass

    def _close(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass
        self._thread.join(_STOP_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("browser source: server thread still running %g s after close()", _STOP_TIMEOUT_S)
        else:
            log.info("browser source closed (%d frames in, %d messages out)", self.frames_sent, self.frames_delivered)

    # ---- server thread -------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except Exception as exc:
            if self._started.is_set():
                log.exception("browser source server failed; OBS will show the last frame")
            else:
                self._start_error = exc
        finally:
            self._started.set()  # never leave the constructor waiting
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        try:
            server = await serve(
                self._handle_client,
                self.host,
                self.port,
                process_request=self._process_request,
                compression=None,  # deflating 1 MiB of pixels per frame costs more than loopback bandwidth
                max_size=_MAX_CLIENT_MESSAGE_BYTES,
                close_timeout=2,
                create_connection=_tracked_connection_class(self._connections),
                logger=logging.getLogger(f"{__name__}.websockets"),
            )
        except OSError as exc:
            self._start_error = exc
            self._started.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            self._stopping = True
            self._wake_clients()
            server.close()
            for connection in list(self._connections):
                if not connection.request_rcvd.done():  # a spare socket that never sent a request
                    connection.transport.abort()
            await server.wait_closed()

    def _process_request(self, connection, request):
        path = urlsplit(request.path).path
        if path == WS_PATH:
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).port != self.port:
                # Only our own page may read the stream, not any web page the user visits.
                return connection.respond(HTTPStatus.FORBIDDEN, f"origin {origin} is not this server's page\n")
            return None  # go on with the WebSocket handshake
        if path in ("/", "/index.html"):
            response = connection.respond(HTTPStatus.OK, "")
            response.body = _PAGE_BYTES
            del response.headers["Content-Type"]
            del response.headers["Content-Length"]
            response.headers["Content-Type"] = "text/html; charset=utf-8"
            response.headers["Content-Length"] = str(len(_PAGE_BYTES))
            response.headers["Cache-Control"] = "no-store"
            return response
        return connection.respond(HTTPStatus.NOT_FOUND, f"{path} not found; the page is at /\n")

    def _wake_clients(self) -> None:
        self._wake_pending = False
        for client in self._clients:
            client.wake.set()

    async def _handle_client(self, connection) -> None:
        from websockets.exceptions import ConnectionClosed

        client = _Client()
        self._clients.add(client)
        log.info("browser source: client connected from %s", connection.remote_address)
        reader = asyncio.create_task(self._read_client(connection, client))
        try:
            await self._stream_frames(connection, client, reader)
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            self._clients.discard(client)
            log.info("browser source: client %s left after %d frames", connection.remote_address, client.frames_sent)

    async def _stream_frames(self, connection, client: _Client, reader: asyncio.Task) -> None:
        loop = asyncio.get_running_loop()
        sent_version = 0
        next_due = 0.0
        while not self._stopping and not reader.done():
            if self._version == sent_version or client.credits <= 0:
                client.wake.clear()
                await client.wake.wait()
                continue
            delay = next_due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
                continue  # a newer frame may have arrived meanwhile
            version, message = self._encode_newest()
            client.credits -= 1
            next_due = loop.time() + self._min_interval_s
            await connection.send(message)
            sent_version = version
            client.frames_sent += 1
            self.frames_delivered += 1

    async def _read_client(self, connection, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in connection:
                if isinstance(message, str):
                    self._on_client_message(message, client)
        except ConnectionClosed:
            pass
        finally:
            client.wake.set()

    def _on_client_message(self, text: str, client: _Client) -> None:
        try:
            message = json.loads(text)
            kind = message.get("type")
        except (ValueError, AttributeError):
            log.debug("browser source: ignoring a client message that is not a JSON object: %.80r", text)
            return
        if kind == "ack":
            client.credits = min(WINDOW, client.credits + 1)
            client.wake.set()
        elif kind == "selftest":
            self._store_report(message)

    def _store_report(self, message: dict) -> None:
        try:
            width, height = int(message["width"]), int(message["height"])
            rgba = np.frombuffer(base64.b64decode(message.pop("rgba_base64")), np.uint8).reshape(height, width, 4)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("browser source: malformed self-test report (%s)", exc)
            return
        message["rgba"] = rgba
        message["received_at"] = time.monotonic()
        with self._lock:
            self._last_report = message

    def _encode_newest(self) -> tuple[int, bytearray]:
        """The newest frame as a wire message, converted once however many clients want it."""
        with self._lock:
            frame, version = self._latest, self._version
        if version != self._encoded_version:
            height, width = frame.data.shape[:2]
            if self._converter is None or self._converter.shape != (height, width):
                self._converter = StraightRgba8(height, width)
            # A fresh buffer per sent frame: a client may still be sending the previous one.
            message = bytearray(HEADER.size + height * width * 4)
            HEADER.pack_into(message, 0, MAGIC, width, height, version & 0xFFFFFFFF)
            pixels = np.frombuffer(message, np.uint8, offset=HEADER.size).reshape(height, width, 4)
            self._converter.into(frame, pixels)
            self._encoded_version, self._encoded = version, message
        return self._encoded_version, self._encoded


def _tracked_connection_class(connections: set):
    """A ServerConnection that keeps itself in ``connections`` from TCP accept to close.

    websockets' ``Server.close()`` closes only connections that finished the handshake and then waits
    for every handler, so a spare socket a browser opened ahead of need (Chromium's preconnect) and
    never used would hold close() for the whole handshake timeout (10 s). Tracking every connection
    lets close() drop those at once.
    """
    from websockets.asyncio.server import ServerConnection

    class TrackedConnection(ServerConnection):
        def connection_made(self, transport):
            super().connection_made(transport)
            connections.add(self)

        def connection_lost(self, exc):
            connections.discard(self)
            super().connection_lost(exc)

    return TrackedConnection
