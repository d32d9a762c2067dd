"""Camera sources on real video files through CaptureSource, with failures injected behind the
VideoCapture interface: camera loss keeps frames coming and recovers; nobody in view is a state."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from avatar_app.core.frames import UdpMap
from avatar_app.pipeline import CameraPoseSource, LivePipeline, ProxyRenderer, UdpDetectorSource, letterbox
from avatar_app.tracking.capture import CaptureSource

from helpers import wait_until
from pipeline_helpers import SIZE, FlakyCapture, astronaut_rgb, write_frames_video

needs_mediapipe = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None,
    reason="mediapipe 1.x not installed (see tracking.landmarks.MEDIAPIPE_INSTALL_FIX)",
)


class StatusLog:
    """Polls the pipeline status from the test thread and keeps (source status, frames sent) pairs."""

    def __init__(self, pipeline):
        self.pipeline, self.seen = pipeline, []

    def poll(self, predicate, timeout=30.0) -> bool:
        def check():
            status = self.pipeline.status
            self.seen.append((status.source, status.frames_sent))
            return predicate(status)

        return wait_until(check, timeout, interval=0.01)


@needs_mediapipe
def test_camera_loss_is_reported_frames_keep_coming_and_tracking_resumes(
    tmp_path, character, make_sink, no_new_threads
):
    video = write_frames_video(tmp_path / "person.mp4", [astronaut_rgb(256)] * 10, fps=30.0)
    plan = {"reads": 0, "fail_after": 8, "failures_left": 2}
    capture = CaptureSource(
        video,
        loop=True,
        capture_factory=lambda src: FlakyCapture(cv2.VideoCapture(src), plan),
        backoff_initial_s=0.3,
        backoff_max_s=0.6,
    )
    sink = make_sink()
    source = CameraPoseSource(capture, character.skeleton, fps=30.0)
    with LivePipeline(source, ProxyRenderer(), [sink], character=character, size=SIZE) as pipeline:
        log = StatusLog(pipeline)
        assert log.poll(lambda s: s.source.startswith("camera lost")), f"never lost: {log.seen[-3:]}"
        lost_at = pipeline.frames_sent
        assert log.poll(lambda s: s.source.startswith("running") and capture.reconnects >= 1), (
            f"never resumed: {log.seen[-3:]}"
        )
        during_loss = [frames for text, frames in log.seen if text.startswith("camera lost")]
        assert max(during_loss) - lost_at >= 5, "frames keep coming while the camera is lost"
        resumed_at = pipeline.frames_sent
        assert log.poll(lambda s: s.frames_sent >= resumed_at + 5)
        status = pipeline.status
        assert status.state == "running" and status.error is None
        assert status.source == "running", "the astronaut is tracked again (not 'no person in view')"
        assert status.stages_ms["landmarks"]["count"] >= 5 and "retarget" in status.stages_ms
    assert any(text == "camera lost, retrying in 0.3 s" for text, _ in log.seen)
    assert capture.losses >= 1 and capture.status == "stopped"
    assert pipeline.status.state == "stopped"


@needs_mediapipe
def test_nobody_in_view_is_a_status_and_the_avatar_stands_idle(tmp_path, character, make_sink, no_new_threads):
    grey = np.full((96, 128, 3), 90, np.uint8)
    video = write_frames_video(tmp_path / "empty.mp4", [grey] * 6)
    sink = make_sink()
    source = CameraPoseSource(CaptureSource(video, loop=True), character.skeleton)
    with LivePipeline(source, ProxyRenderer(), [sink], character=character, size=SIZE) as pipeline:
        assert wait_until(lambda: pipeline.status.source == "running, no person in view" and pipeline.frames_sent >= 3)
    assert sink.frames[-1].data[..., 3].mean() > 0.02, "the idle avatar is still drawn"


@needs_mediapipe
def test_a_video_source_ends_the_pipeline_when_the_file_ends(tmp_path, character, make_sink, no_new_threads):
    video = write_frames_video(tmp_path / "short.mp4", [np.full((64, 64, 3), 90, np.uint8)] * 5)
    sink = make_sink()
    source = CameraPoseSource(CaptureSource(video, realtime=False), character.skeleton)
    with LivePipeline(source, ProxyRenderer(), [sink], character=character, size=SIZE) as pipeline:
        assert pipeline.wait(30)
        assert pipeline.status.state == "ended" and pipeline.status.source == "ended"
    assert 1 <= len(sink.frames) <= 5


def test_letterbox_keeps_the_aspect_and_centres_on_black():
    wide = np.full((90, 160, 3), 200, np.uint8)
    out = letterbox(wide, 128)
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    rows = np.nonzero(out[:, 64, 0])[0]
    assert (rows.min(), rows.max()) == (28, 99)  # 160x90 -> 128x72, centred
    assert out[0, 0].tolist() == [0, 0, 0] and out[64, 0].tolist() == [200, 200, 200]


class ShapeRecordingDetector:
    """Stands in for UDPDetector: records what it was given, answers with a map the pipeline can show."""

    def __init__(self):
        self.inputs = []

    def detect(self, image, timestamp=0.0):
        self.inputs.append(image.shape)
        data = np.zeros((image.shape[0], image.shape[1], 4), np.float32)
        data[32:96, 48:80] = (0.5, 0.5, 0.5, 1.0)
        return UdpMap(data, timestamp)


def test_udp_detector_source_feeds_model_sized_pictures_and_skips_the_rig(tmp_path, make_sink, no_new_threads):
    video = write_frames_video(tmp_path / "clip.mp4", [np.full((48, 64, 3), 120, np.uint8)] * 8)
    detector, sink = ShapeRecordingDetector(), make_sink()
    source = UdpDetectorSource(CaptureSource(video, loop=True), detector, SIZE)
    with LivePipeline(source, ProxyRenderer(), [sink], size=SIZE, max_frames=4) as pipeline:
        assert pipeline.wait(30)
        stages = pipeline.status.stages_ms
    assert set(detector.inputs) == {(SIZE, SIZE, 3)}
    assert "detect" in stages and "rig" not in stages
    assert sink.frames[0].data[64, 64, 3] == 1.0


def test_udp_detector_source_runs_the_real_detector(tmp_path, make_sink, lite_networks, no_new_threads):
    from avatar_app.infer import UDPDetector

    video = write_frames_video(tmp_path / "person.mp4", [astronaut_rgb(160)] * 4)
    sink = make_sink()
    source = UdpDetectorSource(CaptureSource(video, loop=True), UDPDetector(lite_networks), SIZE)
    with LivePipeline(source, ProxyRenderer(), [sink], size=SIZE, max_frames=2) as pipeline:
        assert pipeline.wait(60)
    assert pipeline.status.state == "ended" and len(sink.frames) == 2
    data = sink.frames[0].data
    assert data.shape == (SIZE, SIZE, 4) and 0.0 <= data.min() and data.max() <= 1.0
