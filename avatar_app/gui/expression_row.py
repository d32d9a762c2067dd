"""The expressions row: the face the avatar is making, and the user's gain, threshold and calibration.

Shows the expression the running source sends on (eyes, mouth, the strongest emotion) and,
per group (eyes, mouth), a gain and a threshold. Calibrate: *Neutral* captures the face at
rest (eyes open, mouth shut), *Closed / open* the eyes shut or the mouth wide open; the two
captures become that group's map (``ExpressionTuning.calibrated``). Everything goes to the
session at once (``LiveSession.set_expression_tuning``): no restart.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QWidget

from avatar_app.core.errors import SettingError
from avatar_app.rig.expressions import EMOTIONS, VOWELS
from avatar_app.tracking.expression_filter import GroupTuning

TUNED_GROUPS = ("eyes", "mouth")


def expression_text(expression) -> str:
    """``eyes 0.90 / 0.85 · mouth 0.60 (aa) · happy 0.30``, or a dash with nothing to show."""
    if expression is None:
        return "expressions: —"
    left, right = expression.eyes_closed()
    vowel = max(VOWELS, key=lambda v: expression[v])
    emotion = max(EMOTIONS, key=lambda e: expression[e])
    parts = [
        f"eyes {left:.2f} / {right:.2f}",
        f"mouth {expression[vowel]:.2f}" + (f" ({vowel})" if expression[vowel] else ""),
    ]
    if expression[emotion] > 0.01:
        parts.append(f"{emotion} {expression[emotion]:.2f}")
    return "expressions: " + " · ".join(parts)


class ExpressionRow(QWidget):
    """``session``: a ``LiveSession`` (``expression_tuning``, ``set_expression_tuning``, ``expression_state``)."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.values = QLabel(expression_text(None))
        self.group = QComboBox()
        self.group.addItems(TUNED_GROUPS)
        self.gain = QDoubleSpinBox(decimals=2, minimum=0.25, maximum=4.0, singleStep=0.05, value=1.0)
        self.threshold = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.9, singleStep=0.02, value=0.0)
        self.neutral = QPushButton("Neutral")
        self.full = QPushButton("Closed / open")
        self.note = QLabel("")
        self.neutral.setToolTip("capture the face at rest: eyes open, mouth shut")
        self.full.setToolTip("capture the eyes shut (group eyes) or the mouth wide open (group mouth)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.values, 1)
        for label, widget in (("", self.group), ("gain", self.gain), ("threshold", self.threshold)):
            if label:
                layout.addWidget(QLabel(label))
            layout.addWidget(widget)
        for widget in (self.neutral, self.full, self.note):
            layout.addWidget(widget)
        self._neutral_capture = None
        self.group.currentTextChanged.connect(self._show_group)
        self.gain.valueChanged.connect(self._gain_changed)
        self.threshold.valueChanged.connect(self._gain_changed)
        self.neutral.clicked.connect(self.capture_neutral)
        self.full.clicked.connect(self.capture_full)
        self._show_group(self.group.currentText())

    def refresh(self) -> None:
        """Called by the window's status timer: the values the avatar shows now."""
        _, sent = self.session.expression_state()
        self.values.setText(expression_text(sent))

    def _show_group(self, name: str) -> None:
        tuning = self.session.expression_tuning.group(name)
        for box, value in ((self.gain, tuning.gain), (self.threshold, tuning.threshold)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)

    def _gain_changed(self) -> None:
        group = GroupTuning.from_gain(self.gain.value(), self.threshold.value())
        self.session.set_expression_tuning(self.session.expression_tuning.with_group(self.group.currentText(), group))

    def capture_neutral(self) -> None:
        raw, _ = self.session.expression_state()
        self._neutral_capture = raw
        self.note.setText("neutral captured" if raw is not None else "no face from the source")

    def capture_full(self) -> None:
        raw, _ = self.session.expression_state()
        if raw is None or self._neutral_capture is None:
            self.note.setText("capture Neutral first" if raw is not None else "no face from the source")
            return
        try:
            tuning = self.session.expression_tuning.calibrated(self.group.currentText(), self._neutral_capture, raw)
        except SettingError as exc:
            self.note.setText(exc.fix if hasattr(exc, "fix") else str(exc))
            return
        self.session.set_expression_tuning(tuning)
        self._show_group(self.group.currentText())
        self.note.setText(f"{self.group.currentText()} calibrated")
