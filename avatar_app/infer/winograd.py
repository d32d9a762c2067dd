"""Winograd convolutions for the shader on CPU (fp32): fewer multiplications, same numbers.

The shader spends most of a frame in 3x3 stride-1 convs and 4x4/stride-2 transposed
convs at 224 channels, which oneDNN runs directly (9 and 16 multiply-adds per input
pixel per channel pair) close to the CPU's peak. Winograd's minimal filtering
(Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016; matrices
from the Toom-Cook construction) trades most multiplications for cheap linear transforms
of overlapping input tiles and of output tiles, leaving one batched GEMM per position
in the transformed tile:

* 3x3 conv, F(4x4, 3x3) (F(6x6, 3x3) on large images): 2.25 (1.78) MACs per output.
* 4x4/s2 transposed conv: each of the 4 output phases is a 2x2 conv of the input
  (flipped kernel, every other tap); F(4x4, 2x2) per phase: 6.25 MACs per input pixel.
  The phases share one input window copy and its row transform.

Per chunk of tiles (sized so the chunk stays in L2/L3): copy the input windows into a
``[window, window, tiles, C_in]`` buffer, transform rows and columns (two small GEMMs),
one batched GEMM with the weights pre-transformed in float64 (``U = G g G^T``), inverse
transform (two small GEMMs), scatter + bias into the output. Plain torch ops (MKL sgemm):
nothing to compile, nothing to install. Chunks run on a private pool of single-threaded
workers, one per intra-op thread of the caller: a layer is ~30 small ops per chunk, and
with OpenMP inside each op every one of them would wait for a core that another
process (or the app's own capture thread) holds.

The fast layers subclass ``nn.Conv2d`` / ``nn.ConvTranspose2d`` and share the original
``weight``/``bias`` parameters, so state_dict keys, attributes and ``isinstance`` checks
are unchanged. The fast path runs for 4-D fp32 CPU inputs of at least ``min_pixels``
pixels when no gradient is needed; anything else runs the stock convolution.
Measurements (2-core EPYC): ``tools/bench_winograd.py``.
"""

from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import nn

__all__ = ["Winograd3x3", "WinogradConvTranspose4x4", "accelerate_shader"]

log = logging.getLogger(__name__)

# Interpolation points (plus the point at infinity) per F(m, r). For F(4,3),
# {0, -1, 1, 1/2, -2} (Barabasz et al., 2020) measured 2.5x lower max error than
# Lavin's {0, +-1, +-2}; the rest are the usual small integers and halves.
_POINTS = {
    (4, 3): (0, -1, 1, Fraction(1, 2), -2),
    (6, 3): (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2)),
    (4, 2): (0, 1, -1, 2),
}

# Below these sizes the stock conv is as fast (tools/bench_winograd.py --extra): at 224
# channels 3x3 and ConvT tie at 4x4 input pixels and win from 8x8; 64->64 channels at
# 256x256 lose 20% (the transforms cost more than the multiplications they save).
MIN_PIXELS = 64
MIN_CHANNELS = 128
# F(6,3) beats F(4,3) only on large images (~10% at 64x64; tile padding loses at 32x32).
_F63_MIN_PIXELS = 48 * 48
# Transformed tiles of one chunk (alpha^2 * tiles * channels * 4 bytes) stay in L2/L3;
# below ~32 tiles the GEMMs get too short to run well. _CHUNK_PARALLEL=False runs the
# chunks in the caller with OpenMP inside each op (for A/B measurements).
_CHUNK_BYTES = 8 << 20
_MIN_CHUNK_TILES = 32
_MAX_CHUNK_TILES = 256
_CHUNK_PARALLEL = True


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


