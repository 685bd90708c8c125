"""Statistics of a tensor stored in a file, in one streamed pass of bounded memory: what
``fastinit info`` prints for ``.npy``, ``.safetensors`` and Zarr files alike.

The values are read in chunks by a pool of ``fastinit.get_num_threads()`` threads, each chunk
summarized by the Cython kernel ``fastinit.io._summary`` with the GIL released, and the chunks'
summaries merged in file order, so the result does not depend on the thread count.  At most two
chunks per thread are in memory at once.

May import: numpy, fastinit._progress, fastinit._core.threads, fastinit._validate,
fastinit.io._summary.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import math
import os
from collections import deque
from typing import Any, Callable, Iterator

import numpy as np

from fastinit._core import threads as _threads
from fastinit import _validate as v
from fastinit._progress import Progress
from fastinit.io._summary import merge, summarize_block


def check_summarizable(dt: np.dtype, what: str, reads: str) -> None:
    """TypeError for dtypes that are not real numbers (complex, structured, raw bytes)."""
    if dt.kind not in "biuf" and not v.is_bfloat16(dt):
        kind = "complex numbers" if dt.kind == "c" else "not real numbers"
        raise TypeError(f"{what}: cannot summarize dtype {dt} ({kind}); {reads}")


@contextlib.contextmanager
def reporting(total: int, progress: bool, desc: str,
              on_chunk: Callable[[int], None] | None) -> Iterator[Callable[[int], None]]:
    """The ``on_chunk`` callback of a statistics pass of ``total`` bytes: a progress bar when
    ``progress`` (and the file is large, see :class:`fastinit._progress.Progress`), and the
    caller's own ``on_chunk``."""
    bar = Progress(total, progress, desc)

    def report(nbytes: int) -> None:
        bar.update(nbytes)
        if on_chunk is not None:
            on_chunk(nbytes)

    try:
        yield report
    finally:
        bar.close()


def _kernel_input(values: np.ndarray, bfloat16: bool) -> np.ndarray:
    """``values`` as the kernel reads them: 1-D, native, float32/float64/integers (float16 and
    bool widened; bfloat16 as its uint16 words)."""
    values = values.reshape(-1)
    if bfloat16:
        return np.ascontiguousarray(values.view(np.uint16))
    if values.dtype == np.bool_:
        return np.ascontiguousarray(values.view(np.uint8))
    if values.dtype.kind == "f" and values.dtype.itemsize == 2:
        return values.astype(np.float32)
    if not values.dtype.isnative:
        return values.astype(values.dtype.newbyteorder("="))
    return np.ascontiguousarray(values)


def summarize_chunks(read: Callable[[int], np.ndarray], chunks: int, size: int, bfloat16: bool,
                     on_chunk: Callable[[int], None] | None = None) -> dict[str, Any]:
    """``finite``, ``nan``, ``posinf``, ``neginf``, ``mean``, ``std``, ``min``, ``max``,
    ``fraction_at_min`` and ``fraction_at_max`` of ``size`` values stored in ``chunks`` chunks.

    ``read(i)`` returns chunk ``i``'s stored values (any shape; bfloat16 as uint16 words); it is
    called from worker threads, in order, at most two chunks per thread ahead of the merge.
    ``on_chunk(nbytes)`` is called in the caller's thread as each chunk is merged.  The
    statistics are over the finite values, in float64 (Chan et al.'s update; see
    ``fastinit.io._summary``); the fractions are of all ``size`` values.
    """
    def work(index: int) -> tuple[dict[str, float], int]:
        values = read(index)
        return summarize_block(_kernel_input(values, bfloat16), bfloat16), values.nbytes

    total: dict[str, float] | None = None
    workers = max(1, min(_threads.get_num_threads(), chunks))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="fastinit-info") as pool:
        pending: deque[concurrent.futures.Future] = deque()
        try:
            for index in range(chunks):
                pending.append(pool.submit(work, index))
                if len(pending) >= 2 * workers:
                    total = _take(pending, total, on_chunk)
            while pending:
                total = _take(pending, total, on_chunk)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    if total is None:
        total = summarize_block(np.empty(0, np.float64))
    count = total["count"]
    return {"finite": int(count), "nan": int(total["nan"]), "posinf": int(total["posinf"]),
            "neginf": int(total["neginf"]),
            "mean": total["mean"] if count else math.nan,
            "std": math.sqrt(total["m2"] / count) if count else math.nan,
            "min": total["lo"] if count else math.nan, "max": total["hi"] if count else math.nan,
            "fraction_at_min": total["at_lo"] / size if count else math.nan,
            "fraction_at_max": total["at_hi"] / size if count else math.nan}


def _take(pending: deque, total: dict[str, float] | None,
          on_chunk: Callable[[int], None] | None) -> dict[str, float]:
    part, nbytes = pending.popleft().result()
    if on_chunk is not None:
        on_chunk(nbytes)
    return part if total is None else merge(total, part)


def summarize_file(path: Any, dt: np.dtype, offset: int, count: int, chunk_bytes: int,
                   on_chunk: Callable[[int], None] | None = None) -> dict[str, Any]:
    """:func:`summarize_chunks` of ``count`` values of dtype ``dt`` from byte ``offset`` of the
    file ``path``, read (not mapped, so that memory stays bounded) in chunks of about
    ``chunk_bytes``.  OSError when the file ends early."""
    bfloat16 = v.is_bfloat16(dt)
    stored = np.dtype(np.uint16) if bfloat16 else dt
    per_chunk = max(1, chunk_bytes // stored.itemsize)
    chunks = -(-count // per_chunk)
    fd = os.open(path, os.O_RDONLY)
    try:
        def read(index: int) -> np.ndarray:
            n = min(per_chunk, count - index * per_chunk)
            raw = os.pread(fd, n * stored.itemsize, offset + index * per_chunk * stored.itemsize)
            if len(raw) != n * stored.itemsize:
                raise OSError(f"{path} is shorter than its header says (it ends "
                              f"{count - index * per_chunk - len(raw) // stored.itemsize} values "
                              "early): the file is truncated")
            return np.frombuffer(raw, dtype=stored)

        return summarize_chunks(read, chunks, count, bfloat16, on_chunk)
    finally:
        os.close(fd)
