"""tools/soak.py: a short real run writes the figures and the samples; growth is measured on the
floor after the warm-up, so a connected client's socket at one sample is not a leak but a rising
floor is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def row(t_s, rss_mb, fds, threads=20, gl_objects=15):
    return {"t_s": t_s, "rss_mb": rss_mb, "fds": fds, "threads": threads, "gl_objects": gl_objects}


def test_growth_ignores_a_passing_client_but_not_a_rising_floor(load_tool):
    growth = load_tool("soak").growth
    flat = [row(t, 500.0, 16 + (t % 3 == 0), threads=20 + (t % 3 == 0)) for t in range(0, 100, 5)]
    flat[-1] = row(95, 530.0, 18, threads=22)  # a client connected at the last sample
    figures = growth(flat, warmup_s=20)
    assert figures["rss_growth_pct"] == 0.0 and figures["fds_growth"] == 0 and figures["threads_growth"] == 0
    leaking = [row(t, 500.0 + t, 16 + t // 10, gl_objects=15 + t // 20) for t in range(0, 100, 5)]
    figures = growth(leaking, warmup_s=20)
    assert figures["rss_growth_pct"] > 10 and figures["fds_growth"] >= 6 and figures["gl_objects_growth"] >= 3
    assert growth(leaking[:3], warmup_s=20)["rss_growth_pct"] is None, "too few samples after the warm-up"


def test_a_short_soak_samples_the_stream_and_writes_the_figures(tmp_path):
    out = tmp_path / "soak.json"
    command = [sys.executable, str(REPO / "tools" / "soak.py"), "--minutes", "0.15", "--interval-s", "1"]
    command += ["--warmup-s", "2", "--renderer", "proxy", "--size", "128", "--json", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    for key in ("rss_growth_pct", "threads_growth", "fds_growth", "gl_objects_growth", "samples", "browser_client"):
        assert key in result, key
    samples = result["samples"]
    assert len(samples) >= 5 and samples[-1]["t_s"] >= 9
    assert all(s["rss_mb"] > 50 and s["threads"] >= 4 and s["fds"] >= 3 for s in samples)
    assert samples[-1]["gl_objects"] >= 1, "the raster stage's GL context and buffers are counted"
    assert result["state"] == "stopped" and result["frames_sent"] > 0
    assert result["browser_client"]["visits"] >= 2 and result["browser_client"]["errors"] == 0
    assert "after warm-up (2 s)" in run.stdout
