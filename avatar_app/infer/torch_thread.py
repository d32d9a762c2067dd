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
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["THREAD_NAME", "on_torch_thread", "is_torch_thread"]

THREAD_NAME = "torch-networks"  # started on first use, lives as long as the process (not an avatar- stage)

T = TypeVar("T")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_thread: threading.Thread | None = None


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
