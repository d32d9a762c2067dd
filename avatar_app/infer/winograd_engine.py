"""The Winograd engine: runs a :class:`~avatar_app.infer.winograd_plans.Plan` on an fp32 CPU input.

Per chunk of tiles (sized so the chunk stays in L2/L3): copy the input windows into a
``[window, window, tiles, C_in]`` buffer, transform rows and columns (two small GEMMs),
one batched GEMM with the pre-transformed weights, inverse transform (two small GEMMs),
scatter + bias into the output. Plain torch ops (MKL sgemm): nothing to compile, nothing
to install. Chunks run on a private pool of single-threaded workers, one per intra-op
thread of the caller: a layer is ~30 small ops per chunk, and with OpenMP inside each op
every one of them would wait for a core that another process (or the app's own capture
thread) holds.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from avatar_app.infer.winograd_plans import Plan

__all__ = ["run_plan"]

# Transformed tiles of one chunk (alpha^2 * tiles * channels * 4 bytes) stay in L2/L3;
# below ~32 tiles the GEMMs get too short to run well. _CHUNK_PARALLEL=False runs the
# chunks in the caller with OpenMP inside each op (for A/B measurements).
_CHUNK_BYTES = 8 << 20
_MIN_CHUNK_TILES = 32
_MAX_CHUNK_TILES = 256
_CHUNK_PARALLEL = True


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


def _process(plan: Plan, xp: torch.Tensor, out_tiles: torch.Tensor, bias, todo: list, lock, max_t: int) -> None:
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
        offset = xp.storage_offset() + n0 * s_n + r0 * m * s_h
        windows = xp.as_strided((win, win, nc, rc, tw, c), (s_h, s_w, s_n, m * s_h, m * s_w, s_c), offset)
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


def run_plan(plan: Plan, x: torch.Tensor, bias: torch.Tensor | None, out_h: int, out_w: int) -> torch.Tensor:
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
    max_t = max((n1 - n0) * (r1 - r0) * tw for n0, n1, r0, r1 in todo)
    args = (plan, xp, out_tiles, bias, todo, threading.Lock(), max_t)
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
