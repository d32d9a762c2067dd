"""The app's split inference path reproduces the kit's 256x256, 2-view golden case."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatar_app.core.errors import InputError
from avatar_app.core.frames import CharacterSheet, UdpMap
from avatar_app.infer.torch_backend import UDPDetector, udp_tensor

RGBA_MAX, RGBA_P999, RGBA_MEAN = 1e-2, 3e-3, 2e-4  # README §4
PARSER_MAX = 5e-4
FLOW_MAX = 5e-3


def golden_sheet(golden) -> CharacterSheet:
    return CharacterSheet(golden["character_images"][0], golden["character_masks"][0], ("a", "b"), "golden")


def golden_udp(golden) -> UdpMap:
    xyz = golden["pose_label"][0, :3].transpose(1, 2, 0)
    visibility = golden["pose_mask"][0, 0].astype(np.float32) / 255.0
    return UdpMap(np.concatenate([xyz, visibility[..., None]], axis=-1).astype(np.float32))


@pytest.fixture(scope="module")
def golden_run(golden_256, encoder, renderer):
    state = encoder.encode(golden_sheet(golden_256))
    debug: dict = {}
    target = udp_tensor(golden_udp(golden_256))
    rgba = renderer.render_tensor(state, target, debug=debug)
    return state, target, rgba.numpy(), debug


def test_udp_map_becomes_the_golden_target_input_exactly(golden_run, golden_256):
    assert np.array_equal(golden_run[1].numpy(), golden_256["x_target_sudp_a"])


def test_rgba_matches_golden_within_kit_tolerances(golden_run, golden_256):
    d = np.abs(golden_run[2].astype(np.float64) - golden_256["rgba"])
    stats = (d.max(), np.quantile(d, 0.999), d.mean())
    assert stats[0] <= RGBA_MAX and stats[1] <= RGBA_P999 and stats[2] <= RGBA_MEAN, stats


def test_render_returns_the_same_frame_as_the_tensor_path(encoder, renderer, make_sheet, make_target):
    state = encoder.encode(make_sheet(1, seed=41))
    target = make_target()
    data = np.concatenate([target[0, :3].numpy().transpose(1, 2, 0), target[0, 3:].numpy().transpose(1, 2, 0)], axis=-1)
    frame = renderer.render(state, UdpMap(data, timestamp=2.0))
    assert frame.data.shape == (128, 128, 4) and frame.data.dtype == np.float32
    expected = renderer.render_tensor(state, target)[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(frame.data, expected, atol=1e-6)
    assert frame.timestamp == 2.0 and frame.timings_ms["render"] > 0


def test_udp_map_of_another_size_is_refused(encoder, renderer, make_sheet):
    state = encoder.encode(make_sheet(1, seed=41))
    with pytest.raises(InputError, match="128x128"):
        renderer.render(state, UdpMap(np.zeros((256, 256, 4), np.float32)))


@pytest.mark.parametrize("p", range(6))
def test_block_flows_match_golden(golden_run, golden_256, p):
    key = f"block{p}_residual_flow"
    ours = golden_run[3][key].numpy()
    assert ours.shape == golden_256[key].shape
    assert np.abs(ours - golden_256[key]).max() <= FLOW_MAX


def _stats(t: torch.Tensor) -> np.ndarray:
    t = t.double()
    return np.array([t.mean(), t.std(), t.min(), t.max(), t.abs().mean()])


def test_parser_features_have_golden_shapes_and_statistics(golden_run, golden_256):
    features = [f.unsqueeze(0) for f in golden_run[0].features]  # [N=1, M, C, h, w]
    assert [list(f.shape) for f in features] == golden_256["parser_feature_shapes"].tolist()
    ours = np.stack([_stats(f) for f in features])
    np.testing.assert_allclose(ours, golden_256["parser_feature_stats"], rtol=1e-3, atol=1e-5)


def test_target_features_have_golden_shapes_and_statistics(golden_run, golden_256):
    tfeats = golden_run[3]["target_features"]
    assert [list(t.shape) for t in tfeats] == golden_256["target_feature_shapes"].tolist()
    ours = np.stack([_stats(t) for t in tfeats])
    np.testing.assert_allclose(ours, golden_256["target_feature_stats"], rtol=1e-3, atol=1e-5)


def test_sheet_state_holds_the_reference_rgba_at_every_level_size(golden_run, golden_256):
    state = golden_run[0]
    rgb = golden_256["character_images"][0].astype(np.float32) / 255.0
    a = golden_256["character_masks"][0].astype(np.float32) / 255.0
    np.testing.assert_array_equal(state.reference.numpy(), np.concatenate([a * rgb, a], axis=1))
    assert [tuple(s.shape[-2:]) for s in state.warp_sources] == [(16, 16), (32, 32), (64, 64), (128, 128), (256, 256)]


def test_udp_detector_matches_golden_parser_prediction(official_networks, golden_256):
    detector = UDPDetector(official_networks)
    rgb = torch.from_numpy(golden_256["character_images"][0]).float() / 255.0
    pred = detector.detect_tensor(rgb).numpy()
    assert pred.shape == golden_256["parser_pred"].shape[1:]
    assert np.abs(pred - golden_256["parser_pred"][0]).max() <= PARSER_MAX
    # the image API: the premultiplied view as an RGB picture gives the same map
    udp = detector.detect(golden_256["character_images"][0, 1].transpose(1, 2, 0).copy())
    np.testing.assert_allclose(udp.data, pred[1].transpose(1, 2, 0), atol=1e-6)
