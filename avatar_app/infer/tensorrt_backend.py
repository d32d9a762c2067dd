"""TensorRT inference on the engines of ``tools/build_engine.py`` (DESIGN.md §5 "TensorRT").

Written against the TensorRT 10 Python API (name-based I/O: ``set_input_shape``,
``set_tensor_address``, ``execute_async_v3``); nothing here imports ``tensorrt`` until
an engine is loaded. I/O buffers are torch CUDA tensors, so:

* :class:`TrtSheetEncoder` returns a :class:`~avatar_app.infer.sheet_state.SheetState`
  whose tensors are the sheet engine's output buffers, on the GPU;
* :class:`TrtFrameRenderer` binds those same buffers as the frame engine's inputs: the
  sheet never makes a host round trip. Per view count it can capture the launch in a
  CUDA graph (only the target is copied in before each replay);
* :class:`TrtUDPDetector` is :class:`~avatar_app.infer.torch_backend.UDPDetector` with
  its network swapped for the detector engine.

Each :class:`TrtEngine` runs on its own stream (``execute_async_v3`` on a non-default
stream), ordered after the caller's current stream and before it again, so the engine
behaves like one more CUDA op to torch code around it.

:func:`find_engine` picks the engine for an ONNX graph from ``engines/`` by the cache
key of ``engine_cache.py`` (graph hash, precision, TensorRT version, compute capability)
and a profile that covers the view count; when none fits, its error lists why (each
differing field) and the command that builds one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from avatar_app.core.errors import DeviceError, InputError, SettingError
from avatar_app.core.frames import CharacterSheet, RgbaFrame, UdpMap
from avatar_app.infer.deploy import INSTALL_HINT
from avatar_app.infer.engine_cache import EngineSpec, file_sha256, lookup, read_sidecar, validate
from avatar_app.infer.onnx_export import graph_path
from avatar_app.infer.sheet_state import SheetCache, SheetState
from avatar_app.infer.torch_backend import SheetEncoder, UDPDetector, render_udp, sheet_tensors

__all__ = [
    "INSTALL_HINT",
    "import_tensorrt",
    "torch_dtype",
    "find_engine",
    "TrtEngine",
    "TrtSheetEncoder",
    "TrtFrameRenderer",
    "TrtUDPDetector",
]

log = logging.getLogger(__name__)


# TensorRT DataType member name -> torch dtype (members missing from an old build are skipped).
_DTYPES = {
    "FLOAT": torch.float32,
    "HALF": torch.float16,
    "BF16": torch.bfloat16,
    "INT32": torch.int32,
    "INT64": torch.int64,
    "INT8": torch.int8,
    "UINT8": torch.uint8,
    "BOOL": torch.bool,
}


def import_tensorrt():
    """The ``tensorrt`` module, or a :class:`DeviceError` saying how to get it."""
    try:
        import tensorrt
    except ImportError as e:
        raise DeviceError(
            f"TensorRT backend: the tensorrt Python package is not importable ({e}). Fix: {INSTALL_HINT}"
        ) from e
    return tensorrt


def torch_dtype(trt, dtype) -> torch.dtype:
    for name, torch_type in _DTYPES.items():
        if getattr(trt.DataType, name, None) == dtype:
            return torch_type
    raise SettingError(
        "TensorRT tensor type",
        f"one of {', '.join(_DTYPES)}",
        str(dtype),
        "rebuild the engine from tools/export_onnx.py's graphs",
    )


def _device_facts(device: torch.device, trt) -> tuple[str, str]:
    """(TensorRT version, compute capability) the engines must have been built for."""
    if device.type != "cuda":
        return str(trt.__version__), "cpu"
    major, minor = torch.cuda.get_device_capability(device)
    return str(trt.__version__), f"{major}.{minor}"


def find_engine(
    engines_dir, onnx_path, precision: str, tensorrt_version: str, compute_capability: str, views: int = 1
) -> Path:
    """The engine built from ``onnx_path`` for this TensorRT and GPU whose profile covers ``views``.

    Any profile will do (the sidecar says which); without a match the error lists what
    differs from the closest engine and how to build one.
    """
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise SettingError(
            "ONNX graph",
            "an exported .onnx file (the engine cache is keyed by its hash)",
            str(onnx_path),
            "run tools/export_onnx.py first",
        )
    wanted = EngineSpec.for_onnx(onnx_path, precision, tensorrt_version, compute_capability)
    fixed = {k: v for k, v in wanted.fields().items() if k != "profile"}
    for sidecar in sorted(Path(engines_dir).glob(f"{wanted.graph}-*.engine.json")):
        data = read_sidecar(sidecar)
        if data is None or any(data.get(k) != v for k, v in fixed.items()):
            continue
        profile = data.get("profile") or {}
        engine = sidecar.with_name(sidecar.name[: -len(".json")])
        if (
            engine.is_file()
            and profile.get("min", 1) <= views <= profile.get("max", 0)
            and not validate(data, EngineSpec(**{**fixed, "profile": profile}))
        ):
            return engine
    _, reasons = lookup(engines_dir, wanted)
    flag = "--fp16 " if precision == "fp16" else ""
    raise SettingError(
        f"TensorRT engine for {onnx_path.name} in {engines_dir}",
        f"one built for TensorRT {tensorrt_version}, compute capability {compute_capability}, {precision}, "
        f"covering {views} views",
        "; ".join(reasons) or "none whose view profile covers it",
        f"run: python tools/build_engine.py {onnx_path} --out {engines_dir} {flag}--max-views {max(views, 8)}",
    )


class TrtEngine:
    """One deserialized engine, one execution context, one stream; torch tensors in and out.

    ``trt`` is the ``tensorrt`` module (imported when not given). Inputs are converted
    to the engine's dtypes and made contiguous on ``device``; outputs are allocated from
    the shapes the context infers (or bound from ``out=`` buffers).
    """

    def __init__(self, path, device="cuda", trt=None):
        self.path = Path(path)
        self.trt = trt if trt is not None else import_tensorrt()
        self.device = torch.device(device)
        if not self.path.is_file():
            raise SettingError(
                "TensorRT engine",
                "an engine file built by tools/build_engine.py",
                f"no file {self.path}",
                "build it with tools/build_engine.py",
            )
        self._check_sidecar()
        self.runtime = self.trt.Runtime(self.trt.Logger(self.trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise DeviceError(
                f"{self.path}: TensorRT {self.trt.__version__} could not deserialize this engine "
                "(built by another TensorRT version or for another GPU, or the file is damaged). "
                "Fix: rebuild it with tools/build_engine.py --force"
            )
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == self.trt.TensorIOMode.INPUT for n in names}
        self.input_names = tuple(n for n in names if is_input[n])
        self.output_names = tuple(n for n in names if not is_input[n])
        self.dtypes = {n: torch_dtype(self.trt, self.engine.get_tensor_dtype(n)) for n in names}
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def _check_sidecar(self) -> None:
        """Refuse an engine whose sidecar says it was built for another TensorRT or GPU."""
        data = read_sidecar(self.path.with_name(self.path.name + ".json"))
        if data is None:
            return  # an engine built elsewhere; deserialization is the check
        version, capability = _device_facts(self.device, self.trt)
        reasons = [
            f"{k}: {data.get(k)} -> {v}"
            for k, v in (("tensorrt_version", version), ("compute_capability", capability))
            if data.get(k) != v
        ]
        if reasons:
            raise SettingError(
                f"TensorRT engine {self.path}",
                "one built on this machine's TensorRT and GPU",
                "; ".join(reasons),
                "rebuild it: python tools/build_engine.py <the .onnx> --out " + str(self.path.parent),
            )

    def close(self) -> None:
        """Wait for the stream, then release the execution context, the engine and the runtime in
        that order (TensorRT frees their device memory with the last reference); idempotent."""
        if self.stream is not None:
            self.stream.synchronize()
        self.context = None
        self.engine = None
        self.runtime = None
        self.stream = None

    def _check_open(self) -> None:
        if self.context is None:
            raise SettingError(f"TensorRT engine {self.path.name}", "an open engine", "closed", "open a new backend")

    def profile(self, name: str, index: int = 0) -> tuple[tuple[int, ...], ...]:
        """(min, opt, max) shapes of input ``name`` in optimisation profile ``index``."""
        return tuple(tuple(int(d) for d in s) for s in self.engine.get_tensor_profile_shape(name, index))

    def bind(self, inputs: dict, out: dict | None = None) -> tuple[dict, list]:
        """Set every input's shape and address and every output's address; returns (outputs, kept)."""
        self._check_open()
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise SettingError(
                f"{self.path.name} inputs",
                f"tensors named {', '.join(self.input_names)}",
                f"missing {', '.join(missing)}",
                "pass every engine input",
            )
        kept = []
        for name in self.input_names:
            t = inputs[name].to(self.device, self.dtypes[name]).contiguous()
            if not self.context.set_input_shape(name, tuple(t.shape)):
                lo, _, hi = self.profile(name)
                raise SettingError(
                    f"{self.path.name} input {name}",
                    f"a shape between {lo} and {hi} (the engine's profile)",
                    f"{tuple(t.shape)}",
                    "rebuild the engine with --min-views / --max-views covering this view count",
                )
            self.context.set_tensor_address(name, t.data_ptr())
            kept.append(t)
        outputs = {}
        for name in self.output_names:
            shape = tuple(int(d) for d in self.context.get_tensor_shape(name))
            buf = (out or {}).get(name)
            if buf is None or tuple(buf.shape) != shape or buf.dtype != self.dtypes[name] or not buf.is_contiguous():
                buf = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
            self.context.set_tensor_address(name, buf.data_ptr())
            outputs[name] = buf
        return outputs, kept

    def launch(self, kept: list) -> None:
        """``execute_async_v3`` on the engine's stream, ordered with the caller's stream."""
        if self.stream is None:  # a CPU stand-in for TensorRT (tests): stream handle 0
            ok = self.context.execute_async_v3(0)
        else:
            caller = torch.cuda.current_stream(self.device)
            self.stream.wait_stream(caller)
            ok = self.context.execute_async_v3(self.stream.cuda_stream)
            caller.wait_stream(self.stream)
            for t in kept:
                t.record_stream(self.stream)
        if not ok:
            raise DeviceError(
                f"{self.path}: TensorRT execute_async_v3 failed (see the TensorRT log above). "
                "Fix: rebuild the engine, or use --backend torch"
            )

    def run(self, inputs: dict, out: dict | None = None) -> dict:
        outputs, kept = self.bind(inputs, out)
        self.launch(kept + list(outputs.values()))
        return outputs


class _Graph:
    GRAPH = ""

    def __init__(self, engine: TrtEngine, size: int):
        self.engine = engine
        self.size = int(size)
        self.device = engine.device

    def close(self) -> None:
        self.engine.close()

    @classmethod
    def from_dirs(
        cls,
        onnx_dir,
        engines_dir,
        preset: str,
        size: int,
        precision: str = "fp16",
        device="cuda",
        views: int = 4,
        trt=None,
        **kwargs,
    ):
        """Load the engine built from ``onnx_dir``'s graph of this preset and size (``kwargs``: the class's options)."""
        trt = trt if trt is not None else import_tensorrt()
        device = torch.device(device)
        onnx_path = graph_path(onnx_dir, cls.GRAPH, preset, size)
        engine = find_engine(engines_dir, onnx_path, precision, *_device_facts(device, trt), views=views)
        obj = cls(TrtEngine(engine, device, trt), size, **kwargs)
        obj.onnx_sha256 = file_sha256(onnx_path)
        obj.preset = preset
        return obj


class TrtSheetEncoder(_Graph):
    """Character sheet -> :class:`SheetState` on the GPU, from the ``sheet_encoder`` engine."""

    GRAPH = "sheet_encoder"
    check = SheetEncoder.check
    preset = ""
    onnx_sha256 = ""

    def __init__(self, engine: TrtEngine, size: int, cache: SheetCache | None = None):
        super().__init__(engine, size)
        self.cache = cache if cache is not None else SheetCache(None)

    @property
    def weights_hash(self) -> str:
        return "trt-" + (self.onnx_sha256[:26] or self.engine.path.stem)

    def encode(self, sheet: CharacterSheet) -> SheetState:
        self.check(sheet)
        if sheet.size != self.size:
            raise InputError(
                "sheet",
                f"{self.size}x{self.size} (the engine's size)",
                f"{sheet.size}",
                "export and build the graphs at this size",
            )
        key = SheetCache.make_key(sheet.content_hash(), self.weights_hash, sheet.size, self.preset)
        state = self.cache.get(key, self.engine.device)
        if state is None:
            state = self.encode_tensors(*sheet_tensors(sheet), key=key)
            self.cache.put(state)
        return state

    def encode_tensors(self, rgb: torch.Tensor, alpha: torch.Tensor, key: str = "") -> SheetState:
        t = self.engine.run({"rgb": rgb, "alpha": alpha})
        # The frame engine reads these buffers as they are: keep them fp32 NCHW (the graph's types).
        sources = [t[f"warp_source{i}"] for i in range(5)]
        features = [t["feature0"]] + [s[:, 4:] for s in sources[:4]]
        return SheetState(key, self.preset, int(rgb.shape[-1]), features, sources, t["level0_conv"])


class TrtFrameRenderer(_Graph):
    """SheetState + target -> premultiplied RGBA from the ``frame_renderer`` engine.

    The state's tensors are bound as the engine's inputs where they lie (no copy when
    they are already on the engine's device in its dtype). ``cuda_graphs=True`` captures
    one launch per (state, view count) in a CUDA graph; each frame then copies the
    target into the graph's input buffer and replays it.
    """

    GRAPH = "frame_renderer"

    def __init__(self, engine: TrtEngine, size: int, cuda_graphs: bool = False):
        super().__init__(engine, size)
        self.cuda_graphs = bool(cuda_graphs) and engine.device.type == "cuda"
        self._graphs: dict = {}

    def close(self) -> None:
        """Release the captured CUDA graphs (and the sheet buffers they keep), then the engine."""
        graphs, self._graphs = self._graphs, {}
        if graphs and self.engine.stream is not None:
            self.engine.stream.synchronize()  # no replay still running on what is freed
        for _, _, graph, _ in graphs.values():
            graph.reset()
        super().close()

    def feeds(self, state: SheetState, target: torch.Tensor) -> dict:
        if state.size != self.size or tuple(target.shape[-2:]) != (self.size, self.size):
            raise SettingError(
                "render size",
                f"{self.size}x{self.size} (the engine's size)",
                f"sheet {state.size}, target {tuple(target.shape[-2:])}",
                "build the engines at this size",
            )
        feeds = {f"warp_source{i}": s for i, s in enumerate(state.warp_sources)}
        feeds["level0_conv"] = state.level0_conv
        feeds["target"] = target
        return feeds

    def render(self, state: SheetState, udp: UdpMap) -> RgbaFrame:
        return render_udp(self, state, udp, self.engine.device)

    def render_tensor(self, state: SheetState, target: torch.Tensor) -> torch.Tensor:
        """``target`` ``[N,4,S,S]`` -> float32 RGBA ``[N,4,S,S]`` (the engine takes one frame; N run in turn)."""
        frames = []
        for i in range(target.shape[0]):
            feeds = self.feeds(state, target[i : i + 1])
            rgba = self._replay(state, feeds) if self.cuda_graphs else self.engine.run(feeds)["rgba"]
            frames.append(rgba.float())
        return torch.cat(frames)

    def _replay(self, state: SheetState, feeds: dict) -> torch.Tensor:
        key = (id(state), state.num_views)
        entry = self._graphs.get(key)
        if entry is None:
            entry = self._capture(feeds)
            self._graphs = {key: entry}  # one sheet streams at a time: drop graphs of older states
        static_target, rgba, graph, _ = entry
        static_target.copy_(feeds["target"].to(static_target.dtype))
        graph.replay()
        return rgba.clone()

    def _capture(self, feeds: dict):
        engine = self.engine
        static_target = feeds["target"].to(engine.device, engine.dtypes["target"]).contiguous().clone()
        outputs, kept = engine.bind({**feeds, "target": static_target})
        engine.launch(kept + list(outputs.values()))  # TensorRT wants one plain launch before capture
        torch.cuda.synchronize(engine.device)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=engine.stream):
            if not engine.context.execute_async_v3(engine.stream.cuda_stream):
                raise DeviceError(
                    f"{engine.path}: execute_async_v3 failed while capturing a CUDA graph. Fix: run without CUDA graphs"
                )
        return static_target, outputs["rgba"], graph, kept  # kept: the bound sheet buffers stay alive


class TrtUDPDetector(_Graph, UDPDetector):
    """:class:`UDPDetector` (same pre-processing) on the ``udp_detector`` engine."""

    GRAPH = "udp_detector"

    def detect_tensor(self, rgb: torch.Tensor) -> torch.Tensor:
        if tuple(rgb.shape[-2:]) != (self.size, self.size):
            raise InputError(
                "image",
                f"{self.size}x{self.size} (the detector engine's size)",
                f"{tuple(rgb.shape[-2:])[0]}x{tuple(rgb.shape[-2:])[1]}",
                "letterbox the frame to the model size",
            )
        return self.engine.run({"rgb": rgb})["udp"].float()
