"""The window's session and taps without any widget: what reaches the previews, outputs that fail
or finish, and that every start and stop happens on the session's worker."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_app.core.frames import RgbaFrame
from avatar_app.outputs.base import FrameSink
from avatar_app.pipeline import CameraPoseSource, LivePipeline, PipelineSettings, ProxyRenderer
from avatar_app.pipeline.output_hub import OutputHub, OutputRequest, PreviewSink, PreviewTap
from avatar_app.pipeline.session import LiveSession
from avatar_app.pipeline.specs import SourceSpec
from avatar_app.tracking.capture import CaptureSource

from helpers import wait_until

SIZE = 128


def wait_for_passes(session: LiveSession, count: int = 3) -> None:
    """Until the worker has looked at the state ``count`` more times (nothing woke it)."""
    start = session.passes
    assert wait_until(lambda: session.passes >= start + count)


class ListSink(FrameSink):
    def __init__(self, fail_at: int | None = None):
        super().__init__(name="list")
        self.fail_at, self.count, self.closed_by = fail_at, 0, None

    def _send(self, frame):
        self.count += 1
        if self.fail_at is not None and self.count >= self.fail_at:
            raise OSError("disk full")

    def _close(self):
        self.closed_by = threading.current_thread().name


@pytest.fixture(scope="module")
def character():
    from avatar_app.pipeline.defaults import load_character

    return load_character()


@pytest.fixture
def video_file(tmp_path) -> Path:
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (96, 64))
    for i in range(60):
        image = np.full((64, 96, 3), 40, np.uint8)
        cv2.circle(image, (10 + i, 32), 8, (0, 200, 255), -1)
        writer.write(image)
    writer.release()
    return path


class NobodyTracker:
    """A tracker that never finds a person (the pose holds; the picture still reaches the preview)."""

    def track(self, rgb, timestamp):
        return None

    def close(self):
        pass


def test_the_tap_hands_the_camera_picture_and_the_udp_map_to_the_preview(character, video_file, no_new_threads):
    hub, tap = OutputHub(), PreviewTap()
    source = CameraPoseSource(CaptureSource(str(video_file)), character.skeleton, tracker=NobodyTracker())
    with LivePipeline(source, ProxyRenderer(), [PreviewSink(hub)], character=character, size=SIZE, tap=tap):
        assert wait_until(
            lambda: tap.camera.peek() is not None and tap.udp.peek() is not None and hub.latest.peek() is not None
        )
        image, landmarks = tap.camera.take(0)
        assert image.shape == (64, 96, 3) and image.dtype == np.uint8 and landmarks is None
        udp = tap.udp.take(0)
        assert udp.data.shape == (SIZE, SIZE, 4) and udp.visibility.max() > 0
        assert isinstance(hub.latest.take(0), RgbaFrame)
        assert "no person in view" in source.status


def test_an_output_that_fails_is_switched_off_and_the_others_keep_their_frames():
    failures = []
    hub = OutputHub(on_failure=lambda: failures.append(1))
    broken, good = ListSink(fail_at=2), ListSink()
    hub.attach("record", broken)
    hub.attach("browser", good)
    frame = RgbaFrame(np.zeros((8, 8, 4), np.float32))
    for _ in range(4):
        hub.deliver(frame)
    assert good.count == 4 and broken.count == 2
    failed = hub.take_failures()
    assert list(failed) == ["record"] and "disk full" in failed["record"][1]
    assert failures == [1]
    assert hub.detach("record") is None and hub.detach("browser") is good


def test_outputs_wait_for_the_pipeline_and_a_finished_recording_is_never_reopened(tmp_path, no_new_threads):
    session = LiveSession(poll_s=0.01)
    try:
        record = tmp_path / "take1.mp4"
        session.set_outputs(OutputRequest(record_path=record))
        assert wait_until(lambda: session.snapshot().outputs["record"].state == "waiting")
        config = PipelineSettings(SourceSpec("demo"), size=SIZE)
        session.set_config(config)
        assert wait_until(lambda: session.snapshot().outputs["record"].state == "on")
        snapshot = session.snapshot()
        assert snapshot.phase == "running" and snapshot.config == config
        assert wait_until(lambda: session.snapshot().status.frames_sent >= 5)
        session.set_config(None)
        assert wait_until(lambda: session.snapshot().outputs["record"].detail.startswith(f"saved {record}"))
        assert session.snapshot().phase == "stopped"
        size = record.stat().st_size
        session.set_config(config)  # the window still asks for the same file: it must not be overwritten
        assert wait_until(lambda: session.snapshot().phase == "running")
        wait_for_passes(session)
        assert session.snapshot().outputs["record"].state == "off" and record.stat().st_size == size
    finally:
        session.close()
    assert not session._thread.is_alive()


def test_a_pipeline_that_cannot_start_reports_why_and_is_not_retried_until_asked(tmp_path, no_new_threads):
    calls = []

    def broken_character():
        calls.append(1)
        raise RuntimeError("no rig today")

    session = LiveSession(character_loader=broken_character, poll_s=0.01)
    try:
        session.set_config(PipelineSettings(SourceSpec("demo"), size=SIZE))
        assert wait_until(lambda: session.snapshot().phase == "failed")
        assert "no rig today" in session.snapshot().message
        wait_for_passes(session)  # the worker polls; it must not retry the same config by itself
        assert calls == [1]
        session.restart()
        assert wait_until(lambda: len(calls) == 2)
    finally:
        session.close()


def test_a_conr_session_on_onnx_runtime_renders_from_the_weights_deployment(
    tmp_path, lite_deploy_root, monkeypatch, no_new_threads
):
    from avatar_app.models import create_conr, fill_networks, save_weights_folder

    monkeypatch.setenv("AVATAR_APP_DEPLOY", str(lite_deploy_root))  # holds the synthetic lite graphs at 128²
    weights = tmp_path / "weights"
    save_weights_folder(fill_networks(create_conr("lite", init=False)), weights)
    sheet = Path(__file__).resolve().parents[2] / "assets" / "characters" / "default" / "sheet"
    session = LiveSession()
    try:
        settings = PipelineSettings(
            SourceSpec("demo"),
            renderer="conr",
            sheet_dir=sheet,
            weights=weights,
            backend="onnxruntime",
            size=SIZE,
            views=2,
        )
        session.set_config(settings)
        assert wait_until(lambda: session.hub.latest.peek() is not None, timeout=120), session.snapshot().message
        snapshot = session.snapshot()
        assert snapshot.phase == "running" and snapshot.status.renderer == "conr (lite, onnxruntime)"
        frame = session.hub.latest.take(0)
        assert frame.data.shape == (SIZE, SIZE, 4) and frame.data[..., 3].max() > 0.5
    finally:
        session.close()


def test_a_character_file_rewritten_in_place_is_loaded_again_on_restart(character, tmp_path, no_new_threads):
    """The fit editor saves a character's avatar.glb under the same path and restarts the session."""
    import os

    body = tmp_path / "avatar.glb"
    body.write_bytes(b"version 1")
    loaded = []

    def load(path=None):
        loaded.append((path, path.read_bytes() if path else None))
        return character

    session = LiveSession(character_loader=load, poll_s=0.01)
    try:
        session.set_config(PipelineSettings(SourceSpec("demo"), size=SIZE, character=body))
        assert wait_until(lambda: session.snapshot().phase == "running")
        session.restart()  # the same file: not read again
        wait_for_passes(session)
        assert wait_until(lambda: session.snapshot().phase == "running")
        assert loaded == [(body, b"version 1")]
        body.write_bytes(b"version 2!")
        os.utime(body, ns=(body.stat().st_atime_ns, body.stat().st_mtime_ns + 1_000_000_000))
        session.restart()
        assert wait_until(lambda: len(loaded) == 2)
        assert loaded[1] == (body, b"version 2!")
        assert wait_until(lambda: session.snapshot().phase == "running")
    finally:
        session.close()
