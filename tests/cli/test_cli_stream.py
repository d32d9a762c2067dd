"""`avatar-app stream` end to end: real sinks, real rig and rasterizer, the proxy or CoNR renderer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_app.cli.main import main
from avatar_app.io.video import read_video_frames

REPO = Path(__file__).resolve().parents[2]


def green_screen_silhouette(frames: np.ndarray) -> np.ndarray:
    """Avatar pixels of RGB frames composited over #00ff00 (mp4v keeps the key colour within a margin)."""
    f = frames.astype(np.int16)
    return ~((f[..., 1] > 200) & (f[..., 0] < 70) & (f[..., 2] < 70))


def test_demo_to_mp4_writes_exactly_n_frames_of_a_moving_avatar_and_reports_stats(tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    argv = [
        "stream",
        "--source",
        "demo",
        "--sink",
        f"file:{out}",
        "--frames",
        "60",
        "--size",
        "128",
        "--renderer",
        "proxy",
    ]
    assert main(argv) == 0
    frames = np.stack(read_video_frames(out))
    assert frames.shape == (60, 128, 128, 3)
    silhouettes = green_screen_silhouette(frames)
    assert 0.03 < silhouettes.mean() < 0.6
    changed = (silhouettes[1:] != silhouettes[:-1]).sum(axis=(1, 2))
    assert (changed > 0).mean() > 0.9, f"the avatar moves from frame to frame: {changed.tolist()}"
    captured = capsys.readouterr()
    assert "ended: 60 frames" in captured.out
    for stage in ("pose", "rig", "raster", "render", "send", "latency (end to end)"):
        assert stage in captured.out
    assert "p50 ms" in captured.out and "p95 ms" in captured.out and "dropped" in captured.out


def test_without_weights_the_default_renderer_is_the_proxy_with_a_warning(tmp_path, monkeypatch, capsys):
    from avatar_app.cli import stream

    monkeypatch.setattr(
        stream, "DEFAULT_WEIGHTS", tmp_path / "weights" / "lite"
    )  # as if the shipped weights were deleted
    assert main(["stream", "--sink", f"file:{tmp_path / 'o.mp4'}", "--frames", "2", "--size", "128"]) == 0
    captured = capsys.readouterr()
    assert "warning: no trained CoNR weights found" in captured.err and "--weights DIR" in captured.err
    assert "renderer proxy" in captured.out
    assert main(["stream", "--sink", "virtualcam", "--renderer", "conr"]) == 2, (
        "conr without weights is a setting error"
    )
    assert "--weights" in capsys.readouterr().err


def test_png_sequence_sink_keeps_alpha(tmp_path):
    folder = tmp_path / "frames"
    assert main(["stream", "--sink", f"file:{folder}", "--frames", "3", "--size", "128", "--renderer", "proxy"]) == 0
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) == 3
    rgba = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (128, 128, 4)
    alpha = rgba[..., 3]
    assert (alpha == 0).mean() > 0.4 and (alpha == 255).mean() > 0.03, "transparent background, opaque avatar"


def test_browser_sink_url_is_printed(capsys):
    assert main(["stream", "--sink", "browser:0", "--frames", "3", "--size", "128", "--renderer", "proxy"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("browser source: "))
    url = line.split()[2]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/") and not url.endswith(":0/")


def test_status_lines_are_plain_lines_when_stderr_is_not_a_terminal(tmp_path, capsys):
    assert (
        main(
            ["stream", "--sink", f"file:{tmp_path / 'o.mp4'}", "--frames", "40", "--size", "128", "--renderer", "proxy"]
        )
        == 0
    )
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if " fps | " in line]
    assert lines, err
    assert "\r" not in err
    assert "latency" in lines[-1] and "source: running" in lines[-1] and "dropped" in lines[-1]


def test_status_line_is_rewritten_in_place_on_a_terminal():
    import io

    from avatar_app.cli.stream import StatusPrinter

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    printer = StatusPrinter(term)
    printer.update("30.0 fps | a")
    printer.update("29.9 fps | b")
    printer.finish()
    assert term.getvalue() == "\r30.0 fps | a\x1b[K\r29.9 fps | b\x1b[K\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--source", "kinect", "--sink", "virtualcam"], "--source"),
        (["--sink", "ftp:host"], "--sink"),
        (["--source", "vmc:70000", "--sink", "virtualcam"], "0..65535"),
        (["--sink", "browser:-1"], "0..65535"),
        (["--source", "video:/no/such/clip.mp4", "--sink", "virtualcam"], "no such file"),
        (["--sink", "virtualcam", "--frames", "0"], "--frames"),
        (["--sink", "virtualcam", "--size", "200"], "multiple of 128"),
        (["--sink", "virtualcam", "--background", "green"], "--background"),
        (["--sink", "virtualcam", "--udp-detector"], "webcam or video"),
        (["--sink", "virtualcam", "--renderer", "conr", "--weights", "/no/such/weights"], "--weights"),
        (
            ["--sink", "virtualcam", "--backend", "onnxruntime", "--precision", "bf16"],
            "--precision: expected fp32 with --backend onnxruntime, found bf16",
        ),
        (["--sink", "virtualcam", "--backend", "tensorrt", "--precision", "bf16"], "use --precision fp32 or fp16"),
    ],
)
def test_bad_settings_are_setting_errors_with_a_fix(argv, message, capsys):
    assert main(["stream", *argv]) == 2
    err = capsys.readouterr().err
    assert "avatar-app: error:" in err and message in err and "Fix:" in err


