"""The Microphone panel: device list, gain and gate to the session live, the meter, saved in settings.toml."""

from __future__ import annotations

import tomllib

import numpy as np

from avatar_app.core.settings_file import AppSettings, default_settings_path
from avatar_app.gui.mic_panel import MicPanel
from avatar_app.pipeline.mic_mouth import WithMicrophone
from avatar_app.tracking.audio_input import MicDevice, MicSpec
from avatar_app.tracking.mouth_from_audio import MicSettings, MouthState

from gui_helpers import wait_for_frames
from mic_helpers import speech_fixture

DEVICES = [MicDevice(0, "USB Audio Mic", 48000.0), MicDevice(3, "Built-in Microphone", 44100.0)]


class ScriptedSession:
    """What the panel uses of a LiveSession, with the microphone state a test sets."""

    def __init__(self):
        self.mic_settings = MicSettings()
        self.mouth, self.status = None, ""

    def set_mic_settings(self, settings):
        self.mic_settings = settings

    def mic_state(self):
        return self.mouth, self.status


def make_panel(qtbot, session=None):
    panel = MicPanel(session or ScriptedSession(), device_lister=lambda: DEVICES)
    qtbot.addWidget(panel)
    return panel


def test_devices_are_listed_and_the_chosen_one_is_what_the_pipeline_gets(qtbot):
    panel = make_panel(qtbot)
    labels = [panel.device.itemText(k) for k in range(panel.device.count())]
    assert labels == ["Default input", "USB Audio Mic (48000 Hz)", "Built-in Microphone (44100 Hz)"]
    assert panel.spec() is None, "off until switched on"
    with qtbot.waitSignal(panel.micChanged):
        panel.enabled.setChecked(True)
    assert panel.spec() == MicSpec()
    with qtbot.waitSignal(panel.micChanged):
        panel.device.setCurrentIndex(2)
    assert panel.spec() == MicSpec(device="Built-in Microphone")


def test_gain_and_gate_reach_the_session_without_a_restart(qtbot):
    session = ScriptedSession()
    panel = make_panel(qtbot, session)
    with qtbot.assertNotEmitted(panel.micChanged):
        panel.gain.setValue(12.0)
        panel.gate.setValue(-38.0)
    assert session.mic_settings == MicSettings(gain_db=12.0, gate_db=-38.0)


def test_the_meter_shows_the_level_and_a_microphone_that_failed_says_why(qtbot):
    session = ScriptedSession()
    panel = make_panel(qtbot, session)
    panel.refresh()
    assert panel.meter.value() == 0 and panel.meter.format() == "—"
    session.mouth = MouthState(-30.0, True, 0.6, np.zeros(5, np.float32), 7, 1.0)
    panel.refresh()
    assert panel.meter.value() == 50 and "-30 dBFS" in panel.meter.format() and "gate open" in panel.meter.format()
    session.mouth, session.status = None, "microphone off: microphone 'USB': cannot open it (busy). Fix: ..."
    panel.refresh()
    assert panel.note.text().startswith("microphone off") and "Fix:" in panel.note.text()


def test_a_saved_device_that_is_unplugged_stays_chosen_and_says_so(qtbot):
    panel = make_panel(qtbot)
    settings = AppSettings(mic=True, mic_device="Headset", mic_gain_db=6.0, mic_gate_db=-50.0)
    assert panel.apply_settings(settings) == []
    assert panel.device.currentText() == "Headset (not found)" and panel.spec() == MicSpec(device="Headset")
    assert (panel.gain.value(), panel.gate.value()) == (6.0, -50.0)
    stored = AppSettings()
    panel.store_settings(stored)
    assert (stored.mic, stored.mic_device, stored.mic_gain_db, stored.mic_gate_db) == (True, "Headset", 6.0, -50.0)


def test_the_window_streams_with_a_wav_microphone_and_saves_the_mic_settings(qtbot, make_window):
    """A [mic] section naming a WAV file (the path tests and demos use): the live pipeline hears it."""
    path, _ = speech_fixture("m3")
    mic = f'[mic]\nmic = true\nmic_device = "file:{path}"\nmic_gain_db = 3.0\nmic_gate_db = -48.0\n'
    window = make_window(mic, autostart=True, mic_lister=lambda: DEVICES)
    assert window.config().mic == MicSpec(path=path)
    wait_for_frames(qtbot, window, count=3)
    qtbot.waitUntil(lambda: window.session.mic_state()[0] is not None, timeout=10_000)
    assert isinstance(window.session._pipeline.source.source, WithMicrophone)  # under the hand-set expressions
    assert window.session._pipeline.source.microphone.settings == MicSettings(gain_db=3.0, gate_db=-48.0)
    qtbot.waitUntil(lambda: "dBFS" in window.mic_panel.meter.format(), timeout=5_000)
    window.mic_panel.gain.setValue(9.0)
    assert window.session._pipeline.source.microphone.settings.gain_db == 9.0, "live, the same pipeline"
    window.close()
    saved = tomllib.loads(default_settings_path().read_text())["mic"]
    assert saved == {"mic": True, "mic_device": f"file:{path}", "mic_gain_db": 9.0, "mic_gate_db": -48.0}


def test_the_window_says_when_the_saved_microphone_is_not_there_and_streams_on(qtbot, make_window):
    window = make_window('[mic]\nmic = true\nmic_device = "Headset"\n', autostart=True, mic_lister=lambda: DEVICES)
    wait_for_frames(qtbot, window, count=3)
    qtbot.waitUntil(lambda: window.mic_panel.note.text().startswith("microphone off"), timeout=5_000)
    assert "Headset" in window.mic_panel.note.text() and "Fix:" in window.mic_panel.note.text()
