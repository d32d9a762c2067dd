"""Quaternion and rotation maths, vectorized over leading axes.

Convention: quaternions are ``[..., 4]`` arrays in **xyzw** order (the glTF
order), unit length, and act on column vectors: ``v' = q v q*``. Products
compose like matrices: ``quat_multiply(a, b)`` rotates by ``b`` first, then
by ``a``, exactly as ``quat_to_matrix(a) @ quat_to_matrix(b)``.
"""

from __future__ import annotations

import numpy as np

_AXES = {"X": 0, "Y": 1, "Z": 2}


# The hot functions below are written as products with small constant tensors:
# a quaternion product is bilinear, a rotation matrix quadratic in q, and so on.
# One matmul replaces a dozen tiny element-wise numpy calls, which is what
# dominates the cost for the few-dozen-element arrays of a rig.
def _levi_civita() -> np.ndarray:
    eps = np.zeros((3, 3, 3))
    eps[0, 1, 2] = eps[1, 2, 0] = eps[2, 0, 1] = 1.0
    eps[0, 2, 1] = eps[2, 1, 0] = eps[1, 0, 2] = -1.0
    return eps


_EPS = _levi_civita()
_CROSS = _EPS.transpose(1, 2, 0).reshape(9, 3)  # (a_i b_j) -> (a x b)_k
_SKEW = -_EPS.reshape(3, 9)  # k -> [k]_x flattened, so [k]_x v = k x v


def _quat_product_tensor() -> np.ndarray:
    t = np.zeros((4, 4, 4))
    # xyzw; (a*b): w = aw bw - a.b ; v = aw bv + bw av + av x bv
    for i in range(3):
        t[3, i, i] = 1.0
        t[i, 3, i] = 1.0
        t[i, i, 3] = -1.0
        for j in range(3):
            for k in range(3):
                t[i, j, k] += _EPS[i, j, k]
    t[3, 3, 3] = 1.0
    return t.reshape(16, 4)


_QMUL = _quat_product_tensor()


def _quat_matrix_tensor() -> tuple[np.ndarray, np.ndarray]:
    # R = (w^2 - v.v) I + 2 v v^T + 2 w [v]_x, as a linear map of q q^T (valid for unit q)
    t = np.zeros((4, 4, 3, 3))
    for i in range(3):
        t[3, 3, i, i] += 1.0
        for k in range(3):
            t[k, k, i, i] -= 1.0
        for j in range(3):
            t[i, j, i, j] += 2.0
            for k in range(3):
                t[3, k, i, j] += 2.0 * -_EPS[k, i, j]
    return t.reshape(16, 9), np.zeros(9)


_QMAT, _ = _quat_matrix_tensor()


def _bar_itzhack() -> tuple[np.ndarray, np.ndarray]:
    # K = 4 q q^T (xyzw) as an affine map of the 9 matrix entries
    lin = np.zeros((3, 3, 4, 4))
    const = np.zeros((4, 4))
    diag_signs = [(1, -1, -1), (-1, 1, -1), (-1, -1, 1), (1, 1, 1)]
    for a, signs in enumerate(diag_signs):
        const[a, a] = 1.0
        for i in range(3):
            lin[i, i, a, a] = signs[i]
    for a, b in ((0, 1), (0, 2), (1, 2)):
        lin[a, b, a, b] = lin[b, a, a, b] = lin[a, b, b, a] = lin[b, a, b, a] = 1.0
    for k, (i, j) in enumerate(((2, 1), (0, 2), (1, 0))):
        lin[i, j, k, 3] = lin[i, j, 3, k] = 1.0
        lin[j, i, k, 3] = lin[j, i, 3, k] = -1.0
    return lin.reshape(9, 16), const.reshape(16)


_BI_LIN, _BI_CONST = _bar_itzhack()


def identity_quat(*shape: int) -> np.ndarray:
    q = np.zeros((*shape, 4))
    q[..., 3] = 1.0
    return q


def quat_normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(n > 1e-12, q / np.maximum(n, 1e-12), identity_quat(*q.shape[:-1]))


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([-q[..., :3], q[..., 3:]], axis=-1)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    outer = a[..., :, None] * b[..., None, :]
    return outer.reshape(*outer.shape[:-2], 16) @ _QMUL


def cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` for ``[..., 3]`` arrays without its per-call overhead (hot path)."""
    outer = a[..., :, None] * b[..., None, :]
    return outer.reshape(*outer.shape[:-2], 9) @ _CROSS


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v [..., 3]`` by unit quaternions ``q [..., 4]``."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u = np.broadcast_to(q[..., :3], np.broadcast_shapes(q[..., :3].shape, v.shape))
    t = 2.0 * cross3(u, v)
    return v + q[..., 3:] * t + cross3(u, t)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    outer = q[..., :, None] * q[..., None, :]
    return (outer.reshape(*q.shape[:-1], 16) @ _QMAT).reshape(*q.shape[:-1], 3, 3)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` to unit quaternions (sign: w >= 0).

    Builds the symmetric matrix ``K = 4 q q^T`` from ``m`` and takes the column
    of its largest diagonal entry (Shepperd / Bar-Itzhack), which stays
    accurate near 180 degrees.
    """
    m = np.asarray(m, dtype=np.float64)
    k = (m.reshape(*m.shape[:-2], 9) @ _BI_LIN + _BI_CONST).reshape(*m.shape[:-2], 4, 4)
    pick = np.argmax(k.reshape(*m.shape[:-2], 16)[..., ::5], axis=-1)[..., None, None]
    q = np.take_along_axis(k, pick, axis=-2)[..., 0, :]
    q = q / np.sqrt(np.sum(q * q, axis=-1, keepdims=True))
    return np.where(q[..., 3:] < 0, -q, q)


def quat_from_axis_angle(axis, angle) -> np.ndarray:
    """Axis ``[..., 3]`` (any length > 0) and angle in radians ``[...]``."""
    axis = np.asarray(axis, dtype=np.float64)
    angle = np.asarray(angle, dtype=np.float64)
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-300)
    half = 0.5 * angle[..., None]
    return np.concatenate([axis * np.sin(half), np.cos(half)], axis=-1)


def quat_from_euler(angles, order: str) -> np.ndarray:
    """Rotation ``R = R_order[0](a0) @ R_order[1](a1) @ R_order[2](a2)``.

    ``angles [..., len(order)]`` in radians; ``order`` like ``"ZXY"``. This is
    the BVH rule: the channel listed first is the outermost rotation.
    """
    angles = np.asarray(angles, dtype=np.float64)
    q = identity_quat(*angles.shape[:-1])
    for k, letter in enumerate(order.upper()):
        axis = np.zeros(3)
        axis[_AXES[letter]] = 1.0
        q = quat_multiply(q, quat_from_axis_angle(axis, angles[..., k]))
    return q


def quat_to_axis_angle(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit quaternions to (unit axis, angle in [0, pi])."""
    q = quat_normalize(q)
    q = np.where(q[..., 3:] < 0, -q, q)
    s = np.linalg.norm(q[..., :3], axis=-1)
    angle = 2.0 * np.arctan2(s, q[..., 3])
    axis = np.where(s[..., None] > 1e-12, q[..., :3] / np.maximum(s, 1e-12)[..., None], np.array([1.0, 0.0, 0.0]))
    return axis, angle


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) of the rotation taking ``a`` to ``b``."""
    d = np.abs(np.sum(quat_normalize(a) * quat_normalize(b), axis=-1))
    return 2.0 * np.arccos(np.clip(d, 0.0, 1.0))


def quat_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shortest-arc rotation taking direction ``u`` onto direction ``v``.

    Opposite directions have no unique answer; we turn about an axis
    perpendicular to ``u`` (deterministically chosen) so the result is finite.
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-300)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-300)
    # 1 + u.v cancels catastrophically near opposite directions; |u+v|^2 / 2 is the same
    # quantity for unit vectors without the cancellation. The rounded cross product of
    # nearly (anti)parallel vectors is not quite perpendicular to u: project it back.
    w = 0.5 * np.sum((u + v) ** 2, axis=-1, keepdims=True)
    axis = np.cross(u, v)
    axis = axis - np.sum(axis * u, axis=-1, keepdims=True) * u
    q = np.concatenate([axis, w], axis=-1)
    # Within ~1.4e-10 rad of opposite the axis is rounding noise: a half turn about any
    # perpendicular axis is then exact to that angle.
    opposite = w[..., 0] < 1e-20
    if np.any(opposite):
        helper = np.where(np.abs(u[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
        perp = np.cross(u, helper)
        q = np.where(opposite[..., None], np.concatenate([perp, np.zeros_like(w)], axis=-1), q)
    return quat_normalize(q)


def quat_slerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Spherical interpolation along the shorter arc; ``t`` broadcasts over ``[...]``."""
    a = quat_normalize(a)
    b = quat_normalize(b)
    t = np.asarray(t, dtype=np.float64)[..., None]
    d = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(d < 0, -b, b)
    d = np.abs(d)
    theta = np.arccos(np.clip(d, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6
    safe = np.where(near, 1.0, sin_theta)
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(near, t, np.sin(t * theta) / safe)
    return quat_normalize(wa * a + wb * b)


def quat_nlerp(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Normalized linear interpolation (cheap; fine for small angles)."""
    t = np.asarray(t, dtype=np.float64)[..., None]
    d = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(d < 0, -b, b)
    return quat_normalize((1.0 - t) * a + t * b)


def rotation_between_matrix(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shortest-arc rotation matrices ``[..., 3, 3]`` taking unit ``u`` to unit ``v``.

    Both inputs must already be unit length. Rodrigues' formula in the
    ``R = c I + [k]x + k k^T / (1 + c)`` form (``k = u x v``, ``c = u.v``),
    exact for unit vectors; the spring-bone hot path, so no quaternions.
    """
    c = np.sum(u * v, axis=-1)[..., None, None]
    k = cross3(u, v)
    skew = (k @ _SKEW).reshape(*k.shape[:-1], 3, 3)
    kk = k[..., :, None] * k[..., None, :]
    return c * np.eye(3) + skew + kk / np.maximum(1.0 + c, 1e-9)
