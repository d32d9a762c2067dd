"""Quaternion maths against rotation matrices and closed forms (xyzw order)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from avatar_app.rig.quaternion import (
    cross3,
    matrix_to_quat,
    quat_between,
    quat_from_axis_angle,
    quat_from_euler,
    quat_multiply,
    quat_normalize,
    quat_rotate,
    quat_slerp,
    quat_to_matrix,
    rotation_between_matrix,
)

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
quats = arrays(np.float64, 4, elements=finite).filter(lambda q: np.linalg.norm(q) > 1e-3).map(quat_normalize)
vecs = arrays(np.float64, 3, elements=finite).filter(lambda v: np.linalg.norm(v) > 1e-3)


def test_quarter_turn_about_z_maps_x_to_y():
    q = quat_from_axis_angle([0, 0, 1], math.pi / 2)
    np.testing.assert_allclose(q, [0, 0, math.sqrt(0.5), math.sqrt(0.5)], atol=1e-15)  # xyzw
    np.testing.assert_allclose(quat_rotate(q, [1.0, 0.0, 0.0]), [0, 1, 0], atol=1e-15)
    np.testing.assert_allclose(quat_to_matrix(q), [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-15)


def test_euler_follows_channel_order():
    a, b, c = np.radians([30.0, -50.0, 70.0])
    rz = quat_to_matrix(quat_from_axis_angle([0, 0, 1], a))
    rx = quat_to_matrix(quat_from_axis_angle([1, 0, 0], b))
    ry = quat_to_matrix(quat_from_axis_angle([0, 1, 0], c))
    np.testing.assert_allclose(quat_to_matrix(quat_from_euler([a, b, c], "ZXY")), rz @ rx @ ry, atol=1e-14)


def test_matrix_to_quat_is_exact_at_half_turns():
    for axis in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, -1, 0], [1, 2, -3]):
        q = quat_from_axis_angle(axis, math.pi)
        back = matrix_to_quat(quat_to_matrix(q))
        assert abs(abs(np.dot(back, q)) - 1.0) < 1e-12


@settings(max_examples=200, deadline=None)
@given(quats, quats, vecs)
def test_product_composes_like_matrices(a, b, v):
    np.testing.assert_allclose(quat_to_matrix(quat_multiply(a, b)), quat_to_matrix(a) @ quat_to_matrix(b), atol=1e-12)
    np.testing.assert_allclose(quat_rotate(a, v), quat_to_matrix(a) @ v, atol=1e-11)


@settings(max_examples=200, deadline=None)
@given(quats)
def test_matrix_round_trip(q):
    m = quat_to_matrix(q)
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-12)
    assert abs(abs(np.dot(matrix_to_quat(m), q)) - 1.0) < 1e-12


@settings(max_examples=200, deadline=None)
@given(vecs, vecs)
def test_shortest_arc_maps_u_onto_v(u, v):
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    np.testing.assert_allclose(quat_rotate(quat_between(u, v), u), v, atol=1e-9)
    np.testing.assert_allclose(cross3(u, v), np.cross(u, v), atol=1e-14)
    if np.dot(u, v) > -0.999:
        np.testing.assert_allclose(rotation_between_matrix(u, v) @ u, v, atol=1e-9)


def test_shortest_arc_of_nearly_opposite_vectors_is_accurate():
    """Found by hypothesis: 1 + u.v cancels when v is 6e-8 rad from -u."""
    u = np.array([-1.0, 0.0, 0.0])
    v = np.array([1.0, 6e-8, 0.0])
    v /= np.linalg.norm(v)
    np.testing.assert_allclose(quat_rotate(quat_between(u, v), u), v, atol=1e-12)


def test_shortest_arc_of_opposite_vectors_is_a_half_turn():
    u = np.array([0.0, 1.0, 0.0])
    q = quat_between(u, -u)
    np.testing.assert_allclose(quat_rotate(q, u), -u, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(quats, quats)
def test_slerp_endpoints_and_midpoint_angle(a, b):
    assert abs(abs(np.dot(quat_slerp(a, b, 0.0), a)) - 1) < 1e-9
    assert abs(abs(np.dot(quat_slerp(a, b, 1.0), b)) - 1) < 1e-9
    mid = quat_slerp(a, b, 0.5)
    d_am = abs(np.dot(a, mid))
    d_mb = abs(np.dot(mid, b))
    assert abs(d_am - d_mb) < 1e-7  # halfway in angle
