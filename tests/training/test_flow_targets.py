"""Flow targets from UDP correspondences: right sign and units, hidden points left out."""

from __future__ import annotations

import torch

from avatar_app.models.conr import warp
from avatar_app.training.flow_targets import correspondence_flow, flow_loss

S = 32


def _udp_blob(cx: float, cy: float) -> torch.Tensor:
    """xyz that identifies each surface point (a ramp in x and y), on a disc at (cx, cy)."""
    ys, xs = torch.meshgrid(torch.arange(S, dtype=torch.float32), torch.arange(S, dtype=torch.float32), indexing="ij")
    mask = (((xs - cx) ** 2 + (ys - cy) ** 2) < 64).float()
    u, v = (xs - cx) / S + 0.5, (ys - cy) / S + 0.5  # the surface coordinate moves with the disc
    return torch.stack([u * mask, v * mask, 0.5 * mask, mask])


def test_flow_points_from_target_pixels_to_the_same_surface_point_in_each_view():
    target = _udp_blob(12.0, 14.0)[None]
    shifted, hidden = _udp_blob(17.0, 11.0), _udp_blob(16.0, 16.0)
    hidden[2] = torch.where(hidden[3] > 0, torch.tensor(0.9), hidden[2])  # the same x, y but another surface (the back)
    flow, valid = correspondence_flow(torch.stack([shifted, hidden])[None], target)
    assert flow.shape == (2, 2, S, S) and valid.shape == (2, 1, S, S)
    seen = target[0, 3] > 0
    assert torch.equal(valid[0, 0] > 0, seen)  # every target point is visible in view 0
    assert torch.all(flow[0, 0][seen] == 5.0) and torch.all(flow[0, 1][seen] == -3.0)  # q - p, x then y
    assert valid[1].sum() == 0  # view 1 shows another surface: no target there
    # warping the view by the flow puts its pixels where the target has them
    ref = torch.stack([shifted[0], shifted[1]])[None]
    warped = warp(ref, flow[:1])
    torch.testing.assert_close(warped[0][:, seen], target[0, :2][:, seen])


def test_flow_loss_is_zero_at_the_target_and_counts_coarse_levels_in_their_pixels():
    target = torch.zeros(1, 2, S, S)
    target[:, 0] = 4.0
    valid = torch.ones(1, 1, S, S)
    exact = [target * (s - 1) / (S - 1) for s in (8, 16)] + [target]
    flows = [torch.nn.functional.interpolate(f, size=(s, s), mode="nearest") for f, s in zip(exact, (8, 16, S))]
    assert float(flow_loss(flows, target, valid)) < 1e-6
    off = [f + 1.0 for f in flows]  # one pixel off in x and y at every level
    expected = sum(1.0 / (s - 1) for s in (8, 16, S)) / 3
    assert abs(float(flow_loss(off, target, valid)) - expected) < 0.02 * expected
