"""CaptureSource over real video files, with failures injected behind the real VideoCapture interface."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from avatar_app.core.errors import InputError, SettingError
from avatar_app.tracking.capture import CaptureSource, CaptureState, CaptureStatus

from helpers import wait_until


class StatusLog:
    """Collects every status change; wait_for() blocks until a predicate on the history holds."""

    def __init__(self):
        self.history: list[CaptureStatus] = []
        self._cond = threading.Condition()

    def __call__(self, status: CaptureStatus) -> None:
        with self._cond:
            self.history.append(status)
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.history), timeout)

    def texts(self) -> list[str]:
        return [str(s) for s in self.history]


class FlakyCapture:
    """A real cv2.VideoCapture whose read() fails for a while after some good frames."""

    def __init__(self, inner: cv2.VideoCapture, plan: dict):
        self._inner, self._plan = inner, plan

    def read(self):
        self._plan["reads"] += 1
        if self._plan["fail_after"] < self._plan["reads"] and self._plan["failures_left"] > 0:
            self._plan["failures_left"] -= 1
            return False, None
        return self._inner.read()

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_frames_are_rgb_with_increasing_timestamps(video_file):
    with CaptureSource(video_file, realtime=False) as capture:
        frames = []
        while (frame := capture.read(timeout=5)) is not None:
            frames.append(frame)
            if len(frames) == 3:
                break
    # frames are taken as they come; any three consecutive ones cycle blue, green, red (BGR order in the file)
    first = frames[0]
    assert first.rgb.dtype == np.uint8 and first.rgb.shape == (48, 64, 3) and first.rgb.flags.c_contiguous
    assert first.size == (48, 64)
    assert [f.timestamp for f in frames] == sorted(f.timestamp for f in frames)
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    for frame in frames:
        dominant = int(np.argmax(frame.rgb[24:, :].reshape(-1, 3).mean(axis=0)))
        written_bgr = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255)][frame.index % 3])
        assert dominant == 2 - int(np.argmax(written_bgr)), "frames must be RGB, not BGR"


def test_file_end_is_explicit_when_not_looping(video_file):
    statuses = StatusLog()
    capture = CaptureSource(video_file, realtime=False, on_status=statuses).start()
    assert statuses.wait_for(lambda h: h and h[-1].state is CaptureState.ENDED)
    assert capture.status == "ended"
    assert capture.frames_read == 12
    assert capture.frames.closed
    capture.close()
    assert capture.status == "ended"


def test_looping_file_keeps_producing_frames(video_file):
    with CaptureSource(video_file, realtime=False, loop=True) as capture:
        assert wait_until(lambda: capture.frames_read > 30)
        assert capture.status == "running"
        assert capture.losses == 0


def test_file_is_paced_at_its_own_frame_rate(tmp_path, make_video):
    path = make_video(tmp_path / "slow.mp4", frames=10, fps=20.0)
    start = time.monotonic()
    statuses = StatusLog()
    with CaptureSource(path, on_status=statuses):
        assert statuses.wait_for(lambda h: h and h[-1].state is CaptureState.ENDED)
    assert time.monotonic() - start >= 0.4  # 10 frames at 20 fps


def test_slow_consumer_sees_newest_frame_and_drops_are_counted(video_file):
    with CaptureSource(video_file, realtime=False, loop=True) as capture:
        assert wait_until(lambda: capture.frames_read > 20)
        frame = capture.read(timeout=1)
        assert frame is not None and frame.index >= 20
        assert capture.frames.dropped > 0


def test_read_failures_report_camera_lost_and_frames_resume(video_file):
    plan = {"reads": 0, "fail_after": 4, "failures_left": 3}
    statuses = StatusLog()
    capture = CaptureSource(
        video_file,
        realtime=False,
        loop=True,
        capture_factory=lambda src: FlakyCapture(cv2.VideoCapture(src), plan),
        on_status=statuses,
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )
    with capture:
        assert statuses.wait_for(lambda h: any(s.state is CaptureState.LOST for s in h))
        assert wait_until(lambda: capture.reconnects >= 1 and capture.frames_read > 20)
        assert capture.status == "running"
    texts = statuses.texts()
    assert texts[0] == "running"
    assert "camera lost, retrying in 0.05 s" in texts
    assert "running" in texts[texts.index("camera lost, retrying in 0.05 s") :]
    assert capture.losses >= 1
    assert capture.status == "stopped"


def test_open_failing_twice_backs_off_exponentially_then_runs(video_file):
    opens = {"n": 0}

    def factory(src):
        opens["n"] += 1
        return cv2.VideoCapture() if opens["n"] <= 2 else cv2.VideoCapture(src)  # a real, not-opened capture

    statuses = StatusLog()
    with CaptureSource(
        video_file,
        realtime=False,
        loop=True,
        capture_factory=factory,
        on_status=statuses,
        backoff_initial_s=0.05,
        backoff_max_s=1.0,
    ) as capture:
        assert statuses.wait_for(lambda h: any(s.state is CaptureState.RUNNING for s in h))
        assert wait_until(lambda: capture.read(timeout=1) is not None)
    lost = [s for s in statuses.history if s.state is CaptureState.LOST]
    assert [s.retry_in_s for s in lost] == [0.05, 0.1]
    assert all(s.reason == "could not open" for s in lost)
    assert statuses.history[2].state is CaptureState.RUNNING
    assert capture.losses == 2 and capture.reconnects == 1


def test_backoff_is_capped_and_a_raising_factory_never_kills_the_thread():
    calls = {"n": 0}

    def factory(src):
        calls["n"] += 1
        raise RuntimeError("backend exploded")

    statuses = StatusLog()
    capture = CaptureSource(0, capture_factory=factory, on_status=statuses, backoff_initial_s=0.01, backoff_max_s=0.04)
    with capture:
        assert wait_until(lambda: calls["n"] >= 6)
        assert capture.status == "camera lost, retrying in 0.04 s"
        assert capture.losses >= 5
    retries = [s.retry_in_s for s in statuses.history if s.state is CaptureState.LOST]
    assert retries[:3] == [0.01, 0.02, 0.04]
    assert max(retries) == 0.04
    assert "RuntimeError: backend exploded" in statuses.history[0].reason
    assert capture.status == "stopped"


def test_missing_camera_device_is_reported_as_lost_not_raised():
    with CaptureSource("/dev/video-does-not-exist", backoff_initial_s=0.05) as capture:
        assert wait_until(lambda: capture.state is CaptureState.LOST)
        assert capture.read(timeout=0.05) is None
    assert capture.status == "stopped"


def _new_threads(before: set[threading.Thread]) -> list[str]:
    return [t.name for t in set(threading.enumerate()) - before if t.is_alive()]


def test_close_interrupts_the_pacing_wait_and_is_idempotent(video_file):
    # fps=0.001 paces the file at one frame per 1000 s: after its first frame the thread sits in that wait,
    # and only close() waking it lets the thread end within the join timeout (a guard, not a speed check).
    before = set(threading.enumerate())
    capture = CaptureSource(video_file, fps=0.001, loop=True, join_timeout_s=10.0).start()
    assert wait_until(lambda: capture.frames_read == 1)
    capture.close()
    capture.close()
    assert not _new_threads(before), "close() returned with the capture thread still waiting"
    assert capture.status == "stopped"
    capture.read(timeout=0.01)  # at most the last frame is left in the closed slot
    assert capture.read(timeout=0.01) is None


def test_close_interrupts_the_reconnect_backoff():
    statuses, before = StatusLog(), set(threading.enumerate())
    capture = CaptureSource(
        0,
        capture_factory=lambda src: cv2.VideoCapture(),
        on_status=statuses,
        backoff_initial_s=1000.0,
        backoff_max_s=1000.0,
        join_timeout_s=10.0,
    ).start()
    assert statuses.wait_for(lambda h: h and h[-1].state is CaptureState.LOST), "the first open fails"
    capture.close()
    assert not _new_threads(before), "close() returned with the capture thread still backing off"
    assert capture.status == "stopped"


def test_a_raising_status_callback_does_not_stop_frames(video_file):
    calls = []

    def broken(status):
        calls.append(status.state)
        raise ValueError("ui gone")

    with CaptureSource(video_file, realtime=False, loop=True, on_status=broken) as capture:
        assert wait_until(lambda: capture.frames_read > 15)
        assert calls == [CaptureState.RUNNING], "the callback ran (and raised) once, for running"
    assert calls == [CaptureState.RUNNING, CaptureState.STOPPED], "and it is still called after raising"


def test_missing_file_is_rejected_with_a_fix(tmp_path):
    with pytest.raises(InputError, match="expected an existing video file.*Fix: check the path"):
        CaptureSource(str(tmp_path / "nope.mp4"))


@pytest.mark.parametrize(
    "kwargs", [{"width": 0}, {"fps": -1}, {"loop": True}, {"backoff_initial_s": 2.0, "backoff_max_s": 1.0}]
)
def test_bad_settings_are_rejected_at_construction(kwargs):
    with pytest.raises(SettingError):
        CaptureSource(0, **kwargs)


def test_digit_strings_mean_camera_indices():
    assert CaptureSource("1").source == 1
