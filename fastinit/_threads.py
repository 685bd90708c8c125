"""Multithreaded fills without an OpenMP runtime.

A large fill is split into contiguous element ranges, taken in turn by the calling thread and a
thread pool, each filled inside the kernel with the GIL released.  Values depend on (key, stream,
index) only, so every thread count gives the same bits.  Small fills stay on the calling thread.

Plain Python threads instead of OpenMP: the kernels release the GIL, so they scale the same way,
and there is no OpenMP runtime to clash with the ones NumPy's BLAS, torch or scikit-learn load.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import operator
import os
import threading
from typing import Callable, Iterator

# Below this many elements per thread, starting a thread costs more than it saves.
MIN_ELEMENTS_PER_THREAD = 1 << 16
# Pieces per thread a large fill is cut into (see run()).
PIECES_PER_THREAD = 4
# Thread ranges start at multiples of this (whole Philox blocks and cache lines for every dtype).
ALIGN_ELEMENTS = 1 << 12


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _check(n: object, where: str) -> int:
    try:
        count = operator.index(n)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{where}: the number of threads must be an int, got {n!r}") from None
    if count < 1:
        raise ValueError(f"{where}: the number of threads must be >= 1, got {count}")
    return count


def _from_environment() -> int:
    text = os.environ.get("FASTINIT_NUM_THREADS", "").strip()
    if not text:
        return _cores()
    try:
        return _check(int(text), "FASTINIT_NUM_THREADS")
    except ValueError:
        raise ValueError(f"FASTINIT_NUM_THREADS={text!r} is not a positive integer; "
                         "unset it or give the number of threads") from None


_lock = threading.Lock()
_num_threads = _from_environment()
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_owner = (0, 0)        # (pid, workers) the pool was made for: a forked child needs its own


def get_num_threads() -> int:
    """The number of threads large fills use (default: the cores available to the process)."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for large fills, process-wide (like ``torch.set_num_threads``).

    The output does not depend on it: every thread count gives the same bits.
    """
    global _num_threads
    _num_threads = _check(n, "set_num_threads")


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Context manager: use ``n`` threads inside the block, then restore the previous count.

    >>> import fastinit as fi
    >>> with fi.threads(1):
    ...     w = fi.default_rng(0).normal(size=10_000_000)
    """
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads(previous)


def _workers(count: int) -> concurrent.futures.ThreadPoolExecutor:
    global _pool, _pool_owner
    with _lock:
        owner = (os.getpid(), count)
        if _pool is None or _pool_owner != owner:
            if _pool is not None and _pool_owner[0] == owner[0]:
                _pool.shutdown(wait=False)
            _pool = concurrent.futures.ThreadPoolExecutor(count, thread_name_prefix="fastinit")
            _pool_owner = owner
        return _pool


def split(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering 0..total, inner bounds on ALIGN_ELEMENTS."""
    bounds = [0]
    for i in range(1, parts):
        cut = total * i // parts // ALIGN_ELEMENTS * ALIGN_ELEMENTS
        bounds.append(max(cut, bounds[-1]))
    bounds.append(total)
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def run(fill_range: Callable[[int, int], None], total: int) -> None:
    """Call ``fill_range(begin, end)`` over 0..total, in parallel when it is large enough."""
    parts = min(get_num_threads(), total // MIN_ELEMENTS_PER_THREAD)
    if parts <= 1:
        fill_range(0, total)
        return
    # A few pieces per thread, each taken by whichever thread is free: a pool thread starts
    # tens of microseconds after the caller (traced here on 1M float32 normals) and the cores
    # need not run at the same speed, so equal fixed shares would leave one thread idle at the
    # end.
    pieces = split(total, min(parts * PIECES_PER_THREAD, total // MIN_ELEMENTS_PER_THREAD))
    lock = threading.Lock()
    taken = 0

    def work() -> None:
        nonlocal taken
        while True:
            with lock:
                index = taken
                taken += 1
            if index >= len(pieces):
                return
            fill_range(*pieces[index])

    pool = _workers(get_num_threads() - 1)
    futures = [pool.submit(work) for _ in range(parts - 1)]
    try:
        work()
    finally:
        for future in futures:
            future.result()
