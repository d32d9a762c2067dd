"""`avatar-app` with no arguments: the window with a display, else the headless demo render."""

from __future__ import annotations

import numpy as np

from avatar_app.cli.main import main
from avatar_app.io.video import read_video_frames


def test_without_a_display_avatar_app_renders_the_demo_video_and_prints_where(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "no display found" in out
    video = tmp_path / "out" / "demo.mp4"
    assert f"demo video: {video}" in out
    frames = np.stack(read_video_frames(video))
    assert frames.shape == (150, 256, 256, 3), "5 s at 30 fps, 256x256"
    key = (frames[..., 1] > 200) & (frames[..., 0] < 70) & (frames[..., 2] < 70)
    assert 0.03 < (~key).mean() < 0.6, "the avatar over the key colour"
    assert (frames[0] != frames[-1]).any(), "it moves"


def test_demo_options_set_the_length_and_the_file(tmp_path, capsys):
    out = tmp_path / "clips" / "short.avi"
    assert main(["demo", "--out", str(out), "--seconds", "0.5", "--size", "128"]) == 0
    assert len(read_video_frames(out)) == 15
    assert f"demo video: {out}" in capsys.readouterr().out
    assert main(["demo", "--seconds", "0"]) == 2


def test_with_a_display_avatar_app_opens_the_window(monkeypatch):
    import avatar_app.gui

    opened = []
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(avatar_app.gui, "run_gui", lambda settings_path=None: opened.append(settings_path) or 0)
    assert main([]) == 0
    assert opened == [None]
    assert main(["gui", "--settings", "x.toml"]) == 0 and opened[-1] == "x.toml"


def test_gui_without_a_display_says_so_and_what_to_do(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert main(["gui"]) == 2
    err = capsys.readouterr().err
    assert "no display found" in err and "avatar-app demo" in err
