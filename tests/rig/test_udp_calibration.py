"""The UDP calibration: pairing maps, the robust affine fit, its file, and its use in the rig.

"Ours" are the default character's stored sheet UDP maps (made by our rig); "theirs" are
a known signed-permutation/scale/shift of them plus detector-like noise and a third of
the pixels wrong (uniformly random, and one region shifted as where the proxy misses the
drawing), so the true map is known and plain least squares is visibly pulled off it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avatar_app.core import atomic
from avatar_app.core.errors import SettingError
from avatar_app.core.frames import UdpMap
from avatar_app.rig import Character, SkinnedMesh, rest_udp_coordinates, udp_calibration
from avatar_app.rig.udp_calibration import (
    CalibrationFileError,
    UdpAffine,
    calibrate,
    correspondences,
    fit_udp_affine,
    load_udp_affine,
    save_udp_affine,
)

from rig_helpers import chain_skeleton

SHEET_UDP = Path(__file__).resolve().parents[2] / "assets" / "characters" / "default" / "sheet_udp"
NOISE = 0.01  # detector noise, UDP units
RANDOM_SHARE = 0.25  # pixels whose detected xyz are anywhere in the cube
SHIFTED_SHARE = 0.10  # rows of the figure (say, the head) where the proxy misses the drawing by SHIFT
SHIFT = np.array([0.08, -0.05, 0.06])
CORNERS = np.array([[x, y, z] for x in (0.0, 1.0) for y in (0.0, 1.0) for z in (0.0, 1.0)])
# Worst cube corner, in UDP units. Measured over seeds 0-5: the robust fit 0.7-1.6e-3; without its
# last least-squares pass over the inliers 6.2-7.5e-3; plain least squares 0.16-0.21.
ROBUST_TOLERANCE = 4e-3
LSTSQ_AT_LEAST = 0.1


@pytest.fixture(scope="module")
def our_views() -> list[np.ndarray]:
    return [np.load(path)["i"] for path in sorted(SHEET_UDP.glob("*.npz"))]


def known_map(seed: int) -> np.ndarray:
    """A random signed axis permutation with per-axis scale, roughly keeping the cube in place."""
    rng = np.random.default_rng(seed)
    linear = np.zeros((3, 3))
    linear[np.arange(3), rng.permutation(3)] = rng.choice([-1.0, 1.0], 3) * rng.uniform(0.75, 1.25, 3)
    offset = 0.5 - linear @ np.full(3, 0.5) + rng.uniform(-0.05, 0.05, 3)
    return np.hstack([linear, offset[:, None]])


def detected_views(our_views, matrix: np.ndarray, seed: int) -> list[np.ndarray]:
    """What a noisy detector that disagrees with the proxy in places would give for ``our_views``."""
    rng = np.random.default_rng(seed + 100)
    views = []
    for ours in our_views:
        theirs = np.zeros_like(ours)
        mask = ours[..., 3] > 0.5
        rows = np.flatnonzero(mask.any(axis=1))
        theirs[mask, :3] = ours[mask, :3] @ matrix[:, :3].T + matrix[:, 3] + rng.normal(0, NOISE, (mask.sum(), 3))
        theirs[mask, 3] = 1.0
        shifted = np.zeros_like(mask)
        shifted[rows[: int(SHIFTED_SHARE * len(rows))]] = True
        shifted &= mask
        theirs[shifted, :3] += SHIFT
        scattered = mask & ~shifted & (rng.random(mask.shape) < RANDOM_SHARE / (1 - SHIFTED_SHARE))
        theirs[scattered, :3] = rng.random((scattered.sum(), 3))
        theirs[:8, :, 3] = 1.0  # detector noise on the background: no proxy there, so never paired
        views.append(theirs.astype(np.float32))
    return views


def corner_error(matrix: np.ndarray, truth: np.ndarray) -> float:
    """How far the fitted map sends any corner of the cube from where the true one does."""
    return float(np.abs(UdpAffine(matrix).apply(CORNERS) - UdpAffine(truth).apply(CORNERS)).max())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_robust_fit_recovers_a_known_map_where_least_squares_does_not(our_views, seed):
    truth = known_map(seed)
    ours_xyz, theirs_xyz = correspondences(our_views, detected_views(our_views, truth, seed))
    affine = fit_udp_affine(ours_xyz, theirs_xyz)
    plain = np.linalg.lstsq(np.hstack([ours_xyz, np.ones((len(ours_xyz), 1))]), theirs_xyz, rcond=None)[0].T
    robust_error, plain_error = corner_error(affine.matrix, truth), corner_error(plain, truth)
    assert robust_error < ROBUST_TOLERANCE, affine.summary()
    assert plain_error > LSTSQ_AT_LEAST and plain_error > 20 * robust_error
    outliers = RANDOM_SHARE + SHIFTED_SHARE
    assert 1 - outliers - 0.03 < affine.inlier_fraction < 1 - outliers + 0.03
    assert NOISE < affine.median_residual < 3 * NOISE
    scales = np.abs(truth[:, :3]).sum(axis=1)  # a signed permutation's singular values
    assert affine.condition == pytest.approx(scales.max() / scales.min(), rel=0.02)


def test_calibrate_detects_each_view_and_takes_backend_detect_results(our_views):
    truth = known_map(3)
    detected = detected_views(our_views, truth, 3)
    views = [np.full((*udp.shape[:2], 3), i, np.uint8) for i, udp in enumerate(our_views)]
    seen = []

    def detect(view, timestamp=0.0):  # Backend.detect's signature and return type
        seen.append(int(view[0, 0, 0]))
        return UdpMap(detected[seen[-1]], timestamp)

    affine = calibrate(views, our_views, detect)
    assert seen == list(range(len(views)))
    assert corner_error(affine.matrix, truth) < ROBUST_TOLERANCE
    plain_arrays = calibrate(views, our_views, lambda view: detected[int(view[0, 0, 0])])
    np.testing.assert_array_equal(plain_arrays.matrix, affine.matrix)


def test_calibrate_refuses_views_that_do_not_match_our_maps(our_views):
    views = [np.zeros((64, 64, 3), np.uint8)] * len(our_views)
    with pytest.raises(SettingError, match="size of our UDP"):
        calibrate(views, our_views, lambda v: pytest.fail("detector must not run"))
    with pytest.raises(SettingError, match="one of our UDP maps per sheet view"):
        calibrate(views[:1], our_views, lambda v: pytest.fail("detector must not run"))


def test_correspondences_pair_only_pixels_both_maps_show(our_views):
    ours = our_views[0]
    theirs = ours.copy()
    theirs[:, : ours.shape[1] // 2, 3] = 0.0  # the detector sees only the right half
    theirs[..., :3] += 0.25  # tell the sides apart
    ours_xyz, theirs_xyz = correspondences(ours, theirs, max_points=10**7)
    left = ours[:, : ours.shape[1] // 2, 3] > 0.5
    right = ours[:, ours.shape[1] // 2 :, 3] > 0.5
    assert left.any() and len(ours_xyz) == right.sum()
    np.testing.assert_allclose(theirs_xyz - ours_xyz, 0.25, atol=1e-6)


def test_correspondences_subsample_the_same_way_every_time(our_views):
    first = correspondences(our_views, our_views, max_points=1000)
    second = correspondences(list(our_views), [UdpMap(v) for v in our_views], max_points=1000)
    assert first[0].shape == (1000, 3)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[0], first[1])


def test_correspondences_refuse_unusable_maps(our_views):
    ours = our_views[0]
    with pytest.raises(SettingError, match="size of ours"):
        correspondences(ours, ours[:256])
    with pytest.raises(SettingError, match="H×W×4"):
        correspondences(ours, ours[..., :3])
    with pytest.raises(SettingError, match="as many detected maps"):
        correspondences(our_views, our_views[:2])
    blank = np.zeros_like(ours)
    with pytest.raises(SettingError, match="visible in both") as caught:
        correspondences(ours, blank)
    assert "Fix:" in str(caught.value)
    broken = ours.copy()
    broken[300, 300, 1] = np.nan
    with pytest.raises(SettingError, match="1 NaN/inf") as caught:
        correspondences([ours, ours], [ours, broken])
    assert "view 1 (theirs)" in str(caught.value)


def test_points_on_a_plane_are_refused():
    rng = np.random.default_rng(0)
    flat = np.column_stack([rng.random(2000), rng.random(2000), np.full(2000, 0.5)])
    with pytest.raises(SettingError, match="plane or a line"):
        fit_udp_affine(flat, flat[:, ::-1])


def test_a_detector_that_collapses_the_cube_is_refused():
    rng = np.random.default_rng(0)
    ours = rng.random((2000, 3))
    theirs = ours.copy()
    theirs[:, 2] = 0.5 + 1e-4 * rng.normal(size=2000)  # z lost: no map back to 3-D
    with pytest.raises(SettingError, match="collapse"):
        fit_udp_affine(ours, theirs)


def test_pairs_that_disagree_everywhere_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(SettingError, match="agree with one map"):
        fit_udp_affine(rng.random((2000, 3)), rng.random((2000, 3)))


def test_too_few_inliers_are_refused(our_views):
    ours_xyz, theirs_xyz = correspondences(our_views, detected_views(our_views, known_map(5), 5), max_points=2000)
    with pytest.raises(SettingError, match="at least 90% of the pairs agreeing"):
        fit_udp_affine(ours_xyz, theirs_xyz, min_inlier_fraction=0.9)


def _fitted(our_views) -> UdpAffine:
    ours_xyz, theirs_xyz = correspondences(our_views, detected_views(our_views, known_map(4), 4), max_points=2000)
    return fit_udp_affine(ours_xyz, theirs_xyz)


def test_save_and_load_round_trip(our_views, tmp_path):
    affine = _fitted(our_views)
    meta = {"weights": "official", "character": "default", "views": ["0_front", "1_three_quarter"]}
    path = save_udp_affine(tmp_path / udp_calibration.UDP_MAP_FILENAME, affine, meta=meta)
    loaded = load_udp_affine(path)
    np.testing.assert_array_equal(loaded.matrix, affine.matrix)
    assert loaded.to_dict()["stats"] == affine.to_dict()["stats"] and loaded.meta == meta
    assert json.loads(path.read_text())["version"] == udp_calibration.SCHEMA_VERSION
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(our_views, tmp_path, monkeypatch):
    path = tmp_path / "udp_map.json"
    save_udp_affine(path, UdpAffine.identity(), meta={"run": 1})
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", fail)  # the one atomic writer (core/atomic.py)
    with pytest.raises(OSError, match="disk full"):
        save_udp_affine(path, _fitted(our_views), meta={"run": 2})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["udp_map.json"]
    with pytest.raises(OSError, match="disk full"):
        save_udp_affine(tmp_path / "new.json", UdpAffine.identity(), meta={})
    assert [p.name for p in tmp_path.iterdir()] == ["udp_map.json"]


def test_meta_that_is_not_json_is_refused_before_writing(tmp_path):
    with pytest.raises(SettingError, match="JSON values"):
        save_udp_affine(tmp_path / "udp_map.json", UdpAffine.identity(), meta={"when": object()})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "no file"),
        ('{"schema": "avatar_app/udp_map", "version": 1, "matr', "valid JSON"),
        ('{"schema": "something_else", "version": 1}', "schema"),
        ("[1, 2, 3]", "schema"),
        ('{"schema": "avatar_app/udp_map", "version": 99, "matrix": []}', "update avatar_app"),
        ('{"schema": "avatar_app/udp_map", "version": 1, "matrix": [[1, 0, 0], [0, 1, 0]]}', "shape"),
        ('{"schema": "avatar_app/udp_map", "version": 1, "matrix": [[1, 0, 0, "x"]]}', "3 rows of 4"),
        ('{"schema": "avatar_app/udp_map", "version": 1}', "'matrix'"),
    ],
)
def test_unusable_calibration_files_are_refused_naming_the_file(tmp_path, content, match):
    path = tmp_path / "udp_map.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CalibrationFileError, match=match) as caught:
        load_udp_affine(path)
    assert str(path) in str(caught.value) and "Fix:" in str(caught.value)


def _box() -> Character:
    """A 1 x 2 x 0.5 m box standing on y=0: UDP x in [0.25, 0.75], y in [0, 1], z in [0.375, 0.625]."""
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (0.0, 2.0) for z in (-0.25, 0.25)])
    skel = chain_skeleton(1, root=(0.0, 1.0, 0.0))
    mesh = SkinnedMesh(corners, [(0, 1, 2)], np.zeros((8, 1)), np.ones((8, 1)), np.linalg.inv(skel.rest_world_matrices))
    return Character(skel, mesh, name="box")


def test_rest_udp_coordinates_take_a_fitted_map_and_clip_to_the_cube():
    bar = _box()
    plain = rest_udp_coordinates(bar)
    flip_x_swap_yz = UdpAffine(np.array([[-1.0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]]))
    np.testing.assert_allclose(
        rest_udp_coordinates(bar, flip_x_swap_yz), np.stack([1 - plain[:, 0], plain[:, 2], plain[:, 1]], 1), atol=1e-6
    )
    np.testing.assert_allclose(rest_udp_coordinates(bar, UdpAffine.identity()), plain)
    pushed_out = UdpAffine(np.array([[2.0, 0, 0, 0], [0, 1, 0, -0.5], [0, 0, 1, 0]]))
    moved = rest_udp_coordinates(bar, pushed_out)
    assert moved.min() >= 0.0 and moved.max() <= 1.0
    np.testing.assert_allclose(moved, np.clip(pushed_out.apply(plain), 0.0, 1.0), atol=1e-6)
