"""One-Euro filters: jitter removal for live tracking that keeps fast motion responsive.

From Casiez, Roussel and Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter
for Noisy Input in Interactive Systems", CHI 2012. An exponential low-pass
filter whose cutoff rises with the (low-passed) speed of the signal:

    cutoff = min_cutoff + beta * |speed|         alpha = 1 / (1 + tau / dt),  tau = 1 / (2 pi cutoff)

* ``min_cutoff`` (Hz) sets the jitter at rest: lower = smoother, laggier when slow.
* ``beta`` sets how fast the cutoff opens with speed: higher = less lag when moving.
  beta multiplies a speed in *signal units per second*, so it depends on units.
  The paper's 0.007 suits pixels; for other units scale it by pixels per unit,
  e.g. image-normalised coordinates on a 640 px frame: ~0.007 * 640 = 4.5;
  metres for a person filling ~400 px of a 1.7 m frame: ~0.007 * 235 = 1.6.
* ``d_cutoff`` (Hz) smooths the speed estimate itself; 1 Hz as in the paper.

Tuning, as the paper advises: set beta = 0 and lower min_cutoff until the signal
is steady at rest, then raise beta until fast moves no longer lag.

The filters are driven by timestamps (seconds), not by a nominal frame rate, so
dropped or irregular frames do not change how much smoothing a second gets.

In the live loop, filter `PoseLandmarks.world` (metres) before retargeting, or
the retargeted HumanoidPose rotations with the quaternion filter; the numbers
above are starting points to tune, not measured optima.

Rotations: filtering quaternion components independently breaks unit length
and mishandles q / -q sign flips. Use `OneEuroQuaternionFilter`, which measures
speed as angular velocity (rad/s, so beta is per rad/s: ~0.05-0.5) and blends by
slerp on the sign-aligned hemisphere. Quaternions are (x, y, z, w).
"""

from __future__ import annotations

import math

import numpy as np

from avatar_app.rig.quaternion import quat_slerp


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """One-Euro filter over an array of any shape (every element filtered independently).

    ``filter(x, t)`` returns the smoothed array (float64, same shape). Elements
    that are NaN in ``x`` (missing this frame) keep their previous value and
    state. A repeated or older timestamp returns the previous output unchanged.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.007, d_cutoff: float = 1.0):
        if not (min_cutoff > 0 and d_cutoff > 0 and beta >= 0):
            raise ValueError(
                f"OneEuroFilter wants min_cutoff > 0, d_cutoff > 0, beta >= 0; got {min_cutoff}, {d_cutoff}, {beta}"
            )
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def filter(self, x, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x = np.where(np.isfinite(x), x, np.nan)
            self._dx = np.zeros_like(x)
            self._t = float(t)
            return self._x.copy()
        dt = float(t) - self._t
        if dt <= 0:
            return self._x.copy()
        seen = np.isfinite(x)
        first = seen & ~np.isfinite(self._x)  # elements seen for the first time start there
        prev = np.where(first, x, self._x)
        dx = np.where(seen, (x - prev) / dt, 0.0)
        dx_hat = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        x_hat = prev + _alpha(cutoff, dt) * (x - prev)
        self._x = np.where(seen, x_hat, self._x)
        self._dx = np.where(seen, dx_hat, self._dx)
        self._t = float(t)
        return self._x.copy()

    __call__ = filter


def _normalize(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


class OneEuroQuaternionFilter:
    """One-Euro filter for unit quaternions [..., 4] in (x, y, z, w) order.

    Speed is the angular velocity in rad/s between the previous output and the
    new sample; output = slerp(previous, sample, alpha). The output sign follows
    the previous output, so q / -q flips in the input cause no jumps.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.1, d_cutoff: float = 1.0):
        if not (min_cutoff > 0 and d_cutoff > 0 and beta >= 0):
            raise ValueError(
                "OneEuroQuaternionFilter wants min_cutoff > 0, d_cutoff > 0, beta >= 0; "
                f"got {min_cutoff}, {d_cutoff}, {beta}"
            )
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        self._q: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._t: float | None = None

    def filter(self, q, t: float) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        if q.shape[-1] != 4:
            raise ValueError(f"OneEuroQuaternionFilter wants [..., 4] (x, y, z, w) quaternions, got shape {q.shape}")
        q = _normalize(q)
        if self._q is None or self._q.shape != q.shape:
            self._q, self._speed, self._t = q, np.zeros(q.shape[:-1]), float(t)
            return q.copy()
        dt = float(t) - self._t
        if dt <= 0:
            return self._q.copy()
        dot = np.abs(np.sum(q * self._q, axis=-1))
        speed = 2.0 * np.arccos(np.clip(dot, -1.0, 1.0)) / dt
        self._speed = self._speed + _alpha(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * self._speed
        self._q = quat_slerp(self._q, q, _alpha(cutoff, dt))
        self._t = float(t)
        return self._q.copy()

    __call__ = filter
