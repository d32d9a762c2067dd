"""One-Euro filters: steady at rest, less noise, bounded lag, timestamp-driven, quaternion-safe."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from avatar_app.rig.quaternion import quat_slerp as slerp
from avatar_app.tracking.smoothing import OneEuroFilter, OneEuroQuaternionFilter

FPS = 30.0


def run(filt, signal, fps=FPS):
    return np.stack([filt(x, i / fps) for i, x in enumerate(signal)])


def test_constant_signal_stays_exactly_constant():
    signal = np.broadcast_to(np.array([[0.25, -3.0, 7.5]]), (60, 33, 3))
    out = run(OneEuroFilter(), signal)
    assert out.shape == (60, 33, 3)
    np.testing.assert_array_equal(out, signal)


def test_noise_variance_is_reduced_per_element():
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 1.0, size=(300, 33, 3))
    out = run(OneEuroFilter(min_cutoff=1.0, beta=0.007), noise)
    ratio = out[30:].var(axis=0) / noise[30:].var(axis=0)
    assert ratio.max() < 0.25, ratio.max()


def step_response_time_s(beta, step=100.0, fps=FPS, tolerance=0.05):
    signal = np.where(np.arange(int(3 * fps)) < fps, 0.0, step)
    out = run(OneEuroFilter(min_cutoff=1.0, beta=beta), signal, fps)
    settled = np.flatnonzero(np.abs(out - step) > tolerance * step)
    return (settled[-1] + 1 - fps) / fps


def test_step_is_followed_with_bounded_lag_and_beta_shortens_it():
    lag_adaptive = step_response_time_s(beta=0.007)  # a 100 px step, the paper's pixel setting
    lag_fixed = step_response_time_s(beta=0.0)  # plain 1 Hz low-pass
    assert lag_adaptive < 0.35, lag_adaptive
    assert lag_fixed < 0.6, lag_fixed
    assert lag_adaptive < 0.75 * lag_fixed


def test_smoothing_per_second_does_not_depend_on_frame_rate():
    lag_30 = step_response_time_s(beta=0.0, fps=30.0)
    lag_120 = step_response_time_s(beta=0.0, fps=120.0)
    assert abs(lag_30 - lag_120) < 0.06


def test_missing_values_hold_their_last_estimate():
    filt = OneEuroFilter()
    filt(np.array([1.0, 2.0]), 0.0)
    out = filt(np.array([np.nan, 4.0]), 1 / FPS)
    assert out[0] == 1.0 and 2.0 < out[1] < 4.0
    late = OneEuroFilter()
    assert np.isnan(late(np.array([np.nan]), 0.0)[0])
    assert late(np.array([5.0]), 0.1)[0] == 5.0  # first sighting starts at the value


def test_repeated_timestamp_returns_previous_output():
    filt = OneEuroFilter()
    filt(np.array([0.0]), 0.0)
    first = filt(np.array([1.0]), 0.1)
    again = filt(np.array([100.0]), 0.1)
    np.testing.assert_array_equal(first, again)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0)
    with pytest.raises(ValueError):
        OneEuroQuaternionFilter(beta=-1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=40), st.floats(0.0, 1.0), st.floats(0.1, 5.0))
def test_output_never_leaves_the_range_of_the_inputs(values, beta, min_cutoff):
    out = run(OneEuroFilter(min_cutoff=min_cutoff, beta=beta), np.array(values)[:, None])[:, 0]
    for i, y in enumerate(out):
        seen = values[: i + 1]
        assert min(seen) - 1e-9 <= y <= max(seen) + 1e-9


def angle_between(q0, q1):
    return 2 * np.arccos(np.clip(np.abs(np.sum(q0 * q1, axis=-1)), 0, 1))


def test_quaternion_filter_keeps_a_constant_rotation_and_ignores_sign_flips():
    q = Rotation.from_euler("xyz", [0.3, -0.5, 1.0]).as_quat()
    signal = np.stack([q if i % 2 else -q for i in range(30)])
    out = run(OneEuroQuaternionFilter(), signal)
    assert np.all(angle_between(out, q) < 1e-6)
    assert np.all(np.sum(out[1:] * out[:-1], axis=-1) > 0.999), "output must not flip hemisphere"


def test_quaternion_filter_reduces_angular_noise_and_stays_unit_length():
    rng = np.random.default_rng(1)
    base = Rotation.from_euler("y", 0.7)
    noisy = (base * Rotation.from_rotvec(rng.normal(0, 0.05, size=(200, 3)))).as_quat()
    out = run(OneEuroQuaternionFilter(min_cutoff=1.0, beta=0.1), noisy)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-12)
    err_in = angle_between(noisy[30:], base.as_quat()).mean()
    err_out = angle_between(out[30:], base.as_quat()).mean()
    assert err_out < 0.4 * err_in


def test_quaternion_filter_follows_a_rotation_step_batched():
    start, end = Rotation.identity().as_quat(), Rotation.from_euler("x", 1.2).as_quat()
    signal = np.stack([np.stack([start, start]) if i < 30 else np.stack([end, -end]) for i in range(90)])
    out = run(OneEuroQuaternionFilter(min_cutoff=1.0, beta=0.3), signal)
    assert out.shape == (90, 2, 4)
    assert np.all(angle_between(out[60:], end) < 0.05)


def test_slerp_endpoints_and_midpoint():
    q0, q1 = Rotation.identity().as_quat(), Rotation.from_euler("z", 1.0).as_quat()
    np.testing.assert_allclose(slerp(q0, q1, 0.0), q0, atol=1e-12)
    np.testing.assert_allclose(np.abs(slerp(q0, -q1, 1.0)), np.abs(q1), atol=1e-12)
    mid = Rotation.from_quat(slerp(q0, q1, 0.5)).as_rotvec()
    np.testing.assert_allclose(mid, [0, 0, 0.5], atol=1e-12)
