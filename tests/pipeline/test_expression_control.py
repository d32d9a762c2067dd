"""Expressions set by hand (#31 items 2 and 3): overrides over the source, hotkey modes, the bindings' text."""

from __future__ import annotations

import pytest

from avatar_app.pipeline import PoseSample, PoseSource
from avatar_app.pipeline.expression_control import ExpressionOverrides, WithExpressionOverrides, expression_target
from avatar_app.pipeline.hotkeys import Hotkey, HotkeyActions, HotkeyError, format_hotkeys, parse_hotkeys
from avatar_app.pipeline.mic_mouth import WithMicrophone
from avatar_app.pipeline.sources import IDLE_POSE
from avatar_app.rig.expressions import Expression


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


class SmilingSource(PoseSource):
    """Holds IDLE_POSE with a half smile and the eyes a little shut."""

    name = "smiling"

    def read(self, timeout):
        return PoseSample(0.0, pose=IDLE_POSE, expression=Expression.of(happy=0.5, blink=0.2))


def test_names_the_sheets_answer_to_are_accepted_and_others_refused_with_the_list():
    assert expression_target("joy") == "happy" and expression_target("Eyes_Closed") == "blink"
    assert expression_target("mouth_open") == "aa" and expression_target("A") == "aa"
    assert expression_target("smirk") is None and expression_target(3) is None
    with pytest.raises(ValueError, match="expected one of blink, blinkLeft"):
        ExpressionOverrides().set("smirk")


def test_a_set_name_replaces_the_sources_value_and_leaves_the_others_to_it():
    overrides = ExpressionOverrides()
    layer = WithExpressionOverrides(SmilingSource(), overrides)
    assert layer.read(0.1).expression == Expression.of(happy=0.5, blink=0.2), "nothing set: the source's face"
    overrides.set("surprised")
    overrides.set("joy", 0.0)  # holds the smile back
    face = layer.read(0.1).expression
    assert face["surprised"] == 1.0 and face["happy"] == 0.0
    assert face["blink"] == pytest.approx(0.2), "a name not set stays the source's"
    overrides.clear()
    assert layer.read(0.1).expression["happy"] == 0.5


def test_a_timed_expression_ends_by_the_clock():
    clock = Clock()
    overrides = ExpressionOverrides(clock)
    overrides.set("surprised", seconds=2.0)
    clock.t += 1.9
    assert overrides.active() == {"surprised": 1.0}
    assert overrides.seconds_left()["surprised"] == pytest.approx(0.1)
    clock.t += 0.2
    assert overrides.active() == {}


def test_the_layer_lies_over_the_microphone_and_still_shows_it_to_the_session():
    mic = WithMicrophone(SmilingSource(), None, failed="no device")
    layer = WithExpressionOverrides(mic, ExpressionOverrides())
    assert layer.microphone is None and layer.microphone_status == "microphone off: no device"


@pytest.mark.parametrize(
    ("mode", "after_press", "after_release"),
    [
        ("toggle", {"happy": 1.0}, {"happy": 1.0}),
        ("hold", {"happy": 1.0}, {}),
        ("timed", {"happy": 1.0}, {"happy": 1.0}),
    ],
)
def test_each_mode_acts_on_press_and_release(mode, after_press, after_release):
    clock = Clock()
    overrides = ExpressionOverrides(clock)
    actions = HotkeyActions(overrides, [Hotkey("F1", "joy", mode, seconds=3.0)])
    assert actions.press("F1") is not None
    assert overrides.active() == after_press
    actions.release("F1")
    assert overrides.active() == after_release
    clock.t += 3.5
    assert overrides.active() == ({"happy": 1.0} if mode == "toggle" else {}), "only timed ones end by themselves"
    if mode == "toggle":
        actions.press("F1")
        assert overrides.active() == {}, "a second press toggles it off"
    assert actions.press("F9") is None, "an unbound key does nothing"


def test_from_the_api_a_hold_key_tapped_holds_for_its_seconds_and_unbound_keys_are_refused():
    clock = Clock()
    overrides = ExpressionOverrides(clock)
    actions = HotkeyActions(overrides, [Hotkey("F2", "eyes_closed", "hold", seconds=0.5)])
    actions.trigger("F2")
    assert overrides.active() == {"blink": 1.0}
    clock.t += 0.6
    assert overrides.active() == {}
    actions.trigger("F2", "down")
    assert overrides.active() == {"blink": 1.0}
    actions.trigger("F2", "up")
    assert overrides.active() == {}
    with pytest.raises(HotkeyError, match="expected one of the bound keys \\(F2\\)"):
        actions.trigger("F3")


def test_bindings_round_trip_through_the_settings_text_and_bad_lines_are_skipped_with_a_warning():
    bindings = [Hotkey("F1", "joy"), Hotkey("Ctrl+2", "eyes_closed", "hold"), Hotkey("Shift+J", "aa", "timed", 2.5)]
    text = format_hotkeys(bindings)
    assert text == "F1 joy toggle\nCtrl+2 eyes_closed hold\nShift+J aa timed 2.5"
    assert parse_hotkeys(text) == (bindings, [])
    loaded, warnings = parse_hotkeys(text + "\nF4 smirk toggle\nF5 joy sometimes\nF6 joy timed soon\nF1 sad hold\n")
    assert loaded == bindings
    assert len(warnings) == 4 and "smirk" in warnings[0] and "toggle, hold, timed" in warnings[1]
    assert "bound twice" in warnings[3]
