"""Winograd transforms and the per-layer plans built from them (see ``winograd.py``).

The matrices come from the Toom-Cook construction in exact fractions (Lavin & Gray,
"Fast Algorithms for Convolutional Neural Networks", CVPR 2016); a plan holds one layer's
1-D transforms and its weights pre-transformed in float64 (``U = G g G^T``), which is all
the engine (``winograd_engine.py``) needs to run it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch

__all__ = ["Plan", "plan_conv3x3", "plan_convt4x4", "toom_cook"]

# Interpolation points (plus the point at infinity) per F(m, r). For F(4,3),
# {0, -1, 1, 1/2, -2} (Barabasz et al., 2020) measured 2.5x lower max error than
# Lavin's {0, +-1, +-2}; the rest are the usual small integers and halves.
_POINTS = {
    (4, 3): (0, -1, 1, Fraction(1, 2), -2),
    (6, 3): (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2)),
    (4, 2): (0, 1, -1, 2),
}


# ---- transform matrices --------------------------------------------------------------


def _inverse(rows: list[list[Fraction]]) -> list[list[Fraction]]:
    n = len(rows)
    a = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(rows)]
    for c in range(n):
        p = next(r for r in range(c, n) if a[r][c] != 0)
        a[c], a[p] = a[p], a[c]
        a[c] = [v / a[c][c] for v in a[c]]
        for r in range(n):
            if r != c and a[r][c] != 0:
                f = a[r][c]
                a[r] = [x - f * y for x, y in zip(a[r], a[c])]
    return [row[n:] for row in a]


def _evaluation(points, n: int) -> list[list[Fraction]]:
    """Rows: a degree n-1 polynomial's values at ``points``, then its leading coefficient (infinity)."""
    rows = [[Fraction(p) ** k for k in range(n)] for p in points]
    rows.append([Fraction(int(k == n - 1)) for k in range(n)])
    return rows


def toom_cook(m: int, r: int, points=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(A^T, G, B^T)`` in float64 such that ``A^T [(G g) * (B^T d)]`` correlates d with g.

    The transpose of Toom-Cook polynomial multiplication at ``points`` + infinity,
    built in exact fractions. Each row of B^T is scaled to small integers and the factor
    moved into G (applied once to the weights in float64), so the per-frame input
    transform has exact coefficients.
    """
    points = _POINTS[(m, r)] if points is None else points
    alpha = m + r - 1
    if len(points) != alpha - 1:
        raise ValueError(f"F({m},{r}): expected {alpha - 1} finite points, found {len(points)}. Fix: pass {alpha - 1}.")
    g_rows = _evaluation(points, r)
    at = [list(col) for col in zip(*_evaluation(points, m))]
    bt = [list(col) for col in zip(*_inverse(_evaluation(points, alpha)))]
    for j in range(alpha):
        scale = Fraction(math.lcm(*(v.denominator for v in bt[j])), math.gcd(*(v.numerator for v in bt[j])))
        bt[j] = [v * scale for v in bt[j]]
        g_rows[j] = [v / scale for v in g_rows[j]]
    as_tensor = lambda rows: torch.tensor([[float(v) for v in row] for row in rows], dtype=torch.float64)  # noqa: E731
    return as_tensor(at), as_tensor(g_rows), as_tensor(bt)


# ---- plans: transforms + transformed weights of one layer ------------------------------


@dataclass(frozen=True)
class Plan:
    """Tile (ty, tx) reads the ``window``-square block of the padded input at ``(m*ty, m*tx)``
    and writes the ``m*up``-square output block at ``(m*up*ty, m*up*tx)``.

    ``up`` is 2 for the transposed conv: output phase (py, px) is its own Winograd problem
    on the shared window, with input transform ``b_in[py]`` on rows, ``b_in[px]`` on columns.
    """

    m: int
    window: int
    up: int
    b_in: torch.Tensor  # [up, alpha, window] 1-D input transform per phase
    a_out: torch.Tensor  # [m, alpha] 1-D output transform
    u: torch.Tensor  # [up, up, alpha^2, C_in, C_out] transformed weights per phase

    @property
    def alpha(self) -> int:
        return self.a_out.shape[1]


def plan_conv3x3(weight: torch.Tensor, m: int) -> Plan:
    at, g, bt = toom_cook(m, 3)
    a = m + 2
    u = torch.einsum("ik,ockl,jl->ijco", g, weight.detach().double().cpu(), g)
    return Plan(m, a, 1, bt.float()[None], at.float(), u.reshape(1, 1, a * a, *u.shape[2:]).float().contiguous())


def plan_convt4x4(weight: torch.Tensor, m: int) -> Plan:
    """ConvT(4, s2, p1): ``out[2q+py] = sum_a x[q-1+py+a] * w[3-py-2a]`` for taps a = 0, 1.

    So phase py is a 2-tap correlation whose tile starts ``py`` rows into the shared
    ``m+2``-row window (padded coordinates). Weights are ``[C_in, C_out, kh, kw]``,
    already the GEMM's ``[C_in, C_out]`` orientation.
    """
    at, g, bt = toom_cook(m, 2)
    a = m + 1
    zeros = lambda k: torch.zeros(a, k, dtype=bt.dtype)  # noqa: E731
    b_in = torch.stack([torch.cat([zeros(p), bt, zeros(1 - p)], 1) for p in (0, 1)])
    w = weight.detach().double().cpu()
    taps = ([3, 1], [2, 0])  # kernel index of tap 0, 1 in phase 0, 1
    u = torch.stack(
        [
            torch.stack([torch.einsum("ik,cokl,jl->ijco", g, w[:, :, taps[py]][:, :, :, taps[px]], g) for px in (0, 1)])
            for py in (0, 1)
        ]
    )
    return Plan(m, m + 2, 2, b_in.float(), at.float(), u.reshape(2, 2, a * a, *w.shape[:2]).float().contiguous())
