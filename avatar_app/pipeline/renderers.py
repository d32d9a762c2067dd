"""The render stage behind one interface: CoNR (the product) or the rig's proxy colours (previews).

* `ConrRenderer` encodes the character sheet once, at construction, then renders every
  UDP map with its ``infer.backend.Backend``, which ``close`` releases. It needs trained weights to show the character.
* `UdpRenderer` shows the UDP map itself.
* `ProxyRenderer` shows the rig's flat-colour raster, which the raster stage draws in the
  same pass as the UDP map. It is what the app runs before trained weights exist: honest
  (it is the proxy body, not the character) and nearly free. Given a UDP map without
  colours (the UDP-detector source) it shows the map itself, xyz as RGB.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from concurrent.futures import Future

import numpy as np

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import CharacterSheet, RgbaFrame, UdpMap
from avatar_app.infer.resample import check_sizes, grow_frame, shrink_udp
from avatar_app.infer.torch_thread import on_lane, on_torch_thread, single_threaded

log = logging.getLogger(__name__)

MAX_FRAMES_IN_FLIGHT = 4


class AvatarRenderer(ABC):
    """UDP map (+ the rig's colours when ``needs_color``) -> premultiplied RGBA frame.

    ``size``: the model size the renderer is fixed to (None: any). Called from the
    pipeline's render thread only; `close` is idempotent.
    """

    name = "renderer"
    needs_color = False  # ask the raster stage for the flat-colour pass too
    size: int | None = None
    lanes = 1  # frames it renders at once (submit); the pipeline keeps this many in flight

    @abstractmethod
    def render(self, udp: UdpMap, color: np.ndarray | None) -> RgbaFrame: ...

    def submit(self, udp: UdpMap, color: np.ndarray | None) -> Future:
        """Start a frame (after `express`); a Future of its `render`. Here: rendered at once, on this thread."""
        future: Future = Future()
        try:
            future.set_result(self.render(udp, color))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def express(self, expression) -> None:  # noqa: B027 optional no-op hook
        """The coming frame's expression (before `render`); a renderer with expression sheets picks one."""

    def close(self) -> None:  # noqa: B027 optional no-op hook
        """Release models or buffers; safe to call more than once."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def udp_preview(udp: UdpMap) -> np.ndarray:
    """A UDP map as premultiplied RGBA: xyz (already times visibility) as RGB, visibility as alpha."""
    return np.ascontiguousarray(np.clip(udp.data, 0.0, 1.0), dtype=np.float32)


class ProxyRenderer(AvatarRenderer):
    name = "proxy"
    needs_color = True

    def render(self, udp: UdpMap, color: np.ndarray | None) -> RgbaFrame:
        rgba = udp_preview(udp) if color is None else np.ascontiguousarray(color, dtype=np.float32)
        return RgbaFrame(rgba, timestamp=udp.timestamp)


class UdpRenderer(AvatarRenderer):
    """The UDP map itself (xyz as RGB): what CoNR is given, without the colour pass. For
    checking a pose source or a fitted framing, and for timing the pose stages alone."""

    name = "udp"

    def render(self, udp: UdpMap, color: np.ndarray | None) -> RgbaFrame:
        return RgbaFrame(udp_preview(udp), timestamp=udp.timestamp)


class ConrRenderer(AvatarRenderer):
    """CoNR: the sheet encoded once (here, so a bad sheet fails at start), then one render per frame.

    ``networks``: from ``create_conr`` + ``load_conr_weights`` (or ``fill_networks`` for
    synthetic weights, which render nothing meaningful; None with a ``deployment`` of exported
    graphs, which carry their weights). ``backend``: torch, onnxruntime
    (graphs exported on first use into the weights' deployment folder, ``progress`` hears
    about it) or tensorrt (engines built beforehand), see ``infer.registry.open_backend``.
    ``cache``: a ``SheetCache`` (None: memory only). ``precision``: fp32, fp16 (CUDA,
    TensorRT) or bf16 (torch). ``expression_sheets``: ``{name: CharacterSheet}`` variants
    of the sheet (``pipeline.expression_sheets``), encoded here too; `express` picks one.
    ``drawn_detail`` (and ``drawn_detail_variants`` per expression sheet): the drawing's own
    pixels laid over every frame through UDP (``infer.drawn_detail``). ``view_choice``: an
    ``infer.view_choice.ViewChoice`` over the sheet's UDP: each frame reads only the views it
    picks (subsets of the encoded state, kept per subset; torch backend only).
    ``frames_in_flight``: how many frames `submit` renders at once on a CPU, each on one
    intra-op thread of its own torch lane (``infer.torch_thread``; torch backend only).
    ``output_size``: the frames' size (None: the sheet's); the network runs at the sheet's size
    (the internal size) on the UDP map shrunk to it, its render grown back (``infer.resample``);
    the drawn detail, built from the sheet at the output size, is laid over at the output size.
    """

    needs_color = False

    def __init__(
        self,
        networks,
        sheet: CharacterSheet,
        device="cpu",
        *,
        backend: str = "torch",
        cache=None,
        fast: bool = True,
        precision: str = "fp32",
        deployment=None,
        progress=None,
        expression_sheets=None,
        drawn_detail=None,
        drawn_detail_variants=None,
        view_choice=None,
        frames_in_flight: int = 1,
        output_size: int | None = None,
        cuda_graphs: bool = False,
    ):
        from avatar_app.infer.registry import open_backend
        from avatar_app.pipeline.expression_sheets import ExpressionChooser

        if not isinstance(sheet, CharacterSheet):
            raise SettingError(
                "conr renderer sheet",
                "a CharacterSheet (avatar_app.io.sheet.load_sheet)",
                type(sheet).__name__,
                "load the sheet first",
            )
        lanes = _lanes(frames_in_flight, backend, device)  # refused before anything opens
        preset = networks.cfg.name if networks is not None else "exported graphs"
        self.name = f"conr ({preset}{'' if backend == 'torch' else ', ' + backend})"
        # the network runs at the sheet's size; frames come at the output size (infer.resample)
        self.size, self.internal_size = check_sizes(output_size or sheet.size, sheet.size)
        self.views = sheet.num_views
        # loading, encoding and every frame on one thread (infer.torch_thread)
        self.backend = on_torch_thread(
            open_backend,
            backend,
            networks,
            sheet.size,
            device=device,
            precision=precision,
            fast=fast,
            cuda_graphs=cuda_graphs,
            cache=cache,
            deployment=deployment,
            progress=progress,
        )
        try:
            t0 = time.perf_counter()
            self.state = self.sheet_state = on_torch_thread(self.backend.encode, sheet)
            variants = (expression_sheets or {}).items()
            self.variants = {name: on_torch_thread(self.backend.encode, v) for name, v in variants}
            self.encode_ms = 1000.0 * (time.perf_counter() - t0)
        except BaseException:
            on_torch_thread(self.backend.close)  # a sheet refused at start leaves no session or engine behind
            raise
        self.acceleration = self.backend.acceleration
        self.chooser = ExpressionChooser(self.variants)
        self.variant: str | None = None  # the expression sheet the last frame used (None: the sheet)
        self.detail, self.detail_variants = drawn_detail, dict(drawn_detail_variants or {})
        self.view_choice = view_choice if view_choice is not None and hasattr(self.state, "subset") else None
        if view_choice is not None and self.view_choice is None:
            log.warning("%s: --views-per-frame needs the torch backend; every frame reads all views", self.name)
        self._subsets: dict = {}  # (variant, views) -> state
        self.lanes, self._next_lane = lanes, 0
        self.views_used = self.views  # how many views the last frame read
        extra = f" + expressions {', '.join(self.variants)}" if self.variants else ""
        log.info(
            "%s: sheet of %d view(s) at %d²%s encoded in %.0f ms; frames at %d²",
            self.name,
            self.views,
            self.internal_size,
            extra,
            self.encode_ms,
            self.size,
        )

    def express(self, expression) -> None:
        self.variant = self.chooser.choose(expression)
        self.state = self.sheet_state if self.variant is None else self.variants[self.variant]

    def _frame_state(self, udp: UdpMap):
        if self.view_choice is None:
            return self.state
        views = self.view_choice.choose(udp.data)
        self.views_used = len(views)
        if len(views) == self.views:
            return self.state
        key = (self.variant, views)
        if key not in self._subsets:
            self._subsets[key] = on_torch_thread(self.state.subset, views)
        return self._subsets[key]

    def render(self, udp: UdpMap, color: np.ndarray | None) -> RgbaFrame:
        return on_torch_thread(self._frame, self._frame_state(udp), udp, self._detail())

    def submit(self, udp: UdpMap, color: np.ndarray | None) -> Future:
        """The frame on the next torch lane, single-threaded when there are several (see ``frames_in_flight``)."""
        if self.lanes == 1:
            return super().submit(udp, color)
        lane, self._next_lane = self._next_lane, (self._next_lane + 1) % self.lanes
        return on_lane(lane, single_threaded, self._frame, self._frame_state(udp), udp, self._detail())

    def _detail(self):
        return self.detail_variants.get(self.variant, self.detail) if self.variant else self.detail

    def _frame(self, state, udp: UdpMap, detail) -> RgbaFrame:
        """One frame of ``state`` (the sheet, an expression sheet or a view subset) with ``detail`` over it."""
        frame = self.backend.render(state, shrink_udp(udp, self.internal_size))
        if self.size != self.internal_size:
            t0 = time.perf_counter()
            grown = grow_frame(frame, self.size)
            frame = RgbaFrame(
                grown.data, frame.timestamp, {**frame.timings_ms, "grow_ms": 1000.0 * (time.perf_counter() - t0)}
            )
        if detail is None:
            return frame
        t0 = time.perf_counter()
        data = detail.apply(frame.data, udp.data)
        timings = {**frame.timings_ms, "detail_ms": 1000.0 * (time.perf_counter() - t0)}
        return RgbaFrame(data, frame.timestamp, timings)

    def close(self) -> None:
        """Drop the sheet states and close the backend (sessions, engines, CUDA graphs)."""
        self.state = self.sheet_state = None
        self.variants, self._subsets = {}, {}
        on_torch_thread(self.backend.close)


def _lanes(frames_in_flight, backend: str, device) -> int:
    if type(frames_in_flight) is not int or not 1 <= frames_in_flight <= MAX_FRAMES_IN_FLIGHT:
        raise SettingError(
            "frames in flight",
            f"a whole number from 1 to {MAX_FRAMES_IN_FLIGHT}",
            repr(frames_in_flight),
            "use --frames-in-flight 2 on a CPU with two or more cores, or leave it at 1",
        )
    if frames_in_flight > 1 and (backend != "torch" or str(device) != "cpu"):
        log.warning("--frames-in-flight needs the torch backend on the CPU; rendering one frame at a time")
        return 1
    return frames_in_flight
