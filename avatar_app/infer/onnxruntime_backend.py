"""ONNX Runtime inference on the graphs of ``onnx_export.py``: same interface as the torch backend.

* :class:`OrtSheetEncoder` -> :class:`~avatar_app.infer.sheet_state.SheetState` (torch CPU
  tensors, so the state is interchangeable with the torch backend's and cacheable).
* :class:`OrtFrameRenderer` -> premultiplied RGBA.
* :class:`OrtUDPDetector` -> clamped UDP.

``onnxruntime`` is imported lazily. Execution providers: TensorRT, then CUDA, then CPU,
as far as the installed build offers them (or as given).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from avatar_app.core.errors import InputError, SettingError
from avatar_app.core.frames import CharacterSheet, RgbaFrame, UdpMap
from avatar_app.infer.engine_cache import file_sha256
from avatar_app.infer.onnx_export import SHEET_OUTPUTS, graph_path
from avatar_app.infer.sheet_state import SheetCache, SheetState
from avatar_app.infer.torch_backend import SheetEncoder, UDPDetector, render_udp, sheet_tensors

__all__ = [
    "PREFERRED_PROVIDERS",
    "session_options",
    "make_session",
    "OrtSheetEncoder",
    "OrtFrameRenderer",
    "OrtUDPDetector",
    "bench_onnxruntime",
]

log = logging.getLogger(__name__)

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def session_options(intra_op_threads: int = 0):
    """Graph optimisation ALL, sequential execution; ``intra_op_threads=0`` lets ORT choose."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.intra_op_num_threads = int(intra_op_threads)
    opts.inter_op_num_threads = 1
    return opts


def make_session(path, intra_op_threads: int = 0, providers=None):
    """An ``InferenceSession`` on the best available providers (or exactly ``providers``)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise SettingError("ONNX graph", "an exported .onnx file", str(path), "run tools/export_onnx.py first")
    if providers is None:
        available = set(ort.get_available_providers())
        providers = [p for p in PREFERRED_PROVIDERS if p in available]
    session = ort.InferenceSession(str(path), session_options(intra_op_threads), providers=list(providers))
    log.info("onnxruntime session %s on %s", path.name, session.get_providers())
    return session


def _numpy(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy())


def _fixed_size(session, input_name: str) -> int:
    shape = next(i.shape for i in session.get_inputs() if i.name == input_name)
    return int(shape[-1])


class _Graph:
    def __init__(self, path, intra_op_threads: int = 0, providers=None):
        self.path = Path(path)
        self.session = make_session(self.path, intra_op_threads, providers)
        self.size = _fixed_size(self.session, self.session.get_inputs()[0].name)

    @classmethod
    def from_dir(cls, directory, preset: str, size: int, intra_op_threads: int = 0, providers=None):
        return cls(graph_path(directory, cls.GRAPH, preset, size), intra_op_threads, providers)

    def close(self) -> None:
        """Drop the ONNX Runtime session (ORT frees its memory with it); idempotent."""
        self.session = None

    def _session(self):
        if self.session is None:
            where = f"ONNX Runtime {self.GRAPH} ({self.path.name})"
            raise SettingError(where, "an open session", "closed", "open a new backend")
        return self.session

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class OrtSheetEncoder(_Graph):
    """Character sheet -> SheetState with the exported ``sheet_encoder`` graph."""

    GRAPH = "sheet_encoder"
    check = SheetEncoder.check  # refuses what the torch backend refuses (uses only the sheet)

    def __init__(
        self, path, intra_op_threads: int = 0, providers=None, cache: SheetCache | None = None, preset: str = ""
    ):
        super().__init__(path, intra_op_threads, providers)
        self.preset = preset or self.path.stem.split("_")[-2]
        self.cache = cache if cache is not None else SheetCache(None)
        self.weights_hash = "onnx-" + file_sha256(self.path)[:26]

    def key(self, sheet: CharacterSheet) -> str:
        return SheetCache.make_key(sheet.content_hash(), self.weights_hash, sheet.size, self.preset)

    def encode(self, sheet: CharacterSheet) -> SheetState:
        self.check(sheet)
        if sheet.size != self.size:
            raise InputError(
                "sheet",
                f"{self.size}x{self.size} (the exported graph's size)",
                f"{sheet.size}",
                "export the graph at this size",
            )
        key = self.key(sheet)
        state = self.cache.get(key)
        if state is None:
            state = self.encode_tensors(*sheet_tensors(sheet), key=key)
            self.cache.put(state)
        return state

    def encode_tensors(self, rgb: torch.Tensor, alpha: torch.Tensor, key: str = "") -> SheetState:
        outs = self._session().run(list(SHEET_OUTPUTS), {"rgb": _numpy(rgb), "alpha": _numpy(alpha)})
        t = {name: torch.from_numpy(o) for name, o in zip(SHEET_OUTPUTS, outs)}
        sources = [t[f"warp_source{i}"] for i in range(5)]
        features = [t["feature0"]] + [s[:, 4:] for s in sources[:4]]
        return SheetState(key, self.preset, int(rgb.shape[-1]), features, sources, t["level0_conv"])


class OrtFrameRenderer(_Graph):
    """SheetState + target -> premultiplied RGBA with the exported ``frame_renderer`` graph."""

    GRAPH = "frame_renderer"

    def render(self, state: SheetState, udp: UdpMap) -> RgbaFrame:
        return render_udp(self, state, udp)

    def feeds(self, state: SheetState, target: torch.Tensor) -> dict:
        if state.size != self.size or tuple(target.shape[-2:]) != (self.size, self.size):
            raise SettingError(
                "render size",
                f"{self.size}x{self.size} (the exported graph's size)",
                f"sheet {state.size}, target {tuple(target.shape[-2:])}",
                "export the graph at this size",
            )
        feeds = {f"warp_source{i}": _numpy(s) for i, s in enumerate(state.warp_sources)}
        feeds["level0_conv"] = _numpy(state.level0_conv)
        return feeds

    def render_tensor(self, state: SheetState, target: torch.Tensor) -> torch.Tensor:
        """``target`` ``[N,4,S,S]`` -> RGBA ``[N,4,S,S]`` (the graph takes one frame; N runs in turn)."""
        feeds = self.feeds(state, target)
        frames = []
        for i in range(target.shape[0]):
            feeds["target"] = _numpy(target[i : i + 1])
            frames.append(torch.from_numpy(self._session().run(["rgba"], feeds)[0]))
        return torch.cat(frames)


class OrtUDPDetector(_Graph, UDPDetector):
    """:class:`UDPDetector` (same pre-processing, ``detect(image)``) on the ``udp_detector`` graph:
    premultiplied rgb ``[B,3,S,S]`` -> clamped UDP ``[B,4,S,S]``."""

    GRAPH = "udp_detector"

    def detect_tensor(self, rgb: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._session().run(["udp"], {"rgb": _numpy(rgb)})[0])


def bench_onnxruntime(
    renderer: OrtFrameRenderer, state: SheetState, target: torch.Tensor, warmup: int = 1, repeats: int = 5
) -> dict:
    """Median/min seconds per frame of ``renderer.render_tensor`` (for ``tools/bench.py``)."""
    feeds = renderer.feeds(state, target)
    feeds["target"] = _numpy(target[:1])
    for _ in range(warmup):
        renderer.session.run(["rgba"], feeds)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        renderer.session.run(["rgba"], feeds)
        times.append(time.perf_counter() - t0)
    return {
        "median_s": float(np.median(times)),
        "min_s": float(min(times)),
        "views": state.num_views,
        "providers": renderer.session.get_providers(),
    }
