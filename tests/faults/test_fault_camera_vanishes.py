"""The camera vanishes (unplugged: its device is gone, reads fail and so does opening it again) and
comes back: the stream goes on with the pose held and the loss said, then takes the camera's
pictures again. The camera is a cv2.VideoCapture over a video file standing in for the device
node: moving the file away is the unplug, moving it back is plugging it in again."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from fault_helpers import SIZE, CountingSink

from avatar_app.pipeline import CameraPoseSource, LivePipeline, ProxyRenderer
from avatar_app.tracking.capture import CaptureSource

from helpers import wait_until

CAMERA_FPS = 30.0


class DeviceNodeCamera:
    """``cv2.VideoCapture`` on ``path`` as a camera sees it: frames at the camera's rate, the clip
    started again at its end (a camera does not end), and reads failing once the device is gone."""

    def __init__(self, path: Path):
        self.path = path
        self.capture = cv2.VideoCapture(str(path))  # a missing path: not opened, as a missing device

    def isOpened(self) -> bool:
        return self.capture.isOpened()

    def read(self):
        time.sleep(1.0 / CAMERA_FPS)
        if not self.path.exists():
            return False, None
        ok, frame = self.capture.read()
        if not ok:
            self.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.capture.read()
        return ok, frame

    def get(self, prop_id: int) -> float:
        return self.capture.get(prop_id)

    def set(self, prop_id: int, value: float) -> bool:
        return self.capture.set(prop_id, value)

    def release(self) -> None:
        self.capture.release()


class NobodyTracker:
    """The landmark step's interface without mediapipe: the test is about the pictures arriving."""

    def track(self, rgb, timestamp):
        return None

    def close(self) -> None:
        pass


def write_clip(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), CAMERA_FPS, (96, 64))
    for i in range(30):
        image = np.full((64, 96, 3), 60, np.uint8)
        cv2.circle(image, (10 + 2 * i, 32), 8, (0, 200, 255), -1)
        writer.write(image)
    writer.release()
    return path


def test_an_unplugged_camera_is_said_the_stream_goes_on_and_its_return_is_picked_up(
    tmp_path, character, no_new_threads
):
    device = write_clip(tmp_path / "video0.mp4")
    away = tmp_path / "unplugged.mp4"
    capture = CaptureSource(
        0, capture_factory=lambda index: DeviceNodeCamera(device), backoff_initial_s=0.2, backoff_max_s=0.4
    )
    source = CameraPoseSource(capture, character.skeleton, fps=CAMERA_FPS, tracker=NobodyTracker())
    pictures = []
    tap = lambda stage, frame: pictures.append(frame.image is not None) if stage == "pose" else None  # noqa: E731
    sink = CountingSink()
    with LivePipeline(source, ProxyRenderer(), [sink], character=character, size=SIZE, tap=tap) as pipeline:
        assert wait_until(lambda: sink.count >= 5 and pipeline.status.source.startswith("running"), timeout=60)
        device.rename(away)  # unplugged
        assert wait_until(lambda: pipeline.status.source.startswith("camera lost, retrying in"), timeout=30)
        lost_at, pictures_at = sink.count, len(pictures)
        assert wait_until(lambda: sink.count >= lost_at + 10, timeout=60), "the stream stopped with the camera"
        assert not any(pictures[pictures_at:]), "while lost the pose is held, there is no picture"
        assert capture.losses >= 2, "opening the missing device again failed too (a real unplug)"
        away.rename(device)  # plugged in again
        assert wait_until(lambda: capture.reconnects >= 1 and pipeline.status.source.startswith("running"), 30)
        back_at = len(pictures)
        assert wait_until(lambda: sum(pictures[back_at:]) >= 5, timeout=60), "the camera's pictures came back"
        assert pipeline.status.state == "running" and pipeline.status.error is None
    assert pipeline.status.state == "stopped"
