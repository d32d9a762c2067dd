"""The Microphone panel: on/off and the input device, a level meter, gain and gate.

On/off and the device are part of what the pipeline is built from (`spec()`; changing them
emits ``micChanged`` and the window restarts the pipeline). Gain and gate go to the session
at once (``LiveSession.set_mic_settings``): no restart, the next audio block uses them. The
meter shows the running microphone's level after the gain, with the gate's position, read
from the session by the window's status timer (`refresh`).
"""

from __future__ import annotations

from dataclasses import replace

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QProgressBar,
    QPushButton,
)

from avatar_app.core.errors import SettingError
from avatar_app.tracking.audio_input import MicSpec, list_input_devices, parse_mic_spec
from avatar_app.tracking.mouth_from_audio import MicSettings

METER_FLOOR_DB = -60.0  # the meter's left end; 0 dBFS is its right end
DEFAULT_DEVICE = ""  # the combo's data for the system's default input


def meter_percent(level_db: float) -> int:
    return round(100.0 * min(max((level_db - METER_FLOOR_DB) / -METER_FLOOR_DB, 0.0), 1.0))


class MicPanel(QGroupBox):
    """``session``: a ``LiveSession`` (``mic_settings``, ``set_mic_settings``, ``mic_state``).
    ``device_lister() -> [MicDevice]``: the input devices (tests pass their own)."""

    micChanged = pyqtSignal()

    def __init__(self, session, device_lister=list_input_devices, parent=None):
        super().__init__("Microphone", parent)
        self.session = session
        self._list_devices = device_lister
        self.enabled = QCheckBox("Mouth from the microphone")
        self.enabled.setToolTip("the mouth follows your voice; eyes, brows and emotions still come from the source")
        self.device = QComboBox()
        self.refresh_devices_button = QPushButton("Refresh")
        self.gain = QDoubleSpinBox(decimals=1, minimum=-40.0, maximum=40.0, singleStep=1.0, suffix=" dB")
        self.gate = QDoubleSpinBox(decimals=1, minimum=-100.0, maximum=0.0, singleStep=1.0, suffix=" dBFS")
        self.gate.setToolTip("below this level the mouth stays shut (room noise, fans)")
        self.meter = QProgressBar(minimum=0, maximum=100, value=0)
        self.meter.setFormat("—")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        layout = QGridLayout(self)
        layout.addWidget(self.enabled, 0, 0, 1, 3)
        layout.addWidget(self.device, 1, 0, 1, 2)
        layout.addWidget(self.refresh_devices_button, 1, 2)
        layout.addWidget(QLabel("gain"), 2, 0)
        layout.addWidget(self.gain, 2, 1, 1, 2)
        layout.addWidget(QLabel("gate"), 3, 0)
        layout.addWidget(self.gate, 3, 1, 1, 2)
        layout.addWidget(self.meter, 4, 0, 1, 3)
        layout.addWidget(self.note, 5, 0, 1, 3)
        self._show_levels(session.mic_settings)
        self.refresh_devices()
        self.enabled.toggled.connect(self._mic_changed)
        self.device.currentIndexChanged.connect(self._mic_changed)
        self.refresh_devices_button.clicked.connect(self.refresh_devices)
        self.gain.valueChanged.connect(self._levels_changed)
        self.gate.valueChanged.connect(self._levels_changed)

    # ---- what the pipeline is built with ----

    def spec(self) -> MicSpec | None:
        """The microphone to build the pipeline with; None when off."""
        if not self.enabled.isChecked():
            return None
        chosen = self.device.currentData() or DEFAULT_DEVICE
        return parse_mic_spec(chosen) if chosen else MicSpec()

    def refresh_devices(self) -> None:
        """List the input devices again, keeping the chosen one (listed as missing when it is gone)."""
        chosen = self.device.currentData() or DEFAULT_DEVICE
        self.device.blockSignals(True)
        self.device.clear()
        self.device.addItem("Default input", DEFAULT_DEVICE)
        for device in self._list_devices():
            self.device.addItem(f"{device.name} ({device.sample_rate_hz:.0f} Hz)", device.name)
        self._choose(chosen)
        self.device.blockSignals(False)

    def _choose(self, value: str) -> None:
        index = self.device.findData(value)
        if index < 0:  # saved but not here now (unplugged), or a file: the user wrote in the settings
            label = value if value.startswith("file:") else f"{value} (not found)"
            self.device.addItem(label, value)
            index = self.device.count() - 1
        self.device.setCurrentIndex(index)

    def _mic_changed(self) -> None:
        self.note.setText("")
        self.micChanged.emit()

    # ---- gain and gate: live ----

    def _show_levels(self, settings: MicSettings) -> None:
        for box, value in ((self.gain, settings.gain_db), (self.gate, settings.gate_db)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)

    def _levels_changed(self) -> None:
        settings = replace(self.session.mic_settings, gain_db=self.gain.value(), gate_db=self.gate.value())
        self.session.set_mic_settings(settings)

    # ---- the meter ----

    def refresh(self) -> None:
        """Called by the window's status timer: the running microphone's level and status."""
        mouth, status = self.session.mic_state()
        if mouth is None:
            self.meter.setValue(0)
            self.meter.setFormat("—")
        else:
            self.meter.setValue(meter_percent(mouth.level_db))
            gate = "open" if mouth.gate_open else "shut"
            self.meter.setFormat(f"{mouth.level_db:.0f} dBFS · gate {gate} · mouth {mouth.openness:.2f}")
        self.note.setText(status if status.startswith("microphone off") else "")

    # ---- settings file ----

    def apply_settings(self, settings) -> list[str]:
        """The saved [mic] values (an AppSettings); returns warnings for values out of range."""
        warnings = []
        try:
            levels = MicSettings(gain_db=settings.mic_gain_db, gate_db=settings.mic_gate_db)
        except SettingError as error:  # a hand-edited file
            warnings.append(f"settings: {error}; using the defaults")
            levels = MicSettings()
        self.session.set_mic_settings(levels)
        self._show_levels(levels)
        self.device.blockSignals(True)
        self._choose(settings.mic_device)
        self.device.blockSignals(False)
        self.enabled.blockSignals(True)
        self.enabled.setChecked(settings.mic)
        self.enabled.blockSignals(False)
        return warnings

    def store_settings(self, settings) -> None:
        settings.mic = self.enabled.isChecked()
        settings.mic_device = self.device.currentData() or DEFAULT_DEVICE
        settings.mic_gain_db = self.gain.value()
        settings.mic_gate_db = self.gate.value()