def test_virtual_camera_sink_gets_rgb_frames_over_the_background(monkeypatch, capsys):
    pyvirtualcam = pytest.importorskip("pyvirtualcam")

    class Recorder:
        frames = []

        def __init__(self, *, width, height, fps, fourcc, device, **kw):
            self.width, self.height = width, height

        def send(self, frame):
            Recorder.frames.append(frame.reshape(self.height, self.width, 3).copy())

        def close(self):
            pass

        def device(self):
            return "/dev/test-stream"

        def native_fourcc(self):
            return None

    monkeypatch.setitem(pyvirtualcam.camera.BACKENDS, "avatar-test-stream", Recorder)
    for other in [name for name in pyvirtualcam.camera.BACKENDS if name != "avatar-test-stream"]:
        monkeypatch.delitem(pyvirtualcam.camera.BACKENDS, other)
    argv = [
        "stream",
        "--sink",
        "virtualcam",
        "--frames",
        "4",
        "--size",
        "128",
        "--renderer",
        "proxy",
        "--background",
        "#0000ff",
    ]
    assert main(argv) == 0
    assert "virtual camera: /dev/test-stream" in capsys.readouterr().out
    assert len(Recorder.frames) == 4
    first = Recorder.frames[0]
    assert first.shape == (128, 128, 3) and tuple(first[0, 0]) == (0, 0, 255)


@pytest.fixture(scope="module")
def lite_weights(tmp_path_factory) -> Path:
    """Synthetic lite weights in the checkpoint layout, with model.json saying the preset."""
    from avatar_app.models import create_conr, fill_networks, save_conr_weights

    folder = tmp_path_factory.mktemp("lite_weights")
    save_conr_weights(fill_networks(create_conr("lite", init=False)), folder)
    (folder / "model.json").write_text('{"preset": "lite"}')
    return folder


def test_weights_make_conr_the_default_renderer(tmp_path, lite_weights, capsys):
    out = tmp_path / "conr.mp4"
    argv = [
        "stream",
        "--sink",
        f"file:{out}",
        "--frames",
        "2",
        "--size",
        "128",
        "--views",
        "1",
        "--weights",
        str(lite_weights),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "no trained CoNR weights" not in captured.err
    assert "renderer conr (lite)" in captured.out
    assert len(read_video_frames(out)) == 2


def test_ctrl_c_stops_the_stream_cleanly(tmp_path):
    out = tmp_path / "live.mp4"
    cmd = [
        sys.executable,
        "-m",
        "avatar_app.cli.main",
        "stream",
        "--sink",
        f"file:{out}",
        "--size",
        "128",
        "--renderer",
        "proxy",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen += line
            if " fps | " in line:
                break
        else:
            pytest.fail(f"no status line within 60 s:\n{seen}")
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "stopped by signal" in stdout and "Traceback" not in stderr
    assert len(read_video_frames(out)) >= 1, "the file is finished and readable"


def test_stream_on_onnx_runtime_uses_the_weights_deployment(
    tmp_path, lite_weights, lite_deploy_root, monkeypatch, capsys
):
    monkeypatch.setenv("AVATAR_APP_DEPLOY", str(lite_deploy_root))  # holds these weights' graphs at 128²
    out = tmp_path / "ort.mp4"
    argv = [
        "stream",
        "--sink",
        f"file:{out}",
        "--frames",
        "2",
        "--size",
        "128",
        "--views",
        "2",
        "--backend",
        "onnxruntime",
        "--weights",
        str(lite_weights),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "renderer conr (lite, onnxruntime)" in captured.out and "exporting" not in captured.err
    assert len(read_video_frames(out)) == 2


def test_stream_udp_detector_on_onnx_runtime(tmp_path, lite_weights, lite_deploy_root, monkeypatch, capsys):
    from avatar_app.infer.onnxruntime_backend import OrtUDPDetector

    monkeypatch.setenv("AVATAR_APP_DEPLOY", str(lite_deploy_root))
    calls, detect = [], OrtUDPDetector.detect_tensor
    monkeypatch.setattr(OrtUDPDetector, "detect_tensor", lambda self, rgb: calls.append(rgb.shape) or detect(self, rgb))
    video = tmp_path / "person.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for i in range(4):
        writer.write(np.full((120, 160, 3), 60 + 30 * i, np.uint8))
    writer.release()
    out = tmp_path / "detected"
    argv = [
        "stream",
        "--source",
        f"video:{video}",
        "--udp-detector",
        "--renderer",
        "proxy",
        "--backend",
        "onnxruntime",
        "--weights",
        str(lite_weights),
        "--sink",
        f"file:{out}",
        "--frames",
        "2",
        "--size",
        "128",
    ]
    assert main(argv) == 0
    assert "(UDP detector) -> proxy" in capsys.readouterr().out
    assert len(list(out.glob("*.png"))) == 2 and calls and set(calls) == {(1, 3, 128, 128)}, (
        "the detector ran on the ONNX graph"
    )
