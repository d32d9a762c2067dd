"""`avatar-app stream --mic`: the options reach the pipeline, bad ones are refused with the fix."""

from __future__ import annotations

import pytest

from avatar_app.cli.main import main

from mic_helpers import speech_fixture


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--mic", "file:/no/such/speech.wav"], "no such file"),
        (["--mic", "default", "--mic-gain", "90"], "microphone gain_db: expected a number from -40 to 40"),
        (["--mic", "default", "--mic-gate", "3"], "microphone gate_db"),
    ],
)
def test_bad_microphone_settings_are_setting_errors_with_a_fix(argv, message, capsys):
    assert main(["stream", "--sink", "virtualcam", *argv]) == 2
    err = capsys.readouterr().err
    assert "avatar-app: error:" in err and message in err and "Fix:" in err


def test_stream_with_a_wav_microphone_reports_it_in_the_source_status(tmp_path, capsys):
    path, _ = speech_fixture("m3")
    frames = tmp_path / "frames"
    argv = ["stream", "--renderer", "proxy", "--size", "128", "--frames", "15", "--sink", f"file:{frames}"]
    assert main([*argv, "--mic", f"file:{path}", "--mic-gain", "3", "--no-idle-life"]) == 0
    out = capsys.readouterr().out
    assert "streaming demo + file:vowels_m3.wav -> proxy" in out
    assert "mic file:vowels_m3.wav: playing" in out
    assert len(list(frames.glob("*.png"))) == 15
