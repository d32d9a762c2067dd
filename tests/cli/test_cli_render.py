"""`avatar-app render` end to end: UDP sequence + the default sheet -> mp4 and RGBA PNGs."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from avatar_app.cli.main import main
from avatar_app.io.udp_sequence import iter_udp_sequence

SHEET = Path(__file__).resolve().parents[2] / "assets" / "characters" / "default" / "sheet"
SIZE = 128


@pytest.fixture(scope="module")
def poses(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("udp")
    assert main(["udp", "--motion", "demo", "--frames", "3", "--size", str(SIZE), "--out", str(out)]) == 0
    return out


def test_render_writes_a_video_and_rgba_frames_of_the_pose(tmp_path, poses, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    video, frames = tmp_path / "clip.mp4", tmp_path / "frames"
    argv = [
        "render",
        "--sheet",
        str(SHEET),
        "--poses",
        str(poses),
        "--size",
        str(SIZE),
        "--out",
        str(video),
        "--out",
        str(frames),
    ]
    assert main(argv) == 0  # the shipped weights, torch backend
    out = capsys.readouterr().out
    assert (
        f"rendered 3 frames at {SIZE}x{SIZE} with 4 views" in out
        and "per frame median" in out
        and f"wrote {video}" in out
    )
    pngs = sorted(frames.glob("*.png"))
    assert len(pngs) == 3
    # without --cache-dir the encoded sheet is kept in the user cache folder, as --help says
    assert len(list((tmp_path / "cache" / "avatar_app" / "sheets").glob("*.pt"))) == 1
    for png, udp in zip(pngs, iter_udp_sequence(poses)):
        rgba = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert rgba.shape == (SIZE, SIZE, 4)
        drawn, posed = rgba[..., 3] > 127, udp.data[..., 3] > 0.5
        assert (drawn & posed).sum() / (drawn | posed).sum() > 0.8  # the avatar stands where the pose is
    cap = cv2.VideoCapture(str(video))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == 3


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--backend", "tensorrt"],
            r"backend: expected an installed backend \(tensorrt is not\).*TensorRT Python package not installed",
        ),
        (["--precision", "fp16"], r"precision: expected fp16 on a CUDA device, found fp16 on cpu"),
        (["--size", "200"], r"--size.*multiple of 128"),
        (["--internal-size", "256"], r"--internal-size: expected at most the output size --size 128, found 256"),
        # the same refusal as stream's (render used to run fp32 instead without a word)
        (
            ["--backend", "onnxruntime", "--precision", "fp16"],
            r"--precision: expected fp32 with --backend onnxruntime, found fp16.*leave --precision out",
        ),
    ],
)
def test_render_settings_that_cannot_work_say_why(tmp_path, poses, capsys, extra, message):
    import re

    argv = [
        "render",
        "--sheet",
        str(SHEET),
        "--poses",
        str(poses),
        "--size",
        str(SIZE),
        "--out",
        str(tmp_path / "f"),
        *extra,
    ]
    assert main(argv) == 2
    assert re.search(message, capsys.readouterr().err), message


def test_render_on_exported_graphs_loads_no_weights_and_says_when_the_graphs_are_missing(
    tmp_path, poses, lite_graphs, monkeypatch, capsys
):
    pytest.importorskip("onnxruntime")
    import avatar_app.cli.render as render

    def load_networks(*args, **kwargs):
        pytest.fail("--graphs must not load the torch networks")

    monkeypatch.setattr(render, "load_networks", load_networks)
    frames = tmp_path / "frames"
    argv = ["render", "--sheet", str(SHEET), "--poses", str(poses), "--size", str(SIZE), "--views", "1"]
    argv += ["--backend", "onnxruntime"]
    # graphs of the lite preset, which the shipped weights' model.json names
    assert main([*argv, "--graphs", str(lite_graphs), "--out", str(frames)]) == 0
    assert len(list(frames.glob("*.png"))) == 3
    empty = tmp_path / "no-graphs"
    empty.mkdir()
    assert main([*argv, "--graphs", str(empty), "--out", str(tmp_path / "f2")]) == 2
    expected = f"graphs for lite at 128x128 (sheet_encoder, frame_renderer), found none in {empty}"
    assert f"ONNX Runtime graphs: expected {expected}" in capsys.readouterr().err


def test_render_of_a_motion_draws_the_expression_sheet_its_face_calls_for(tmp_path, monkeypatch):
    """The demo's first blink (frames 40-42) renders from ``expressions/eyes_closed``, the rest from the sheet."""
    import numpy as np

    from avatar_app.rig import DemoMotion

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sheet = tmp_path / "sheet"
    closed = sheet / "expressions" / "eyes_closed"
    closed.mkdir(parents=True)
    for view in sorted(SHEET.glob("*.png")):
        rgba = cv2.imread(str(view), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(sheet / view.name), rgba)
        rgba[..., :3] = (0, 0, 255)  # BGR: a red drawing, the same outline
        cv2.imwrite(str(closed / view.name), rgba)
    frames = tmp_path / "frames"
    argv = ["render", "--sheet", str(sheet), "--motion", "demo", "--frames", "45", "--size", str(SIZE)]
    assert main([*argv, "--no-drawn-detail", "--out", str(frames)]) == 0
    motion = DemoMotion()
    redness = {}
    for k in range(36, 45):
        bgra = cv2.imread(str(frames / f"frame_{k:06d}.png"), cv2.IMREAD_UNCHANGED).astype(np.float32)
        inside = bgra[..., 3] > 127
        redness[k] = float((bgra[..., 2] - bgra[..., :2].mean(axis=-1))[inside].mean())
    closed_frames = [k for k in redness if min(motion.expression_at(k / 30).eyes_closed()) >= 0.5]
    assert closed_frames == [40, 41, 42]
    assert min(redness[k] for k in closed_frames) > 100, redness
    assert max(redness[k] for k in redness if k not in closed_frames) < 60, redness


