"""Render settings: every backend listed, unavailable ones disabled with the reason; the
engine build disabled with the reason here, and run in a worker behind a progress dialog
where a builder exists."""

from __future__ import annotations

import time

from avatar_app.gui import backends
from avatar_app.gui.render_panel import RenderPanel


def combo_items(combo):
    model = combo.model()
    return [(combo.itemText(i), combo.itemData(i), model.item(i).isEnabled()) for i in range(combo.count())]


def test_backend_list_marks_unavailable_backends_with_the_reason(qtbot):
    panel = RenderPanel(weights_folder=None, weights_looked_in="assets/weights/lite")
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel._options_task is None, timeout=30_000)  # the real check (imports torch)
    items = {data: (text, enabled) for text, data, enabled in combo_items(panel.backend)}
    assert set(items) == {"torch-cpu", "torch-cuda", "onnxruntime", "tensorrt"}
    assert items["torch-cpu"] == ("torch · CPU", True)
    assert items["onnxruntime"] == ("ONNX Runtime", True), "onnxruntime is installed with the test extra"
    text, enabled = items["tensorrt"]
    assert not enabled and text in ("TensorRT — TensorRT not installed", "TensorRT — no CUDA GPU"), text
    assert panel.backend.currentData() == "torch-cpu"
    precisions = {data: enabled for _, data, enabled in combo_items(panel.precision)}
    assert precisions == {"fp32": True, "fp16": False}


def test_without_tensorrt_build_engine_is_disabled_with_the_reason(qtbot):
    panel = RenderPanel(weights_folder=None)
    qtbot.addWidget(panel)
    assert not panel.build_button.isEnabled()
    assert "TensorRT" in panel.build_reason.text() and panel.build_button.toolTip() == panel.build_reason.text()
    assert panel.build_engine() is None


def test_without_weights_conr_is_unavailable_and_the_proxy_is_explained(qtbot):
    panel = RenderPanel(weights_folder=None, weights_looked_in="assets/weights/lite")
    qtbot.addWidget(panel)
    conr = next(item for item in combo_items(panel.renderer) if item[1] == "conr")
    assert conr[2] is False
    assert panel.renderer_name == "proxy"
    assert "Proxy renderer" in panel.note.text() and "assets/weights/lite" in panel.note.text()


def test_build_engine_runs_the_builder_in_a_worker_behind_a_progress_dialog(qtbot, monkeypatch):
    calls = []

    def fake_builder(*, size, views, precision, progress, cancelled):
        calls.append((size, views, precision))
        for step in range(1, 5):
            progress(step / 4, f"building layer {step}")
            time.sleep(0.05)
        return "engines/fake.engine"

    monkeypatch.setattr(backends, "engine_builder", lambda options, weights: (fake_builder, ""))
    panel = RenderPanel(weights_folder=None)
    qtbot.addWidget(panel)
    assert panel.build_button.isEnabled()
    panel.size.setCurrentIndex(panel.size.findData(128))
    panel.build_button.click()
    dialog = panel.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.finished_building, timeout=5_000)
    assert calls == [(128, None, "fp32")]
    assert dialog.outcome == "Engine built: engines/fake.engine"
    assert dialog.value() == dialog.maximum()
    dialog.close()


def test_fp16_is_offered_with_torch_on_cuda_only():
    options = {o.key: o for o in backends.backend_options(cuda=True)}
    assert {p.key: p.available for p in backends.precision_options(options["torch-cuda"])} == {"fp32": True, "fp16": True}
    cpu = {p.key: p for p in backends.precision_options(options["torch-cpu"])}
    assert not cpu["fp16"].available and cpu["fp16"].reason == "fp16 needs a CUDA GPU"
    no_gpu = {o.key: o for o in backends.backend_options(cuda=False)}
    assert not {p.key: p for p in backends.precision_options(no_gpu["torch-cuda"])}["fp16"].available


def test_choosing_onnx_runtime_says_what_its_first_start_costs(qtbot, tmp_path):
    panel = RenderPanel(weights_folder=tmp_path)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel._options_task is None, timeout=30_000)
    panel.backend.setCurrentIndex(panel.backend.findData("onnxruntime"))
    assert panel.backend_option.backend == "onnxruntime"
    assert "exports the model" in panel.note.text() and "torch is the faster backend" in panel.note.text()


def test_engine_builder_builds_the_weights_engines_where_tensorrt_runs(monkeypatch, tmp_path):
    from avatar_app.infer import deploy

    trt_here = [backends.BackendOption("tensorrt", "TensorRT", True, backend="tensorrt", device="cuda")]
    assert backends.engine_builder(trt_here, None) == (None, "needs trained CoNR weights to build engines from")
    calls = []

    def fake_build_engines(networks, size, precision, *, profile, progress, cancelled):
        calls.append((networks.cfg.name, size, precision, profile))
        progress(0.5, "TensorRT: Building engine 1/2")
        return {g: tmp_path / f"{g}.engine" for g in ("sheet_encoder", "frame_renderer", "udp_detector")}

    monkeypatch.setattr(deploy, "build_engines", fake_build_engines)
    builder, reason = backends.engine_builder(trt_here, "assets/weights/lite")
    reports = []
    result = builder(size=256, views=2, precision="fp16", progress=lambda f, t: reports.append(t), cancelled=None)
    assert reason == "" and calls == [("lite", 256, "fp16", {"min": 1, "opt": 2, "max": 8})]
    assert result == f"3 engines for 256² fp16 in {tmp_path}" and "loading the weights" in reports[0]


def test_cancelling_a_build_says_cancelled_even_when_the_builder_stops_by_raising(qtbot, monkeypatch):
    from avatar_app.infer.deploy import BuildCancelled

    def slow_builder(*, size, views, precision, progress, cancelled):
        while not cancelled.wait(0.01):
            progress(0.1, "exporting frame_renderer (1/3) to ONNX…")
        raise BuildCancelled("engine build for frame_renderer cancelled")

    monkeypatch.setattr(backends, "engine_builder", lambda options, weights: (slow_builder, ""))
    panel = RenderPanel(weights_folder=None)
    qtbot.addWidget(panel)
    dialog = panel.build_engine()
    qtbot.waitUntil(lambda: dialog.labelText().startswith("exporting"), timeout=5_000)
    from PyQt6.QtWidgets import QPushButton

    dialog.findChild(QPushButton).click()  # the dialog's Cancel button
    qtbot.waitUntil(lambda: dialog.finished_building, timeout=5_000)
    assert dialog.outcome == "Engine build cancelled"
    dialog.close()
