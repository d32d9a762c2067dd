"""TensorRT engine cache keys, sidecars and rebuild reasons; build_engine without TensorRT."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from avatar_app.infer.engine_cache import (
    DEFAULT_PROFILE,
    EngineSpec,
    engine_paths,
    lookup,
    read_sidecar,
    validate,
    write_sidecar,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def onnx_file(tmp_path) -> Path:
    p = tmp_path / "frame_renderer_lite_128.onnx"
    p.write_bytes(b"not really onnx, but hashed all the same")
    return p


def spec(onnx_file, **over) -> EngineSpec:
    args = dict(precision="fp16", tensorrt_version="10.12.0", compute_capability="8.9", profile=None)
    args.update(over)
    return EngineSpec.for_onnx(onnx_file, **args)


def test_default_profile_is_1_4_8_views(onnx_file):
    assert DEFAULT_PROFILE == {"min": 1, "opt": 4, "max": 8}
    assert spec(onnx_file).profile == DEFAULT_PROFILE
    assert spec(onnx_file).graph == "frame_renderer_lite_128"


def test_key_changes_with_every_field(onnx_file, tmp_path):
    base = spec(onnx_file)
    assert len(base.key) == 64 and base.key == spec(onnx_file).key
    other = tmp_path / "b.onnx"
    other.write_bytes(b"another graph")
    changed = [
        EngineSpec.for_onnx(other, "fp16", "10.12.0", "8.9", graph=base.graph),
        spec(onnx_file, precision="fp32"),
        spec(onnx_file, tensorrt_version="11.0.0"),
        spec(onnx_file, compute_capability="9.0"),
        spec(onnx_file, profile={"min": 1, "opt": 2, "max": 8}),
    ]
    assert len({base.key, *(s.key for s in changed)}) == 6


def test_sidecar_round_trip_validates_clean(onnx_file, tmp_path):
    s = spec(onnx_file)
    engine, sidecar = engine_paths(tmp_path / "engines", s)
    assert engine.name.endswith(".engine") and sidecar.name == engine.name + ".json"
    write_sidecar(sidecar, s, build_seconds=12.5)
    data = read_sidecar(sidecar)
    assert data["key"] == s.key and data["info"]["build_seconds"] == 12.5
    assert validate(data, s) == []


def test_validate_names_each_changed_field_old_to_new(onnx_file, tmp_path):
    old = spec(onnx_file)
    write_sidecar(tmp_path / "e.json", old)
    new = spec(onnx_file, tensorrt_version="11.0.0", compute_capability="9.0", profile={"min": 1, "opt": 4, "max": 16})
    reasons = validate(read_sidecar(tmp_path / "e.json"), new)
    assert sorted(reasons) == [
        "compute_capability: 8.9 -> 9.0",
        "profile.max: 8 -> 16",
        "tensorrt_version: 10.12.0 -> 11.0.0",
    ]
    onnx_file.write_bytes(b"re-exported graph")
    reasons = validate(read_sidecar(tmp_path / "e.json"), spec(onnx_file, precision="fp32"))
    assert any(r.startswith(f"onnx_sha256: {old.onnx_sha256[:12]} -> ") for r in reasons)
    assert "precision: fp16 -> fp32" in reasons


def test_missing_or_damaged_sidecar_means_rebuild(onnx_file, tmp_path):
    s = spec(onnx_file)
    assert validate(None, s) and "sidecar" in validate(None, s)[0]
    bad = tmp_path / "bad.json"
    bad.write_text("{trunc")
    assert read_sidecar(bad) is None
    assert read_sidecar(tmp_path / "absent.json") is None


def test_lookup_reuses_a_matching_engine_and_explains_a_stale_one(onnx_file, tmp_path):
    engines = tmp_path / "engines"
    s = spec(onnx_file)
    path, reasons = lookup(engines, s)
    assert reasons == ["no engine built yet for frame_renderer_lite_128"]
    engine, sidecar = engine_paths(engines, s)
    engine.parent.mkdir(parents=True)
    engine.write_bytes(b"engine")
    write_sidecar(sidecar, s)
    assert lookup(engines, s) == (engine, [])
    path, reasons = lookup(engines, spec(onnx_file, tensorrt_version="11.0.0"))
    assert path != engine and reasons == ["tensorrt_version: 10.12.0 -> 11.0.0"]


def _has_tensorrt_and_cuda() -> bool:
    import importlib.util

    import torch

    return importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


@pytest.mark.skipif(_has_tensorrt_and_cuda(), reason="TensorRT and a CUDA GPU are present")
def test_build_engine_without_tensorrt_exits_2_with_install_hint(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "build_engine.py"),
            str(tmp_path / "frame_renderer_lite_128.onnx"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "TensorRT Python package not installed" in done.stderr or "no CUDA GPU" in done.stderr
    assert "pip install tensorrt" in done.stderr and "CUDA GPU and driver" in done.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.gpu
def test_build_engine_builds_and_caches_on_a_gpu(tmp_path):
    if not _has_tensorrt_and_cuda():
        pytest.skip("needs TensorRT and a CUDA GPU")
    pytest.importorskip("tensorrt")
    from avatar_app.infer.onnx_export import export_all
    from avatar_app.models import create_conr, fill_networks

    paths = export_all(fill_networks(create_conr("lite", init=False)), 128, tmp_path, graphs=("udp_detector",))
    tool = [sys.executable, str(REPO / "tools" / "build_engine.py"), str(paths["udp_detector"]), "--out", str(tmp_path)]
    first = subprocess.run(tool, capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    assert list(tmp_path.glob("*.engine")) and list(tmp_path.glob("*.engine.json"))
    again = subprocess.run(tool, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "up to date" in again.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("onnxconverter_common") is not None, reason="onnxconverter-common is installed"
)
def test_build_engine_fp16_names_the_converter_it_needs(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "build_engine.py"),
            str(tmp_path / "frame_renderer_lite_128.onnx"),
            "--out",
            str(tmp_path),
            "--fp16",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "onnxconverter-common not installed (needed for --fp16: pip install onnxconverter-common)" in done.stderr
