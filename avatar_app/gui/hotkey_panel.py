"""The Hotkeys panel: keys that set expressions (toggle, hold while pressed, or for some seconds).

Each row binds a key to an expression name (``pipeline.hotkeys``); the bindings go to the
`HotkeyActions` the control API presses too, and to the settings (``[control] hotkeys``).
`KeyFilter` watches the key events of the whole window (an application event filter that
keeps to this window's widgets), so a key works whichever panel has the focus, except that a
plain key typed into a text or number field is that field's, and keys the window's own
shortcuts use (F5, Ctrl+R ...) cannot be bound.

Global hotkeys (while another program has the focus) are not offered: Qt has none, and the
usual Python route (``pynput``) needs an X server or the Windows/macOS input hooks, is not
among our dependencies and cannot work on a headless Linux machine. The panel says so.
"""

from __future__ import annotations

from PyQt6.QtCore import QEvent, QKeyCombination, QObject, Qt, QTimer
from PyQt6.QtGui import QKeySequence
from PyQt6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTextEdit,
)

from avatar_app.pipeline.hotkeys import (
    DEFAULT_SECONDS,
    HOTKEY_MODES,
    Hotkey,
    HotkeyActions,
    HotkeyError,
    format_hotkeys,
    parse_hotkeys,
)
from avatar_app.rig.expressions import EXPRESSIONS

EXPRESSION_CHOICES = ("happy", "surprised", "angry", "sad", "relaxed", "eyes_closed", "mouth_open") + tuple(
    name for name in EXPRESSIONS if name not in ("happy", "surprised", "angry", "sad", "relaxed")
)
GLOBAL_NOTE = (
    "Keys work while this window has the focus. Global hotkeys (with another program in front) are not "
    "supported: use the control API from a stream deck or a script instead."
)
_MODIFIERS = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
_MODIFIERS |= Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
_MODIFIER_KEYS = {Qt.Key.Key_Control, Qt.Key.Key_Shift, Qt.Key.Key_Alt, Qt.Key.Key_Meta, Qt.Key.Key_AltGr}
_TEXT_FIELDS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)
COLUMNS = ("Key", "Expression", "Mode", "Seconds")


def key_text(event) -> str | None:
    """The portable text of a key event's key with its modifiers (``Ctrl+1``), or None for a lone modifier."""
    key = Qt.Key(event.key())
    if key in _MODIFIER_KEYS or key == Qt.Key.Key_unknown:
        return None
    modifiers = event.modifiers() & _MODIFIERS
    return QKeySequence(QKeyCombination(modifiers, key)).toString(QKeySequence.SequenceFormat.PortableText) or None


def _typing(widget, event) -> bool:
    """A plain key (no Ctrl/Alt/Meta, not F1-F35) going to a field the user types into is the field's."""
    if isinstance(widget, QKeySequenceEdit) or isinstance(widget.parentWidget(), QKeySequenceEdit):
        return True  # binding a key (its own line edit has the focus): never act on it
    if not isinstance(widget, _TEXT_FIELDS) and not (isinstance(widget, QComboBox) and widget.isEditable()):
        return False
    strong = event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
    return not strong and not Qt.Key.Key_F1 <= event.key() <= Qt.Key.Key_F35


class KeyFilter(QObject):
    """Key presses and releases anywhere in ``window`` -> ``actions``; a held key is let go when the window is left."""

    def __init__(self, window, actions: HotkeyActions):
        super().__init__(window)
        self.window, self.actions = window, actions
        self.held: dict[int, str] = {}  # Qt key code -> the bound key text pressed with it
        self.pressed = 0  # presses acted on (tests and the panel's note)
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            if not (obj.isWidgetType() and obj.window() is self.window):
                return False
            return self._key(obj, event, kind == QEvent.Type.KeyPress)
        if kind == QEvent.Type.WindowDeactivate and obj is self.window:
            self.release_all()
        return False

    def _key(self, widget, event, down: bool) -> bool:
        if event.isAutoRepeat():
            return event.key() in self.held or self.actions.binding(key_text(event) or "") is not None
        if not down:
            text = self.held.pop(event.key(), None)
            if text is None:
                return False
            self.actions.release(text)  # the key as pressed, whatever modifier was let go first
            return True
        text = key_text(event)
        if text is None or _typing(widget, event) or self.actions.press(text) is None:
            return False
        self.held[event.key()] = text
        self.pressed += 1
        return True

    def release_all(self) -> None:
        for text in self.held.values():
            self.actions.release(text)
        self.held.clear()

    def close(self) -> None:
        self.release_all()
        QApplication.instance().removeEventFilter(self)


