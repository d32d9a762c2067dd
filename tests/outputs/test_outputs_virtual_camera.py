"""VirtualCameraSink against pyvirtualcam's real Camera class, with a test backend behind
its documented backend registry, and against the real v4l2loopback backend where no
device exists (this machine)."""

import glob
import platform

import numpy as np
import pytest

pyvirtualcam = pytest.importorskip("pyvirtualcam")
from pyvirtualcam.util import encode_fourcc  # noqa: E402

from avatar_app.core.errors import DeviceError, SettingError  # noqa: E402
from avatar_app.outputs import FrameMismatchError, VirtualCameraSink, virtual_camera_fix  # noqa: E402

BACKEND = "avatar-test-recorder"


class RecordingBackend:
    """Follows pyvirtualcam.Backend: keyword-only constructor that raises when it cannot serve
    the format, send() gets a 1-D C-contiguous uint8 array, close() is called exactly once."""

    instances = []

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        if fourcc != encode_fourcc(pyvirtualcam.PixelFormat.RGB.value):
            raise RuntimeError("this test backend, like v4l2loopback, takes RGB only")
        self.width, self.height, self.fps, self.fourcc, self.requested_device = width, height, fps, fourcc, device
        self.frames = []
        self.close_calls = 0
        RecordingBackend.instances.append(self)

    def send(self, frame):
        assert frame.dtype == np.uint8 and frame.ndim == 1 and frame.flags.c_contiguous
        assert frame.size == self.width * self.height * 3
        self.frames.append(frame.copy())  # the caller may reuse its buffer, as real devices allow

    def close(self):
        self.close_calls += 1

    def device(self):
        return self.requested_device or "/dev/test-recorder"

    def native_fourcc(self):
        return self.fourcc


@pytest.fixture
def recorder():
    RecordingBackend.instances.clear()
    pyvirtualcam.register_backend(BACKEND, RecordingBackend)
    yield RecordingBackend.instances
    # pyvirtualcam has no unregister; drop ours so Camera(backend=None) elsewhere tries only real ones.
    pyvirtualcam.camera.BACKENDS.pop(BACKEND, None)


def test_frames_arrive_as_uint8_rgb_at_the_size_composited_over_the_background(recorder, make_regions_frame):
    background = (0, 255, 0)
    frames = [
        make_regions_frame(48, 64, avatar_rgb=(0.9, 0.2, 0.1)),
        make_regions_frame(48, 64, avatar_rgb=(0.1, 0.3, 1.0)),
    ]
    with VirtualCameraSink(64, 48, fps=25, background_rgb=background, backend=BACKEND) as sink:
        for frame in frames:
            sink.send(frame)
        assert sink.backend == BACKEND and sink.device == "/dev/test-recorder"
    (backend,) = recorder
    assert (backend.width, backend.height, backend.fps) == (64, 48, 25)
    assert backend.close_calls == 1
    assert len(backend.frames) == 2
    for sent, frame in zip(backend.frames, frames):
        rgb = sent.reshape(48, 64, 3)
        assert np.array_equal(rgb, frame.over(background))
    first = backend.frames[0].reshape(48, 64, 3)
    assert tuple(first[40, 5]) == (230, 51, 26)  # opaque avatar: its own colour
    assert tuple(first[40, 60]) == background  # transparent: the background colour
    assert tuple(first[2, 60]) == (64, 153, 102)  # alpha 0.5 over green: 0.5*(0.5,0.2,0.8) + 0.5*(0,1,0)


def test_device_is_passed_to_the_backend(recorder, make_regions_frame):
    with VirtualCameraSink(64, 48, backend=BACKEND, device="/dev/video7") as sink:
        assert sink.device == "/dev/video7"


def test_wrong_size_is_rejected_before_reaching_the_backend(recorder, make_regions_frame):
    with VirtualCameraSink(64, 48, backend=BACKEND) as sink:
        with pytest.raises(FrameMismatchError, match=r"\(48, 64, 4\)"):
            sink.send(make_regions_frame(32, 32))
    assert recorder[0].frames == []


def test_unknown_backend_is_a_setting_error_listing_the_known_ones(recorder):
    with pytest.raises(SettingError) as info:
        VirtualCameraSink(64, 48, backend="no-such-backend")
    assert BACKEND in str(info.value)


def test_bad_background_and_fps_are_setting_errors(recorder):
    with pytest.raises(SettingError, match="background_rgb"):
        VirtualCameraSink(64, 48, background_rgb=(0, 256, 0), backend=BACKEND)
    with pytest.raises(SettingError, match="fps"):
        VirtualCameraSink(64, 48, fps=0, backend=BACKEND)
    assert recorder == []  # nothing was opened


needs_linux_without_loopback = pytest.mark.skipif(
    platform.system() != "Linux" or bool(glob.glob("/dev/video*")),
    reason="needs Linux with no /dev/video* device, to see the real missing-driver error",
)


@needs_linux_without_loopback
def test_missing_v4l2loopback_gives_the_library_message_and_our_fix():
    with pytest.raises(DeviceError) as info:
        VirtualCameraSink(64, 48, backend="v4l2loopback")
    message = str(info.value)
    assert "No v4l2 loopback device found" in message  # pyvirtualcam's own words
    assert "modprobe v4l2loopback" in message
    assert "v4l2loopback-dkms" in message and 'card_label="avatar_app"' in message and "exclusive_caps=1" in message
    assert isinstance(info.value.__cause__, RuntimeError)


@needs_linux_without_loopback
def test_missing_device_is_named_in_the_error():
    with pytest.raises(DeviceError) as info:
        VirtualCameraSink(64, 48, backend="v4l2loopback", device="/dev/video42")
    message = str(info.value)
    assert "/dev/video42 does not exist" in message  # pyvirtualcam's own words
    assert "v4l2-ctl --list-devices" in message


def test_fix_is_specific_to_each_os():
    assert "OBS Studio 26" in virtual_camera_fix("Windows") and "Unity Capture" in virtual_camera_fix("Windows")
    assert "OBS Studio 26" in virtual_camera_fix("Darwin") and "Unity" not in virtual_camera_fix("Darwin")
    assert "sudo modprobe v4l2loopback devices=1 exclusive_caps=1" in virtual_camera_fix("Linux")
    for system in ("Linux", "Windows", "Darwin"):
        assert "browser-source" in virtual_camera_fix(system)
