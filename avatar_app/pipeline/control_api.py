"""The local control API: a websocket server that stream decks, bots and scripts drive.

Websocket with JSON text messages, as VTube Studio's plugin API, veadotube and PNGTuber Remix
speak it, so the tools streamers already have can talk to it. Messages (``docs/control_api.md``,
parsed in ``control_messages``): set and clear expressions, trigger a hotkey, switch the
character, read the status. Every message gets one JSON reply; a message we cannot act on
gets ``{"type": "error", "error": ..., "expected": ...}``, never a dropped connection.

Who may connect: the server listens on 127.0.0.1 only, so other computers cannot reach it,
unless the user opts in (``allow_remote``: every interface). A web page the user happens to
visit could still open a websocket to 127.0.0.1, so a handshake that carries a browser
``Origin`` other than a page served from this computer (``http://localhost:...``) is refused;
tools that are not browsers send no ``Origin``.

`ControlHandler` acts on messages (no sockets: tested directly); `ControlServer` owns the
socket and a thread per connection (``websockets.sync``), each named ``control-api-*``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
from collections.abc import Callable

from avatar_app.core.errors import AvatarAppError, DeviceError, SettingError
from avatar_app.pipeline.control_messages import MESSAGES, Command, MessageError, parse_message
from avatar_app.pipeline.expression_control import ExpressionOverrides
from avatar_app.pipeline.hotkeys import HotkeyActions
from avatar_app.rig.expressions import EXPRESSIONS

log = logging.getLogger(__name__)

LOOPBACK_HOST = "127.0.0.1"
ALL_HOSTS = "0.0.0.0"
DEFAULT_API_PORT = 8770
LOCAL_ORIGINS = (None, re.compile(r"(https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?|null|file://.*)"))
_START_TIMEOUT_S = 5.0


class ControlHandler:
    """Acts on one message at a time (from any connection's thread: everything it calls is thread-safe).

    ``switch_character(path) -> str`` opens a character and says which (None: this process cannot,
    the reply says so); ``status() -> dict``: what the pipeline is doing.
    """

    def __init__(
        self,
        overrides: ExpressionOverrides,
        hotkeys: HotkeyActions | None = None,
        *,
        switch_character: Callable[[str], str] | None = None,
        status: Callable[[], dict] | None = None,
        switch_refusal: str = "this process renders one character; restart it with --character",
    ):
        self.overrides = overrides
        self.hotkeys = hotkeys
        self._switch_character = switch_character
        self._status = status
        self._switch_refusal = switch_refusal

    def handle(self, text: str | bytes) -> dict:
        """The reply to one message (an error reply for anything we cannot act on)."""
        try:
            command = parse_message(text)
            return self._act(command)
        except MessageError as error:
            return error.reply()

    def _act(self, command: Command) -> dict:
        f = command.fields
        expected = {name: what for name, (what, _) in MESSAGES[command.type].items()}
        try:
            if command.type == "set_expression":
                name = self.overrides.set(f["name"], f.get("value", 1.0), f.get("seconds"))
                return command.reply(name=name, active=self.overrides.active())
            if command.type == "clear_expression":
                self.overrides.clear(f.get("name"))
                return command.reply(active=self.overrides.active())
            if command.type == "hotkey":
                return self._hotkey(command)
            if command.type == "set_character":
                if self._switch_character is None:
                    raise command.error("switching the character is not available here", self._switch_refusal)
                return command.reply(character=self._switch_character(f["path"]))
            return command.reply(**self.status())
        except MessageError:
            raise
        except (ValueError, AvatarAppError) as error:  # a name we do not know, a key not bound, a bad folder
            text, _, said = str(error).partition("; expected ")  # our errors say what they expected: keep it
            field = next((k for k in ("name", "key", "path") if k in f), None)
            raise command.error(text, said or (f"{field} as {expected[field]}" if field else command.type)) from None

    def _hotkey(self, command: Command) -> dict:
        if self.hotkeys is None:
            raise command.error("no hotkeys here", "hotkeys set in the window (or stream --hotkey)")
        hotkey = self.hotkeys.trigger(command.fields["key"], command.fields.get("state", "tap"))
        return command.reply(
            key=hotkey.key, expression=hotkey.expression, mode=hotkey.mode, active=self.overrides.active()
        )

    def status(self) -> dict:
        out = dict(self._status()) if self._status is not None else {}
        out["active"] = self.overrides.active()
        out["timed"] = {name: round(s, 3) for name, s in self.overrides.seconds_left().items()}
        out["hotkeys"] = [hotkey.line() for hotkey in self.hotkeys.bindings] if self.hotkeys is not None else []
        out["expressions"] = list(EXPRESSIONS)
        return out


def _is_loopback(address) -> bool:
    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except (TypeError, ValueError, IndexError):
        return False


class ControlServer:
    """Listens on ``127.0.0.1:port`` (``allow_remote``: every interface) until `close`.

    ``port`` 0 picks a free one (tests); `port` is the one bound. A port in use is a SettingError
    that names it and the fix, raised here, at construction.
    """

    def __init__(self, handler: ControlHandler, port: int = DEFAULT_API_PORT, *, allow_remote: bool = False):
        from websockets.sync.server import serve

        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise SettingError("control API port", "a port from 1 to 65535", repr(port), "use e.g. --api 8770")
        self.handler = handler
        self.allow_remote = bool(allow_remote)
        self.host = ALL_HOSTS if self.allow_remote else LOOPBACK_HOST
        try:
            self._server = serve(
                self._serve_connection,
                self.host,
                port,
                origins=list(LOCAL_ORIGINS),
                max_size=4 * 16 * 1024,
                compression=None,
                logger=log,
            )
        except OSError as exc:
            raise SettingError(
                "control API port",
                "a free port",
                f"{port} ({exc.strerror or exc})",
                "choose another port, or close what uses it",
            ) from None
        self.port = self._server.socket.getsockname()[1]
        self.connections = 0  # served so far
        self.refused = 0  # closed because they came from another computer without allow_remote
        self._thread = threading.Thread(target=self._server.serve_forever, name="control-api", daemon=True)
        self._thread.start()
        log.info("control API on ws://%s:%d", self.host, self.port)

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK_HOST if not self.allow_remote else self.host}:{self.port}"

    def _serve_connection(self, connection) -> None:
        threading.current_thread().name = f"control-api-{connection.remote_address[1]}"
        if not self.allow_remote and not _is_loopback(connection.remote_address):
            self.refused += 1
            connection.close(1008, "the control API takes local connections only")
            return
        from websockets.exceptions import ConnectionClosed

        self.connections += 1
        try:
            for message in connection:
                connection.send(json.dumps(self._reply(message)))
        except ConnectionClosed:
            pass  # the client went away mid-reply: nothing to tell it

    def _reply(self, message) -> dict:
        try:
            return self.handler.handle(message)
        except Exception as exc:  # a bug must cost one reply, not the user's stream deck connection
            log.exception("control API: %r failed", message[:200])
            return {"type": "error", "error": f"internal error: {type(exc).__name__}", "expected": "a bug report"}

    def close(self) -> None:
        """Stop listening, close the connections, wait for the thread."""
        self._server.shutdown()
        self._thread.join(_START_TIMEOUT_S)
        if self._thread.is_alive():
            raise DeviceError("control API: the server thread did not stop")

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
