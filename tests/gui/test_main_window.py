"""The main window end to end: real pipeline (demo motion, proxy renderer, 128²), offscreen Qt."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QMimeData, QPoint, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from avatar_app.gui.main_window import DEFAULT_SHEET, SHORTCUTS

from gui_helpers import wait_for_default_sheet, wait_for_frames
from helpers import new_threads


def qimage_array(image) -> np.ndarray:
    image = image.convertToFormat(image.Format.Format_RGB888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    return (
        np.frombuffer(ptr, np.uint8)
        .reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]
        .reshape(image.height(), image.width(), 3)
    )


def test_window_opens_with_the_default_character(qtbot, make_window):
    window = make_window()
    wait_for_default_sheet(qtbot, window)
    panel = window.sheet_panel
    assert panel.sheet_path == DEFAULT_SHEET
    assert panel.sheet.num_views == 4 and len(panel.thumbnails) == 4
    assert all(label.has_picture for label in panel.thumbnails)
    assert not panel.message_is_error and "4 view(s)" in panel.message.text()
    assert window.render_panel.views.maximum() == 4


def test_choosing_the_demo_source_puts_frames_in_the_output_preview_within_5_s(qtbot, make_window):
    window = make_window()
    assert window.session.snapshot().phase == "stopped", "no autostart in this test"
    radio = window.source_panel.radios["demo"]
    qtbot.mouseClick(radio, Qt.MouseButton.LeftButton, pos=QPoint(8, radio.height() // 2))  # on the indicator
    wait_for_frames(qtbot, window, timeout_ms=5_000)
    picture = qimage_array(window.preview.output.picture())
    assert picture.shape == (128, 128, 3)
    greys = np.all(picture == picture[..., :1], axis=-1)
    assert (~greys).mean() > 0.03, "the avatar is drawn over the checkerboard"
    assert greys.mean() > 0.3, "the checkerboard shows where the avatar is transparent"
    qtbot.waitUntil(lambda: window.preview.udp.has_picture, timeout=5_000)
    assert window.source_panel.kind == "demo"


def test_status_bar_shows_fps_stage_times_and_latency(qtbot, make_window):
    window = make_window(autostart=True)
    wait_for_frames(qtbot, window, count=10)
    bar = window.stats_bar
    qtbot.waitUntil(lambda: bar.fps.text().endswith("fps") and "latency" in bar.latency.text(), timeout=5_000)
    for stage in ("pose", "rig", "raster", "render", "send"):
        assert stage in bar.stages.text()
    assert "running" in bar.phase.text()
    assert float(bar.fps.text().split()[0]) > 1.0


def test_loading_a_bad_sheet_shows_the_error_inline_and_keeps_the_previous_character(
    qtbot, make_window, sheet_without_alpha
):
    window = make_window()
    wait_for_default_sheet(qtbot, window)
    panel = window.sheet_panel
    before = panel.sheet
    panel.load(sheet_without_alpha)
    qtbot.waitUntil(lambda: not panel.loading, timeout=10_000)
    assert panel.message_is_error
    text = panel.message.text()
    assert "front.png" in text and "alpha" in text and "Fix:" in text, text
    assert f"Still using {DEFAULT_SHEET}" in text
    assert panel.sheet is before and panel.sheet_path == DEFAULT_SHEET and len(panel.thumbnails) == 4


def test_a_sheet_folder_dropped_on_the_panel_is_loaded(qtbot, make_window, good_sheet):
    window = make_window()
    wait_for_default_sheet(qtbot, window)
    panel = window.sheet_panel
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(good_sheet))])
    event = QDropEvent(
        QPoint(10, 10).toPointF(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(panel.sheetLoaded, timeout=10_000) as loaded:
        panel.dropEvent(event)
    assert loaded.args == [good_sheet]
    assert panel.sheet.num_views == 2 and len(panel.thumbnails) == 2 and not panel.message_is_error
    assert window.render_panel.views.maximum() == 2


def test_closing_the_window_stops_every_pipeline_thread(qtbot, make_window, no_new_threads):
    window = make_window(autostart=True)
    wait_for_frames(qtbot, window, count=3)
    running = [t.name for t in window.session.threads]
    assert {"avatar-pose", "avatar-raster", "avatar-render", "avatar-send", "gui-session"} <= set(running)
    window.close()
    left = new_threads(no_new_threads)
    assert not left, f"threads still running after close: {left}"


def test_start_stop_shortcut_stops_and_restarts_the_pipeline(qtbot, make_window):
    window = make_window(autostart=True)
    wait_for_frames(qtbot, window)
    assert window.start_stop_action.shortcut().toString() == SHORTCUTS["start_stop"]
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2_000)
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.session.snapshot().phase == "stopped", timeout=5_000)
    assert not window.live
    qtbot.waitUntil(lambda: window.start_stop_action.text() == "Start", timeout=2_000)
    shown = window.preview.output.pictures_shown
    qtbot.keyClick(window, Qt.Key.Key_F5)
    wait_for_frames(qtbot, window, count=shown + 3)
    assert window.session.snapshot().phase == "running"


def test_previews_are_polled_at_most_30_times_a_second(qtbot, make_window):
    """Pictures reach the previews only on the UI timer's ticks, one per tick, and it ticks at most 30 Hz."""
    window = make_window(autostart=True)
    wait_for_frames(qtbot, window)
    assert window.timer.isActive() and window.timer.interval() >= 1000 / 30
    window.timer.stop()
    shown, sent = window.preview.output.pictures_shown, window.session.snapshot().status.frames_sent
    qtbot.waitUntil(lambda: window.session.snapshot().status.frames_sent >= sent + 5, timeout=10_000)
    assert window.preview.output.pictures_shown == shown, "frames flowed, but without ticks no picture is shown"
    window.timer.timeout.emit()
    assert window.preview.output.pictures_shown == shown + 1, "a tick shows the newest frame"


def test_an_unusable_source_shows_its_error_inline(qtbot, make_window):
    window = make_window()
    window.source_panel.select("motion")  # no file chosen yet
    assert window.source_panel.message.styleSheet().startswith("color: #d93025")
    assert "Browse" in window.source_panel.message.text()
    assert window.session.wanted_config is None


def test_a_background_that_is_not_a_colour_warns_and_falls_back_to_green(make_window):
    window = make_window('background = "pink"\n')
    assert window.background_rgb == (0, 255, 0)
    warning = next(w for w in window.settings_warnings if "background" in w)
    assert (
        "settings: background: expected a colour like #00ff00 or 0,255,0, found 'pink'" in warning
        and "using green" in warning
    )
