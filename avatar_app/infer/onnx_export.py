"""Export CoNR's three inference graphs to ONNX (DESIGN.md §5 "ONNX").

* ``sheet_encoder``: ``rgb`` [M,3,S,S] (premultiplied), ``alpha`` [M,1,S,S] in [0,1] ->
  the :class:`~avatar_app.infer.sheet_state.SheetState` tensors ``feature0``,
  ``warp_source0..4``, ``level0_conv``.
* ``frame_renderer``: ``target`` = ``cat(xyz*a, a)`` [1,4,S,S] + those sheet tensors
  (less ``feature0``, of which only the shape matters) -> ``rgba`` [1,4,S,S].
* ``udp_detector``: premultiplied ``rgb`` [B,3,S,S] -> clamped UDP [B,4,S,S].

The view count M (the detector's batch B) is a dynamic dimension; the size S is fixed
per export (a multiple of 128). Opset is pinned to 17: from opset 20 GridSample's
``bilinear`` is spelt ``linear``, which TensorRT's parser silently reads as nearest.
The shader is exported with its plain layers (no Winograd swap, NCHW throughout).

InstanceNorm: ONNX Runtime's CPU InstanceNormalization (and plain ReduceMean) sum in a way
that loses ~20x more precision than PyTorch on activations with a large mean and a small
spread, which the official parser backbone has; its sheet features then miss the
conformance tolerances. By default each norm is exported as an equivalent two-pass
computation whose sums run over rows and then columns (two short sums, not one of H*W
terms), which ORT evaluates at least as accurately as PyTorch.
``stable_norm=False`` keeps the native InstanceNormalization node (for TensorRT, whose
normalisation layer and FP32 keep-list work on that op).
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from avatar_app.core.frames import check_model_size
from avatar_app.infer.shader_runtime import ShaderRuntime, level0_sheet_conv
from avatar_app.models.conr import INPUT_MEAN, INPUT_STD, CoNR, resize

__all__ = [
    "OPSET",
    "GRAPH_NAMES",
    "SHEET_OUTPUTS",
    "RENDER_INPUTS",
    "SheetEncoderGraph",
    "FrameRendererGraph",
    "UDPDetectorGraph",
    "export_graph",
    "export_all",
    "graph_path",
    "check_grid_samples",
    "StableInstanceNorm",
    "with_stable_norms",
]

log = logging.getLogger(__name__)

OPSET = 17
_EXPORT_OPSET = 18  # torch's dynamo exporter writes opset >= 18; 17 is converted from it
ALLOWED_OPSETS = (17, 18, 19)
GRAPH_NAMES = ("sheet_encoder", "frame_renderer", "udp_detector")
SHEET_OUTPUTS = (
    "feature0",
    "warp_source0",
    "warp_source1",
    "warp_source2",
    "warp_source3",
    "warp_source4",
    "level0_conv",
)
RENDER_INPUTS = ("target",) + SHEET_OUTPUTS[1:]
EXPORT_VIEWS = 2  # example M; the graphs take any M >= 1


class StableInstanceNorm(nn.Module):
    """``nn.InstanceNorm2d`` (affine, no running stats) as an explicit two-pass computation.

    Same value. ReduceSum, not ReduceMean: its axes input is the same at opsets 17 and 18,
    so the opset-18 export converts to 17 cleanly (onnx's converter breaks ReduceMean).
    """

    def __init__(self, norm: nn.InstanceNorm2d):
        super().__init__()
        if norm.track_running_stats:
            raise ValueError("StableInstanceNorm replaces only InstanceNorm2d without running stats")
        self.eps = float(norm.eps)
        self.weight = norm.weight if norm.affine else None
        self.bias = norm.bias if norm.affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Rows first, then columns: two short sums instead of one of H*W terms (ORT sums
        # sequentially; its error grows with the count, PyTorch's cascade sum's does not).
        inv_count = 1.0 / (x.shape[-2] * x.shape[-1])
        d = x - x.sum(3, keepdim=True).sum(2, keepdim=True) * inv_count
        y = d * torch.rsqrt((d * d).sum(3, keepdim=True).sum(2, keepdim=True) * inv_count + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)
        return y


def with_stable_norms(networks: CoNR) -> CoNR:
    """A copy of ``networks`` with every ``nn.InstanceNorm2d`` replaced by :class:`StableInstanceNorm`."""
    networks = copy.deepcopy(networks)
    for module in list(networks.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.InstanceNorm2d):
                setattr(module, name, StableInstanceNorm(child))
    return networks


class SheetEncoderGraph(nn.Module):
    """Same computation as ``SheetEncoder.encode_tensors``, tensors out."""

    def __init__(self, networks: CoNR):
        super().__init__()
        self.parser = networks.udpparsernet
        self.level0 = level0_sheet_conv(networks.shader.decoder_blocks[0], networks.cfg.level(0))

    def forward(self, rgb: torch.Tensor, alpha: torch.Tensor):
        feats = self.parser.forward_features((rgb - INPUT_MEAN) / INPUT_STD)
        ref = torch.cat([alpha * rgb, alpha], dim=1)
        sources = [torch.cat([resize(ref, f.shape[-2:]), f], dim=1) for f in feats[1:]] + [ref]
        level0_conv = self.level0(torch.cat([resize(ref, feats[0].shape[-2:]), feats[0]], dim=1))
        return (feats[0], *sources, level0_conv)


@dataclass
class _GraphState:
    """What :class:`ShaderRuntime` reads of a SheetState, with sizes known statically."""

    warp_sources: list
    level0_conv: torch.Tensor
    level_sizes: list

    @property
    def num_views(self):
        return self.level0_conv.shape[0]


class FrameRendererGraph(nn.Module):
    """Same computation as ``FrameRenderer.render_tensor`` with plain layers (fast=False)."""

    def __init__(self, networks: CoNR, size: int):
        super().__init__()
        self.size = size
        self.target_encoder = networks.target_pose_encoder
        self.runtime = ShaderRuntime(networks, channels_last=False)

    def level_sizes(self):
        s0 = self.size // 32
        return [(s0 << p, s0 << p) for p in range(5)] + [(self.size, self.size)]

    def forward(self, target, ws0, ws1, ws2, ws3, ws4, level0_conv):
        tfeats = self.target_encoder.forward_features((target - INPUT_MEAN) / INPUT_STD)
        state = _GraphState([ws0, ws1, ws2, ws3, ws4], level0_conv, self.level_sizes())
        return self.runtime(state, tfeats)


class UDPDetectorGraph(nn.Module):
    """Same computation as ``UDPDetector.detect_tensor``."""

    def __init__(self, networks: CoNR):
        super().__init__()
        self.parser = networks.udpparsernet

    def forward(self, rgb):
        return self.parser((rgb - INPUT_MEAN) / INPUT_STD).clamp(0.0, 1.0)


def graph_path(out_dir, graph: str, preset: str, size: int) -> Path:
    return Path(out_dir) / f"{graph}_{preset}_{size}.onnx"


def _input_names(graph: str):
    return {"sheet_encoder": ("rgb", "alpha"), "frame_renderer": RENDER_INPUTS, "udp_detector": ("rgb",)}[graph]


def _output_names(graph: str):
    return {"sheet_encoder": SHEET_OUTPUTS, "frame_renderer": ("rgba",), "udp_detector": ("udp",)}[graph]


def build_graph_modules(networks: CoNR, size: int) -> dict[str, nn.Module]:
    return {
        "sheet_encoder": SheetEncoderGraph(networks).eval(),
        "frame_renderer": FrameRendererGraph(networks, size).eval(),
        "udp_detector": UDPDetectorGraph(networks).eval(),
    }


def example_inputs(modules: dict[str, nn.Module], size: int, views: int = EXPORT_VIEWS) -> dict[str, tuple]:
    """Deterministic example inputs for each graph (the renderer's from the encoder's outputs)."""
    g = torch.Generator().manual_seed(0)
    alpha = (torch.rand(views, 1, size, size, generator=g) > 0.4).float()
    rgb = torch.rand(views, 3, size, size, generator=g) * alpha
    target = torch.rand(1, 4, size, size, generator=g)
    with torch.inference_mode():
        sheet = modules["sheet_encoder"](rgb, alpha)
    return {
        "sheet_encoder": (rgb, alpha),
        "frame_renderer": (target, *[t.clone() for t in sheet[1:]]),
        "udp_detector": (rgb,),
    }


def export_graph(module: nn.Module, graph: str, inputs: tuple, path, opset: int = OPSET) -> Path:
    """Export one graph to a single ``.onnx`` file (weights inside unless > 2 GB)."""
    if opset not in ALLOWED_OPSETS:
        raise ValueError(f"opset {opset} not allowed: use 17-19 (opset 20 renames GridSample's bilinear mode)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    in_names, out_names = _input_names(graph), _output_names(graph)
    # The renderer's batch is the frame count N=1; its sheet tensors carry M.
    views_at = [n for n in in_names if n != "target"]
    t0 = time.perf_counter()
    m = torch.export.Dim("views", min=1, max=64)
    dynamic_shapes = tuple({0: m} if n in views_at else None for n in in_names)
    # dynamo exporter: the view count stays symbolic through the shader's reshapes (the
    # TorchScript tracer would bake the example M into them).
    program = torch.onnx.export(
        module,
        inputs,
        input_names=list(in_names),
        output_names=list(out_names),
        opset_version=max(opset, _EXPORT_OPSET),
        dynamo=True,
        dynamic_shapes=dynamic_shapes,
        external_data=False,
        optimize=True,
        verbose=False,
    )
    model = program.model_proto
    if opset < _EXPORT_OPSET:  # after optimisation, so axes etc. are initializers the converter can read
        import onnx.version_converter

        model = onnx.version_converter.convert_version(model, opset)
    _save(model, path)
    log.info("exported %s (opset %d) to %s in %.1f s", graph, opset, path, time.perf_counter() - t0)
    return path


def _save(model, path: Path) -> None:
    import onnx

    try:
        big = model.ByteSize() > 2**31 - 1
    except ValueError:  # protobuf refuses to size a message over 2 GB
        big = True
    onnx.save_model(model, str(path), save_as_external_data=big, location=path.name + ".data" if big else None)


def export_all(
    networks: CoNR,
    size: int,
    out_dir,
    opset: int = OPSET,
    graphs=GRAPH_NAMES,
    stable_norm: bool = True,
    before_each=None,
) -> dict[str, Path]:
    """Export the requested graphs of ``networks`` at ``size`` into ``out_dir``.

    ``before_each(index, graph)`` runs before each export (progress; it may raise to stop)."""
    check_model_size(size, "export size")
    networks = (with_stable_norms(networks) if stable_norm else networks).eval()
    modules = build_graph_modules(networks, size)
    inputs = example_inputs(modules, size)
    paths = {}
    for i, graph in enumerate(graphs):
        if before_each is not None:
            before_each(i, graph)
        path = graph_path(out_dir, graph, networks.cfg.name, size)
        paths[graph] = export_graph(modules[graph], graph, inputs[graph], path, opset)
    return paths


def check_grid_samples(model) -> list[str]:
    """Problems with the model's GridSample nodes (empty list: all bilinear, border, align_corners=1).

    ``model`` is an ``onnx.ModelProto`` or a path. Opset >= 20 names bilinear ``linear``.
    """
    import onnx
    from onnx import helper

    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model), load_external_data=False)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    want_mode = "bilinear" if opset < 20 else "linear"
    problems = []
    nodes = list(model.graph.node)
    for fn in model.functions:
        nodes.extend(fn.node)
    for node in nodes:
        if node.op_type != "GridSample":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        mode = attrs.get("mode", b"bilinear")
        pad = attrs.get("padding_mode", b"zeros")
        corners = attrs.get("align_corners", 0)
        mode = mode.decode() if isinstance(mode, bytes) else mode
        pad = pad.decode() if isinstance(pad, bytes) else pad
        if mode != want_mode or pad != "border" or corners != 1:
            problems.append(f"{node.name or '?'}: mode={mode} padding_mode={pad} align_corners={corners}")
    return problems