def test_render_with_views_per_frame_reads_fewer_views_and_says_when_it_cannot(tmp_path, capsys, monkeypatch):
    import numpy as np

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    base = ["render", "--motion", "demo", "--frames", "2", "--size", str(SIZE), "--no-drawn-detail"]
    built_in = [*base, "--sheet", str(SHEET)]  # 4 views with sheet_udp/ beside them
    assert main([*built_in, "--out", str(tmp_path / "all")]) == 0
    assert main([*built_in, "--views-per-frame", "1", "--out", str(tmp_path / "one")]) == 0
    frames = {
        name: cv2.imread(str(tmp_path / name / "frame_000001.png"), cv2.IMREAD_UNCHANGED) for name in ("all", "one")
    }
    assert np.abs(frames["all"].astype(int) - frames["one"].astype(int)).max() > 8  # another sheet state
    bare = tmp_path / "bare"
    bare.mkdir()
    for view in sorted(SHEET.glob("*.png")):
        (bare / view.name).write_bytes(view.read_bytes())
    capsys.readouterr()
    assert main([*base, "--sheet", str(bare), "--views-per-frame", "2", "--out", str(tmp_path / "x")]) == 2
    assert "--views-per-frame" in capsys.readouterr().err


def test_render_at_an_output_size_above_the_networks_writes_frames_of_the_output_size(tmp_path, poses, capsys):
    frames = tmp_path / "frames"
    argv = ["render", "--sheet", str(SHEET), "--poses", str(poses), "--size", "256", "--internal-size", "128"]
    assert main([*argv, "--out", str(frames)]) == 0
    assert "at 256x256 with 4 views (CoNR at 128x128" in capsys.readouterr().out
    pngs = sorted(frames.glob("*.png"))
    assert len(pngs) == 3 and cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED).shape == (256, 256, 4)
