"""The live pipeline: source -> pose -> rig + spring bones -> UDP raster -> render -> sinks.

Thread layout (every thread named, stopped by one Event, joined by `close()`)::

    capture-N / vmc-PORT   the source's device thread (CaptureSource, VmcReceiver)
          | LatestSlot (CaptureSource.frames; VMC keeps a snapshot)
    avatar-pose            source.read(): capture -> landmarks -> smoothing -> retarget,
          |                or the demo / BVH / VMC pose on a clock, or the UDP detector
          | LatestSlot "pose"
    avatar-raster          rig (FK + springs + face morphs + skinning) -> UDP raster (+ colour);
          |                creates, uses and releases the GL context on this one thread
          | LatestSlot "raster"
    avatar-render          CoNR, or the proxy colours
          | LatestSlot "render"
    avatar-send            every sink in turn; end-to-end latency and fps are measured here
    avatar-browser-source  the browser sink's server, when there is one

Each hand-off is a latest-value slot: a slow stage gets the newest frame and never a
backlog, and every frame it skipped is counted in ``status.dropped``. Nothing queues.
The raster stage also skips poses the render stage could not take anyway (counted as
"pose" drops); the last one before a render lane frees up is rasterized while the render
finishes (pipeline/pacing.py). A renderer with several lanes (``frames_in_flight``) has
that many frames rendering at once; they reach the sinks in source order.
With ``inbetween`` ("repeat" | "warp", pipeline/inbetween.py) every pose is rasterized and,
while the renderer is busy, the sinks get its newest render repeated or warped to it.

End of stream is explicit: when the source ends (a video file played out) the pose stage
closes its slot, each stage passes on what is left and closes its own, and the pipeline ends
with state "ended". ``max_frames`` ends it the same way after that many frames were sent.

Error policy: a stage that raises stops the whole pipeline cleanly: the status becomes
"failed" with "stage: error" (logged once with its traceback), every thread ends and
releases what it owns, `wait()` returns and `raise_if_failed()` re-raises. Nothing is
retried: the failures worth riding out are states handled where they happen (a lost
camera, a silent VMC sender, nobody in view, a full disk under one output: sending.py); an
exception that reaches a stage is a bug or a broken device, and retrying it per frame would
freeze the avatar looking alive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from avatar_app.core.errors import DeviceError, SettingError
from avatar_app.core.frames import UdpMap, check_model_size
from avatar_app.core.slots import LatestSlot
from avatar_app.core.timing import StageStats
from avatar_app.outputs.base import FrameSink
from avatar_app.pipeline.inbetween import Inbetweener
from avatar_app.pipeline.live_frame import LiveFrame
from avatar_app.pipeline.pacing import MAX_POSE_GAP_S, FramesInFlight, RenderPacer
from avatar_app.pipeline.renderers import AvatarRenderer
from avatar_app.pipeline.sending import send_to_sinks
from avatar_app.pipeline.sources import PoseSource
from avatar_app.pipeline.status import FpsMeter, PipelineStatus

log = logging.getLogger(__name__)

POLL_S = 0.1  # how long a stage waits for input before checking for shutdown
MAX_SPRING_DT_S = MAX_POSE_GAP_S  # after a stall, step the springs by at most this (no explosion, no long substeps)


@dataclass(eq=False)
class _Stage:
    name: str
    step: Callable[[LiveFrame | None], LiveFrame | None]
    inbox: LatestSlot | None
    outbox: LatestSlot | None
    setup: Callable[[], None]
    teardown: Callable[[], None]
    drain: Callable[[], None] = lambda: None  # before its outbox closes: what is still in flight
    ready: Callable[[], bool] = lambda: True  # before each take from the inbox: can it take one now?
    set_up: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class LivePipeline:
    """Runs ``source`` through rig, raster and ``renderer`` into every sink until stopped.

    The pipeline owns what it is given: `close()` closes the source, the renderer and the
    sinks. ``character`` is required unless the source yields UDP maps. ``size`` is the
    square model size (the renderer's, if it has one). ``max_frames``: end after that many
    frames reached the sinks.

    ``tap(stage, frame)``, when given, is called on each stage's thread after the stage
    filled its part of the frame ("pose": image, landmarks; "raster": udp; "render": rgba),
    so a preview can keep references to what it wants. It must return at once
    and must not modify the frame; an exception from it fails the stage like any other.
    ``clock`` (seconds) times raster and render to skip rasters a busy renderer could not take.

    Use as a context manager, or `start()` ... `wait()` / `stop()` ... `close()`.
    """

    def __init__(
        self,
        source: PoseSource,
        renderer: AvatarRenderer,
        sinks: Sequence[FrameSink],
        *,
        character=None,
        size: int = 256,
        springs: bool = True,
        framing: str | float | None = None,  # the camera's (raster.framing); None: full body, fixed
        max_frames: int | None = None,
        inbetween: str | None = None,
        stats: StageStats | None = None,
        tap: Callable[[str, LiveFrame], None] | None = None,
        setup_timeout_s: float = 60.0,
        join_timeout_s: float = 5.0,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.size = check_model_size(size)
        if renderer.size is not None and renderer.size != self.size:
            raise SettingError(
                "pipeline size",
                f"the renderer's size {renderer.size}",
                str(self.size),
                f"use size={renderer.size}, or load the sheet at {self.size}",
            )
        if character is None and not source.yields_udp:
            raise SettingError(
                "pipeline character", "a Character to pose (load_character())", "None", "pass character=..."
            )
        if max_frames is not None and (type(max_frames) is not int or max_frames < 1):  # bool is not a count
            raise SettingError(
                "frames",
                "a positive whole number, or None to run until stopped",
                repr(max_frames),
                "use e.g. --frames 60",
            )
        self.source, self.renderer, self.sinks = source, renderer, list(sinks)
        self.character, self.springs, self.framing, self.max_frames = character, springs, framing, max_frames
        self.stats = stats or StageStats()
        self._tap = tap
        self.setup_timeout_s, self.join_timeout_s = setup_timeout_s, join_timeout_s
        self._clock = clock  # times raster and render for skipping rasters (tests pass a manual clock)
        self.frames_sent = 0
        self.stopped_outputs: list[str] = []  # why each output that stopped during the stream did (sending.py)
        self.error: BaseException | None = None
        self._error_text: str | None = None
        self._state = "starting"
        self._stop = threading.Event()  # every stage loop checks it
        self._stop_requested = False  # stop()/close(), as opposed to ending by itself
        self._lock = threading.Lock()
        self._running = 0
        self._done = threading.Event()
        self._go = threading.Event()  # set by start() once every stage is set up
        self._fps = FpsMeter()
        self._view = None  # CharacterView, made on the raster thread
        self._last_pose_t: float | None = None
        self._index = 0
        self._pacer = RenderPacer(clock, renderer.lanes)  # which poses to skip for a busy renderer
        self._raster_skipped = self._stale_rasters = 0  # poses / rasters dropped for a busy renderer

        posed, rastered, rendered = LatestSlot(), LatestSlot(), LatestSlot()
        self._slots = {"pose": posed, "raster": rastered, "render": rendered}
        self._inbetween = Inbetweener(inbetween, rendered, self.stats) if inbetween else None
        raster_step = self._rig_raster_step if self._inbetween is None else self._raster_then_inbetween
        render_out = self._inbetween or rendered  # the Inbetweener sends renders in order with its in-betweens
        self._in_flight = FramesInFlight(
            renderer, self._pacer, self.stats, lambda f: self._deliver(f, render_out), lambda e: self._fail("render", e)
        )
        lanes = (self._drain, lambda: self._in_flight.wait_for_lane(POLL_S))  # the render stage's drain, ready
        self._stages = [
            _Stage("pose", self._capture_step, None, posed, self.source.open, self.source.close),
            _Stage("raster", raster_step, posed, rastered, self._open_view, self._close_view),
            _Stage("render", self._render_step, rastered, render_out, lambda: None, self.renderer.close, *lanes),
            _Stage("send", self._send_step, rendered, None, lambda: None, self._close_sinks),
        ]

    # ---- the hot path, top to bottom: capture -> landmarks -> rig -> raster -> render -> send ----
    # Each step runs on its own thread (avatar-<stage>) and its work is timed into self.stats.

    def _capture_step(self, _: None) -> LiveFrame | None:
        """capture -> landmarks -> smoothing -> retarget, or a clocked pose / UDP map (paced, timed by the source)."""
        sample = self.source.read(timeout=POLL_S)
        if sample is None:
            return None
        for part, ms in sample.timings_ms.items():
            self.stats.record(part, ms)
        self._index += 1
        return LiveFrame(
            self._index,
            sample.timestamp,
            pose=sample.pose,
            udp=sample.udp,
            image=sample.image,
            landmarks=sample.landmarks,
            expression=sample.expression,
        )

    def _rig_raster_step(self, frame: LiveFrame) -> LiveFrame:
        """rig (FK + spring bones + skinning) -> UDP raster, plus flat colours if the renderer wants them."""
        if frame.udp is not None:  # the UDP-detector source already has the map
            return frame
        last = self._slots["pose"].closed  # end of stream: this pose is the last, never skip it
        self._pacer.pose_arrived(frame.timestamp)
        if not last and self._inbetween is None and self._pacer.skip():
            self._raster_skipped += 1  # the renderer cannot take it: a later pose will reach it in time
            if self._slots["raster"].take(timeout=0) is not None:
                self._stale_rasters += 1  # made before the render started: it would be old by the time it is taken
            return None
        started = self._clock()
        view = self._view
        dt = (
            1.0 / 30.0
            if self._last_pose_t is None
            else min(max(frame.timestamp - self._last_pose_t, 0.0), MAX_SPRING_DT_S)
        )
        self._last_pose_t = frame.timestamp
        with self.stats.time("rig"):
            vertices = view.animator.update(frame.pose, dt, frame.expression)
        with self.stats.time("raster"):
            view.mesh.update(vertices)
            result = view.rasterizer.render(view.mesh, view.camera, udp_only=not self.renderer.needs_color).copy()
        frame.udp, frame.color = UdpMap(result.udp, timestamp=frame.timestamp), result.color
        self._pacer.raster_took(self._clock() - started)
        return frame

    def _raster_then_inbetween(self, frame: LiveFrame) -> LiveFrame:
        frame = self._rig_raster_step(frame)  # and to the sinks an in-between if the renderer cannot take it in time
        self._inbetween.after_raster(frame, self._pacer.busy, self._pacer.render_s)
        return frame

    def _render_step(self, frame: LiveFrame) -> LiveFrame | None:
        """CoNR (sheet state + UDP map) or the proxy colours -> premultiplied RGBA."""
        if self.renderer.lanes > 1:  # started on a free lane; _deliver passes it on when it is done
            self._in_flight.start(frame)
            return None
        self._pacer.render_started(frame.index)
        with self.stats.time("render"):
            self.renderer.express(frame.expression)  # a renderer with expression sheets picks one
            frame.rgba = self.renderer.render(frame.udp, frame.color)
        self._pacer.render_ended(frame.index)
        return frame

    def _deliver(self, frame: LiveFrame, outbox) -> None:
        """A frame rendered on a lane (on the lane's thread), newer than any delivered before."""
        if self._tap is not None:
            self._tap("render", frame)
        outbox.put(frame)

    def _drain(self) -> None:
        self._in_flight.drain(self.join_timeout_s + 2.0 * (self._pacer.render_s or 1.0))

    def _send_step(self, frame: LiveFrame) -> None:
        """Every sink gets the frame; latency runs from the source's timestamp to here."""
        with self.stats.time("send"):
            send_to_sinks(self.sinks, frame.rgba, self.stopped_outputs)  # a full disk stops one output, not all
        now = time.monotonic()
        self.stats.record("latency", 1000.0 * (now - frame.timestamp))
        self._fps.tick(now)
        self.frames_sent += 1
        if self.max_frames is not None and self.frames_sent >= self.max_frames:
            self._stop.set()  # ends by itself: state "ended"
        return None

    # ---- stage resources (each opened and released on its own thread) ----

    def _open_view(self) -> None:
        if self.source.yields_udp:
            return
        from avatar_app.raster.character_view import CharacterView

        self._view = CharacterView(self.character, self.size, springs=self.springs, framing=self.framing)

    def _close_view(self) -> None:
        view, self._view = self._view, None
        if view is not None:
            view.close()

    def _close_sinks(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # one sink failing to close must not leave the others open
                log.warning("closing %s failed: %s", getattr(sink, "name", sink), exc)

    # ---- threads ----

    def _run_stage(self, stage: _Stage) -> None:
        try:
            stage.setup()
        except Exception as exc:
            self._fail(stage.name, exc)
        finally:
            stage.set_up.set()
        # Nobody produces before everyone is set up, or the first seconds would be all drops.
        while not self._go.wait(POLL_S) and not self._stop.is_set():
            pass
        try:
            while not self._stop.is_set():
                if stage.inbox is None:
                    frame = stage.step(None)
                    if frame is None:
                        if self.source.ended:
                            break  # end of stream
                        continue
                else:
                    if not stage.ready():
                        continue
                    frame = stage.inbox.take(POLL_S)
                    if frame is None:
                        if stage.inbox.closed:
                            break  # upstream ended and we passed on everything it left
                        continue
                    frame = stage.step(frame)
                if frame is not None and self._tap is not None:
                    self._tap(stage.name, frame)
                if frame is not None and stage.outbox is not None:
                    stage.outbox.put(frame)
        except Exception as exc:
            self._fail(stage.name, exc)
        finally:
            stage.drain()
            if stage.outbox is not None:
                stage.outbox.close()
            try:
                stage.teardown()
            except Exception as exc:
                log.warning("%s stage: releasing its resources failed: %s", stage.name, exc)
            self._stage_exited()

    def _fail(self, stage: str, exc: BaseException) -> None:
        with self._lock:
            first = self.error is None
            if first:
                self.error = exc
                self._error_text = f"{stage}: {type(exc).__name__}: {exc}"
        if first:
            log.error("pipeline %s stage failed; stopping", stage, exc_info=exc)
        self._stop.set()

    def _stage_exited(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running:
                return
            self._state = "failed" if self.error is not None else "stopped" if self._stop_requested else "ended"
        self._done.set()

    # ---- public ----

    def start(self) -> LivePipeline:
        """Start every stage and wait until each has set up (source opened, GL context made).

        A setup failure is raised here, after everything started is released again.
        """
        if any(stage.thread is not None for stage in self._stages):
            return self
        self._running = len(self._stages)
        for stage in self._stages:
            stage.thread = threading.Thread(
                target=self._run_stage, args=(stage,), name=f"avatar-{stage.name}", daemon=True
            )
            stage.thread.start()
        deadline = time.monotonic() + self.setup_timeout_s
        ready = all(stage.set_up.wait(max(0.0, deadline - time.monotonic())) for stage in self._stages)
        if self.error is not None or not ready:
            error = self.error
            self.close()
            if error is not None:
                raise error
            raise DeviceError(f"pipeline: the stages did not start within {self.setup_timeout_s:g} s")
        with self._lock:
            if self._state == "starting":
                self._state = "running"
        self._go.set()
        log.info(
            "pipeline running: %s -> %s -> %s",
            self.source.name,
            self.renderer.name,
            ", ".join(s.name for s in self.sinks),
        )
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """True once every stage has ended (source ended, max_frames, a failure or stop())."""
        return self._done.wait(timeout)

    def stop(self) -> None:
        """Ask every stage to stop (returns at once; `close()` waits for them)."""
        self._stop_requested = True
        self._stop.set()

    def close(self) -> None:
        """Stop, join every thread this pipeline started, release source, renderer and sinks."""
        if not self._done.is_set():
            self.stop()
        # A stage cannot be interrupted mid-frame (a CPU CoNR frame can take seconds): allow for one.
        slowest_s = max((s["p95_ms"] for k, s in self.stats.summary().items() if k != "latency"), default=0.0) / 1000.0
        deadline = time.monotonic() + self.join_timeout_s + slowest_s
        for stage in self._stages:
            if stage.thread is not None:
                stage.thread.join(max(0.0, deadline - time.monotonic()))
                if stage.thread.is_alive():
                    log.warning("pipeline: thread %s did not stop within %g s", stage.thread.name, self.join_timeout_s)
                    continue
            stage.teardown()  # idempotent; covers stages that never started
        for slot in self._slots.values():
            slot.close()
        with self._lock:
            if self._state in ("starting", "running"):
                self._state = "failed" if self.error is not None else "stopped"

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise self.error

    @property
    def state(self) -> str:
        return self._state

    @property
    def threads(self) -> list[threading.Thread]:
        return [stage.thread for stage in self._stages if stage.thread is not None]

    @property
    def status(self) -> PipelineStatus:
        summary = self.stats.summary()
        latency = summary.pop("latency", {})
        dropped = {"source": self.source.dropped, **{name: slot.dropped for name, slot in self._slots.items()}}
        dropped["pose"] += self._raster_skipped
        dropped["raster"] += self._stale_rasters
        dropped["render"] += self._in_flight.late
        return PipelineStatus(
            state=self._state,
            source=self.source.status,
            renderer=self.renderer.name,
            frames_sent=self.frames_sent,
            fps=self._fps.fps(),
            stages_ms=summary,
            latency_ms=latency,
            dropped=dropped,
            error=self._error_text,
        )

    def __enter__(self) -> LivePipeline:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()
