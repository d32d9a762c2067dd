"""The two renderers behind one interface, and what --source / --sink specs mean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avatar_app.core.errors import SettingError
from avatar_app.core.frames import UdpMap
from avatar_app.pipeline import (
    ConrRenderer,
    LivePipeline,
    MotionSource,
    ProxyRenderer,
    SinkSpec,
    SourceSpec,
    open_source,
    parse_sink_spec,
    parse_source_spec,
)
from avatar_app.rig import DemoMotion

from pipeline_helpers import SIZE

DEFAULT_SHEET = Path(__file__).resolve().parents[2] / "assets" / "characters" / "default" / "sheet"


def test_proxy_renderer_shows_the_rig_colours_or_else_the_udp_map():
    udp = np.zeros((SIZE, SIZE, 4), np.float32)
    udp[10:20, 10:20] = (0.2, 0.4, 0.6, 1.0)
    color = np.zeros((SIZE, SIZE, 4), np.float32)
    color[10:20, 10:20] = (0.9, 0.1, 0.1, 1.0)
    renderer = ProxyRenderer()
    assert renderer.needs_color and renderer.size is None
    frame = renderer.render(UdpMap(udp, timestamp=4.0), color)
    np.testing.assert_array_equal(frame.data, color)
    assert frame.timestamp == 4.0
    np.testing.assert_array_equal(renderer.render(UdpMap(udp), None).data, udp)


def test_conr_renderer_encodes_the_sheet_once_and_renders_the_pipeline(
    lite_networks, character, make_sink, no_new_threads
):
    from avatar_app.io.sheet import load_sheet

    renderer = ConrRenderer(lite_networks, load_sheet(DEFAULT_SHEET, size=SIZE, max_views=1))
    assert renderer.name == "conr (lite)" and renderer.size == SIZE and not renderer.needs_color
    assert renderer.encode_ms > 0
    sink = make_sink()
    with LivePipeline(
        MotionSource(DemoMotion()), renderer, [sink], character=character, size=SIZE, max_frames=2
    ) as pipeline:
        assert pipeline.wait(120)
    status = pipeline.status
    assert status.state == "ended" and len(sink.frames) == 2
    assert status.stages_ms["render"]["count"] >= 2 and "raster" in status.stages_ms
    data = sink.frames[0].data
    assert data.shape == (SIZE, SIZE, 4) and np.isfinite(data).all()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("demo", SourceSpec("demo")),
        ("webcam", SourceSpec("webcam", camera=0)),
        ("webcam:2", SourceSpec("webcam", camera=2)),
        ("webcam:/dev/video4", SourceSpec("webcam", camera="/dev/video4")),
        ("vmc", SourceSpec("vmc", port=39539)),
        ("vmc:40000", SourceSpec("vmc", port=40000)),
    ],
)
def test_source_specs(text, expected):
    assert parse_source_spec(text) == expected


def test_file_backed_source_specs_need_the_file(tmp_path):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    assert parse_source_spec(f"video:{clip}") == SourceSpec("video", path=clip)
    with pytest.raises(SettingError, match="no such file"):
        parse_source_spec(f"motion:{tmp_path / 'missing.bvh'}")
    with pytest.raises(SettingError, match="no such file"):
        parse_source_spec(f"video:{tmp_path / 'missing.mp4'}")


@pytest.mark.parametrize(
    "text, match",
    [
        ("kinect", "demo, motion:FILE.bvh"),
        ("demo:fast", "demo, motion:FILE.bvh"),
        ("vmc:70000", "0..65535"),
        ("vmc:abc", "port number"),
        ("webcam:front", "camera index"),
        ("", "demo"),
    ],
)
def test_bad_source_specs_say_what_is_accepted(text, match):
    with pytest.raises(SettingError, match=match):
        parse_source_spec(text)


def test_sink_specs(tmp_path):
    assert parse_sink_spec("virtualcam") == SinkSpec("virtualcam")
    assert parse_sink_spec("browser") == SinkSpec("browser", port=8765)
    assert parse_sink_spec("browser:0") == SinkSpec("browser", port=0)
    assert parse_sink_spec(f"file:{tmp_path / 'out.mp4'}") == SinkSpec("file", path=tmp_path / "out.mp4")
    assert parse_sink_spec(f"file:{tmp_path / 'frames'}") == SinkSpec("file", path=tmp_path / "frames")


@pytest.mark.parametrize(
    "text, match",
    [
        ("ndi", "virtualcam, file:PATH"),
        ("browser:99999", "0..65535"),
        ("file:", "no path"),
        ("file:out.mov", "extension '.mov'"),
        ("file:/no/such/folder/out.mp4", "no folder"),
    ],
)
def test_bad_sink_specs_say_what_is_accepted(text, match):
    with pytest.raises(SettingError, match=match):
        parse_sink_spec(text)


def test_udp_detector_needs_a_camera_source():
    with pytest.raises(SettingError, match="webcam or video"):
        open_source(SourceSpec("demo"), detector=object())
