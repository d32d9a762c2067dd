"""Views chosen per frame (infer.view_choice) and the sheet state of a subset of views (SheetState.subset)."""

from __future__ import annotations

import numpy as np
import torch
from conftest import blob_sheet, blob_target

from avatar_app.core.frames import CharacterSheet, UdpMap
from avatar_app.infer.torch_backend import FrameRenderer, SheetEncoder
from avatar_app.infer.view_choice import ViewChoice

S = 32


def _udp_of(points: np.ndarray) -> np.ndarray:
    """[4, S, S]: the first len(points) pixels (row-major) show these xyz points, the rest nothing."""
    udp = np.zeros((4, S * S), np.float32)
    udp[:3, : len(points)] = points.T
    udp[3, : len(points)] = 1.0
    return udp.reshape(4, S, S)


def test_the_views_that_cover_most_of_the_pose_are_chosen_in_sheet_order():
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 20), np.linspace(0, 1, 20)), -1).reshape(-1, 2)
    front = np.column_stack([grid * 0.4, np.full(len(grid), 0.2)])  # z = 0.2: the front
    back = np.column_stack([grid * 0.4, np.full(len(grid), 0.8)])  # z = 0.8: the back
    side = np.column_stack([np.full(len(grid), 0.9), grid * 0.4])  # another surface
    sheet = np.stack([_udp_of(back), _udp_of(side), _udp_of(front), _udp_of(front[:100])])
    frame = np.concatenate([front, side[:150]])  # mostly front, some side
    udp = _udp_of(frame).transpose(1, 2, 0)
    assert ViewChoice(sheet, 1).choose(udp) == (2,)  # the whole front; view 3 only a quarter of it
    assert ViewChoice(sheet, 2).choose(udp) == (1, 2)  # then the side, not the back nor the partial front
    assert ViewChoice(sheet, 4).choose(udp) == (0, 1, 2, 3)
    covered = ViewChoice(sheet, 2).coverage(udp)
    assert covered.shape[0] == 4 and not covered[0].any() and covered[2].mean() > 0.7


def test_a_subset_of_the_encoded_sheet_is_the_encode_of_those_views(lite_networks):
    encoder, renderer = SheetEncoder(lite_networks), FrameRenderer(lite_networks)
    sheet = blob_sheet(4, size=128)
    views = (1, 3)
    alone = CharacterSheet(sheet.rgb_premultiplied[list(views)], sheet.alpha[list(views)], ("a", "b"), "two")
    full, direct = encoder.encode(sheet), encoder.encode(alone)
    subset = full.subset(views)
    assert subset.num_views == 2 and subset.key != full.key
    for a, b in zip(
        subset.warp_sources + [subset.level0_conv, subset.features[0]],
        direct.warp_sources + [direct.level0_conv, direct.features[0]],
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    target = UdpMap(blob_target(128)[0].permute(1, 2, 0).numpy())
    torch.testing.assert_close(
        torch.from_numpy(renderer.render(subset, target).data), torch.from_numpy(renderer.render(direct, target).data)
    )
    assert not np.allclose(renderer.render(full, target).data, renderer.render(subset, target).data)
