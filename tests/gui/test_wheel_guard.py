"""The mouse wheel over the left column scrolls it; a spin box or combo under the cursor changes only once focused."""

from __future__ import annotations

from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QWheelEvent
from PyQt6.QtWidgets import QApplication, QScrollArea


def wheel_down(widget) -> None:
    """One notch of the wheel (towards the user: scroll down, step down) over the middle of ``widget``."""
    inside = QPointF(widget.rect().center())
    event = QWheelEvent(
        inside,
        widget.mapToGlobal(inside),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def left_column(window) -> QScrollArea:
    return window.findChild(QScrollArea)


def test_the_wheel_over_an_unfocused_spin_box_or_combo_scrolls_the_column_and_changes_nothing(qtbot, make_window):
    window = make_window()
    window.resize(900, 320)  # short: the left column scrolls
    scroll = left_column(window).verticalScrollBar()
    qtbot.waitUntil(lambda: scroll.maximum() > 0)
    port, framing = window.output_panel.browser_port, window.character_panel.framing
    assert framing.count() > 2
    framing.setCurrentIndex(1)
    for widget in (port, framing):
        assert not widget.hasFocus()
        assert widget.focusPolicy() == Qt.FocusPolicy.StrongFocus, "the wheel must not give it focus"
    port_before, framing_before = port.value(), framing.currentIndex()
    top = scroll.value()
    wheel_down(port)
    assert port.value() == port_before, "the wheel changed the unfocused browser port"
    assert scroll.value() > top, "the wheel did not reach the scroll area"
    top = scroll.value()
    wheel_down(framing)
    assert framing.currentIndex() == framing_before, "the wheel changed the unfocused framing"
    assert scroll.value() > top or scroll.value() == scroll.maximum()


def test_the_wheel_changes_a_spin_box_once_it_has_focus(qtbot, make_window):
    window = make_window()
    port = window.output_panel.browser_port
    window.activateWindow()
    port.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(port.hasFocus)
    before = port.value()
    wheel_down(port)
    assert port.value() == before - 1
