#!/usr/bin/env python3
"""Soak test: stream for a while and watch memory, threads, file descriptors and GL objects.

    python tools/soak.py --minutes 10 --json out/soak.json
    python tools/soak.py --minutes 60 --interval-s 30 --json out/soak60.json

The stream is the one ``avatar-app stream`` builds (its own argument parser and
``build_pipeline``): the demo source, CoNR with the shipped lite weights, the built-in
character, to a video file and to the browser source. A client thread connects to the
browser source over its WebSocket again and again: it takes a few frames and acknowledges
them like the page does, then leaves cleanly, or drops the connection in the middle of a
frame (a reset, as when OBS is killed).

Every ``--interval-s`` the process is sampled: resident memory (VmRSS), threads (the
kernel's count, OpenMP's and the browser server's included), open file descriptors, and
live moderngl objects (buffers, textures, framebuffers, vertex arrays, programs,
contexts not yet released). Growth is measured from the first sample after ``--warmup-s``
(the sheet encoded, caches and allocator pools filled) to the last:
``rss_growth_pct``, ``threads_growth``, ``fds_growth``, ``gl_objects_growth``. The JSON
holds them, every sample and the run's settings; a table goes to stdout. Exit status 1
when the pipeline failed during the run.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import platform
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar_app.pipeline.defaults import DEFAULT_WEIGHTS  # noqa: E402

WS_PATH = "/ws"


# ---- what is sampled ----


def _proc_status() -> dict[str, str]:
    with open("/proc/self/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def gl_object_count() -> int | None:
    """Live (not released) moderngl objects in this process; None without moderngl."""
    try:
        import moderngl
    except ImportError:
        return None
    kinds = (
        moderngl.Buffer,
        moderngl.Texture,
        moderngl.Framebuffer,
        moderngl.Renderbuffer,
        moderngl.VertexArray,
        moderngl.Program,
        moderngl.Context,
    )
    live = 0
    for obj in gc.get_objects():
        # type(), not isinstance(): gc also lists weak proxies, and isinstance() on a dead one raises
        if issubclass(type(obj), kinds) and type(getattr(obj, "mglo", None)).__name__ != "InvalidObject":
            live += 1
    return live


def sample_process() -> dict:
    status = _proc_status()
    return {
        "rss_mb": int(status["VmRSS"].split()[0]) / 1024.0,
        "threads": int(status["Threads"]),
        "python_threads": threading.active_count(),
        "fds": len(os.listdir("/proc/self/fd")),
        "gl_objects": gl_object_count(),
    }


def growth(samples: list[dict], warmup_s: float) -> dict:
    """Growth after ``warmup_s``: the least value in the last tenth of the samples minus the least
    in the first tenth (three samples each, where there are six). The least, because a browser
    client that happens to be connected at a sample adds a socket and a moment of memory; a
    leak raises the floor. None with fewer than two samples after the warm-up."""
    after = [s for s in samples if s["t_s"] >= warmup_s]
    if len(after) < 2:
        return dict.fromkeys(("rss_growth_pct", "threads_growth", "fds_growth", "gl_objects_growth"))
    window = max(1, min(3, len(after) // 2), len(after) // 10)
    first, last = after[:window], after[-window:]

    def floor(rows, key):
        values = [r[key] for r in rows if r[key] is not None]
        return min(values) if values else None

    gl_first, gl_last = floor(first, "gl_objects"), floor(last, "gl_objects")
    rss_first = floor(first, "rss_mb")
    return {
        "rss_growth_pct": 100.0 * (floor(last, "rss_mb") - rss_first) / rss_first,
        "threads_growth": floor(last, "threads") - floor(first, "threads"),
        "fds_growth": floor(last, "fds") - floor(first, "fds"),
        "gl_objects_growth": None if gl_first is None or gl_last is None else gl_last - gl_first,
        "rss_baseline_mb": rss_first,
        "rss_max_mb": max(r["rss_mb"] for r in after),
        "window_samples": window,
    }


# ---- the browser client that comes and goes ----


class ComingAndGoingClient:
    """Connects to the browser source's WebSocket, takes a few frames, leaves; again until stopped.

    Every third visit ends with a reset in the middle of a frame (raw socket, SO_LINGER 0)
    instead of a clean close. It runs in a child process, so its own threads and sockets are
    not counted as the app's. Counts visits, drops, whole frames received and errors.
    """

    def __init__(self, host: str, port: int, pause_s: float = 0.5):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._counts = context.Array("l", 4)  # visits, drops, frames, errors
        self._process = context.Process(
            target=_client_loop, args=(host, port, pause_s, self._stop, self._counts), name="soak-browser-client"
        )

    def start(self) -> ComingAndGoingClient:
        self._process.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._process.join(15.0)
        if self._process.is_alive():
            self._process.kill()

    @property
    def counts(self) -> dict:
        visits, drops, frames, errors = self._counts[:]
        return {"visits": visits, "drops_mid_frame": drops, "frames_received": frames, "errors": errors}


def _client_loop(host: str, port: int, pause_s: float, stop, counts) -> None:
    visits = 0
    while not stop.is_set():
        try:
            if visits % 3 == 2:
                drop_mid_frame(host, port)
                counts[1] += 1
            else:
                counts[2] += _visit(host, port, 1 + visits % 4, stop)
        except Exception as exc:  # noqa: BLE001 a failed visit is counted and said, not fatal
            counts[3] += 1
            print(f"soak client: visit {visits} failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        visits += 1
        counts[0] = visits
        stop.wait(pause_s)


def _visit(host: str, port: int, frames_wanted: int, stop) -> int:
    from websockets.sync.client import connect

    got = 0
    with connect(f"ws://{host}:{port}{WS_PATH}", open_timeout=10, max_size=None) as ws:
        while got < frames_wanted and not stop.is_set():
            message = ws.recv(timeout=30)
            if isinstance(message, bytes):
                index = struct.unpack_from("<4sIII", message)[3]
                ws.send(json.dumps({"type": "ack", "frame": index}))
                got += 1
    return got


def drop_mid_frame(host: str, port: int, read_bytes: int = 4096, timeout_s: float = 10.0) -> int:
    """Open the WebSocket by hand, read ``read_bytes`` of the first frame, then reset the connection.

    Returns the bytes read after the handshake (less than a frame: the server is mid-send).
    """
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(
            (
                f"GET {WS_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("the browser source closed the connection during the handshake")
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"the browser source refused the WebSocket: {head[:80]!r}")
        while len(body) < read_bytes:
            chunk = sock.recv(read_bytes - len(body))
            if not chunk:
                break
            body += chunk
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    return len(body)


# ---- the run ----


def stream_settings(record: Path, weights: Path, size: int, fps: float, renderer: str = "conr"):
    """The settings ``avatar-app stream`` makes of the same command line."""
    from avatar_app.cli.main import build_parser
    from avatar_app.cli.stream import settings_from_args

    argv = ["stream", "--source", "demo", "--renderer", renderer, "--weights", str(weights)]
    argv += ["--size", str(size), "--fps", str(fps), "--sink", f"file:{record}", "--sink", "browser:0"]
    return settings_from_args(build_parser().parse_args(argv))


def run_soak(args) -> dict:
    from avatar_app.outputs import BrowserSourceSink
    from avatar_app.pipeline.builder import build_pipeline

    duration_s = args.minutes * 60.0
    warmup_s = args.warmup_s if args.warmup_s is not None else min(120.0, 0.2 * duration_s)
    interval_s = args.interval_s if args.interval_s is not None else min(30.0, max(0.5, duration_s / 60.0))
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        record = Path(args.record) if args.record else Path(scratch) / "soak.mp4"
        settings = stream_settings(record, Path(args.weights), args.size, args.fps, args.renderer)
        pipeline = build_pipeline(settings, note=lambda text: print(text, file=sys.stderr, flush=True))
        browser = next(s for s in pipeline.sinks if isinstance(s, BrowserSourceSink))
        samples: list[dict] = []
        client = None
        try:
            pipeline.start()
            client = ComingAndGoingClient(browser.host, browser.port).start()
            t0 = time.monotonic()
            next_due = t0
            while True:
                status = pipeline.status
                now = time.monotonic() - t0
                samples.append(
                    {
                        "t_s": round(now, 2),
                        **sample_process(),
                        "frames_sent": status.frames_sent,
                        "fps": round(status.fps, 2),
                        "client_visits": client.counts["visits"],
                        "browser_clients_now": browser.client_count,
                    }
                )
                if status.state != "running" or now >= duration_s:
                    break
                next_due += interval_s
                pipeline.wait(max(0.0, min(next_due, t0 + duration_s) - time.monotonic()))
        finally:
            if client is not None:
                client.stop()
            pipeline.close()
        status = pipeline.status
        recorded_mb = record.stat().st_size / 2**20 if record.is_file() else 0.0
    result = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "settings": {
            "minutes": args.minutes,
            "warmup_s": warmup_s,
            "interval_s": interval_s,
            "size": args.size,
            "fps": args.fps,
            "weights": str(args.weights),
            "renderer": status.renderer,
            "sinks": [s.name for s in pipeline.sinks],
        },
        "state": status.state,
        "error": status.error,
        "frames_sent": status.frames_sent,
        "recorded_mb": round(recorded_mb, 2),
        "browser_client": client.counts if client else {},
        **growth(samples, warmup_s),
        "samples": samples,
    }
    return result


def print_table(result: dict) -> None:
    rows = result["samples"]
    print(f"{'t (s)':>8} {'RSS (MB)':>9} {'threads':>8} {'fds':>5} {'GL obj':>7} {'frames':>7} {'fps':>6}")
    step = max(1, len(rows) // 20)
    for row in rows[::step] + ([rows[-1]] if (len(rows) - 1) % step else []):
        gl = "-" if row["gl_objects"] is None else row["gl_objects"]
        print(
            f"{row['t_s']:>8.1f} {row['rss_mb']:>9.1f} {row['threads']:>8d} {row['fds']:>5d} {gl!s:>7} "
            f"{row['frames_sent']:>7d} {row['fps']:>6.1f}"
        )
    client = result["browser_client"]
    print(
        f"after warm-up ({result['settings']['warmup_s']:g} s): RSS {_fmt(result['rss_growth_pct'], '%')}, "
        f"threads {_fmt(result['threads_growth'])}, fds {_fmt(result['fds_growth'])}, "
        f"GL objects {_fmt(result['gl_objects_growth'])}"
    )
    print(
        f"{result['frames_sent']} frames, state {result['state']}; browser client: {client['visits']} visits, "
        f"{client['drops_mid_frame']} dropped mid-frame, {client['frames_received']} frames, {client['errors']} errors"
    )


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:+.2f}{unit}" if isinstance(value, float) else f"{value:+d}{unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to stream (default 10)")
    parser.add_argument("--json", default=None, help="write samples and growth figures here")
    parser.add_argument("--interval-s", type=float, default=None, help="seconds between samples (default: 60 samples)")
    parser.add_argument(
        "--warmup-s", type=float, default=None, help="growth is measured after this (default: 20%%, at most 120 s)"
    )
    parser.add_argument("--size", type=int, default=256, help="model resolution (default 256)")
    parser.add_argument("--fps", type=float, default=30.0, help="the demo source's rate (default 30)")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS), help="CoNR weights (default the shipped lite ones)")
    parser.add_argument(
        "--renderer",
        choices=("conr", "proxy"),
        default="conr",
        help="conr (default) or proxy: the rig's colours, many more frames per minute on a slow CPU",
    )
    parser.add_argument("--record", default=None, help="the video file sink's path (default: a temporary file)")
    args = parser.parse_args(argv)
    if not args.minutes > 0:
        parser.error(f"--minutes: expected a positive number of minutes, found {args.minutes}; use e.g. --minutes 10")
    result = run_soak(args)
    print_table(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {args.json}")
    if result["state"] == "failed":
        print(f"soak: the pipeline failed: {result['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
