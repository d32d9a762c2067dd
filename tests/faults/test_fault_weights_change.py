"""The weights folder changes under a running stream (adapt wrote new weights, or they are being
written right now): the stream never stops for it; new weights that load are taken up by a
restart with the outputs kept open; a half-written folder is said, with the file, and the stream
goes on with the weights it has until the folder is whole again."""

from __future__ import annotations

import pytest
import torch
from fault_helpers import SIZE, CountingSink

from avatar_app.models import create_conr, fill_networks, save_weights_folder
from avatar_app.pipeline import PipelineSettings
from avatar_app.pipeline.builder import build_pipeline
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER, load_networks
from avatar_app.pipeline.session import LiveSession
from avatar_app.pipeline.specs import SourceSpec

from helpers import wait_until


def lite_weights(gain: float):
    return fill_networks(create_conr("lite", init=False), gain=gain).eval()


def same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.fixture
def conr_settings(tmp_path):
    weights = tmp_path / "weights"
    save_weights_folder(lite_weights(0.5), weights)
    return PipelineSettings(
        SourceSpec("demo"),
        renderer="conr",
        sheet_dir=DEFAULT_CHARACTER / "sheet",
        weights=weights,
        size=SIZE,
        views=1,
        drawn_detail=False,
        cache_dir=tmp_path / "cache",
    )


def test_a_running_stream_never_reads_its_weights_folder_again(conr_settings, no_new_threads):
    other = CountingSink()
    with build_pipeline(conr_settings, [other]) as pipeline:
        assert wait_until(lambda: other.count >= 2, timeout=120)
        for path in conr_settings.weights.iterdir():
            path.write_bytes(path.read_bytes()[:100])  # rewritten under it, and not whole
        seen = other.count
        assert wait_until(lambda: other.count >= seen + 3, timeout=120)
        assert pipeline.status.state == "running" and pipeline.status.error is None


def test_the_window_takes_up_new_weights_and_rides_out_half_written_ones(conr_settings, no_new_threads):
    loaded = []

    def networks_loader(folder):
        loaded.append(load_networks(folder))
        return loaded[-1]

    session = LiveSession(networks_loader=networks_loader, poll_s=0.02, weights_settle_s=0.2)
    try:
        session.set_config(conr_settings)
        assert wait_until(lambda: session.snapshot().phase == "running", timeout=120)
        first = session._pipeline
        assert wait_until(lambda: session.snapshot().status.frames_sent >= 2, timeout=120)

        shader = conr_settings.weights / "shader.pth"
        whole = shader.read_bytes()
        shader.write_bytes(whole[: len(whole) // 2])  # adapt is writing it
        assert wait_until(lambda: session.snapshot().message, timeout=60), "a folder that does not load is said"
        message = session.snapshot().message
        assert message.startswith(f"{conr_settings.weights}: expected the changed weights to load")
        assert "shader.pth" in message and "the stream goes on with the weights it started with" in message
        assert "Fix:" in message
        frames = session.snapshot().status.frames_sent
        assert wait_until(lambda: session.snapshot().status.frames_sent >= frames + 2, timeout=120)
        assert session._pipeline is first and session.snapshot().phase == "running"

        adapted = lite_weights(0.8)
        save_weights_folder(adapted, conr_settings.weights)  # adapt finished
        assert wait_until(lambda: session._pipeline not in (None, first), timeout=120), "new weights not taken up"
        assert wait_until(lambda: session.snapshot().phase == "running", timeout=120)
        assert len(loaded) == 2 and same_weights(loaded[-1], adapted), "the restart runs the new weights"
        assert session.snapshot().message == ""
        assert wait_until(lambda: session.snapshot().status.frames_sent >= 2, timeout=120)
    finally:
        session.close()
