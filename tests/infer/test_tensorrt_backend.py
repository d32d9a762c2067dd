"""The TensorRT backend's glue, on CPU, against a stand-in for the ``tensorrt`` module.

No GPU here, so the engines are :class:`FakeTensorRT` objects that speak the TensorRT 10
API the backend uses (``set_input_shape``, ``get_tensor_shape``, ``set_tensor_address``,
``execute_async_v3``) and compute with ONNX Runtime on the exported graphs, reading
inputs from and writing outputs to the *addresses* they were given. So the tests check
what the backend is responsible for: names, shapes, dtypes, profiles, that every
address points at the right tensor (the sheet engine's outputs bound as the frame
engine's inputs, no copy), and each error path. The real engine build and run is the
``gpu``-marked test at the end.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import types

import numpy as np
import pytest
import torch

from avatar_app.core.errors import DeviceError, SettingError
from avatar_app.core.frames import UdpMap
from avatar_app.infer.backend import Backend
from avatar_app.infer.engine_cache import EngineSpec, engine_paths, write_sidecar
from avatar_app.infer.onnx_export import graph_path
from avatar_app.infer.tensorrt_backend import (
    TrtEngine,
    TrtFrameRenderer,
    TrtSheetEncoder,
    TrtUDPDetector,
    find_engine,
    import_tensorrt,
)
from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder, UDPDetector, sheet_tensors

ort = pytest.importorskip("onnxruntime")

SIZE = 128
RGBA_MAX, RGBA_P999, RGBA_MEAN = 1e-2, 3e-3, 2e-4  # conformance tolerances on rgba
MAGIC = b"FAKETRT\n"


def _array_at(address: int, shape, dtype) -> np.ndarray:
    count = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer((ctypes.c_char * count).from_address(address), dtype=dtype).reshape(shape)


class _FakeContext:
    def __init__(self, engine):
        self.engine, self.shapes, self.addresses, self.launches = engine, {}, {}, 0
        engine.contexts.append(self)

    def set_input_shape(self, name, shape) -> bool:
        declared = self.engine.declared[name]
        lo, hi = self.engine.views
        ok = len(shape) == len(declared) and all(d == s for d, s in zip(declared[1:], shape[1:]) if isinstance(d, int))
        ok = ok and (declared[0] == shape[0] if isinstance(declared[0], int) else lo <= shape[0] <= hi)
        if ok:
            self.shapes[name] = tuple(shape)
        return ok

    def _run(self, feeds):
        return dict(zip(self.engine.outputs, self.engine.session.run(list(self.engine.outputs), feeds)))

    def get_tensor_shape(self, name):
        if name in self.shapes:
            return self.shapes[name]
        zeros = {n: np.zeros(s, np.float32) for n, s in self.shapes.items()}
        return self._run(zeros)[name].shape  # what TensorRT's shape inference would say

    def set_tensor_address(self, name, address) -> bool:
        self.addresses[name] = int(address)
        return True

    def execute_async_v3(self, stream_handle) -> bool:
        assert stream_handle == 0  # CPU stand-in: no CUDA stream
        feeds = {n: _array_at(self.addresses[n], self.shapes[n], np.float32).copy() for n in self.engine.inputs}
        for name, value in self._run(feeds).items():
            np.copyto(_array_at(self.addresses[name], value.shape, np.float32), value)
        self.launches += 1
        return True


class _FakeEngine:
    def __init__(self, onnx_path: str, views):
        self.session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        self.declared = {i.name: list(i.shape) for i in self.session.get_inputs()}
        self.inputs = tuple(self.declared)
        self.outputs = tuple(o.name for o in self.session.get_outputs())
        self.views = tuple(views)
        self.contexts = []

    @property
    def num_io_tensors(self):
        return len(self.inputs) + len(self.outputs)

    def get_tensor_name(self, i):
        return (self.inputs + self.outputs)[i]

    def get_tensor_mode(self, name):
        return FakeTensorRT.TensorIOMode.INPUT if name in self.inputs else FakeTensorRT.TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name):
        return FakeTensorRT.DataType.FLOAT

    def get_tensor_profile_shape(self, name, index):
        d = self.declared[name]
        return [
            [v if isinstance(d[0], str) and k == 0 else x for k, x in enumerate(d)]
            for v in (self.views[0], self.views[0], self.views[1])
        ]

    def create_execution_context(self):
        return _FakeContext(self)


class _FakeRuntime:
    def __init__(self, logger):
        self.logger = logger

    def deserialize_cuda_engine(self, data: bytes):
        if not data.startswith(MAGIC):
            return None  # what TensorRT does with an engine it cannot read
        spec = json.loads(data[len(MAGIC) :])
        return _FakeEngine(spec["onnx"], spec["views"])


FakeTensorRT = types.SimpleNamespace(
    __version__="10.99.0-fake",
    Logger=type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None}),
    Runtime=_FakeRuntime,
    DataType=types.SimpleNamespace(FLOAT="float32", HALF="float16", INT32="int32"),
    TensorIOMode=types.SimpleNamespace(INPUT="input", OUTPUT="output"),
)


def _build(engines, onnx_path, views=(1, 4), capability="cpu", precision="fp32"):
    """What tools/build_engine.py leaves behind: an engine and its sidecar, keyed like the real ones."""
    spec = EngineSpec.for_onnx(
        onnx_path, precision, FakeTensorRT.__version__, capability, {"min": views[0], "opt": views[0], "max": views[1]}
    )
    engine, sidecar = engine_paths(engines, spec)
    engine.parent.mkdir(parents=True, exist_ok=True)
    engine.write_bytes(MAGIC + json.dumps({"onnx": str(onnx_path), "views": list(views)}).encode())
    write_sidecar(sidecar, spec)
    return engine


@pytest.fixture(scope="module")
def engines(lite_graphs, tmp_path_factory):
    out = tmp_path_factory.mktemp("engines")
    for graph in ("sheet_encoder", "frame_renderer", "udp_detector"):
        _build(out, graph_path(lite_graphs, graph, "lite", SIZE))
    return out


def _load(cls, lite_graphs, engines, **kw):
    return cls.from_dirs(lite_graphs, engines, "lite", SIZE, precision="fp32", device="cpu", trt=FakeTensorRT, **kw)


def _stats(a, b):
    d = (a - b).abs().flatten().double().numpy()
    return float(d.max()), float(np.quantile(d, 0.999)), float(d.mean())


def test_sheet_and_frame_engines_match_torch_and_share_the_sheet_buffers(
    lite_graphs, engines, lite_networks, make_sheet, make_target
):
    trt_encoder, trt_renderer = (
        _load(TrtSheetEncoder, lite_graphs, engines),
        _load(TrtFrameRenderer, lite_graphs, engines),
    )
    encoder, renderer = SheetEncoder(lite_networks), FrameRenderer(lite_networks, fast=False)
    for views in (1, 3):
        sheet = make_sheet(views, SIZE, seed=views)
        state, ref_state = trt_encoder.encode(sheet), encoder.encode(sheet)
        assert state.num_views == views and state.key != ref_state.key  # cached apart from the torch backend's states
        for ours, ref in zip(state.warp_sources, ref_state.warp_sources):
            torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
        target = make_target(SIZE, seed=views, frames=2)
        rgba, ref = trt_renderer.render_tensor(state, target), renderer.render_tensor(ref_state, target)
        assert rgba.shape == (2, 4, SIZE, SIZE) and rgba.dtype == torch.float32
        mx, p999, mean = _stats(rgba, ref)
        assert mx <= RGBA_MAX and p999 <= RGBA_P999 and mean <= RGBA_MEAN, (mx, p999, mean)
        # the frame engine read the sheet engine's output buffers where they lie
        bound = trt_renderer.engine.context.addresses
        assert [bound[f"warp_source{i}"] for i in range(5)] == [s.data_ptr() for s in state.warp_sources]
        assert bound["level0_conv"] == state.level0_conv.data_ptr()
    assert trt_encoder.encode(make_sheet(3, SIZE, seed=3)) is state  # the state is cached
    assert trt_renderer.engine.context.launches == 4  # one launch per frame


def test_udp_detector_engine_matches_torch(lite_graphs, engines, lite_networks):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (SIZE, SIZE, 4), dtype=np.uint8)
    ours, ref = _load(TrtUDPDetector, lite_graphs, engines).detect(image), UDPDetector(lite_networks).detect(image)
    assert ours.data.shape == (SIZE, SIZE, 4)
    np.testing.assert_allclose(ours.data, ref.data, atol=1e-4)
    with pytest.raises(Exception, match=r"128x128 \(the detector engine's size\)"):
        _load(TrtUDPDetector, lite_graphs, engines).detect(image[:96, :96])


def test_view_count_outside_the_engine_profile_says_how_to_rebuild(lite_graphs, tmp_path, make_sheet):
    for graph in ("sheet_encoder", "frame_renderer"):
        _build(tmp_path, graph_path(lite_graphs, graph, "lite", SIZE), views=(1, 2))
    encoder = TrtSheetEncoder.from_dirs(
        lite_graphs, tmp_path, "lite", SIZE, precision="fp32", device="cpu", views=2, trt=FakeTensorRT
    )
    rgb, alpha = sheet_tensors(make_sheet(3, SIZE))
    with pytest.raises(
        SettingError,
        match=r"input rgb: expected a shape between \(1, 3, 128, 128\) and \(2, 3, 128, 128\).*--max-views",
    ):
        encoder.encode_tensors(rgb, alpha)
    with pytest.raises(
        SettingError, match=r"covering 3 views, found .*profile.max: 2 -> 8.*build_engine.py .*--max-views 8"
    ):
        TrtSheetEncoder.from_dirs(
            lite_graphs, tmp_path, "lite", SIZE, precision="fp32", device="cpu", views=3, trt=FakeTensorRT
        )


def test_engine_built_for_another_gpu_or_tensorrt_is_refused_with_the_reasons(lite_graphs, tmp_path):
    onnx_path = graph_path(lite_graphs, "frame_renderer", "lite", SIZE)
    engine = _build(tmp_path, onnx_path, capability="8.9")
    with pytest.raises(SettingError, match=r"compute_capability: 8.9 -> cpu.*Fix: run: python tools/build_engine.py"):
        find_engine(tmp_path, onnx_path, "fp32", FakeTensorRT.__version__, "cpu")
    with pytest.raises(
        SettingError, match=r"one built on this machine's TensorRT and GPU, found compute_capability: 8.9 -> cpu"
    ):
        TrtEngine(engine, "cpu", FakeTensorRT)
    with pytest.raises(SettingError, match=r"precision: fp32 -> fp16"):
        find_engine(tmp_path, onnx_path, "fp16", FakeTensorRT.__version__, "8.9")
    newer = types.SimpleNamespace(**{**vars(FakeTensorRT), "__version__": "11.0.0"})
    with pytest.raises(SettingError, match=r"tensorrt_version: 10.99.0-fake -> 11.0.0"):
        TrtEngine(engine, "cpu", newer)


def test_unreadable_engine_and_missing_inputs_are_clear_errors(lite_graphs, tmp_path):
    damaged = tmp_path / "frame_renderer-0000.engine"
    damaged.write_bytes(b"\x00garbage")
    with pytest.raises(
        DeviceError, match=r"could not deserialize this engine.*rebuild it with tools/build_engine.py --force"
    ):
        TrtEngine(damaged, "cpu", FakeTensorRT)
    with pytest.raises(SettingError, match=r"no file .*missing.engine"):
        TrtEngine(tmp_path / "missing.engine", "cpu", FakeTensorRT)
    engine = TrtEngine(_build(tmp_path, graph_path(lite_graphs, "udp_detector", "lite", SIZE)), "cpu", FakeTensorRT)
    assert engine.input_names == ("rgb",) and engine.output_names == ("udp",)
    with pytest.raises(SettingError, match=r"tensors named rgb, found missing rgb"):
        engine.run({"image": torch.zeros(1, 3, SIZE, SIZE)})


def test_close_releases_every_engine_context_and_captured_graph(lite_graphs, engines, make_sheet, make_target):
    classes = {"sheet_encoder": TrtSheetEncoder, "frame_renderer": TrtFrameRenderer, "udp_detector": TrtUDPDetector}
    parts = {part: _load(cls, lite_graphs, engines) for part, cls in classes.items()}
    backend = Backend("tensorrt", "fp32", SIZE, parts)
    state = backend.encode(make_sheet(1, SIZE))
    rgba = backend.render(state, UdpMap(make_target(SIZE)[0].permute(1, 2, 0).numpy().copy()))
    assert rgba.data.shape == (SIZE, SIZE, 4) and backend.acceleration == "tensorrt"

    resets = []
    fake_graph = types.SimpleNamespace(reset=lambda: resets.append("graph"))
    renderer = parts["frame_renderer"]
    renderer._graphs = {(id(state), 1): (None, None, fake_graph, [])}  # what a CUDA-graph capture leaves
    engines_before = [p.engine for p in parts.values()]
    backend.close()
    assert resets == ["graph"] and renderer._graphs == {}
    for engine in engines_before:
        assert (engine.context, engine.engine, engine.runtime, engine.stream) == (None, None, None, None)
    closed = r"TensorRT engine frame_renderer_lite_128-\w+\.engine: expected an open engine, found closed"
    with pytest.raises(SettingError, match=closed):
        renderer.render_tensor(state, make_target(SIZE))
    backend.close()  # idempotent: nothing is reset or released twice
    assert resets == ["graph"]


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None, reason="TensorRT is installed")
def test_without_tensorrt_the_backend_says_what_to_install():
    with pytest.raises(
        DeviceError, match=r"tensorrt Python package is not importable.*pip install tensorrt.*--backend torch"
    ):
        import_tensorrt()


@pytest.mark.gpu
def test_real_engines_render_like_torch_on_a_gpu(lite_graphs, tmp_path, lite_networks, make_sheet, make_target):
    if importlib.util.find_spec("tensorrt") is None or not torch.cuda.is_available():
        pytest.skip("needs TensorRT and a CUDA GPU")
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parents[2] / "tools" / "build_engine.py"
    for graph in ("sheet_encoder", "frame_renderer"):
        done = subprocess.run(
            [sys.executable, str(tool), str(graph_path(lite_graphs, graph, "lite", SIZE)), "--out", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    encoder = TrtSheetEncoder.from_dirs(lite_graphs, tmp_path, "lite", SIZE, precision="fp32")
    sheet, target = make_sheet(2, SIZE), make_target(SIZE).cuda()
    state = encoder.encode(sheet)
    ref = FrameRenderer(lite_networks, fast=False).render_tensor(
        SheetEncoder(lite_networks).encode(sheet), target.cpu()
    )
    for graphs in (False, True):
        renderer = TrtFrameRenderer.from_dirs(lite_graphs, tmp_path, "lite", SIZE, precision="fp32", cuda_graphs=graphs)
        for _ in range(2):  # the second call replays the captured graph
            mx, p999, mean = _stats(renderer.render_tensor(state, target).cpu(), ref)
            assert mx <= RGBA_MAX and p999 <= RGBA_P999 and mean <= RGBA_MEAN, (graphs, mx, p999, mean)