class HotkeyPanel(QGroupBox):
    """``overrides``: the session's `ExpressionOverrides`; ``reserved``: the window's own shortcuts."""

    def __init__(self, window, overrides, reserved=(), parent=None):
        super().__init__("Hotkeys", parent)
        self.actions = HotkeyActions(overrides)
        self.overrides = overrides
        self.reserved = {QKeySequence(k).toString(QKeySequence.SequenceFormat.PortableText) for k in reserved}
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.add_button = QPushButton("Add")
        self.remove_button = QPushButton("Remove")
        self.clear_button = QPushButton("Clear all")
        self.clear_button.setToolTip("give every expression set by a key or the API back to the source")
        self.active = QLabel("")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        global_note = QLabel(GLOBAL_NOTE)
        global_note.setWordWrap(True)
        layout = QGridLayout(self)
        layout.addWidget(self.table, 0, 0, 1, 3)
        layout.addWidget(self.add_button, 1, 0)
        layout.addWidget(self.remove_button, 1, 1)
        layout.addWidget(self.clear_button, 1, 2)
        layout.addWidget(self.active, 2, 0, 1, 3)
        layout.addWidget(self.note, 3, 0, 1, 3)
        layout.addWidget(global_note, 4, 0, 1, 3)
        self.add_button.clicked.connect(lambda: self.add_row())
        self.remove_button.clicked.connect(self._remove_row)
        self.clear_button.clicked.connect(lambda: (self.overrides.clear(), self.refresh()))
        self.keys = KeyFilter(window, self.actions)
        self.timer = QTimer(self)  # what is set now, a few times a second (timed ones count down)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # ---- rows ----

    def add_row(self, hotkey: Hotkey | None = None) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        key = QKeySequenceEdit(QKeySequence(hotkey.key) if hotkey else QKeySequence())
        key.setMaximumSequenceLength(1)
        expression = QComboBox(editable=True)
        expression.addItems(EXPRESSION_CHOICES)
        expression.setCurrentText(hotkey.expression if hotkey else EXPRESSION_CHOICES[0])
        mode = QComboBox()
        mode.addItems(HOTKEY_MODES)
        mode.setCurrentText(hotkey.mode if hotkey else HOTKEY_MODES[0])
        seconds = QDoubleSpinBox(decimals=1, minimum=0.1, maximum=3600.0, singleStep=0.5, suffix=" s")
        seconds.setValue(hotkey.seconds if hotkey else DEFAULT_SECONDS)
        seconds.setToolTip("timed: how long it lasts; hold: how long a tap from the control API holds it")
        for column, widget in enumerate((key, expression, mode, seconds)):
            self.table.setCellWidget(row, column, widget)
        key.keySequenceChanged.connect(self._rows_changed)
        expression.currentTextChanged.connect(self._rows_changed)
        mode.currentTextChanged.connect(self._rows_changed)
        seconds.valueChanged.connect(self._rows_changed)
        self._rows_changed()
        return row

    def _remove_row(self) -> None:
        row = self.table.currentRow() if self.table.currentRow() >= 0 else self.table.rowCount() - 1
        if row >= 0:
            self.table.removeRow(row)
            self._rows_changed()

    def bindings(self) -> tuple[list[Hotkey], list[str]]:
        """(the usable rows' bindings, what is wrong with the others)."""
        bindings, problems, seen = [], [], set()
        for row in range(self.table.rowCount()):
            key, expression, mode, seconds = (self.table.cellWidget(row, c) for c in range(len(COLUMNS)))
            text = key.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
            if not text:
                problems.append(f"row {row + 1}: press a key in the Key cell")
                continue
            if text in self.reserved:
                problems.append(f"row {row + 1}: {text} is the window's own shortcut; choose another key")
                continue
            if text in seen:
                problems.append(f"row {row + 1}: {text} is bound above")
                continue
            try:
                hotkey = Hotkey(text, expression.currentText().strip(), mode.currentText(), seconds.value())
            except HotkeyError as error:
                problems.append(f"row {row + 1}: {error}")
                continue
            seen.add(text)
            bindings.append(hotkey)
        return bindings, problems

    def _rows_changed(self) -> None:
        bindings, problems = self.bindings()
        self.keys.release_all()  # a held key whose row changed is let go, not stuck
        self.actions.set_bindings(bindings)
        self.note.setText("; ".join(problems))

    def refresh(self) -> None:
        active = self.overrides.active()
        left = self.overrides.seconds_left()
        parts = [
            f"{name} {value:.1f}" + (f" ({left[name]:.0f} s)" if name in left else "") for name, value in active.items()
        ]
        self.active.setText("set by hand: " + ", ".join(parts) if parts else "")

    # ---- settings file ----

    def apply_settings(self, settings) -> list[str]:
        bindings, warnings = parse_hotkeys(settings.hotkeys)
        self.table.setRowCount(0)
        for hotkey in bindings:
            self.add_row(hotkey)
        self._rows_changed()
        return warnings

    def store_settings(self, settings) -> None:
        settings.hotkeys = format_hotkeys(self.bindings()[0])

    def close_keys(self) -> None:
        self.timer.stop()
        self.keys.close()
