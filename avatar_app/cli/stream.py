"""`avatar-app stream`: a live source through the rig and a renderer into sinks, headless.

    avatar-app stream --source webcam --sink virtualcam
    avatar-app stream --source demo --sink file:out.mp4 --frames 300 --renderer proxy
    avatar-app stream --source vmc --sink browser --weights DIR

A status line (fps, per-stage ms, latency, drops, source status) is refreshed about
twice a second on stderr: one line rewritten in place on a terminal, plain lines
otherwise. Ctrl-C (or SIGTERM) stops cleanly; so does reaching --frames.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from avatar_app.cli.common import DEFAULT_CHARACTER, DEFAULT_WEIGHTS, load_character, load_networks, parse_colour, print_export_progress
from avatar_app.core.errors import AvatarAppError, SettingError
from avatar_app.core.frames import check_model_size
from avatar_app.pipeline import defaults
from avatar_app.pipeline.specs import SINK_SYNTAX, SOURCE_SYNTAX

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 0.5


def add_parser(sub) -> None:
    p = sub.add_parser("stream", help="stream a live avatar (webcam, video, VMC, motion file or demo) to sinks, headless")
    p.add_argument("--sheet", default=str(DEFAULT_CHARACTER / "sheet"), help="character-sheet folder (default: the built-in character's)")
    p.add_argument("--source", default="demo", help=f"where the pose comes from: {SOURCE_SYNTAX} (default demo)")
    p.add_argument("--sink", action="append", required=True, help=f"where frames go: {SINK_SYNTAX}; repeat for several")
    p.add_argument("--renderer", choices=("conr", "proxy"), default=None,
                   help="conr (needs weights) or proxy (the rig's flat colours); default conr when weights are found, else proxy")
    p.add_argument("--weights", default=None, help=f"folder with the four CoNR .pth files (default {DEFAULT_WEIGHTS}, if present)")
    p.add_argument("--backend", choices=("torch", "onnxruntime", "tensorrt"), default="torch",
                   help="inference backend: torch (default); onnxruntime (exports the weights' graphs on first use, about a minute); "
                        "tensorrt (engines from tools/build_engine.py --weights)")
    p.add_argument("--device", default="cpu", help="torch device for CoNR and the UDP detector, e.g. cpu or cuda")
    p.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32",
                   help="CoNR precision: fp32 (default); fp16 (CUDA: torch or TensorRT) or bf16 (torch): convolutions only, "
                        "warps and norms stay fp32; ONNX Runtime runs fp32 only")
    p.add_argument("--size", type=int, default=256, help="model resolution, a multiple of 128 (default 256)")
    p.add_argument("--views", type=int, default=None, help="use at most this many sheet views")
    p.add_argument("--frames", type=int, default=None, help="stop after this many frames reached the sinks (default: run until Ctrl-C)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the clocked sources and the sinks (default 30)")
    p.add_argument("--background", default="#00ff00", help="colour behind the avatar where a sink has no alpha (default #00ff00)")
    p.add_argument("--udp-detector", action="store_true", help="camera sources: read the pose with CoNR's UDP detector instead of mediapipe")
    p.add_argument("--character", default=None, help="a .glb/.vrm character for the rig (default: the built-in one)")
    p.add_argument("--no-springs", action="store_true", help="switch spring-bone physics off")
    p.add_argument("--cache-dir", default=None, help="sheet-feature cache folder (default ~/.cache/avatar_app/sheets)")
    p.set_defaults(func=run)


def choose_renderer(requested: str | None, weights: str | None) -> tuple[str, Path | None, str | None]:
    """(renderer, weights folder or None, warning or None): conr when weights exist, else proxy with a warning."""
    return defaults.choose_renderer(requested, weights, default_weights=DEFAULT_WEIGHTS)


def _check_settings(args) -> None:
    if args.frames is not None and args.frames < 1:
        raise SettingError("--frames", "at least 1", str(args.frames), "use e.g. --frames 60, or leave it out to run until Ctrl-C")
    if not 0 < args.fps <= 240:
        raise SettingError("--fps", "a frame rate above 0 and at most 240", repr(args.fps), "use e.g. --fps 30")
    if args.views is not None and args.views < 1:
        raise SettingError("--views", "at least 1", str(args.views), "use e.g. --views 4")
    from avatar_app.infer.registry import check_precision

    check_precision(args.backend, args.precision)


class StatusPrinter:
    """The live status line: rewritten in place on a terminal, one line per update otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._dirty = False

    def update(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
            self._dirty = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._dirty:
            self.stream.write("\n")
            self.stream.flush()
            self._dirty = False


@contextlib.contextmanager
def _stop_on_signals(stop):
    """SIGINT/SIGTERM call ``stop()`` instead of raising, so shutdown runs in order (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: stop(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args) -> int:
    from avatar_app.pipeline import LivePipeline, ProxyRenderer, open_sink, open_source, parse_sink_spec, parse_source_spec
    from avatar_app.pipeline.specs import check_unique_sinks
    from avatar_app.pipeline.status import format_stage_table, format_status_line

    # Everything that needs no device or model first, so a typo fails in a second.
    size = check_model_size(args.size, "--size")
    background = parse_colour(args.background)
    _check_settings(args)
    source_spec = parse_source_spec(args.source)
    sink_specs = [parse_sink_spec(s) for s in args.sink]
    check_unique_sinks(sink_specs)
    if args.udp_detector and not source_spec.is_camera:
        raise SettingError("--udp-detector", "a webcam or video source", f"--source {args.source}", "use --source webcam or --source video:FILE")
    renderer_name, weights, warning = choose_renderer(args.renderer, args.weights)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    sheet_dir = Path(args.sheet)
    if renderer_name == "conr" and not sheet_dir.exists():
        raise SettingError("--sheet", "a folder of character-sheet views (PNG with alpha)", f"no such folder {sheet_dir}", "check the path")

    with contextlib.ExitStack() as owned:
        networks = None
        if renderer_name == "conr" or args.udp_detector:
            networks = load_networks(weights)
        if renderer_name == "conr":
            from avatar_app.infer import SheetCache
            from avatar_app.io.sheet import load_sheet
            from avatar_app.pipeline import ConrRenderer

            sheet = load_sheet(sheet_dir, size=size, max_views=args.views)
            print(f"encoding the sheet ({sheet.num_views} view(s) at {size}x{size}) ...", file=sys.stderr, flush=True)
            cache = SheetCache(args.cache_dir) if args.cache_dir else SheetCache()
            renderer = owned.enter_context(ConrRenderer(networks, sheet, args.device, backend=args.backend, cache=cache,
                                                        precision=args.precision, progress=print_export_progress))  # fmt: skip
        else:
            renderer = owned.enter_context(ProxyRenderer())
        detector = None
        if args.udp_detector:
            from avatar_app.infer.registry import open_backend

            detector = open_backend(args.backend, networks, size, device=args.device, precision=args.precision,
                                    parts=("udp_detector",), progress=print_export_progress)["udp_detector"]  # fmt: skip
        character = None if detector is not None else load_character(args.character)
        source = owned.enter_context(open_source(source_spec, fps=args.fps, character=character, size=size, detector=detector))
        sinks = []
        for spec in sink_specs:
            sink = owned.enter_context(open_sink(spec, size=size, fps=args.fps, background_rgb=background))
            sinks.append(sink)
            if spec.kind == "browser":
                print(f"browser source: {sink.url}  (add it in OBS as a Browser Source, {size}x{size})", flush=True)
            elif spec.kind == "virtualcam":
                print(f"virtual camera: {sink.device} ({sink.backend})", flush=True)
        pipeline = LivePipeline(source, renderer, sinks, character=character, size=size, springs=not args.no_springs, max_frames=args.frames)
        owned.callback(pipeline.close)
        return _stream(pipeline, format_status_line, format_stage_table)


def _stream(pipeline, format_status_line, format_stage_table) -> int:
    printer = StatusPrinter()
    signalled: list[int] = []

    def on_signal(signum: int) -> None:
        if signalled:  # a second Ctrl-C: stop waiting for a stage that will not finish
            raise KeyboardInterrupt
        signalled.append(signum)
        pipeline.stop()

    with _stop_on_signals(on_signal):
        pipeline.start()
        t0 = time.monotonic()
        print(f"streaming {pipeline.source.name} -> {pipeline.renderer.name} -> {', '.join(s.name for s in pipeline.sinks)}"
              f" ({'Ctrl-C to stop' if pipeline.max_frames is None else f'{pipeline.max_frames} frames'})", flush=True)
        try:
            while not pipeline.wait(STATUS_INTERVAL_S):
                printer.update(format_status_line(pipeline.status))
        finally:
            printer.finish()
            pipeline.close()
    elapsed = time.monotonic() - t0
    status = pipeline.status
    how = "stopped by signal" if signalled else status.state
    print(f"{how}: {status.frames_sent} frames in {elapsed:.1f} s ({status.frames_sent / max(elapsed, 1e-9):.1f} fps), "
          f"source {status.source}, renderer {status.renderer}")
    print(format_stage_table(status))
    print("  dropped (newer frames replaced them): " + ", ".join(f"{k} {v}" for k, v in status.dropped.items()))
    if status.state == "failed":
        if isinstance(pipeline.error, AvatarAppError):
            raise pipeline.error
        print(f"avatar-app: error: {status.error}", file=sys.stderr)
        return 1
    return 0
