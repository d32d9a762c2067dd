"""Graphs and engines made on demand for a set of weights (infer/deploy.py, registry.open_backend)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from avatar_app.core.errors import SettingError
from avatar_app.infer import registry
from avatar_app.infer.deploy import DEPLOY_ENV, BuildCancelled, Deployment, build_engines, ensure_graphs
from avatar_app.infer.onnx_export import graph_path
from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder, UDPDetector

REPO = Path(__file__).resolve().parents[2]
SIZE = 128
HAS_TRT = importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


def test_deployment_folder_is_named_by_preset_and_every_weight(lite_networks, tmp_path, monkeypatch):
    monkeypatch.setenv(DEPLOY_ENV, str(tmp_path))
    first = Deployment.of(lite_networks)
    assert first.folder.parent == tmp_path and first.folder.name.startswith("lite-") and first.preset == "lite"
    assert Deployment.of(lite_networks).folder == first.folder
    changed = type(lite_networks)(lite_networks.cfg)
    changed.load_state_dict(lite_networks.state_dict())
    with torch.no_grad():
        changed.rgbadecodernet.state_dict()[next(iter(changed.rgbadecodernet.state_dict()))].add_(1e-3)
    assert Deployment.of(changed).folder != first.folder, "graphs bake the weights in: new weights, new folder"
    assert (first.onnx_dir, first.trt_onnx_dir, first.engines_dir) == (
        first.folder / "onnx",
        first.folder / "onnx-trt",
        first.folder / "engines",
    )


def test_ensure_graphs_exports_what_is_missing_once_and_reports_progress(lite_networks, tmp_path):
    reports = []
    paths = ensure_graphs(
        lite_networks, SIZE, tmp_path, ("udp_detector",), progress=lambda f, text: reports.append((f, text))
    )
    path = paths["udp_detector"]
    assert path == graph_path(tmp_path, "udp_detector", "lite", SIZE) and path.stat().st_size > 100_000
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "no partial files left behind"
    assert reports[0][0] == 0.0 and "exporting udp_detector (1/1)" in reports[0][1] and reports[-1][0] == 1.0
    stamp = path.stat().st_mtime_ns
    assert ensure_graphs(lite_networks, SIZE, tmp_path, ("udp_detector",)) == paths
    assert path.stat().st_mtime_ns == stamp, "an exported graph is reused, not redone"


def test_a_cancelled_export_leaves_nothing(lite_networks, tmp_path):
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(BuildCancelled):
        ensure_graphs(lite_networks, SIZE, tmp_path, ("udp_detector",), cancelled=cancelled)
    assert not list(tmp_path.glob("*.onnx"))


def test_open_backend_onnxruntime_renders_like_torch_from_the_deployment(
    lite_networks, lite_deploy_root, monkeypatch, make_sheet, make_target
):
    monkeypatch.setenv(DEPLOY_ENV, str(lite_deploy_root))
    onnx_dir = Deployment.of(lite_networks).onnx_dir
    before = {p.name: p.stat().st_mtime_ns for p in onnx_dir.iterdir()}
    every_part = ("sheet_encoder", "frame_renderer", "udp_detector")
    backend = registry.open_backend("onnxruntime", lite_networks, SIZE, parts=every_part)
    assert {p.name: p.stat().st_mtime_ns for p in onnx_dir.iterdir()} == before, (
        "the graphs were found, not exported again"
    )
    assert (backend.name, backend.precision, backend.size) == ("onnxruntime", "fp32", SIZE)
    assert backend.acceleration == "onnxruntime"
    sheet, target = make_sheet(2, SIZE), make_target(SIZE)
    ours = backend.frame_renderer.render_tensor(backend.encode(sheet), target)
    ref = FrameRenderer(lite_networks, fast=False).render_tensor(SheetEncoder(lite_networks).encode(sheet), target)
    assert (ours - ref).abs().max() < 1e-2
    picture = (make_sheet(1, SIZE).rgb_premultiplied[0].transpose(1, 2, 0)).copy()
    udp = backend.detect(picture, timestamp=2.5)
    assert np.abs(udp.data - UDPDetector(lite_networks).detect(picture).data).max() < 1e-3 and udp.timestamp == 2.5
    backend.close()


def test_open_backend_torch_makes_only_the_parts_asked_for(lite_networks):
    backend = registry.open_backend("torch", lite_networks, SIZE, parts=("udp_detector",))
    assert backend.parts == ("udp_detector",) and isinstance(backend.udp_detector, UDPDetector)
    assert backend.sheet_encoder is None and backend.frame_renderer is None


def test_open_backend_refuses_a_precision_the_backend_would_not_run(lite_networks, tmp_path):
    with pytest.raises(SettingError, match=r"--precision: expected fp32 with --backend onnxruntime, found bf16"):
        registry.open_backend(
            "onnxruntime", lite_networks, SIZE, precision="bf16", deployment=Deployment(tmp_path, "lite")
        )
    assert not list(tmp_path.iterdir()), "refused before exporting anything"


def test_tensorrt_without_built_engines_says_how_to_build_them(lite_networks, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "backend_status", lambda name: (True, "pretend TensorRT and a GPU are here"))
    with pytest.raises(
        SettingError,
        match=r"TensorRT engines: expected engines for lite at 128x128 .*none in .*engines"
        r".*tools/build_engine.py --weights WEIGHTS --size 128 --fp16.*Build engine",
    ):
        registry.open_backend(
            "tensorrt", lite_networks, SIZE, precision="fp16", deployment=Deployment(tmp_path, "lite")
        )


@pytest.mark.skipif(HAS_TRT, reason="TensorRT and a CUDA GPU are present")
def test_build_engines_without_tensorrt_names_what_is_missing(lite_networks, tmp_path):
    with pytest.raises(
        SettingError, match=r"TensorRT engine build: expected TensorRT and a CUDA GPU.*pip install tensorrt"
    ):
        build_engines(lite_networks, SIZE, "fp32", deployment=Deployment(tmp_path, "lite"))
    assert not list(tmp_path.iterdir()), "nothing exported before the check"


def test_build_engine_tool_passes_its_timing_cache_to_every_build(tmp_path, monkeypatch, load_tool):
    import avatar_app.infer.deploy as deploy

    built = []
    monkeypatch.setattr(
        deploy, "missing_requirements", lambda fp16: []
    )  # no TensorRT here: the build itself is recorded
    monkeypatch.setattr(
        deploy, "ensure_graphs", lambda networks, size, out, graphs, **kw: {g: out / f"{g}.onnx" for g in graphs}
    )
    monkeypatch.setattr(
        deploy,
        "build_engine",
        lambda onnx, out, fp16, profile, timing_cache=None, **kw: built.append(timing_cache) or out / "e",
    )
    tool = load_tool("build_engine")
    monkeypatch.setattr(tool, "missing_requirements", lambda fp16: [])
    monkeypatch.setenv(DEPLOY_ENV, str(tmp_path / "deploy"))
    cache = tmp_path / "shared.cache"
    assert (
        tool.main(
            ["--weights", str(REPO / "assets" / "weights" / "lite"), "--size", "128", "--timing-cache", str(cache)]
        )
        == 0
    )
    assert built == [cache] * 3


@pytest.mark.skipif(HAS_TRT, reason="TensorRT and a CUDA GPU are present")
def test_build_engine_tool_with_weights_exits_2_without_tensorrt(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "build_engine.py"),
            "--weights",
            str(REPO / "assets" / "weights" / "lite"),
            "--size",
            "128",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, DEPLOY_ENV: str(tmp_path)},
    )
    assert (
        done.returncode == 2
        and "cannot build a TensorRT engine here" in done.stderr
        and "pip install tensorrt" in done.stderr
    )
    assert not list(tmp_path.iterdir())


@pytest.mark.gpu
def test_build_engines_then_open_backend_tensorrt_on_a_gpu(lite_networks, tmp_path, make_sheet, make_target):
    if not HAS_TRT:
        pytest.skip("needs TensorRT and a CUDA GPU")
    deployment = Deployment(tmp_path, "lite")
    engines = build_engines(lite_networks, SIZE, "fp32", deployment=deployment)
    assert set(engines) == {"sheet_encoder", "frame_renderer", "udp_detector"} and all(
        p.is_file() for p in engines.values()
    )
    every_part = ("sheet_encoder", "frame_renderer", "udp_detector")
    backend = registry.open_backend("tensorrt", lite_networks, SIZE, deployment=deployment, parts=every_part)
    sheet, target = make_sheet(2, SIZE), make_target(SIZE)
    ours = backend.frame_renderer.render_tensor(backend.encode(sheet), target.cuda()).cpu()
    backend.close()
    ref = FrameRenderer(lite_networks, fast=False).render_tensor(SheetEncoder(lite_networks).encode(sheet), target)
    assert (ours - ref).abs().max() < 1e-2


def test_the_default_deployment_root_is_the_checkouts_engines_folder(monkeypatch):
    from avatar_app.infer.deploy import deploy_root

    monkeypatch.delenv(DEPLOY_ENV, raising=False)
    assert deploy_root() == REPO / "engines"  # DESIGN.md §2: built graphs and engines are cached there
    monkeypatch.setenv(DEPLOY_ENV, "/somewhere/else")
    assert deploy_root() == Path("/somewhere/else")


def test_export_notes_tell_each_step_of_the_one_off_export_and_nothing_once_done():
    from avatar_app.infer.deploy import export_notes

    lines = []
    progress = export_notes(lines.append)
    progress(0.0, "exporting sheet_encoder")
    progress(0.5, "exporting frame_renderer")
    progress(1.0, "graphs ready")
    assert lines == [
        "exporting sheet_encoder (once per weights and size)",
        "exporting frame_renderer (once per weights and size)",
    ]
