"""Construction-time validation, errors that name the fix, buffers and lifetime."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

from avatar_app.core.errors import DeviceError, InputError, SettingError
from avatar_app.raster import OrthographicCamera, Rasterizer, RasterMesh, create_headless_context

FRONT = OrthographicCamera(eye=(0, 0, 10), target=(0, 0, 0), half_height=1.0, near=1.0, far=20.0)
SQUARE = np.array([[-0.5, -0.5, 0], [0.5, -0.5, 0], [0.5, 0.5, 0], [-0.5, 0.5, 0]], np.float32)
RECTANGLE = np.array([[0, 1, 2], [0, 2, 3]])


def square_mesh(colors=None):
    return RasterMesh(SQUARE, SQUARE * 0.5 + 0.5, RECTANGLE, colors)


@pytest.mark.parametrize(
    ("size", "setting", "fix"),
    [
        (100, "raster size", "use 128 or 256"),
        ((256, 200), "raster width", "use 128 or 256"),
        ((300, 256), "raster height", "use 256 or 384"),
    ],
)
def test_size_not_a_multiple_of_128_is_rejected_with_the_setting_and_fix(size, setting, fix):
    with pytest.raises(SettingError) as info:
        Rasterizer(size)
    assert info.value.source == setting
    assert "multiple of 128" in str(info.value) and fix in str(info.value)


@pytest.mark.parametrize(
    ("arrays", "source"),
    [
        (dict(positions=np.zeros((4, 2))), "RasterMesh.positions"),
        (dict(positions=np.full((4, 3), np.nan)), "RasterMesh.positions"),
        (dict(rest_udp=np.full((4, 3), 1.5)), "RasterMesh.rest_udp"),
        (dict(rest_udp=np.full((3, 3), 0.5)), "RasterMesh.rest_udp"),
        (dict(triangles=np.array([[0, 1, 4]])), "RasterMesh.triangles"),
        (dict(triangles=np.array([[0.0, 1.0, 2.0]])), "RasterMesh.triangles"),
        (dict(colors=np.full((4, 4), 255.0)), "RasterMesh.colors"),
        (dict(colors=np.ones((4, 3))), "RasterMesh.colors"),
    ],
)
def test_unusable_mesh_arrays_are_rejected_with_the_array_named(arrays, source):
    kwargs = dict(positions=SQUARE, rest_udp=np.full((4, 3), 0.5), triangles=RECTANGLE, colors=None) | arrays
    with pytest.raises(InputError) as info:
        RasterMesh(**kwargs)
    assert info.value.source == source and info.value.fix


def test_mesh_update_checks_the_shape_and_static_arrays_are_read_only():
    mesh = square_mesh()
    with pytest.raises(InputError, match="shape"):
        mesh.update(np.zeros((5, 3)))
    with pytest.raises(ValueError):
        mesh.rest_udp[0, 0] = 0.1
    version = mesh.version
    mesh.update(SQUARE * 2)
    assert mesh.version == version + 1
    np.testing.assert_array_equal(mesh.positions, SQUARE * 2)


def test_missing_opengl_raises_device_error_naming_the_packages(monkeypatch):
    import moderngl

    def fail(**kwargs):
        raise Exception("eglInitialize failed (0x3001)")

    monkeypatch.setattr(moderngl, "create_standalone_context", fail)
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(DeviceError) as info:
        Rasterizer(128)
    message = str(info.value)
    assert "eglInitialize failed" in message
    assert "libegl1 libgl1 libgles2 libegl-mesa0 libgl1-mesa-dri" in message


def test_surfaceless_platform_is_chosen_only_when_nothing_else_is_set(monkeypatch):
    import moderngl

    monkeypatch.setattr(moderngl, "create_standalone_context", lambda **kwargs: (_ for _ in ()).throw(Exception("no")))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("EGL_PLATFORM", "placeholder")  # so monkeypatch restores the original afterwards
    monkeypatch.delenv("EGL_PLATFORM")
    with pytest.raises(DeviceError):
        create_headless_context()
    import os

    assert os.environ["EGL_PLATFORM"] == "surfaceless"
    monkeypatch.setenv("EGL_PLATFORM", "device")
    with pytest.raises(DeviceError):
        create_headless_context()
    assert os.environ["EGL_PLATFORM"] == "device"


def test_render_reuses_its_buffers_unless_given_out(make_rasterizer):
    rasterizer = make_rasterizer(128)
    mesh = square_mesh(np.ones((4, 4)))
    first, second = rasterizer.render(mesh, FRONT), rasterizer.render(mesh, FRONT)
    assert first.udp is second.udp and first.color is second.color
    kept = first.copy()
    assert kept.udp is not first.udp
    np.testing.assert_array_equal(kept.udp, first.udp)

    out = rasterizer.allocate_result()
    result = rasterizer.render(mesh, FRONT, out=out)
    assert result.udp is out.udp and result.color is out.color
    np.testing.assert_array_equal(out.udp, kept.udp)
    assert result.udp_map(timestamp=1.5).timestamp == 1.5


def test_wrong_out_buffer_is_rejected(make_rasterizer):
    rasterizer = make_rasterizer(128)
    bad = rasterizer.allocate_result(with_color=False)
    with pytest.raises(InputError, match="out.color"):
        rasterizer.render(square_mesh(np.ones((4, 4))), FRONT, out=bad)
    wrong_dtype = type(bad)(np.zeros((128, 128, 4), np.float64))
    with pytest.raises(InputError, match="allocate_result"):
        rasterizer.render(square_mesh(), FRONT, out=wrong_dtype)


def test_two_own_context_rasterizers_in_one_thread_do_not_mix(make_rasterizer):
    mesh = square_mesh()
    with Rasterizer(128) as first, Rasterizer(256) as second:
        a = first.render(mesh, FRONT).udp
        b = second.render(mesh, FRONT).udp
        assert a[..., 3].sum() == 64 * 64 and b[..., 3].sum() == 128 * 128
        assert first.render(mesh, FRONT).udp[..., 3].sum() == 64 * 64


def test_close_releases_and_later_use_fails_clearly():
    rasterizer = Rasterizer(128)
    rasterizer.render(square_mesh(), FRONT)
    rasterizer.close()
    rasterizer.close()  # idempotent
    with pytest.raises(RuntimeError, match="after close"):
        rasterizer.render(square_mesh(), FRONT)


def test_rendering_from_another_thread_is_refused(make_rasterizer):
    rasterizer = make_rasterizer(128)
    errors = []

    def render():
        try:
            rasterizer.render(square_mesh(), FRONT)
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=render)
    worker.start()
    worker.join()
    assert errors and "thread" in str(errors[0])


def test_gpu_buffers_of_a_collected_mesh_are_released(make_rasterizer, monkeypatch):
    import moderngl

    rasterizer = make_rasterizer(128)
    released = []
    original = moderngl.Buffer.release
    monkeypatch.setattr(moderngl.Buffer, "release", lambda self: released.append(1) or original(self))
    mesh = square_mesh(np.ones((4, 4)))
    rasterizer.render(mesh, FRONT)
    del mesh
    gc.collect()
    other = square_mesh()
    rasterizer.render(other, FRONT)  # releases happen on the rendering thread
    assert len(released) == 4  # positions, rest_udp, triangles, colours

    rasterizer.forget(other)
    assert len(released) == 7


def test_importing_the_package_does_not_load_opengl():
    import subprocess
    import sys

    code = "import sys, avatar_app.raster; assert 'moderngl' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
