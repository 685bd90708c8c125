"""``python -m fastinit bench --dask``: a large normal array on a Dask cluster, side by side.

A float32 standard-normal array (4 GiB by default) in chunks of 64 MiB, on a
``distributed.LocalCluster`` of 2 worker processes with 1 thread each, created here:

- in memory: ``x.sum().compute()`` of ``fastinit.dask`` against Dask's own
  ``da.random.default_rng(0).standard_normal(...)`` (which changes with the chunking);
- to Zarr: ``x.to_zarr(path, compressors=None)`` of both, into the current directory, against
  the disk's plain sequential write of the same bytes (64 MiB blocks, then fsync);
- the floor of any Dask fill: ``(da.ones(...) + 0).sum().compute()``, each task making a new chunk
  and writing it once;
- the overhead of Dask itself: fastinit.dask in memory against the local threaded fill of the
  same array, all threads, into a new array (the memory first touched, as every Dask task
  touches its chunk's) and into a warm one (``standard_normal(out=a)``).

Each timing is the best of ``rounds``, the contenders interleaved.  Ratios come from this run.

May import: dask, distributed, numpy, fastinit, fastinit._progress, fastinit._core.simd,
fastinit.bench.checkpoint, fastinit.dask.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from typing import Any, TextIO

CHUNK_BYTES = 64 << 20


def _disk_write(path: str, nbytes: int) -> float:
    from fastinit.bench.checkpoint import plain_write

    seconds = plain_write(path, nbytes)
    os.unlink(path)
    return seconds


def _zarr_seconds(x: Any, path: str) -> float:
    t0 = time.perf_counter()
    x.to_zarr(path, compressors=None)
    _sync_tree(path)
    seconds = time.perf_counter() - t0
    shutil.rmtree(path)
    return seconds


def _sync_tree(path: str) -> None:
    """fsync every chunk file, as the plain write is synced."""
    for root, _, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)


def run(elements: int, rounds: int = 3, directory: str | None = None,
        progress: bool = False) -> dict[str, Any]:
    import dask.array as da
    import numpy as np
    from distributed import Client, LocalCluster

    import fastinit
    import fastinit.dask
    from fastinit._core import simd as _simd
    from fastinit._progress import Progress

    shape = (elements // (1 << 14), 1 << 14) if elements >= 1 << 14 else (elements,)
    nbytes = int(np.prod(shape)) * 4
    chunks = (max(1, CHUNK_BYTES // (shape[-1] * 4)),) + shape[1:] if len(shape) == 2 else \
        (CHUNK_BYTES // 4,)
    directory = directory or tempfile.mkdtemp(prefix="fastinit-bench-", dir=".")
    best: dict[str, float] = {}

    def keep(label: str, seconds: float) -> None:
        best[label] = min(best.get(label, float("inf")), seconds)

    local = np.empty(shape, np.float32)
    local.fill(0)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=40) as cluster, Client(cluster):
        # Untimed: the workers import fastinit and NumPy's generators once.
        fastinit.dask.default_rng(0).standard_normal(size=4096, chunks=1024).sum().compute()
        da.random.default_rng(0).standard_normal(size=4096, chunks=1024).sum().compute()
        bar = Progress(rounds, progress, "bench --dask", "rounds")
        for _ in range(rounds):
            bar.update(0, "in memory")
            t0 = time.perf_counter()
            fastinit.default_rng(0).standard_normal(out=local)
            keep("local fill, warm array", time.perf_counter() - t0)
            t0 = time.perf_counter()
            fresh = fastinit.default_rng(0).standard_normal(size=shape, dtype=np.float32)
            keep("local fill, new array", time.perf_counter() - t0)
            del fresh
            x = fastinit.dask.default_rng(0).standard_normal(size=shape, chunks=chunks,
                                                             dtype=np.float32)
            t0 = time.perf_counter()
            x.sum().compute()
            keep("fastinit.dask in memory", time.perf_counter() - t0)
            # The floor of any Dask fill: each task makes a new chunk and writes it once (ones
            # plus 0: da.ones alone is a broadcast view with no memory), then it is summed.
            t0 = time.perf_counter()
            (da.ones(shape, chunks=chunks, dtype=np.float32) + np.float32(0)).sum().compute()
            keep("dask ones in memory (floor)", time.perf_counter() - t0)
            y = da.random.default_rng(0).standard_normal(size=shape, chunks=chunks,
                                                         dtype=np.float32)
            t0 = time.perf_counter()
            y.sum().compute()
            keep("dask random in memory", time.perf_counter() - t0)
            bar.update(0, "to disk")
            keep("disk plain write", _disk_write(os.path.join(directory, "plain.bin"), nbytes))
            keep("fastinit.dask to zarr", _zarr_seconds(x, os.path.join(directory, "f.zarr")))
            keep("dask random to zarr", _zarr_seconds(y, os.path.join(directory, "d.zarr")))
            bar.update(1)
        bar.close()
    if not os.listdir(directory):
        os.rmdir(directory)
    return {"shape": list(shape), "chunks": list(chunks), "bytes": nbytes, "rounds": rounds,
            "simd": _simd.level, "workers": 2, "threads_per_worker": 1,
            "local_threads": fastinit.get_num_threads(), "seconds": best,
            "ratios": {
                "in memory vs dask random": best["dask random in memory"]
                / best["fastinit.dask in memory"],
                "to zarr vs dask random": best["dask random to zarr"]
                / best["fastinit.dask to zarr"],
                "fastinit.dask / dask ones (floor)": best["fastinit.dask in memory"]
                / best["dask ones in memory (floor)"],
                "fastinit.dask / local, new array": best["fastinit.dask in memory"]
                / best["local fill, new array"],
                "fastinit.dask / local, warm array": best["fastinit.dask in memory"]
                / best["local fill, warm array"],
                "to zarr, of the disk's rate": best["disk plain write"]
                / best["fastinit.dask to zarr"]}}


def format_table(result: dict[str, Any]) -> str:
    from fastinit._progress import format_bytes

    lines = [f"float32 standard normal of shape {tuple(result['shape'])} ("
             f"{format_bytes(result['bytes'])}), chunks {tuple(result['chunks'])}; LocalCluster "
             f"of {result['workers']} processes x {result['threads_per_worker']} thread, local "
             f"fill on {result['local_threads']} threads, kernels {result['simd']}, best of "
             f"{result['rounds']}"]
    for label, seconds in result["seconds"].items():
        rate = result["bytes"] / seconds / 1e9
        lines.append(f"  {label:<34} {seconds:8.2f} s  {rate:6.2f} GB/s")
    for label, ratio in result["ratios"].items():
        lines.append(f"  {label:<34} " + (f"{ratio:6.0%}" if "rate" in label else
                                          f"{ratio:6.2f}x"))
    return "\n".join(lines)


def main(elements: int, rounds: int, as_json: bool, stream: TextIO,
         progress: bool = False) -> int:
    result = run(elements, rounds, progress=progress)
    print(json.dumps(result) if as_json else format_table(result), file=stream)
    return 0
