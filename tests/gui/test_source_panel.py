"""The source picker: webcams listed off the UI thread, specs for each kind, the detector toggle."""

from __future__ import annotations

import threading

from avatar_app.gui.source_panel import SourcePanel
from avatar_app.tracking.devices import CameraDevice, list_cameras


def test_webcams_are_listed_in_the_background_and_become_the_webcam_spec(qtbot):
    listed_on = []

    def lister():
        listed_on.append(threading.current_thread().name)
        return [
            CameraDevice("/dev/video0", "Fake cam (/dev/video0)"),
            CameraDevice("/dev/video2", "Other (/dev/video2)"),
        ]

    panel = SourcePanel(camera_lister=lister)
    qtbot.addWidget(panel)
    panel.refresh_cameras()
    qtbot.waitUntil(lambda: panel.camera_combo.count() == 2, timeout=5_000)
    assert listed_on == ["gui-list-cameras"]
    with qtbot.waitSignal(panel.sourceChanged):
        panel.select("webcam")
    spec = panel.spec()
    assert (spec.kind, spec.camera) == ("webcam", "/dev/video0")
    assert panel.camera_preview.isVisibleTo(panel)


def test_without_a_camera_the_webcam_source_says_what_to_do(qtbot):
    panel = SourcePanel(camera_lister=lambda: [])
    qtbot.addWidget(panel)
    panel.refresh_cameras()
    qtbot.waitUntil(lambda: panel._camera_task is None, timeout=5_000)
    panel.select("webcam")
    try:
        panel.spec()
    except Exception as exc:
        assert "none found" in str(exc) and "⟳" in str(exc)
    else:
        raise AssertionError("a webcam source without a camera must not make a spec")


def test_vmc_and_file_sources_make_the_specs_the_cli_uses(qtbot, tmp_path):
    panel = SourcePanel(camera_lister=lambda: [])
    qtbot.addWidget(panel)
    panel.vmc_port.setValue(40123)
    panel.select("vmc")
    assert str(panel.spec()) == "vmc:40123"
    bvh = tmp_path / "walk.bvh"
    bvh.write_text("HIERARCHY\n")
    panel.set_file("motion", bvh)
    assert panel.kind == "motion" and panel.spec().path == bvh


def test_the_udp_detector_is_unavailable_without_weights_and_for_non_camera_sources(qtbot):
    panel = SourcePanel(camera_lister=lambda: [])
    qtbot.addWidget(panel)
    panel.set_detector_available(False, "needs trained CoNR weights")
    assert not panel.udp_detector.isEnabled() and "needs trained CoNR weights" in panel.udp_detector.toolTip()
    panel.set_detector_available(True)
    panel.select("demo")
    assert not panel.udp_detector.isEnabled() and not panel.detector_wanted


def test_list_cameras_probes_indices_when_there_is_no_dev_video(monkeypatch):
    import sys

    monkeypatch.setattr(sys, "platform", "win32")
    found = list_cameras(probe=lambda index: index in (0, 3))
    assert [(d.camera, d.label) for d in found] == [(0, "Camera 0"), (3, "Camera 3")]


def test_while_stopped_the_chosen_webcam_feeds_the_pickers_preview(qtbot, make_window, tmp_path, no_new_threads):
    import cv2
    import numpy as np

    clip = tmp_path / "camera.mp4"  # CaptureSource takes a video file where a camera would be
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (64, 48))
    for i in range(90):
        writer.write(np.full((48, 64, 3), (i * 2) % 255, np.uint8))
    writer.release()
    window = make_window('[source]\nsource = "webcam"\n', camera_lister=lambda: [CameraDevice(str(clip), "test clip")])
    panel = window.source_panel
    assert panel.kind == "webcam" and not window.live
    qtbot.waitUntil(lambda: panel.camera_preview.pictures_shown >= 3, timeout=10_000)
    assert window.session.snapshot().phase == "stopped", "listing cameras does not start the pipeline"
    window.close()
