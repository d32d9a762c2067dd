"""The mouse wheel changes a spin box or combo box only once it has focus (a click or Tab).

Qt's default turns any spin box or combo under the cursor as the wheel passes over it, so
scrolling the window's left column changed settings on the way (the browser port went from
8765 to 8760 and was saved). One filter on the application covers every spin box and combo
in every window and dialog, present and future: when one is polished it stops taking focus
from the wheel, and a wheel event over one without focus goes to the scroll area around it.
"""

from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QWheelEvent
from PyQt6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QWidget

GUARDED = (QAbstractSpinBox, QComboBox)


class WheelGuard(QObject):
    """Install once with :func:`install_wheel_guard`."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.Wheel:
            if isinstance(obj, GUARDED) and not obj.hasFocus():
                pass_on(obj, event)
                return True
        elif kind == QEvent.Type.Polish and isinstance(obj, GUARDED):
            if obj.focusPolicy() == Qt.FocusPolicy.WheelFocus:  # Qt's default for both: the wheel gives focus
                obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return False


def pass_on(widget: QWidget, event: QWheelEvent) -> None:
    """The wheel scrolls the nearest scroll area around ``widget``; with none, Qt hands it to the parent."""
    area = widget.parentWidget()
    while area is not None and not isinstance(area, QAbstractScrollArea):
        area = area.parentWidget()
    if area is None:
        event.ignore()  # an ignored wheel event goes on to the parent widget
        return
    viewport = area.viewport()
    scrolled = QWheelEvent(
        viewport.mapFromGlobal(event.globalPosition()),
        event.globalPosition(),
        event.pixelDelta(),
        event.angleDelta(),
        event.buttons(),
        event.modifiers(),
        event.phase(),
        event.inverted(),
    )
    QApplication.sendEvent(viewport, scrolled)
    event.accept()  # handled here: Qt does not hand it on a second time


def install_wheel_guard(app: QApplication | None = None) -> WheelGuard:
    """The application's one `WheelGuard` (installed on first call)."""
    app = app or QApplication.instance()
    guard = app.findChild(WheelGuard)
    if guard is None:
        guard = WheelGuard(app)
        app.installEventFilter(guard)
    return guard
