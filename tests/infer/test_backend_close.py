"""The Backend contract (infer/backend.py): one object per opened backend, parts that say when
they were not opened, and close() releasing every part, once or twice."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.core.errors import SettingError, SheetError
from avatar_app.core.frames import CharacterSheet, UdpMap
from avatar_app.infer import registry
from avatar_app.infer.backend import Backend
from avatar_app.infer.registry import GraphFolders, open_backend
from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder

SIZE = 128


@pytest.fixture
def udp(make_target) -> UdpMap:
    return UdpMap(make_target(SIZE)[0].permute(1, 2, 0).numpy().copy())


def test_a_part_that_was_not_opened_says_which_and_how(lite_networks, make_sheet, udp):
    with open_backend("torch", lite_networks, SIZE, parts=("udp_detector",)) as backend:
        with pytest.raises(
            SettingError,
            match=r"torch backend: expected a sheet_encoder, found only udp_detector opened\. "
            r"Fix: pass parts=\(\.\.\., 'sheet_encoder'\) to open_backend",
        ):
            backend.encode(make_sheet(1, SIZE))
        with pytest.raises(SettingError, match=r"expected a frame_renderer.*parts=\(\.\.\., 'frame_renderer'\)"):
            backend.render(None, udp)
        image = np.zeros((SIZE, SIZE, 3), np.uint8)
        assert backend.detect(image, 1.5).timestamp == 1.5
    with pytest.raises(
        SettingError, match=r"torch backend: expected a udp_detector, found closed\. Fix: open a new backend"
    ):
        backend.detect(image)


def test_torch_backend_renders_and_close_releases_every_part(lite_networks, make_sheet, udp):
    backend = open_backend(
        "torch", lite_networks, SIZE, parts=("sheet_encoder", "frame_renderer", "udp_detector"), fast=False
    )
    assert (backend.name, backend.precision, backend.size) == ("torch", "fp32", SIZE)
    assert backend.acceleration == "plain convolutions" == backend.frame_renderer.acceleration
    encoder, renderer, detector = backend.sheet_encoder, backend.frame_renderer, backend.udp_detector
    state = backend.encode(make_sheet(1, SIZE))
    assert backend.render(state, udp).data.shape == (SIZE, SIZE, 4)
    backend.close()
    assert backend.closed and backend.parts == () and "closed" in repr(backend)
    assert encoder.parser is None and renderer.runtime is None and detector.parser is None
    with pytest.raises(SettingError, match=r"FrameRenderer: expected an open renderer, found closed"):
        renderer.render(state, udp)
    backend.close()  # a second close is fine


def test_torch_frame_renderer_close_drops_its_buffers_and_is_idempotent(lite_networks):
    renderer = FrameRenderer(lite_networks, fast=False)
    renderer._host = object()  # what a CUDA read-back leaves behind
    renderer.close()
    assert (
        renderer._graph is None
        and renderer._host is None
        and renderer.runtime is None
        and renderer.target_encoder is None
    )
    renderer.close()


def test_onnxruntime_backend_on_exported_graphs_needs_no_weights_and_close_ends_the_sessions(
    lite_graphs, make_sheet, udp
):
    pytest.importorskip("onnxruntime")
    parts = ("sheet_encoder", "frame_renderer", "udp_detector")
    with open_backend("onnxruntime", None, SIZE, deployment=GraphFolders("lite", lite_graphs), parts=parts) as backend:
        objects = [getattr(backend, p) for p in parts]
        assert all(o.session is not None for o in objects)
        state = backend.encode(make_sheet(1, SIZE))
        assert backend.render(state, udp).data.shape == (SIZE, SIZE, 4)
    assert backend.closed and all(o.session is None for o in objects)
    with pytest.raises(SettingError, match=r"onnxruntime backend: expected a frame_renderer, found closed"):
        backend.render(state, udp)
    with pytest.raises(
        SettingError,
        match=r"ONNX Runtime frame_renderer \(frame_renderer_lite_128\.onnx\): expected an open session, found closed",
    ):
        objects[1].render(state, udp)
    backend.close()


def test_a_part_that_fails_to_open_closes_the_ones_already_open(monkeypatch, lite_networks):
    closed = []
    monkeypatch.setattr(SheetEncoder, "close", lambda self: closed.append("sheet_encoder"))
    with pytest.raises(SettingError, match=r"precision: expected fp16 on a CUDA device, found fp16 on cpu"):
        open_backend("torch", lite_networks, SIZE, device="cpu", precision="fp16")
    assert closed == ["sheet_encoder"]


def test_close_closes_every_part_even_when_one_fails():
    calls = []

    class Part:
        def __init__(self, name, fails=False):
            self.name, self.fails = name, fails

        def close(self):
            calls.append(self.name)
            if self.fails:
                raise RuntimeError(f"{self.name} failed to close")

    backend = Backend("torch", "fp32", SIZE, {"sheet_encoder": Part("a", fails=True), "frame_renderer": Part("b")})
    with pytest.raises(RuntimeError, match="a failed to close"):
        backend.close()
    assert calls == ["a", "b"] and backend.closed and backend.parts == ()
    backend.close()
    assert calls == ["a", "b"]


def test_conr_renderer_close_closes_its_backend(lite_networks, make_sheet, udp):
    from avatar_app.pipeline import ConrRenderer

    renderer = ConrRenderer(lite_networks, make_sheet(1, SIZE))
    backend = renderer.backend
    assert isinstance(backend, Backend) and renderer.acceleration == backend.acceleration
    assert renderer.render(udp, None).data.shape == (SIZE, SIZE, 4)
    renderer.close()
    assert backend.closed and renderer.state is None
    renderer.close()


def test_conr_renderer_refusing_the_sheet_closes_the_backend_it_opened(lite_networks, make_sheet, monkeypatch):
    opened = []

    def spy(*args, **kwargs):
        opened.append(open_backend(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(registry, "open_backend", spy)
    from avatar_app.pipeline import ConrRenderer

    sheet = make_sheet(1, SIZE)
    opaque = CharacterSheet(sheet.rgb_premultiplied, np.full_like(sheet.alpha, 255), sheet.names, "opaque")
    with pytest.raises(SheetError, match="transparent background"):
        ConrRenderer(lite_networks, opaque)
    assert len(opened) == 1 and opened[0].closed


@pytest.mark.gpu
def test_closing_a_cuda_graph_renderer_gives_the_graphs_memory_back(make_sheet, udp):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from avatar_app.models import create_conr, fill_networks

    networks = fill_networks(create_conr("lite", init=False))  # its own copy: .to("cuda") moves modules in place
    backend = open_backend("torch", networks, SIZE, device="cuda", cuda_graphs=True)
    state = backend.encode(make_sheet(1, SIZE))
    backend.render(state, udp)  # captures the frame's CUDA graph
    renderer = backend.frame_renderer
    assert renderer._graph is not None
    torch.cuda.synchronize()
    before = torch.cuda.memory_reserved()
    backend.close()
    del state
    torch.cuda.empty_cache()
    assert renderer._graph is None and renderer.runtime is None
    assert torch.cuda.memory_reserved() < before, "the graph's memory pool was released"
