"""Render settings: every backend listed, unavailable ones disabled with the reason; the
engine build disabled with the reason here, and run in a worker behind a progress dialog
where a builder exists."""

from __future__ import annotations

import time

from avatar_app.gui import render_panel
from avatar_app.gui.render_panel import RenderPanel
from avatar_app.infer.registry import backend_status


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
    trt_ok, trt_reason = backend_status("tensorrt")
    assert items["tensorrt"] == ("TensorRT" if trt_ok else f"TensorRT — {trt_reason}", trt_ok)
    assert panel.backend.currentData() == "torch-cpu"
    precisions = {data: enabled for _, data, enabled in combo_items(panel.precision)}
    assert precisions == {"fp32": True, "fp16": False, "bf16": True}, "bf16 runs on torch · CPU"


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

    monkeypatch.setattr(render_panel, "engine_builder", lambda options, weights: (fake_builder, ""))
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


def test_choosing_onnx_runtime_says_what_its_first_start_costs(qtbot, tmp_path):
    panel = RenderPanel(weights_folder=tmp_path)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel._options_task is None, timeout=30_000)
    panel.backend.setCurrentIndex(panel.backend.findData("onnxruntime"))
    assert panel.backend_option.backend == "onnxruntime"
    assert "exports the model" in panel.note.text() and "torch is the faster backend" in panel.note.text()


def test_cancelling_a_build_says_cancelled_even_when_the_builder_stops_by_raising(qtbot, monkeypatch):
    from avatar_app.infer.deploy import BuildCancelled

    def slow_builder(*, size, views, precision, progress, cancelled):
        while not cancelled.wait(0.01):
            progress(0.1, "exporting frame_renderer (1/3) to ONNX…")
        raise BuildCancelled("engine build for frame_renderer cancelled")

    monkeypatch.setattr(render_panel, "engine_builder", lambda options, weights: (slow_builder, ""))
    panel = RenderPanel(weights_folder=None)
    qtbot.addWidget(panel)
    dialog = panel.build_engine()
    qtbot.waitUntil(lambda: dialog.labelText().startswith("exporting"), timeout=5_000)
    from PyQt6.QtWidgets import QPushButton

    dialog.findChild(QPushButton).click()  # the dialog's Cancel button
    qtbot.waitUntil(lambda: dialog.finished_building, timeout=5_000)
    assert dialog.outcome == "Engine build cancelled"
    dialog.close()


def test_the_network_size_is_offered_apart_from_the_resolution_and_remembered(qtbot):
    from avatar_app.core.settings_file import AppSettings

    panel = RenderPanel(weights_folder=None)
    qtbot.addWidget(panel)
    assert panel.internal_size is None  # auto: the measured default
    saved = AppSettings(size=512, internal_size=128)
    panel.apply_settings(saved)
    assert (panel.model_size, panel.internal_size) == (512, 128)
    panel.size.setCurrentIndex(panel.size.findData(1024))
    stored = AppSettings()
    panel.store_settings(stored)
    assert (stored.size, stored.internal_size) == (1024, 128)
    panel.apply_settings(AppSettings(size=256, internal_size=512))
    assert panel.internal_size == 256  # never above the resolution
