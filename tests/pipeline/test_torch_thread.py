"""Every CPU network call of the process on one thread (infer.torch_thread): loading, encoding, each frame.

Why it matters is a timing (``tools/bench.py --sections pipeline``: the render stage 69 ms in the
pipeline against 35 alone, 43 once on one thread); what is pinned here is where the calls run.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder
from avatar_app.infer.torch_thread import THREAD_NAME, on_torch_thread
from avatar_app.pipeline import Loaders, PipelineSettings, build_pipeline
from avatar_app.pipeline.defaults import DEFAULT_CHARACTER
from avatar_app.pipeline.specs import SourceSpec


def test_calls_from_any_thread_run_on_one_thread_and_raise_to_the_caller():
    seen = []

    def where():
        seen.append(threading.current_thread())
        return threading.current_thread().name

    callers = [threading.Thread(target=on_torch_thread, args=(where,)) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert on_torch_thread(where).startswith(THREAD_NAME)
    assert len(seen) == 4 and len(set(seen)) == 1
    assert on_torch_thread(lambda: on_torch_thread(where)) == seen[0].name  # a call from the thread runs in place

    def refuse():
        raise ValueError("bad sheet")

    with pytest.raises(ValueError, match="bad sheet"):
        on_torch_thread(refuse)


def test_the_pipeline_loads_encodes_and_renders_on_the_torch_thread(character, lite_networks, monkeypatch):
    calls = []

    def recorded(name, method):
        def call(self, *args, **kwargs):
            calls.append((name, threading.current_thread().name))
            return method(self, *args, **kwargs)

        return call

    monkeypatch.setattr(SheetEncoder, "encode", recorded("encode", SheetEncoder.encode))
    monkeypatch.setattr(FrameRenderer, "render", recorded("render", FrameRenderer.render))

    def load(weights):
        calls.append(("load", threading.current_thread().name))
        return lite_networks

    settings = PipelineSettings(SourceSpec("demo"), size=128, renderer="conr", max_frames=3, views=1)
    settings = replace(settings, sheet_dir=DEFAULT_CHARACTER / "sheet", drawn_detail=False)
    loaders = Loaders(character_loader=lambda *path: character, networks_loader=load)
    with build_pipeline(settings, loaders=loaders) as pipeline:
        assert pipeline.wait(120)
    pipeline.raise_if_failed()
    names = {name for name, _ in calls}
    assert {"load", "encode", "render"} <= names, calls
    assert {thread for _, thread in calls} == {on_torch_thread(lambda: threading.current_thread().name)}, calls
