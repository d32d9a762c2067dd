"""Views batched and view-shared work computed once: the same numbers as the plain model."""

from __future__ import annotations

import pytest
import torch

from avatar_app.infer.torch_backend import sheet_tensors

# Split first convs / fused softmax reorder fp32 sums; the plain model is the reference.
PLAIN_MAX = 2e-3
SAME_MAX = 1e-4


def render(encoder, renderer, sheet, target, debug=None):
    return renderer.render_tensor(encoder.encode(sheet), target, debug=debug)


@pytest.mark.parametrize("views", [1, 4])
def test_split_batched_path_equals_the_plain_model(
    official_networks, encoder, renderer, make_sheet, make_target, views
):
    sheet, target = make_sheet(views, seed=views), make_target()
    ours = render(encoder, renderer, sheet, target)
    rgb, alpha = sheet_tensors(sheet)
    with torch.inference_mode():
        plain = official_networks(rgb.unsqueeze(0), alpha.unsqueeze(0), target)
    assert ours.shape == plain.shape == (1, 4, 128, 128)
    assert (ours - plain).abs().max() <= PLAIN_MAX


def test_output_is_finite_premultiplied_rgba(encoder, renderer, make_sheet, make_target):
    rgba = render(encoder, renderer, make_sheet(4, seed=3), make_target())
    assert torch.isfinite(rgba).all()
    assert rgba.min() >= 0 and rgba.max() <= 1
    assert (rgba[:, :3] <= rgba[:, 3:4] + 1e-6).all()
    # synthetic weights still give a non-trivial picture (the golden's design goal)
    assert rgba.std() > 0.05


def test_view_order_does_not_change_the_frame(encoder, renderer, make_sheet, make_target):
    sheet, target = make_sheet(3, seed=5), make_target()
    a = render(encoder, renderer, sheet, target)
    b = render(encoder, renderer, sheet.subset([2, 0, 1]), target)
    assert (a - b).abs().max() <= SAME_MAX


def test_a_view_given_twice_renders_like_the_view_alone(encoder, renderer, make_sheet, make_target):
    # Two identical views: softmax gives each 1/2, so sum_v sigma_v c_v x_v = sigma x, the M=1 result.
    sheet, target = make_sheet(1, seed=7), make_target()
    one = render(encoder, renderer, sheet, target)
    two = render(encoder, renderer, sheet.subset([0, 0]), target)
    assert (one - two).abs().max() <= SAME_MAX


def test_a_second_view_changes_the_frame(encoder, renderer, make_sheet, make_target):
    target = make_target()
    one = render(encoder, renderer, make_sheet(2, seed=9).subset([0]), target)
    two = render(encoder, renderer, make_sheet(2, seed=9), target)
    assert (one - two).abs().max() > 1e-2


def test_several_frames_in_one_call_equal_frames_rendered_one_by_one(encoder, renderer, make_sheet, make_target):
    state = encoder.encode(make_sheet(2, seed=11))
    targets = make_target(frames=2, seed=4)
    both = renderer.render_tensor(state, targets)
    single = torch.cat([renderer.render_tensor(state, targets[i : i + 1]) for i in range(2)])
    assert (both - single).abs().max() <= SAME_MAX
    assert (both[0] - both[1]).abs().max() > 1e-2


def test_residual_flows_are_reported_per_view_and_level(encoder, renderer, make_sheet, make_target):
    debug: dict = {}
    render(encoder, renderer, make_sheet(2, seed=13), make_target(), debug=debug)
    sizes = [4, 8, 16, 32, 64, 128]
    assert [tuple(debug[f"block{p}_residual_flow"].shape) for p in range(6)] == [(2, 1, 2, s, s) for s in sizes]


def test_lite_preset_split_path_equals_its_plain_model(make_sheet, make_target):
    from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder
    from avatar_app.models import create_conr, fill_networks

    lite = fill_networks(create_conr("lite", init=False))
    sheet, target = make_sheet(2, seed=15), make_target()
    ours = FrameRenderer(lite, fast=False).render_tensor(SheetEncoder(lite).encode(sheet), target)
    rgb, alpha = sheet_tensors(sheet)
    with torch.inference_mode():
        plain = lite(rgb.unsqueeze(0), alpha.unsqueeze(0), target)
    assert (ours - plain).abs().max() <= PLAIN_MAX
