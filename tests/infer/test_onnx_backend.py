"""ONNX export (via tools/export_onnx.py) and the ONNX Runtime backend against the torch backend.

One export per session (lite preset, 128², synthetic weights, M=2 example), ~1 min on 2 cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from avatar_app.infer.deploy import DEPLOY_ENV, ensure_graphs
from avatar_app.infer.onnx_export import (
    GRAPH_NAMES,
    OPSET,
    RENDER_INPUTS,
    StableInstanceNorm,
    check_grid_samples,
    export_graph,
    graph_path,
    with_stable_norms,
)
from avatar_app.infer.onnxruntime_backend import (
    OrtFrameRenderer,
    OrtSheetEncoder,
    OrtUDPDetector,
    bench_onnxruntime,
    make_session,
)
from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder, UDPDetector, sheet_tensors

ort = pytest.importorskip("onnxruntime")

SIZE = 128
# conformance tolerances on rgba
RGBA_MAX, RGBA_P999, RGBA_MEAN = 1e-2, 3e-3, 2e-4


@pytest.fixture(scope="session")
def torch_lite(lite_networks):
    return SheetEncoder(lite_networks), FrameRenderer(lite_networks, fast=False)


@pytest.fixture(scope="session")
def ort_lite(lite_graphs):
    return (
        OrtSheetEncoder.from_dir(lite_graphs, "lite", SIZE, intra_op_threads=2),
        OrtFrameRenderer.from_dir(lite_graphs, "lite", SIZE, intra_op_threads=2),
    )


def _stats(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float, float]:
    d = (a - b).abs().flatten().double().numpy()
    return float(d.max()), float(np.quantile(d, 0.999)), float(d.mean())


# ---- structure ---------------------------------------------------------------------------


def test_each_graph_is_one_opset_17_file_with_views_dynamic(lite_graphs):
    assert sorted(p.name for p in lite_graphs.iterdir()) == sorted(
        graph_path(lite_graphs, g, "lite", SIZE).name for g in GRAPH_NAMES
    )
    for graph in GRAPH_NAMES:
        model = onnx.load(str(graph_path(lite_graphs, graph, "lite", SIZE)), load_external_data=False)
        assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {OPSET}
        assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
        dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
        for name, shape in dims.items():
            assert shape[-2] == shape[-1] and isinstance(shape[-1], int)  # one fixed size per export
            if name != "target":
                assert isinstance(shape[0], str), f"{graph}.{name} has a fixed view count {shape[0]}"
    renderer = onnx.load(str(graph_path(lite_graphs, "frame_renderer", "lite", SIZE)), load_external_data=False)
    assert [i.name for i in renderer.graph.input] == list(RENDER_INPUTS)


def test_every_grid_sample_is_bilinear_border_align_corners(lite_graphs):
    model = onnx.load(str(graph_path(lite_graphs, "frame_renderer", "lite", SIZE)), load_external_data=False)
    samples = [n for n in model.graph.node if n.op_type == "GridSample"]
    assert len(samples) >= 6  # the grouped warps and the sheet warps of every level
    for node in samples:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attrs.get("mode", b"bilinear") == b"bilinear"
        assert attrs["padding_mode"] == b"border"
        assert attrs["align_corners"] == 1
    assert check_grid_samples(model) == []


def _grid_sample_model(opset: int, mode: str, padding: str = "border", corners: int = 1):
    from onnx import TensorProto, helper

    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=padding, align_corners=corners)
    graph = helper.make_graph(
        [node],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4]),
            helper.make_tensor_value_info("g", TensorProto.FLOAT, [1, 4, 4, 2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_grid_sample_check_flags_nearest_zeros_and_corner_misalignment():
    assert check_grid_samples(_grid_sample_model(17, "bilinear")) == []
    assert check_grid_samples(_grid_sample_model(20, "linear")) == []
    assert len(check_grid_samples(_grid_sample_model(17, "nearest"))) == 1
    assert len(check_grid_samples(_grid_sample_model(17, "bilinear", padding="zeros"))) == 1
    assert len(check_grid_samples(_grid_sample_model(17, "bilinear", corners=0))) == 1


def test_stable_instance_norm_is_the_same_function(lite_networks):
    norm = torch.nn.InstanceNorm2d(8, affine=True)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    x = torch.randn(3, 8, 16, 16) * 0.05 + 3.0  # large mean, small spread: the hard case
    assert (StableInstanceNorm(norm)(x) - norm(x)).abs().max() <= 1e-4
    copy = with_stable_norms(lite_networks)
    assert not any(isinstance(m, torch.nn.InstanceNorm2d) for m in copy.modules())
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in lite_networks.modules())  # original untouched


def test_default_export_has_no_native_instance_norm(lite_graphs):
    # ORT's InstanceNormalization loses ~20x PyTorch's precision on the official backbone
    for graph in GRAPH_NAMES:
        model = onnx.load(str(graph_path(lite_graphs, graph, "lite", SIZE)), load_external_data=False)
        assert not [n for n in model.graph.node if n.op_type == "InstanceNormalization"]


def test_opset_20_is_refused_before_exporting(tmp_path):
    with pytest.raises(ValueError, match="GridSample"):
        export_graph(torch.nn.Identity(), "udp_detector", (torch.zeros(1, 3, 8, 8),), tmp_path / "x.onnx", opset=20)
    assert not (tmp_path / "x.onnx").exists()


# ---- ONNX Runtime against torch --------------------------------------------------------------


def test_session_uses_all_optimisations_sequential_and_given_threads(lite_graphs):
    session = make_session(graph_path(lite_graphs, "udp_detector", "lite", SIZE), intra_op_threads=2)
    opts = session.get_session_options()
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert opts.intra_op_num_threads == 2
    assert session.get_providers()[-1] == "CPUExecutionProvider"


@pytest.mark.parametrize("views", [1, 3, 4])
def test_sheet_encoder_exported_with_two_views_matches_torch(torch_lite, ort_lite, make_sheet, views):
    sheet = make_sheet(views, seed=10 + views)
    ref, ours = torch_lite[0].encode(sheet), ort_lite[0].encode(sheet)
    assert ours.num_views == views and ours.level_sizes == ref.level_sizes
    for a, b in zip(
        [ref.features[0], *ref.warp_sources, ref.level0_conv], [ours.features[0], *ours.warp_sources, ours.level0_conv]
    ):
        assert a.shape == b.shape
        assert (a - b).abs().max() <= 1e-4 * max(1.0, float(a.abs().max()))


@pytest.mark.parametrize("views", [1, 2, 3, 4])
def test_frame_renderer_matches_torch_within_conformance_tolerances(
    torch_lite, ort_lite, make_sheet, make_target, views
):
    sheet, target = make_sheet(views, seed=views), make_target(seed=20 + views)
    state = torch_lite[0].encode(sheet)
    ref = torch_lite[1].render_tensor(state, target)
    ours = ort_lite[1].render_tensor(state, target)
    assert ours.shape == ref.shape == (1, 4, SIZE, SIZE)
    mx, p999, mean = _stats(ours, ref)
    assert mx <= RGBA_MAX and p999 <= RGBA_P999 and mean <= RGBA_MEAN, (views, mx, p999, mean)


@pytest.fixture(scope="module")
def ort_lite_256(lite_networks, tmp_path_factory):
    """Sheet encoder and frame renderer exported at 256² (the size the app runs at) through the deployment path."""
    paths = ensure_graphs(lite_networks, 256, tmp_path_factory.mktemp("onnx_256"))
    return OrtSheetEncoder(paths["sheet_encoder"], intra_op_threads=2), OrtFrameRenderer(
        paths["frame_renderer"], intra_op_threads=2
    )


@pytest.mark.parametrize("views", [1, 2, 3, 4])
def test_at_256_sheet_state_and_frame_match_torch_within_conformance_tolerances(
    torch_lite, ort_lite_256, make_sheet, make_target, views
):
    sheet, target = make_sheet(views, size=256, seed=40 + views), make_target(size=256, seed=50 + views)
    ref_state, ort_state = torch_lite[0].encode(sheet), ort_lite_256[0].encode(sheet)
    for a, b in zip([*ref_state.warp_sources, ref_state.level0_conv], [*ort_state.warp_sources, ort_state.level0_conv]):
        assert a.shape == b.shape and (a - b).abs().max() <= 1e-4 * max(1.0, float(a.abs().max()))
    ref = torch_lite[1].render_tensor(ref_state, target)
    ours = ort_lite_256[1].render_tensor(ort_state, target)  # ONNX Runtime end to end
    assert ours.shape == ref.shape == (1, 4, 256, 256)
    mx, p999, mean = _stats(ours, ref)
    assert mx <= RGBA_MAX and p999 <= RGBA_P999 and mean <= RGBA_MEAN, (views, mx, p999, mean)


def test_ort_sheet_state_renders_with_the_torch_renderer(torch_lite, ort_lite, make_sheet, make_target):
    sheet, target = make_sheet(2, seed=31), make_target()
    ref = torch_lite[1].render_tensor(torch_lite[0].encode(sheet), target)
    mixed = torch_lite[1].render_tensor(ort_lite[0].encode(sheet), target)
    assert _stats(mixed, ref)[0] <= RGBA_MAX


@pytest.mark.parametrize("batch", [1, 3])
def test_udp_detector_matches_torch(lite_networks, lite_graphs, make_sheet, batch):
    rgb, _ = sheet_tensors(make_sheet(batch, seed=40))
    ref = UDPDetector(lite_networks).detect_tensor(rgb)
    ours = OrtUDPDetector.from_dir(lite_graphs, "lite", SIZE, intra_op_threads=2).detect_tensor(rgb)
    assert ours.shape == ref.shape == (batch, 4, SIZE, SIZE)
    assert ours.min() >= 0 and ours.max() <= 1
    assert (ours - ref).abs().max() <= 1e-3


def test_wrong_size_is_refused_with_the_export_hint(torch_lite, ort_lite, make_sheet, make_target):
    from avatar_app.core.errors import InputError

    with pytest.raises(InputError, match="export"):
        ort_lite[0].encode(make_sheet(1, size=256))
    state = torch_lite[0].encode(make_sheet(1))
    with pytest.raises(InputError, match="export"):
        ort_lite[1].render_tensor(state, make_target(size=256))


def test_bench_reports_seconds_per_frame(torch_lite, ort_lite, make_sheet, make_target):
    result = bench_onnxruntime(ort_lite[1], torch_lite[0].encode(make_sheet(1)), make_target(), warmup=0, repeats=2)
    assert result["views"] == 1 and 0 < result["min_s"] <= result["median_s"]


def test_render_command_on_onnx_runtime_draws_what_torch_draws(
    lite_graphs, lite_deploy_root, lite_networks, tmp_path, capsys, monkeypatch
):
    import cv2

    from avatar_app.cli.main import main
    from avatar_app.models import save_weights_folder

    weights = tmp_path / "weights"
    save_weights_folder(lite_networks, weights)  # the weights the graphs were exported from
    sheet = Path(__file__).resolve().parents[2] / "assets" / "characters" / "default" / "sheet"
    assert main(["udp", "--motion", "demo", "--frames", "2", "--size", str(SIZE), "--out", str(tmp_path / "udp")]) == 0
    common = [
        "render",
        "--sheet",
        str(sheet),
        "--poses",
        str(tmp_path / "udp"),
        "--size",
        str(SIZE),
        "--weights",
        str(weights),
    ]
    assert main([*common, "--out", str(tmp_path / "torch")]) == 0
    assert (
        main([*common, "--backend", "onnxruntime", "--graphs", str(lite_graphs), "--out", str(tmp_path / "ort")]) == 0
    )
    assert "rendered 2 frames" in capsys.readouterr().out
    monkeypatch.setenv(DEPLOY_ENV, str(lite_deploy_root))  # without --graphs: the weights' deployment folder
    assert main([*common, "--backend", "onnxruntime", "--out", str(tmp_path / "deployed")]) == 0
    assert "exporting" not in capsys.readouterr().err, "the deployment's graphs were found, not exported again"
    pairs = [
        (a, b)
        for folder in ("ort", "deployed")
        for a, b in zip(sorted((tmp_path / "torch").glob("*.png")), sorted((tmp_path / folder).glob("*.png")))
    ]
    assert len(pairs) == 4
    for a, b in pairs:
        diff = np.abs(
            cv2.imread(str(a), cv2.IMREAD_UNCHANGED).astype(int) - cv2.imread(str(b), cv2.IMREAD_UNCHANGED).astype(int)
        )
        assert diff.max() <= 3, diff.max()  # 8-bit outputs of two runs within the rgba tolerance (1e-2)