def _toom_cook(m: int, r: int, points=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
class _Plan:
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


def _plan_conv3x3(weight: torch.Tensor, m: int) -> _Plan:
    at, g, bt = _toom_cook(m, 3)
    a = m + 2
    u = torch.einsum("ik,ockl,jl->ijco", g, weight.detach().double().cpu(), g)
    return _Plan(m, a, 1, bt.float()[None], at.float(), u.reshape(1, 1, a * a, *u.shape[2:]).float().contiguous())


def _plan_convt4x4(weight: torch.Tensor, m: int) -> _Plan:
    """ConvT(4, s2, p1): ``out[2q+py] = sum_a x[q-1+py+a] * w[3-py-2a]`` for taps a = 0, 1.

    So phase py is a 2-tap correlation whose tile starts ``py`` rows into the shared
    ``m+2``-row window (padded coordinates). Weights are ``[C_in, C_out, kh, kw]``,
    already the GEMM's ``[C_in, C_out]`` orientation.
    """
    at, g, bt = _toom_cook(m, 2)
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
    return _Plan(m, m + 2, 2, b_in.float(), at.float(), u.reshape(2, 2, a * a, *w.shape[:2]).float().contiguous())


# ---- the engine ----------------------------------------------------------------------


def _pad_nhwc(x: torch.Tensor, hp: int, wp: int) -> torch.Tensor:
    """``x`` [N,C,H,W] (any strides) -> NHWC [N,hp,wp,C]: one zero row/col top-left, zeros bottom-right."""
    n, c, h, w = x.shape
    xp = x.new_empty((n, hp, wp, c))
    xp[:, 0].zero_()
    xp[:, h + 1 :].zero_()
    xp[:, 1 : h + 1, 0].zero_()
    xp[:, 1 : h + 1, w + 1 :].zero_()
    xp[:, 1 : h + 1, 1 : w + 1] = x.permute(0, 2, 3, 1)
    return xp


def _chunks(n: int, th: int, tw: int, max_tiles: int) -> list[tuple[int, int, int, int]]:
    """(n0, n1, r0, r1): several whole images, or a band of tile rows of one image."""
    if th * tw <= max_tiles:
        imgs = max_tiles // (th * tw)
        return [(i, min(n, i + imgs), 0, th) for i in range(0, n, imgs)]
    rows = max(1, max_tiles // tw)
    return [(i, i + 1, r, min(th, r + rows)) for i in range(n) for r in range(0, th, rows)]


def _pool_task(inference: bool, *args) -> None:
    # Grad and inference modes are thread-local: a pool thread takes the caller's.
    with torch.inference_mode(inference), torch.no_grad():
        _process(*args)


def _process(plan: _Plan, xp: torch.Tensor, out_tiles: torch.Tensor, bias, todo: list, lock, max_t: int) -> None:
    """Run chunks popped from ``todo`` until it is empty, with this thread's own buffers."""
    c = xp.shape[3]
    tw, o = out_tiles.shape[4], out_tiles.shape[7]
    m, up, win, alpha = plan.m, plan.up, plan.window, plan.alpha
    a2 = alpha * alpha
    s_n, s_h, s_w, s_c = xp.stride()
    # One flat buffer per stage, sized for the largest chunk and re-viewed per chunk.
    sizes = {"d": win * win * c, "x": alpha * win * c, "v": a2 * c, "m": a2 * o, "y1": m * alpha * o, "y2": m * m * o}
    buf = {k: xp.new_empty(size * max_t) for k, size in sizes.items()}
    b_cols = [plan.b_in[p].expand(alpha, alpha, win) for p in range(up)]
    a_cols = plan.a_out.expand(m, m, alpha)
    while True:
        with lock:
            if not todo:
                return
            n0, n1, r0, r1 = todo.pop()
        nc, rc = n1 - n0, r1 - r0
        t = nc * rc * tw
        windows = xp.as_strided(
            (win, win, nc, rc, tw, c), (s_h, s_w, s_n, m * s_h, m * s_w, s_c), xp.storage_offset() + n0 * s_n + r0 * m * s_h
        )
        d = buf["d"][: sizes["d"] * t].view(win, win, nc, rc, tw, c)
        d.copy_(windows)
        d = d.view(win, win * t * c)
        rows_t = buf["x"][: sizes["x"] * t].view(alpha, win * t * c)
        v = buf["v"][: sizes["v"] * t]
        mm = buf["m"][: sizes["m"] * t]
        y1 = buf["y1"][: sizes["y1"] * t].view(m, alpha * t * o)
        y2 = buf["y2"][: sizes["y2"] * t]
        dst_rows = out_tiles[n0:n1, r0:r1]
        for py in range(up):
            torch.mm(plan.b_in[py], d, out=rows_t)  # input transform, rows
            for px in range(up):
                torch.bmm(b_cols[px], rows_t.view(alpha, win, t * c), out=v.view(alpha, alpha, t * c))  # columns
                torch.bmm(v.view(a2, t, c), plan.u[py, px], out=mm.view(a2, t, o))
                torch.mm(plan.a_out, mm.view(alpha, alpha * t * o), out=y1)  # output transform, rows
                torch.bmm(a_cols, y1.view(m, alpha, t * o), out=y2.view(m, m, t * o))  # columns
                src = y2.view(m, m, nc, rc, tw, o).permute(2, 3, 0, 4, 1, 5)
                dst = dst_rows[:, :, :, py, :, :, px]
                if bias is None:
                    dst.copy_(src)
                else:
                    torch.add(src, bias, out=dst)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _single_threaded() -> None:
    torch.set_num_threads(1)  # per-thread for OpenMP and MKL (checked), but also torch's default for new threads


def _workers(count: int) -> ThreadPoolExecutor:
    """Threads that each run chunks with one intra-op thread (created once, reused)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < count:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(count, thread_name_prefix="winograd", initializer=_single_threaded)
        return _pool


def _run(plan: _Plan, x: torch.Tensor, bias: torch.Tensor | None, out_h: int, out_w: int) -> torch.Tensor:
    """The layer's output ``[N, C_out, out_h, out_w]``, in ``x``'s memory format."""
    n, c, h, w = x.shape
    m, up, win = plan.m, plan.up, plan.window
    o = plan.u.shape[-1]
    th, tw = -(-h // m), -(-w // m)
    xp = _pad_nhwc(x, m * th + win - m, m * tw + win - m)
    channels_last = x.stride(1) == 1 and not x.is_contiguous()
    full_h, full_w = th * m * up, tw * m * up
    if channels_last:
        out = x.new_empty((n, full_h, full_w, o)).permute(0, 3, 1, 2)
    else:
        out = x.new_empty((n, o, full_h, full_w))
    out_tiles = out.permute(0, 2, 3, 1).view(n, th, m, up, tw, m, up, o)

    threads = torch.get_num_threads() if _CHUNK_PARALLEL else 1
    fits = _CHUNK_BYTES // (4 * plan.alpha**2 * max(c, o))
    per_thread = -(-n * th * tw // (2 * threads))  # >= 2 chunks per thread to balance
    max_tiles = max(_MIN_CHUNK_TILES, min(_MAX_CHUNK_TILES, fits, per_thread))
    todo = _chunks(n, th, tw, max_tiles)[::-1]
    args = (plan, xp, out_tiles, bias, todo, threading.Lock(), max((n1 - n0) * (r1 - r0) * tw for n0, n1, r0, r1 in todo))
    workers = min(threads, len(todo))
    if workers > 1:
        # Chunks are independent: each worker runs its own with one thread. One join per
        # layer instead of an OpenMP barrier per op, so a core taken by another process
        # delays one worker instead of stalling every op (measured 4x under a 1-core load).
        pool, inference = _workers(workers), torch.is_inference_mode_enabled()
        for future in [pool.submit(_pool_task, inference, *args) for _ in range(workers)]:
            future.result()
        torch.set_num_threads(threads)  # a new worker's set_num_threads(1) also set the default for new threads
    else:
        _process(*args)
    if (full_h, full_w) != (out_h, out_w):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        out = out[:, :, :out_h, :out_w].contiguous(memory_format=fmt)
    return out


# ---- layers --------------------------------------------------------------------------


class _FastPath:
    """Shared gatekeeping: which calls may take the Winograd path, and the lazily built plans.

    Plans are built on the first fast call (so layers that only ever see tiny inputs
    never pay the memory) and rebuilt when the weight is replaced or modified in place
    (``load_state_dict`` bumps the version counter; writes through ``.data`` do not,
    call :meth:`refresh` after those).
    """

    weight: torch.Tensor
    min_pixels: int

    def _init_fast_path(self, min_pixels: int) -> None:
        self.min_pixels = int(min_pixels)
        self._plans: dict[int, _Plan] = {}
        self._plan_key = None

    def refresh(self) -> None:
        """Forget the transformed weights; the next fast call rebuilds them."""
        self._plans = {}
        self._plan_key = None

    def _fast_ok(self, x: torch.Tensor) -> bool:
        w = self.weight
        return (
            x.dim() == 4
            and x.dtype == torch.float32
            and x.device.type == "cpu"
            and w.dtype == torch.float32
            and w.device.type == "cpu"
            and x.shape[2] * x.shape[3] >= self.min_pixels
            and x.numel() > 0
            and not (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad))
            and not torch.jit.is_tracing()  # exporters must see the stock op, not our loop
            and not torch.compiler.is_compiling()
        )

    def _plan(self, m: int, build) -> _Plan:
        w = self.weight
        key = (w.data_ptr(), None if w.is_inference() else w._version)
        if key != self._plan_key:
            self._plans = {}
            self._plan_key = key
        plan = self._plans.get(m)
        if plan is None:
            with torch.no_grad():
                plan = self._plans[m] = build(w, m)
        return plan


def _check(layer: nn.Module, **expected) -> None:
    for name, want in expected.items():
        got = getattr(layer, name)
        if got != want:
            raise ValueError(
                f"{layer!r}: expected {name}={want!r}, found {got!r}. "
                "Fix: only wrap layers that accelerate_shader() reports as eligible."
            )


class Winograd3x3(nn.Conv2d, _FastPath):
    """``nn.Conv2d(C_in, C_out, 3, stride=1, padding=1)`` computed with Winograd F(4,3)/F(6,3).

    Shares ``conv``'s parameters (no copy). Extra memory: the transformed weights,
    4x (F(4,3)) or 7.1x (F(6,3)) the weight, built on the first large-enough call.
    fp32 error vs ``F.conv2d``: ~2e-6 (F(4,3)) / ~1e-5 (F(6,3)) of the output's max abs.
    """

    def __init__(self, conv: nn.Conv2d, *, min_pixels: int = MIN_PIXELS):
        _check(conv, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, padding_mode="zeros")
        super().__init__(conv.in_channels, conv.out_channels, 3, padding=1, bias=conv.bias is not None, device="meta")
        self.weight = conv.weight
        self.bias = conv.bias
        self._init_fast_path(min_pixels)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, winograd=F(4|6,3), min_pixels={self.min_pixels}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._fast_ok(x):
            return super().forward(x)
        h, w = x.shape[2:]
        plan = self._plan(6 if h * w >= _F63_MIN_PIXELS else 4, _plan_conv3x3)
        return _run(plan, x, self.bias, h, w)


class WinogradConvTranspose4x4(nn.ConvTranspose2d, _FastPath):
    """``nn.ConvTranspose2d(C_in, C_out, 4, stride=2, padding=1)`` as 4 phase-wise F(4,2) convs.

    Shares ``convt``'s parameters (no copy). Extra memory: the transformed weights,
    6.25x the weight, built on the first large-enough call. fp32 error vs
    ``F.conv_transpose2d``: ~4e-6 of the output's max abs.
    """

    def __init__(self, convt: nn.ConvTranspose2d, *, min_pixels: int = MIN_PIXELS):
        _check(
            convt,
            kernel_size=(4, 4),
            stride=(2, 2),
            padding=(1, 1),
            output_padding=(0, 0),
            dilation=(1, 1),
            groups=1,
            padding_mode="zeros",
        )
        super().__init__(convt.in_channels, convt.out_channels, 4, 2, 1, bias=convt.bias is not None, device="meta")
        self.weight = convt.weight
        self.bias = convt.bias
        self._init_fast_path(min_pixels)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, winograd=4 phases x F(4,2), min_pixels={self.min_pixels}"

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is not None or not self._fast_ok(x):
            return super().forward(x, output_size)
        h, w = x.shape[2:]
        return _run(self._plan(4, _plan_convt4x4), x, self.bias, 2 * h, 2 * w)


# ---- the model walker ----------------------------------------------------------------


def _transformed_mb(layer: nn.Module) -> float:
    """Memory of the largest plan this layer can build, in MB (fp32)."""
    c_in, c_out = layer.in_channels, layer.out_channels
    per_pair = 64 if isinstance(layer, nn.Conv2d) else 4 * 25  # F(6,3) tile / 4 phases of F(4,2)
    return per_pair * c_in * c_out * 4 / 2**20


def _replacement(layer: nn.Module, min_pixels: int, min_channels: int, max_plan_mb: float):
    if type(layer) not in (nn.Conv2d, nn.ConvTranspose2d):  # exact types: subclasses may override forward
        return None
    if min(layer.in_channels, layer.out_channels) < min_channels:
        return None
    common = layer.groups == 1 and layer.dilation == (1, 1) and layer.padding_mode == "zeros"
    if type(layer) is nn.Conv2d:
        eligible = common and layer.kernel_size == (3, 3) and layer.stride == (1, 1) and layer.padding == (1, 1)
        cls = Winograd3x3
    elif type(layer) is nn.ConvTranspose2d:
        eligible = (
            common
            and layer.kernel_size == (4, 4)
            and layer.stride == (2, 2)
            and layer.padding == (1, 1)
            and layer.output_padding == (0, 0)
        )
        cls = WinogradConvTranspose4x4
    if not eligible or _transformed_mb(layer) > max_plan_mb:
        return None
    return cls(layer, min_pixels=min_pixels)


def accelerate_shader(
    module: nn.Module,
    *,
    min_pixels: int = MIN_PIXELS,
    min_channels: int = MIN_CHANNELS,
    max_plan_mb: float = 96.0,
) -> nn.Module:
    """Swap every eligible conv in ``module`` (in place) for its Winograd twin; returns ``module``.

    Eligible: exact ``nn.Conv2d`` 3x3/s1/p1 and ``nn.ConvTranspose2d`` 4x4/s2/p1/op0
    (dilation 1, groups 1, zero padding) with at least ``min_channels`` input and output
    channels, whose transformed weights would take at most ``max_plan_mb`` (this skips
    the shader's widest ConvTs, e.g. 224->1604/3140/6212 at levels 0-2: +144-556 MB each
    for layers that run at <= 16x16). Inputs with fewer than ``min_pixels`` pixels run
    the stock conv at call time. Parameters are shared, not copied; calling it twice is
    a no-op. Call it after loading weights (later in-place loads are detected too).
    """
    counts = {Winograd3x3: 0, WinogradConvTranspose4x4: 0}
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            new = _replacement(child, min_pixels, min_channels, max_plan_mb)
            if new is not None:
                setattr(parent, name, new)
                counts[type(new)] += 1
    log.info(
        "winograd: %d 3x3 convs and %d 4x4/s2 transposed convs replaced (min %d px, min %d channels, plans <= %.0f MB)",
        counts[Winograd3x3],
        counts[WinogradConvTranspose4x4],
        min_pixels,
        min_channels,
        max_plan_mb,
    )
    return module
