"""The expressions row: current values from the live source, gain/threshold and calibration to the session."""

from __future__ import annotations

import pytest

from avatar_app.gui.expression_row import ExpressionRow, expression_text
from avatar_app.rig.expressions import Expression
from avatar_app.tracking.expression_filter import ExpressionTuning

from gui_helpers import wait_for_frames


class ScriptedSession:
    """The three things the row uses of a LiveSession, with the face values a test sets."""

    def __init__(self):
        self.expression_tuning = ExpressionTuning()
        self.raw = self.sent = None

    def set_expression_tuning(self, tuning):
        self.expression_tuning = tuning

    def expression_state(self):
        return self.raw, self.sent


def test_the_row_shows_what_the_demo_sends(qtbot, make_window):
    window = make_window(autostart=True)
    wait_for_frames(qtbot, window, count=5)
    row = window.expression_row
    qtbot.waitUntil(lambda: row.values.text().startswith("expressions: eyes"), timeout=5_000)
    assert window.session.expression_state()[1] is not None


def test_gain_and_threshold_reach_the_session(qtbot):
    session = ScriptedSession()
    row = ExpressionRow(session)
    qtbot.addWidget(row)
    row.group.setCurrentText("mouth")
    row.threshold.setValue(0.2)
    row.gain.setValue(2.0)
    mouth = session.expression_tuning.group("mouth")
    assert (mouth.zero_at, mouth.one_at) == pytest.approx((0.2, 0.7))
    assert session.expression_tuning.apply(Expression.of(aa=0.45))["aa"] == pytest.approx(0.5)
    assert session.expression_tuning.group("eyes").gain == 1.0  # the other group is left alone


def test_calibration_maps_the_users_neutral_and_closed_eyes_to_0_and_1(qtbot):
    session = ScriptedSession()
    row = ExpressionRow(session)
    qtbot.addWidget(row)
    row.capture_full()
    assert "no face" in row.note.text()
    session.raw = Expression.of(blinkLeft=0.25, blinkRight=0.2)  # this user's open eyes read 0.25
    row.capture_neutral()
    session.raw = Expression.of(blinkLeft=0.7, blinkRight=0.75)  # ... and closed ones 0.75
    row.capture_full()
    assert row.note.text() == "eyes calibrated"
    tuned = session.expression_tuning.apply(Expression.of(blinkLeft=0.25, blinkRight=0.75))
    assert tuned["blinkLeft"] == 0.0 and tuned["blinkRight"] == 1.0
    assert row.gain.value() == pytest.approx(2.0) and row.threshold.value() == pytest.approx(0.25)
    session.raw = Expression.of(blinkLeft=0.26)  # "closed" that is not: refused with the fix
    row.capture_full()
    assert "again" in row.note.text()


def test_expression_text_names_the_vowel_and_the_strongest_emotion():
    assert expression_text(None) == "expressions: —"
    text = expression_text(Expression.of(blink=1.0, oh=0.5, sad=0.4, happy=0.1))
    assert text == "expressions: eyes 1.00 / 1.00 · mouth 0.50 (oh) · sad 0.40"
