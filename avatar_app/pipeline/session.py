"""The window's live session: what the window asks for, made real on one worker thread.

The window never starts or stops anything itself. It states what it wants (a
`PipelineSettings`, or None for stopped, and an `OutputRequest`) and returns at once; the
``gui-session`` thread reconciles: stops the running pipeline when the config changed,
starts the new one (loading weights, encoding the sheet, opening the source and the GL
context can take seconds), then opens or closes outputs. The window reads `snapshot()`
at UI rate. Pipelines come from `builder.build_pipeline`, as the CLI's do. No Qt here
(it is tested without the window): frames reach the UI through slots it polls.

Outputs hang off an `OutputHub` (``output_hub``) that outlives each pipeline; they are
opened at the model size and re-opened when it changes. Weights are loaded once per version
of their folder: when the running pipeline's folder changes (``adapt`` wrote new weights), the
worker loads the new files and restarts with them, or, when they do not load, keeps streaming
with the old and says why (``weights_watch``). A character's body is loaded once per version of
its file, because the window's fit editor rewrites a character's ``avatar.glb`` in place and
then restarts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from avatar_app.outputs.base import FrameSink
from avatar_app.pipeline.builder import Loaders, PipelineSettings, build_pipeline
from avatar_app.pipeline.expression_control import ExpressionOverrides
from avatar_app.pipeline.output_hub import (
    OUTPUT_KINDS,
    OutputHub,
    OutputRequest,
    OutputState,
    PreviewSink,
    PreviewTap,
    open_output,
)
from avatar_app.pipeline.status import PipelineStatus
from avatar_app.pipeline.weights_watch import WEIGHTS_SETTLE_S, WeightsWatch
from avatar_app.rig.expressions import Expression
from avatar_app.tracking.expression_filter import ExpressionTuning
from avatar_app.tracking.mouth_from_audio import MicSettings

log = logging.getLogger(__name__)

POLL_S = 0.25  # how often the worker looks at a pipeline that may have ended by itself
CLOSE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SessionSnapshot:
    phase: str  # stopped | starting | running | stopping | ended | failed
    message: str  # what the worker is doing, or the error
    status: PipelineStatus | None
    outputs: dict[str, OutputState]
    config: PipelineSettings | None  # what the running pipeline was built from


class LiveSession:
    """Owns the pipeline and the outputs; every start, stop, open and close runs on ``gui-session``.

    ``character_loader(path)`` (``character_loader()`` for the built-in body) and
    ``networks_loader(folder)`` are called on the worker and cached (a body per file version).
    ``capture_factory`` reaches camera sources (tests). ``poll_s``: how often the worker looks
    again when nothing woke it. ``passes`` counts the worker's finished passes,
    so a test can wait for the worker to have looked again instead of sleeping.
    """

    def __init__(
        self,
        *,
        character_loader=None,
        networks_loader=None,
        capture_factory=None,
        poll_s: float = POLL_S,
        weights_settle_s: float = WEIGHTS_SETTLE_S,
    ):
        self.poll_s = poll_s
        self.passes = 0
        self.tap = PreviewTap()
        self.expression_tuning = ExpressionTuning()
        self.mic_settings = MicSettings()  # gain and gate: set live, no restart (like the tuning)
        self.expression_overrides = ExpressionOverrides()  # hotkeys and the control API: kept across restarts
        self._shown_expression: Expression | None = None
        self._wake = threading.Event()
        self.hub = OutputHub(on_failure=self._wake.set)
        self._networks = Loaders(networks_loader=networks_loader)  # weights: once per folder, across restarts
        self._characters = CharacterFiles(character_loader)
        self._capture_factory = capture_factory
        self._lock = threading.Lock()
        # asked for (UI thread writes, worker reads)
        self._want_config: PipelineSettings | None = None
        self._generation = 0
        self._want_outputs = OutputRequest()
        self._closing = False
        # made real (worker writes, UI reads through snapshot())
        self._pipeline = None
        self._pipeline_key = None
        self._failed_key = None
        self._phase_note: tuple[str, str] | None = None  # ("starting" | "stopping", message) while busy
        self._error = ""
        self._weights = WeightsWatch(weights_settle_s)
        self._weights_note = ""  # why changed weights were not taken up (the running pipeline goes on)
        self._out_keys: dict[str, tuple | None] = dict.fromkeys(OUTPUT_KINDS)
        self._out_failed_keys: dict[str, tuple | None] = dict.fromkeys(OUTPUT_KINDS)
        self._out_states: dict[str, OutputState] = {kind: OutputState() for kind in OUTPUT_KINDS}
        self._finished_records: set[Path] = set()
        self._thread = threading.Thread(target=self._run, name="gui-session", daemon=True)
        self._thread.start()

    # ---- UI thread: say what you want, return at once ----

    def set_config(self, config: PipelineSettings | None) -> None:
        """Run ``config`` (restarting when it differs from what runs), or stop with None."""
        with self._lock:
            self._want_config = config
        self._wake.set()

    def restart(self) -> None:
        """Start again with the same config (after a failure or the end of the source)."""
        with self._lock:
            self._generation += 1
        self._wake.set()

    def set_outputs(self, request: OutputRequest) -> None:
        with self._lock:
            self._want_outputs = request
        self._wake.set()

    @property
    def wanted_config(self) -> PipelineSettings | None:
        return self._want_config

    def set_expression_tuning(self, tuning: ExpressionTuning) -> None:
        """The user's gains, thresholds and calibration: to the running source now, and to the next."""
        self.expression_tuning = tuning
        track = self._expression_track()
        if track is not None:
            track.tuning = tuning

    def set_mic_settings(self, settings: MicSettings) -> None:
        """The microphone's gain and gate: to the running microphone now, and to the next."""
        self.mic_settings = settings
        microphone = self._microphone()
        if microphone is not None:
            microphone.settings = settings

    def mic_state(self):
        """(the newest ``MouthState`` or None, the microphone's status) of the running pipeline; (None, "")
        without a microphone."""
        pipeline = self._pipeline
        status = getattr(pipeline.source, "microphone_status", "") if pipeline is not None else ""
        microphone = self._microphone()
        return (None if microphone is None else microphone.mouth()), status

    def _microphone(self):
        pipeline = self._pipeline
        return getattr(pipeline.source, "microphone", None) if pipeline is not None else None

    def expression_state(self) -> tuple[Expression | None, Expression | None]:
        """(before the tuning, as sent on) of the running source's face; Nones when there is none."""
        track = self._expression_track()
        if track is None:
            return None, None
        fresh = self.tap.expression.take(timeout=0)
        if fresh is not None:
            self._shown_expression = fresh
        return track.raw, self._shown_expression

    def _expression_track(self):
        pipeline = self._pipeline
        return getattr(pipeline.source, "expressions", None) if pipeline is not None else None

    def snapshot(self) -> SessionSnapshot:
        with self._lock:
            pipeline, key, note, error = self._pipeline, self._pipeline_key, self._phase_note, self._error
            outputs = dict(self._out_states)
        status = pipeline.status if pipeline is not None else None
        if note is not None:
            phase, message = note
        elif pipeline is not None:
            phase = pipeline.state
            message = (status.error or "") if phase == "failed" else self._weights_note
        elif error:
            phase, message = "failed", error
        else:
            phase, message = "stopped", ""
        return SessionSnapshot(phase, message, status, outputs, key[0] if key else None)

    @property
    def threads(self) -> list[threading.Thread]:
        """Every thread the session runs now: its worker and the pipeline's stages."""
        pipeline = self._pipeline
        return [self._thread] + (pipeline.threads if pipeline is not None else [])

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the pipeline, close every output and end the worker (waits, up to ``timeout``)."""
        with self._lock:
            self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("gui-session did not stop within %g s", timeout)

    # ---- the worker ----

    def _run(self) -> None:
        while True:
            self._wake.wait(self.poll_s)
            self._wake.clear()
            with self._lock:
                closing = self._closing
                config, generation, outputs = self._want_config, self._generation, self._want_outputs
            if closing:
                config, outputs = None, OutputRequest()
            try:
                self._reconcile_pipeline(None if config is None else (config, generation))
                self._reconcile_outputs(outputs)
            except Exception:  # a bug here must not leave the window with a dead worker
                log.exception("gui-session: reconciling failed")
            self.passes += 1
            if closing:
                return

    def _set_note(self, note: tuple[str, str] | None) -> None:
        with self._lock:
            self._phase_note = note

    def _reconcile_pipeline(self, want) -> None:
        if self._pipeline is not None and self._pipeline_key == want and self._weights.due():
            self._take_up_new_weights(want)
        if self._pipeline is not None and self._pipeline_key != want:
            self._stop_pipeline()
        if want is None:
            self._failed_key = None
            with self._lock:
                self._error = ""
            return
        if self._pipeline is None and want != self._failed_key:
            self._start_pipeline(want)

    def _take_up_new_weights(self, want) -> None:
        """The running pipeline's weights folder changed: load it, then restart with it (outputs stay open)."""
        folder = want[0].weights
        try:
            self._networks.networks(folder)  # loaded once; the restart below finds it loaded
        except Exception as exc:
            note = self._weights.failed(_describe(exc))
            log.warning("%s", note)
            with self._lock:
                self._weights_note = note
            return
        log.info("the weights in %s changed: restarting the pipeline with them", folder)
        self._stop_pipeline()
        self._start_pipeline(want)

    def _stop_pipeline(self) -> None:
        self._set_note(("stopping", "stopping the pipeline"))
        try:
            self._pipeline.close()
        finally:
            with self._lock:
                self._pipeline, self._pipeline_key, self._phase_note = None, None, None

    def _start_pipeline(self, want) -> None:
        config: PipelineSettings = want[0]
        self._set_note(("starting", f"starting {config.source} ({config.renderer} renderer, {config.size}²)"))
        uses_weights = config.weights is not None and (config.renderer == "conr" or config.udp_detector)
        self._weights.started(config.weights if uses_weights else None)
        with self._lock:
            self._weights_note = ""
        try:
            pipeline = self._build_pipeline(config)
            track = getattr(pipeline.source, "expressions", None)
            if track is not None:
                track.tuning = self.expression_tuning
            if getattr(pipeline.source, "microphone", None) is not None:
                pipeline.source.microphone.settings = self.mic_settings
            pipeline.start()
        except Exception as exc:
            log.warning("live pipeline did not start: %s", exc)
            with self._lock:
                self._failed_key, self._error, self._phase_note = want, _describe(exc), None
            return
        with self._lock:
            self._pipeline, self._pipeline_key, self._failed_key, self._error, self._phase_note = (
                pipeline,
                want,
                None,
                "",
                None,
            )

    def _build_pipeline(self, config: PipelineSettings):
        return build_pipeline(
            config,
            [PreviewSink(self.hub)],
            loaders=Loaders(self._characters, self._networks.networks),
            tap=self.tap,
            note=lambda text: self._set_note(("starting", text)),
            capture_factory=self._capture_factory,
            expression_overrides=self.expression_overrides,
        )

    def _reconcile_outputs(self, request: OutputRequest) -> None:
        for kind, (sink, error) in self.hub.take_failures().items():
            self._close_sink(sink)
            self._out_failed_keys[kind], self._out_keys[kind] = self._out_keys[kind], None
            self._set_output(kind, OutputState("failed", error=error))
        running = self._pipeline_key[0] if self._pipeline is not None else None
        for kind in OUTPUT_KINDS:
            wanted = self._output_key(kind, request)
            key = None if running is None or wanted is None else (running.size, running.fps, *wanted)
            if key is not None and key == self._out_keys[kind]:
                continue
            if self._out_keys[kind] is not None:
                self._close_output(kind)
                wanted = self._output_key(kind, request)  # a finished recording is no longer asked for
                key = None if running is None or wanted is None else (running.size, running.fps, *wanted)
            if key is None:
                if wanted is not None:
                    self._set_output(kind, OutputState("waiting", detail="starts with the pipeline"))
                elif self._out_states[kind].state in ("waiting", "failed"):
                    self._set_output(kind, OutputState("off"))
                self._out_failed_keys[kind] = None
                continue
            if key == self._out_failed_keys[kind]:
                continue  # failed with exactly this request: wait for the user to change it
            try:
                sink, detail = open_output(kind, request, running.size, running.fps)
            except Exception as exc:
                log.warning("output %s did not open: %s", kind, exc)
                self._out_failed_keys[kind] = key
                self._set_output(kind, OutputState("failed", error=_describe(exc)))
                continue
            self.hub.attach(kind, sink)
            self._out_keys[kind], self._out_failed_keys[kind] = key, None
            self._set_output(kind, OutputState("on", detail=detail))

    def _output_key(self, kind: str, request: OutputRequest) -> tuple | None:
        """What identifies the output asked for (None: not asked for)."""
        if kind == "virtual_camera":
            return (request.virtual_camera_backend, request.background_rgb) if request.virtual_camera else None
        if kind == "record":
            path = request.record_path
            return (path, request.background_rgb) if path is not None and path not in self._finished_records else None
        return (request.browser_port,) if request.browser_port is not None else None

    def _close_output(self, kind: str) -> None:
        sink = self.hub.detach(kind)
        key, self._out_keys[kind] = self._out_keys[kind], None
        if sink is None:
            return
        self._close_sink(sink)
        if kind == "record":  # a recording, once closed, is never reopened (that would overwrite it)
            self._finished_records.add(key[2])
            self._set_output(kind, OutputState("off", detail=f"saved {key[2]} ({sink.frames_sent} frames)"))
        else:
            self._set_output(kind, OutputState("off"))

    @staticmethod
    def _close_sink(sink: FrameSink) -> None:
        try:
            sink.close()
        except Exception as exc:
            log.warning("closing %s failed: %s", sink.name, exc)

    def _set_output(self, kind: str, state: OutputState) -> None:
        with self._lock:
            self._out_states[kind] = state


class CharacterFiles:
    """``load(path)`` once per version of the file (modification time and size), ``load()`` for the built-in."""

    def __init__(self, load=None):
        if load is None:
            from avatar_app.pipeline.defaults import load_character as load
        self._load = load
        self._loaded: dict = {}  # path -> (stamp, character)

    def __call__(self, path: Path | None = None):
        stamp = _file_stamp(path)
        kept = self._loaded.get(path)
        if kept is None or kept[0] != stamp:
            kept = (stamp, self._load(path) if path is not None else self._load())
            self._loaded[path] = kept
        return kept[1]


def _file_stamp(path: Path | None) -> tuple | None:
    try:
        info = Path(path).stat() if path is not None else None
    except OSError:
        return None  # the loader says what is wrong with it
    return None if info is None else (info.st_mtime_ns, info.st_size)


def _describe(exc: BaseException) -> str:
    from avatar_app.core.errors import AvatarAppError

    return str(exc) if isinstance(exc, AvatarAppError) else f"{type(exc).__name__}: {exc}"
