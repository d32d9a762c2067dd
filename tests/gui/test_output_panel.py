"""Outputs from the window: virtual camera through pyvirtualcam's backend registry (a test
backend, and this machine's real v4l2loopback backend, which has no device), recording, and
the browser-source URL."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtGui import QGuiApplication

from gui_helpers import wait_for_frames

pyvirtualcam = pytest.importorskip("pyvirtualcam")
from pyvirtualcam.util import encode_fourcc  # noqa: E402

from avatar_app.io.video import read_video_frames  # noqa: E402

BACKEND = "avatar-gui-test-camera"


class RecordingCamera:
    """A pyvirtualcam backend (keyword-only constructor, RGB only, like v4l2loopback)."""

    instances: list = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        if fourcc != encode_fourcc(pyvirtualcam.PixelFormat.RGB.value):
            raise RuntimeError("this test backend takes RGB only")
        self.width, self.height = width, height
        self.frames = 0
        self.last = None
        self.closed = False
        RecordingCamera.instances.append(self)

    def send(self, frame):
        self.frames += 1
        self.last = frame.reshape(self.height, self.width, 3).copy()

    def close(self):
        self.closed = True

    def device(self):
        return "/dev/test-camera"

    def native_fourcc(self):
        return encode_fourcc(pyvirtualcam.PixelFormat.RGB.value)


@pytest.fixture
def test_camera_backend():
    RecordingCamera.instances.clear()
    pyvirtualcam.register_backend(BACKEND, RecordingCamera)
    yield RecordingCamera.instances
    pyvirtualcam.camera.BACKENDS.pop(BACKEND, None)  # no unregister in pyvirtualcam


def test_virtual_camera_toggle_reports_on_with_a_test_backend(qtbot, make_window, test_camera_backend):
    window = make_window(f'virtual_camera_backend = "{BACKEND}"', autostart=True)
    wait_for_frames(qtbot, window)
    panel = window.output_panel
    panel.virtual_camera.setChecked(True)
    qtbot.waitUntil(lambda: panel.virtual_camera_status.text().startswith("on"), timeout=5_000)
    assert "/dev/test-camera" in panel.virtual_camera_status.text() and BACKEND in panel.virtual_camera_status.text()
    assert not panel.virtual_camera_hint.isVisible()
    (camera,) = test_camera_backend
    qtbot.waitUntil(lambda: camera.frames >= 3, timeout=5_000)
    assert (camera.width, camera.height) == (128, 128)
    green = np.all(camera.last == (0, 255, 0), axis=-1)
    assert 0.3 < green.mean() < 0.99, "the avatar over the key colour"
    window.virtual_camera_action.trigger()  # the shortcut's action switches it off again
    qtbot.waitUntil(lambda: camera.closed, timeout=5_000)
    qtbot.waitUntil(lambda: panel.virtual_camera_status.text() == "off", timeout=2_000)


def test_virtual_camera_without_a_driver_shows_the_fix_hint(qtbot, make_window):
    pyvirtualcam.camera.BACKENDS.pop(BACKEND, None)
    window = make_window(autostart=True)
    wait_for_frames(qtbot, window)
    panel = window.output_panel
    panel.virtual_camera.setChecked(True)
    qtbot.waitUntil(lambda: panel.virtual_camera_hint.isVisible(), timeout=5_000)
    hint = panel.virtual_camera_hint.text()
    assert panel.virtual_camera_status.text() == "failed"
    assert "could not be opened" in hint and "pyvirtualcam says:" in hint and "Fix:" in hint, hint
    assert "browser-source" in hint, "the hint offers the driver-free alternative"
    shown = window.preview.output.pictures_shown
    wait_for_frames(qtbot, window, count=shown + 3)  # the avatar keeps going without the camera


def test_record_writes_the_frames_to_a_video_in_the_record_folder(qtbot, make_window, tmp_path):
    window = make_window(autostart=True)
    wait_for_frames(qtbot, window)
    panel = window.output_panel
    window.record_action.trigger()
    path = panel.record_path
    assert path.parent == tmp_path / "recordings" and path.suffix == ".mp4"
    qtbot.waitUntil(lambda: panel.record_status.text().startswith("recording to"), timeout=5_000)
    shown = window.preview.output.pictures_shown
    wait_for_frames(qtbot, window, count=shown + 10)
    window.record_action.trigger()
    qtbot.waitUntil(lambda: panel.record_status.text().startswith(f"off — saved {path}"), timeout=5_000)
    frames = read_video_frames(path)
    assert len(frames) >= 5 and frames[0].shape == (128, 128, 3)


def test_browser_source_url_is_shown_and_copied(qtbot, make_window):
    window = make_window("browser_source = true\nbrowser_port = 0", autostart=True)
    panel = window.output_panel
    qtbot.waitUntil(lambda: panel.browser_url.text().startswith("http://127.0.0.1:"), timeout=10_000)
    url = panel.browser_url.text()
    assert not url.endswith(":0/") and panel.copy_button.isEnabled()
    panel.copy_button.click()
    assert QGuiApplication.clipboard().text() == url
    assert "URL copied" in panel.browser_status.text()
