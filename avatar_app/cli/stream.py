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

from avatar_app.cli.common import add_character_arguments
from avatar_app.cli.control import add_control_arguments, control_api, control_overrides
from avatar_app.core.errors import AvatarAppError
from avatar_app.pipeline.defaults import (
    DEFAULT_WEIGHTS,
    choose_renderer,
    open_character_arg,
    parse_colour,
)
from avatar_app.pipeline.specs import SINK_SYNTAX, SOURCE_SYNTAX
from avatar_app.tracking.audio_input import MIC_SYNTAX
from avatar_app.tracking.mouth_from_audio import MicSettings

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 0.5


def add_parser(sub) -> None:
    p = sub.add_parser(
        "stream", help="stream a live avatar (webcam, video, VMC, motion file or demo) to sinks, headless"
    )
    p.add_argument(
        "--sheet",
        default=None,
        help="character-sheet folder (default: the --character folder's sheet, else the built-in character's)",
    )
    p.add_argument("--source", default="demo", help=f"where the pose comes from: {SOURCE_SYNTAX} (default demo)")
    p.add_argument("--sink", action="append", required=True, help=f"where frames go: {SINK_SYNTAX}; repeat for several")
    p.add_argument(
        "--renderer",
        choices=("conr", "proxy", "udp"),
        default=None,
        help="conr (needs weights), proxy (the rig's flat colours) or udp (the UDP map itself, xyz as RGB); "
        "default conr when weights are found, else proxy",
    )
    p.add_argument(
        "--weights", default=None, help=f"folder with the four CoNR .pth files (default {DEFAULT_WEIGHTS}, if present)"
    )
    p.add_argument(
        "--backend",
        choices=("torch", "onnxruntime", "tensorrt"),
        default="torch",
        help="inference backend: torch (default); "
        "onnxruntime (exports the weights' graphs on first use, about a minute); "
        "tensorrt (engines from tools/build_engine.py --weights)",
    )
    p.add_argument("--device", default="cpu", help="torch device for CoNR and the UDP detector, e.g. cpu or cuda")
    p.add_argument(
        "--precision",
        choices=("fp32", "fp16", "bf16"),
        default="fp32",
        help="CoNR precision: fp32 (default); fp16 (CUDA: torch or TensorRT) or bf16 (torch): convolutions only, "
        "warps and norms stay fp32; ONNX Runtime runs fp32 only",
    )
    p.add_argument("--size", type=int, default=256, help="the frames' size, a multiple of 128 (default 256)")
    p.add_argument(
        "--internal-size",
        type=int,
        default=None,
        help="CoNR's own size, at most --size: its render is grown to --size, the drawing's pixels laid over "
        "at --size (default: 256 on a CPU, at most 512 on CUDA)",
    )
    p.add_argument("--views", type=int, default=None, help="use at most this many sheet views")
    p.add_argument(
        "--frames",
        type=int,
        default=None,
        help="stop after this many frames reached the sinks (default: run until Ctrl-C)",
    )
    p.add_argument(
        "--fps", type=float, default=30.0, help="frame rate of the clocked sources and the sinks (default 30)"
    )
    p.add_argument(
        "--background", default="#00ff00", help="colour behind the avatar where a sink has no alpha (default #00ff00)"
    )
    p.add_argument(
        "--udp-detector",
        action="store_true",
        help="camera sources: read the pose with CoNR's UDP detector instead of mediapipe",
    )
    p.add_argument(
        "--inbetween",
        choices=("repeat", "warp"),
        default=None,
        help="while the renderer is slower than the source, send a frame per source frame anyway: "
        "repeat (the last render) or warp (the last render moved to the current pose by the rig's UDP map); "
        "default: only rendered frames",
    )
    p.add_argument(
        "--no-drawn-detail",
        action="store_true",
        help="CoNR only: skip laying the drawing's own pixels over each frame (needs the character's sheet_udp/)",
    )
    p.add_argument(
        "--views-per-frame",
        type=int,
        default=None,
        metavar="K",
        help="CoNR only: each frame reads the K sheet views that cover most of its pose (needs sheet_udp/; "
        "faster with several views, see README)",
    )
    p.add_argument(
        "--frames-in-flight",
        type=int,
        default=1,
        metavar="N",
        help="CoNR with torch on the CPU: render N frames at once, one core each (more fps, a longer wait "
        "per frame; see README)",
    )
    p.add_argument(
        "--mic",
        default=None,
        metavar="DEVICE",
        help=f"the mouth follows this microphone ({MIC_SYNTAX}); eyes, brows and emotions still come "
        "from the source. file:PATH.wav plays the file in real time from the stream's start",
    )
    p.add_argument("--mic-gain", type=float, default=0.0, metavar="DB", help="microphone gain in dB (default 0)")
    p.add_argument(
        "--mic-gate",
        type=float,
        default=MicSettings().gate_db,
        metavar="DBFS",
        help=f"below this level the mouth stays shut (default {MicSettings().gate_db:g} dBFS)",
    )
    p.add_argument(
        "--no-idle-life",
        action="store_true",
        help="hold a lost or idle source's pose still (default: it breathes, sways and moves its head a little)",
    )
    add_control_arguments(p)
    add_character_arguments(p)
    p.add_argument("--no-springs", action="store_true", help="switch spring-bone physics off")
    p.add_argument("--cache-dir", default=None, help="sheet-feature cache folder (default ~/.cache/avatar_app/sheets)")
    p.set_defaults(func=run)


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


