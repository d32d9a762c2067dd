"""One thread for the process's CPU networks: loading, encoding the sheet, every frame.

PyTorch's CPU ops run on OpenMP (libgomp). Each thread that starts a parallel region gets
its own team of worker threads, kept for the thread's life, and once the process holds
more OpenMP threads than cores libgomp stops its workers spinning between regions (its
throttled spin count): every one of a frame's few hundred small parallel ops then waits
for a futex wake-up. The live pipeline used to load and encode on the main thread and
render on its render thread: two teams on two cores, and the same ``lite`` frame took
57 ms there against 35 ms on the thread that loaded it (``tools/bench.py --sections
pipeline`` times both). Every call routed through :func:`on_torch_thread` runs on one long-lived
thread, so the process keeps one team whichever thread asks.

The thread takes the intra-op thread count of the thread that first used it (``--threads``
is set before anything loads). Never wait on the torch
thread for work that itself goes through it (a pipeline run from there would deadlock).

**Lanes** (:func:`on_lane`): with ``frames_in_flight`` N > 1 the renderer runs N frames at
once, one per lane, each on one intra-op thread (:func:`single_threaded`): lane 0 is the
torch thread, lanes 1.. are threads of their own (``torch-networks-1`` ...). A frame's few
hundred small ops use two cores at ~73% (``lite``, one view, 256²: 52 ms on two threads,
76 ms on one), so two single-threaded frames side by side deliver more frames per second
(24.4 vs 19.3, one after the other in one process) for a longer wait per frame. OpenMP's
thread count is per calling thread, so N single-threaded lanes keep N OpenMP threads busy
and no team waits on another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["THREAD_NAME", "on_torch_thread", "is_torch_thread", "on_lane", "single_threaded"]

THREAD_NAME = "torch-networks"  # started on first use, lives as long as the process (not an avatar- stage)

T = TypeVar("T")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_thread: threading.Thread | None = None
_lanes: dict[int, ThreadPoolExecutor] = {}  # lane >= 1 -> its executor (lane 0 is the torch thread)


def _start(threads: int) -> None:
    global _thread
    import torch

    torch.set_num_threads(threads)
    _thread = threading.current_thread()


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            import torch

            threads = torch.get_num_threads()
            _executor = ThreadPoolExecutor(1, thread_name_prefix=THREAD_NAME, initializer=_start, initargs=(threads,))
        return _executor


def is_torch_thread() -> bool:
    return _thread is not None and threading.current_thread() is _thread


def on_torch_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` run on the torch thread (directly when already on it); its exceptions are raised here."""
    if is_torch_thread():
        return fn(*args, **kwargs)
    return _pool().submit(fn, *args, **kwargs).result()


def on_lane(lane: int, fn: Callable[..., T], *args, **kwargs) -> Future:
    """Start ``fn(*args, **kwargs)`` on torch lane ``lane`` (0: the torch thread); its :class:`Future`."""
    if lane == 0:
        return _pool().submit(fn, *args, **kwargs)
    with _lock:
        if lane not in _lanes:
            _lanes[lane] = ThreadPoolExecutor(1, thread_name_prefix=f"{THREAD_NAME}-{lane}")
        executor = _lanes[lane]
    return executor.submit(fn, *args, **kwargs)


def single_threaded(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` with one intra-op thread on the calling thread (restored after)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)
