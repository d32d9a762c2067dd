"""tools/evaluate_fit.py: its synthetic drawings are cut like real ones, and its summary counts right."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_app.raster.rasterizer import Rasterizer


@pytest.fixture(scope="module")
def tool(load_tool):
    return load_tool("evaluate_fit")


def test_cases_are_deterministic_and_held_out(tool):
    a, b = tool.make_case(3, 0), tool.make_case(3, 0)
    assert a["style"] == b["style"] and a["framing"] == b["framing"] and a["params"] == b["params"]
    assert tool.make_case(4, 0)["style"] != a["style"]


def test_a_cut_drawing_touches_the_bottom_edge_and_a_full_one_does_not(tool):
    case = tool.make_case(0, 0)
    with Rasterizer(256, color_samples=4) as rasterizer:
        cut = tool.draw(replace_framing(case, "waist"), rasterizer)
        full = tool.draw(replace_framing(case, "full"), rasterizer)
    assert cut[-1, :, 3].max() > 0, "a waist-up drawing is cut off at the picture's bottom edge"
    assert full[-1, :, 3].max() == 0, "a full-body drawing has room below the feet"
    assert cut[..., 3].mean() > full[..., 3].mean()


def replace_framing(case: dict, framing: str) -> dict:
    return {**case, "framing": framing}


def test_the_summary_counts_framings_and_spreads_the_iou(tool):
    rows = [
        {"iou": 0.8, "framing": "knee", "framing_ok": True, "landmarks": True},
        {"iou": 0.9, "framing": "knee", "framing_ok": False, "landmarks": False},
        {"iou": 1.0, "framing": "bust", "framing_ok": True, "landmarks": True},
    ]
    summary = tool.summarize(rows)
    assert summary["mean_iou"] == pytest.approx(0.9)
    assert summary["framing_found"] == pytest.approx(2 / 3)
    assert summary["landmarks_found"] == pytest.approx(2 / 3)
    assert summary["per_framing"]["knee"] == {"cases": 2, "found": 1, "mean_iou": pytest.approx(0.85)}
    assert np.isnan(summary["per_framing"]["full"]["mean_iou"])
    assert sum(summary["histogram"].values()) == 3
    assert "framing found 67%" in tool.format_summary(summary)