def settings_from_args(args):
    """The pipeline settings ``args`` describe (``build_pipeline`` checks them before it loads anything)."""
    from avatar_app.pipeline.builder import PipelineSettings
    from avatar_app.pipeline.specs import parse_sink_spec, parse_source_spec
    from avatar_app.tracking.audio_input import parse_mic_spec

    background = parse_colour(args.background)
    mic = parse_mic_spec(args.mic) if args.mic is not None else None
    mic_settings = MicSettings(gain_db=args.mic_gain, gate_db=args.mic_gate)
    source = parse_source_spec(args.source)
    sinks = tuple(parse_sink_spec(s) for s in args.sink)
    choice = open_character_arg(args.character)
    weights_arg = args.weights or (str(choice.weights) if choice.weights else None)
    renderer, weights, warning = choose_renderer(args.renderer, weights_arg, default_weights=DEFAULT_WEIGHTS)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    print(f"avatar-app: the pose drives {choice.describe()}", file=sys.stderr, flush=True)
    framing = choice.framing_or(args.framing)
    return PipelineSettings(
        source=source,
        renderer=renderer,
        sheet_dir=Path(args.sheet) if args.sheet else choice.sheet_dir,
        weights=weights,
        backend=args.backend,
        device=args.device,
        precision=args.precision,
        size=args.size,
        internal_size=args.internal_size,
        views=args.views,
        udp_detector=args.udp_detector,
        fps=args.fps,
        springs=not args.no_springs,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        character=choice.body,
        framing=framing,
        sinks=sinks,
        background_rgb=background,
        max_frames=args.frames,
        inbetween=args.inbetween,
        drawn_detail=not args.no_drawn_detail,
        views_per_frame=args.views_per_frame,
        frames_in_flight=args.frames_in_flight,
        mic=mic,
        mic_settings=mic_settings,
        idle_life=not args.no_idle_life,
    )


def run(args) -> int:
    from avatar_app.pipeline.builder import build_pipeline
    from avatar_app.pipeline.status import format_stage_table, format_status_line

    settings = settings_from_args(args)
    overrides = control_overrides(args)  # --api: expressions set by hand over the source's
    pipeline = build_pipeline(  # a typo fails here, in a second, before anything loads
        settings, note=lambda text: print(text, file=sys.stderr, flush=True), expression_overrides=overrides
    )
    character = str(settings.character or "the built-in character")
    with contextlib.closing(pipeline), control_api(args, overrides, pipeline, character):
        size = settings.size
        for spec, sink in zip(settings.sinks, pipeline.sinks, strict=True):
            if spec.kind == "browser":
                print(f"browser source: {sink.url}  (add it in OBS as a Browser Source, {size}x{size})", flush=True)
            elif spec.kind == "virtualcam":
                print(f"virtual camera: {sink.device} ({sink.backend})", flush=True)
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
        print(
            f"streaming {pipeline.source.name} -> {pipeline.renderer.name} -> "
            f"{', '.join(s.name for s in pipeline.sinks)}"
            f" ({'Ctrl-C to stop' if pipeline.max_frames is None else f'{pipeline.max_frames} frames'})",
            flush=True,
        )
        try:
            while not pipeline.wait(STATUS_INTERVAL_S):
                printer.update(format_status_line(pipeline.status))
        finally:
            printer.finish()
            pipeline.close()
    elapsed = time.monotonic() - t0
    status = pipeline.status
    how = "stopped by signal" if signalled else status.state
    print(
        f"{how}: {status.frames_sent} frames in {elapsed:.1f} s ({status.frames_sent / max(elapsed, 1e-9):.1f} fps), "
        f"source {status.source}, renderer {status.renderer}"
    )
    print(format_stage_table(status))
    print("  dropped (newer frames replaced them): " + ", ".join(f"{k} {v}" for k, v in status.dropped.items()))
    for text in pipeline.stopped_outputs if status.state != "failed" else ():  # a failure says it below
        print(f"avatar-app: an output stopped during the stream: {text}", file=sys.stderr)
    if status.state == "failed":
        if isinstance(pipeline.error, AvatarAppError):
            raise pipeline.error
        print(f"avatar-app: error: {status.error}", file=sys.stderr)
        return 1
    return 1 if pipeline.stopped_outputs else 0  # a recording cut short is not a clean run
