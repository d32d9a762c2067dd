"""The one way to build a live pipeline: `PipelineSettings` in, a `LivePipeline` out.

`stream`, the window's session and `tools/bench.py` all call `build_pipeline`, so a setting
means the same wherever it is set (the springs switch, the sheet cache, the detector's
backend) and what a pipeline owns is closed the same way when it stops.

Order matters for the user: `PipelineSettings.check()` validates everything that needs no
device or model (a typo fails in a second); `build_pipeline` then loads the weights, encodes
the sheet, opens the detector, the source and the sinks, and hands them all to the
pipeline, or closes what it opened when a later step fails.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import check_model_size
from avatar_app.infer.resample import check_sizes, default_internal_size
from avatar_app.infer.torch_thread import on_torch_thread
from avatar_app.outputs.base import FrameSink
from avatar_app.pipeline.live import LiveFrame, LivePipeline
from avatar_app.pipeline.renderers import MAX_FRAMES_IN_FLIGHT
from avatar_app.pipeline.specs import SinkSpec, SourceSpec, check_unique_sinks, open_sink, open_source
from avatar_app.tracking.audio_input import MicSpec
from avatar_app.tracking.mouth_from_audio import MicSettings

log = logging.getLogger(__name__)

RENDERERS = ("conr", "proxy", "udp")


@dataclass(frozen=True)
class PipelineSettings:
    """Everything a pipeline is built from; two equal settings build the same pipeline."""

    source: SourceSpec
    renderer: str = "proxy"  # "conr" (needs weights and a sheet) | "proxy" (the rig's flat colours) | "udp" (the map)
    sheet_dir: Path | None = None  # the sheet CoNR renders (the proxy does not use it)
    weights: Path | None = None  # CoNR's folder (None: the shipped one); also the UDP detector's
    backend: str = "torch"  # torch | onnxruntime | tensorrt (infer.registry.open_backend)
    device: str = "cpu"
    precision: str = "fp32"
    size: int = 256  # the frames' (output) size
    internal_size: int | None = None  # conr: the network's size (None: default_internal_size; infer.resample)
    views: int | None = None  # at most this many sheet views
    udp_detector: bool = False  # camera sources: the pose from CoNR's UDP detector, not mediapipe
    fps: float = 30.0  # clocked sources and sinks
    springs: bool = True
    cache_dir: Path | None = None  # the sheet-feature cache (None: the user cache folder)
    character: Path | None = None  # a .glb/.vrm for the rig (None: the built-in one)
    framing: str | float | None = None  # the live camera's (raster.framing: full/knee/waist/bust or a cut height)
    sinks: tuple[SinkSpec, ...] = ()
    background_rgb: tuple[int, int, int] = (0, 255, 0)  # behind the avatar where a sink has no alpha
    max_frames: int | None = None  # stop after this many frames reached the sinks
    inbetween: str | None = None  # "repeat" | "warp": a frame per source frame while the renderer is slower
    drawn_detail: bool = True  # conr + a character folder's sheet_udp/: the drawing's pixels over each frame
    views_per_frame: int | None = None  # conr + sheet_udp/: each frame reads only this many views (view_choice)
    frames_in_flight: int = 1  # conr, torch on the CPU: frames rendered at once, one thread each (torch_thread lanes)
    mic: MicSpec | None = None  # the mouth from this microphone (tracking.audio_input), the source's mouth ignored
    mic_settings: MicSettings = MicSettings()  # its gain, gate, attack / hold / release
    idle_life: bool = True  # breathing, sway and head motion while the source tracks nothing (source_layers)

    def check(self) -> None:
        """Refuse what can be refused without a device or a model, naming the setting and the fix."""
        from avatar_app.infer.registry import check_precision
        from avatar_app.pipeline.defaults import check_framing
        from avatar_app.pipeline.inbetween import check_inbetween

        check_model_size(self.size, "--size")
        if self.internal_size is not None:
            check_sizes(self.size, self.internal_size)
        if self.renderer not in RENDERERS:
            raise SettingError(
                "--renderer", ", ".join(RENDERERS), repr(self.renderer), "use --renderer conr, proxy or udp"
            )
        if self.max_frames is not None and self.max_frames < 1:
            raise SettingError(
                "--frames",
                "at least 1",
                str(self.max_frames),
                "use e.g. --frames 60, or leave it out to run until Ctrl-C",
            )
        if not 0 < self.fps <= 240:
            raise SettingError("--fps", "a frame rate above 0 and at most 240", repr(self.fps), "use e.g. --fps 30")
        if self.views is not None and self.views < 1:
            raise SettingError("--views", "at least 1", str(self.views), "use e.g. --views 4")
        if self.views_per_frame is not None and self.views_per_frame < 1:
            raise SettingError(
                "--views-per-frame", "at least 1", str(self.views_per_frame), "use e.g. --views-per-frame 2"
            )
        if type(self.frames_in_flight) is not int or not 1 <= self.frames_in_flight <= MAX_FRAMES_IN_FLIGHT:
            raise SettingError(
                "--frames-in-flight",
                f"a whole number from 1 to {MAX_FRAMES_IN_FLIGHT}",
                repr(self.frames_in_flight),
                "use --frames-in-flight 2 on a CPU with two or more cores, or leave it out",
            )
        check_precision(self.backend, self.precision)
        if self.udp_detector and not self.source.is_camera:
            raise SettingError(
                "--udp-detector",
                "a webcam or video source",
                f"--source {self.source}",
                "use --source webcam or --source video:FILE",
            )
        if self.renderer == "conr" and (self.sheet_dir is None or not Path(self.sheet_dir).is_dir()):
            raise SettingError(
                "--sheet",
                "a folder of character-sheet views (PNG with alpha)",
                "no folder given" if self.sheet_dir is None else f"no such folder {self.sheet_dir}",
                "check the path",
            )
        check_unique_sinks(list(self.sinks))
        check_framing(self.framing)
        check_inbetween(self.inbetween)

    @property
    def network_size(self) -> int:
        """The size CoNR runs at: ``internal_size``, or the measured default for ``size`` and ``device``."""
        return self.internal_size or default_internal_size(self.size, self.device)


class Loaders:
    """Loads networks (per weights folder) and rig characters (per file), each once.

    The window keeps one across restarts, so changing the source does not reload the
    weights; tests pass their own load functions. A weights folder whose files changed
    since (``adapt`` wrote new ones) is loaded again.
    """

    def __init__(self, character_loader: Callable | None = None, networks_loader: Callable | None = None):
        from avatar_app.pipeline.defaults import load_character, load_networks

        self._load_character = character_loader or load_character
        self._load_networks = networks_loader or load_networks
        self._characters: dict = {}
        self._networks: dict = {}

    def character(self, path: Path | None = None):
        if path not in self._characters:
            self._characters[path] = self._load_character(path) if path is not None else self._load_character()
        return self._characters[path]

    def networks(self, weights: Path | None):
        key = (weights, _files_stamp(weights))
        if key not in self._networks:
            self._networks = {k: v for k, v in self._networks.items() if k[0] != weights}  # free a stale one
            self._networks[key] = on_torch_thread(self._load_networks, weights)  # infer.torch_thread
        return self._networks[key]


def _files_stamp(folder: Path | None) -> tuple:
    """(name, mtime, size) of the folder's files: changes when the weights are rewritten."""
    if folder is None or not Path(folder).is_dir():
        return ()
    files = (f for f in Path(folder).iterdir() if f.is_file())
    return tuple(sorted((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files))


def build_pipeline(
    settings: PipelineSettings,
    extra_sinks: Sequence[FrameSink] = (),
    *,
    loaders: Loaders | None = None,
    note: Callable[[str], None] | None = None,
    tap: Callable[[str, LiveFrame], None] | None = None,
    capture_factory=None,
    expression_overrides=None,
) -> LivePipeline:
    """A pipeline (not started) for ``settings``, sending to ``settings.sinks`` and ``extra_sinks``.

    ``note(text)`` hears what takes time (encoding the sheet, a one-off ONNX export).
    The pipeline owns the renderer, the detector, the source and every sink: its
    ``close()`` releases them; if building fails, what was opened is closed here.
    ``capture_factory`` reaches camera sources (tests). ``expression_overrides``: an
    ``ExpressionOverrides`` (hotkeys, the control API) laid over the source's expressions; the
    caller keeps it across pipelines.
    """
    from avatar_app.infer.deploy import export_notes
    from avatar_app.pipeline.renderers import ConrRenderer, ProxyRenderer, UdpRenderer

    settings.check()
    loaders = loaders or Loaders()
    say = note or (lambda text: None)
    progress = export_notes(say)
    size = settings.size
    with contextlib.ExitStack() as owned:  # released unless the pipeline takes them over
        for sink in extra_sinks:
            owned.enter_context(sink)
        networks = loaders.networks(settings.weights) if settings.renderer == "conr" or settings.udp_detector else None
        if settings.renderer == "conr":
            from avatar_app.infer import SheetCache
            from avatar_app.io.sheet import load_sheet
            from avatar_app.pipeline.expression_sheets import load_expression_sheets

            internal = settings.network_size
            sheet = load_sheet(settings.sheet_dir, size=internal, max_views=settings.views)
            variants = load_expression_sheets(settings.sheet_dir, internal, settings.views, sheet.num_views)
            more = f" and {len(variants)} expression sheet(s)" if variants else ""
            frames = f", frames at {size}x{size}" if internal != size else ""
            say(f"encoding the sheet ({sheet.num_views} view(s) at {internal}x{internal}{frames}){more} ...")
            cache = SheetCache(settings.cache_dir) if settings.cache_dir else SheetCache()
            detail, detail_variants = None, {}
            if settings.drawn_detail:
                from avatar_app.pipeline.drawn_details import drawn_details

                drawn, drawn_variants = sheet, variants  # the drawing's pixels at the output size
                if internal != size:
                    drawn = load_sheet(settings.sheet_dir, size=size, max_views=settings.views)
                    drawn_variants = load_expression_sheets(settings.sheet_dir, size, settings.views, drawn.num_views)
                detail, detail_variants = drawn_details(settings.sheet_dir, drawn, drawn_variants, size, say)
            choice = _view_choice(settings, sheet, say) if settings.views_per_frame else None
            renderer = ConrRenderer(
                networks,
                sheet,
                settings.device,
                backend=settings.backend,
                cache=cache,
                precision=settings.precision,
                progress=progress,
                expression_sheets=variants,
                drawn_detail=detail,
                drawn_detail_variants=detail_variants,
                view_choice=choice,
                frames_in_flight=settings.frames_in_flight,
                output_size=size,
            )
        else:
            renderer = ProxyRenderer() if settings.renderer == "proxy" else UdpRenderer()
        owned.enter_context(renderer)
        detector = None
        if settings.udp_detector:
            from avatar_app.infer.registry import open_backend

            detector = on_torch_thread(
                open_backend,
                settings.backend,
                networks,
                size,
                device=settings.device,
                precision=settings.precision,
                parts=("udp_detector",),
                progress=progress,
            )
            owned.callback(detector.close)  # the source owns it once it is made
        character = None if detector is not None else loaders.character(settings.character)
        if character is not None and settings.renderer == "conr":
            from avatar_app.pipeline.defaults import udp_map_for

            udp_map = udp_map_for(settings.weights)
            if udp_map is not None:  # the weights were trained on another UDP convention (fit --weights)
                say(f"UDP map of {settings.weights}: {udp_map.summary()}")
                character = character.with_udp_map(udp_map)
        source = open_source(
            settings.source,
            fps=settings.fps,
            character=character,
            size=size,
            detector=detector,
            capture_factory=capture_factory,
        )
        owned.enter_context(source)
        if settings.idle_life and not source.yields_udp:
            from avatar_app.pipeline.source_layers import WithIdleLife

            source = owned.enter_context(WithIdleLife(source))
        if settings.mic is not None:
            from avatar_app.pipeline.mic_mouth import with_microphone

            source = owned.enter_context(with_microphone(source, settings.mic, settings.mic_settings, say))
        if expression_overrides is not None:  # outermost: what the user sets by hand beats tracking and microphone
            from avatar_app.pipeline.expression_control import WithExpressionOverrides

            source = owned.enter_context(WithExpressionOverrides(source, expression_overrides))
        sinks = list(extra_sinks)
        for spec in settings.sinks:
            sinks.append(
                owned.enter_context(
                    open_sink(spec, size=size, fps=settings.fps, background_rgb=settings.background_rgb)
                )
            )
        pipeline = LivePipeline(
            source,
            renderer,
            sinks,
            character=character,
            size=size,
            springs=settings.springs,
            framing=settings.framing,
            max_frames=settings.max_frames,
            inbetween=settings.inbetween,
            tap=tap,
        )
        owned.pop_all()
    return pipeline


def sheet_view_choice(sheet_dir, sheet, size: int, keep: int):
    """(ViewChoice over the sheet's ``sheet_udp/`` maps, None; or None, the views without a map)."""
    from avatar_app.infer.view_choice import ViewChoice
    from avatar_app.io.sheet_udp import load_sheet_udp, sheet_udp_dir

    folder = sheet_udp_dir(sheet_dir)
    udp, missing = load_sheet_udp(folder, sheet.names, size) if folder.is_dir() else (None, list(sheet.names))
    return (ViewChoice(udp, keep), None) if udp is not None else (None, missing)


def _view_choice(settings: PipelineSettings, sheet, say):
    """The per-frame view choice from the sheet's ``sheet_udp/`` (None, said, where there is none)."""
    from avatar_app.io.sheet_udp import sheet_udp_dir

    choice, missing = sheet_view_choice(settings.sheet_dir, sheet, sheet.size, settings.views_per_frame)
    if choice is None:
        folder = sheet_udp_dir(settings.sheet_dir)
        say(f"--views-per-frame: no UDP map for {', '.join(missing)} in {folder} (run avatar-app fit); all views used")
        return None
    say(f"views per frame: the {settings.views_per_frame} of {sheet.num_views} that cover most of each pose")
    return choice
