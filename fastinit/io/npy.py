"""Weight files larger than memory: ``.npy`` files filled chunk by chunk, and streamed statistics.

:func:`fill_npy` creates a ``.npy`` file with ``numpy.lib.format.open_memmap`` and fills it one
chunk at a time, each chunk through its own short-lived memory map, so the resident memory stays
of the order of ``chunk_bytes`` however large the file.  Each chunk is the matching block of the
initializer's output (``init(shape, dtype, out=chunk, region=block)``), so the file is bit-identical
to filling the same shape in memory with the same seed.

Resuming: while a fill runs, a small JSON file ``<path>.fastinit-progress`` records what is being
filled (shape, dtype, initializer config with its seed, chunking) and how many chunks are written
and flushed.  ``fill_npy(..., resume=True)`` after an interruption checks that record against its
arguments and fills only the chunks that are missing; the values are the same as an uninterrupted
fill.  The record is removed when the fill completes.

Any ``np.memmap`` or other writable C-contiguous buffer also works directly with ``out=``::

    mm = np.lib.format.open_memmap("w.npy", mode="w+", dtype=np.float32, shape=(n, m))
    fi.default_rng(0).normal(0, 0.02, size=mm.shape, out=mm)

bfloat16 has no ``.npy`` type code: its files say ``|V2`` (two raw bytes), as ``np.save`` writes
them; read them with ``np.load(path).view(ml_dtypes.bfloat16)``.  :func:`npy_stats` does so, and
reads the file in blocks (no memory map), so its memory stays bounded too.

May import: numpy, fastinit._progress, fastinit._recipe, fastinit._tensor_init, fastinit._validate,
fastinit.initializers, fastinit.io._files, fastinit.io._stats, fastinit.io.writer.
"""
from __future__ import annotations

import dataclasses
import errno
import io
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from fastinit import _validate as v
from fastinit import initializers
from fastinit._progress import Progress
from fastinit._recipe import rehearse
from fastinit._tensor_init import seeded_initializer
from fastinit.io import _stats
from fastinit.io._files import Chunks, check_memory, flat_offset, record_path, regular_file
from fastinit.io.writer import FileWriter, recorded_arguments

__all__ = ["fill_npy", "npy_stats", "DEFAULT_CHUNK_BYTES"]

DEFAULT_CHUNK_BYTES = 64 << 20


def fill_npy(path: str | os.PathLike, shape: Sequence[int], init: Any, dtype: Any = np.float32,
             *, seed: int | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
             progress: bool = True, resume: bool = False,
             region: Any = None) -> dict[str, Any]:
    """Create the ``.npy`` file ``path`` and fill it with an initializer, chunk by chunk.

    Parameters
    ----------
    path : path-like
        The ``.npy`` file to write (replaced unless ``resume``).
    shape : sequence of int
        The full shape of the tensor.
    init : Initializer, str, dict or tuple
        Any form of naming an init (README, "Naming an init"; :func:`fastinit.initializers.get`
        reads it): an initializer object, a name (``"he_normal"``, ``"normal:0.01"``,
        ``"normal_(std=0.02)"``) or a config dict (``{"class_name": "RandomNormal", "config":
        {"stddev": 0.02}}``); or an init function of :mod:`fastinit.init` or a Generator
        distribution with its arguments (``("normal_", {"std": 0.02})``, ``("uniform", {"low":
        -0.1, "high": 0.1})``), whose values are those of the function drawing from
        ``Generator(seed)``, as the checkpoint writers read them.
    dtype : dtype
        float32, float64, float16 or bfloat16.
    seed : int, optional
        Seeds the initializer (overriding its own).  Without any seed one is drawn from the OS
        and recorded, so an interrupted fill can still be resumed.
    chunk_bytes : int
        The most memory one chunk maps (default 64 MiB).
    progress : bool
        A progress bar (bytes, rate, ETA) when tqdm is installed (``fastinit[progress]``).
    resume : bool
        Continue an interrupted fill of ``path`` with the same arguments: only the missing chunks
        are filled.  Without a progress record there is nothing to resume: a ValueError.
    region : slice or tuple of slices, optional
        Write only this block of the tensor ``shape`` (a shard file of the block's shape).

    Returns
    -------
    dict
        ``path``, ``shape`` (of the file), ``dtype``, ``bytes``, ``seconds``, ``gb_per_s``,
        ``chunks`` and ``initializer`` (its config).
    """
    return run_fill(plan_fill(path, shape, init, dtype, seed=seed, chunk_bytes=chunk_bytes,
                              resume=resume, region=region), progress)


@dataclasses.dataclass
class FillPlan:
    """A checked fill whose file exists (created and reserved, or found for a resume)."""
    path: Path
    full: tuple[int, ...]
    starts: tuple[int, ...]
    block: tuple[int, ...]
    dt: np.dtype
    obj: initializers.Initializer
    config: dict[str, Any]
    regions: "Chunks"
    writer: FileWriter                      # holds the lock from the plan to the end of the fill

    @property
    def done(self) -> int:
        return self.writer.done


def plan_fill(path: str | os.PathLike, shape: Sequence[int], init: Any, dtype: Any, *,
              seed: int | None, chunk_bytes: int, resume: bool, region: Any) -> FillPlan:
    """Every check of fill_npy, then the file created and reserved (or the interrupted one
    checked against its record): what can fail before the fill fails here."""
    path = Path(path)
    dt = v.resolve_dtype(dtype, None, "fill_npy")
    full = v.normalize_size(shape)              # exactly as the Generator reads a size
    if full is None:
        raise TypeError("fill_npy: shape must be an int or a tuple of ints, got None")
    if not isinstance(chunk_bytes, int) or chunk_bytes < dt.itemsize:
        raise ValueError(f"fill_npy: chunk_bytes must be an int >= {dt.itemsize}")
    if region is None:
        starts, block = (0,) * len(full), full
    else:
        starts, block = v.normalize_region(region, full)

    seeded = seeded_initializer(init, seed, "fill_npy")
    obj = initializers.pinned(seeded)
    if resume and seeded.get_config().get("seed") is None:
        # No seed given: the one drawn from the OS for the interrupted fill is the fill's seed.
        recorded = (recorded_arguments(path, "fill_npy") or {}).get("initializer")
        recorded_seed = recorded.get("config", {}).get("seed") if isinstance(recorded, dict) \
            else None
        if isinstance(recorded_seed, int):
            obj = type(obj).from_config({**obj.get_config(), "seed": recorded_seed})
    config: dict[str, Any] = {"class_name": type(obj).__name__, "config": obj.get_config()}

    if obj.local:
        rehearse(obj, full, dt)           # bad arguments fail before the file is touched
    else:
        # Computed whole, once (QR has no local form): refuse up front what cannot fit.
        check_memory(obj.working_bytes(full), f"{type(obj).__name__} of shape {full}",
                     "fill_npy")
    regions = Chunks(block, dt.itemsize, chunk_bytes)
    header = _header_bytes(block, dt)
    arguments = {"shape": list(full), "starts": list(starts), "dtype": dt.name,
                 "initializer": config, "chunk_bytes": chunk_bytes}
    writer = FileWriter(path, header, len(header) + math.prod(block) * dt.itemsize,
                        len(regions), arguments, kind="npy", where="fill_npy", resume=resume,
                        overwrite=not resume, header_proves=False,
                        force_hint="write it again without resume=True (--resume)")
    return FillPlan(path, full, starts, block, dt, obj, config, regions, writer)


def run_fill(plan: FillPlan, progress: bool) -> dict[str, Any]:
    """Fill the planned file chunk by chunk, recording progress; at the end the file is made
    durable and its record removed, then the writer's lock is released."""
    try:
        result = _fill_chunks(plan, progress)
        plan.writer.finish()
        return result
    finally:
        plan.writer.close()


def _fill_chunks(plan: FillPlan, progress: bool) -> dict[str, Any]:
    path, full, starts, block, dt = plan.path, plan.full, plan.starts, plan.block, plan.dt
    obj, regions, writer = plan.obj, plan.regions, plan.writer
    header_bytes, done = len(writer.header), writer.done
    bar = Progress(math.prod(block) * dt.itemsize, progress, path.name)
    if done:                                                  # chunks are in order
        bar.update((flat_offset(regions[done], block) if done < len(regions)
                    else math.prod(block)) * dt.itemsize)
    t0 = time.perf_counter()
    written = 0
    whole = None if obj.local or done == len(regions) else obj(full, dt)   # factored once
    try:
        for index in range(done, len(regions)):
            local = regions[index]
            chunk_shape = tuple(r.stop - r.start for r in local)
            offset = header_bytes + flat_offset(local, block) * dt.itemsize
            mm = np.memmap(path, dtype=dt, mode="r+", offset=offset, shape=chunk_shape)
            global_region = tuple(slice(s + r.start, s + r.stop) for s, r in zip(starts, local))
            if whole is None:
                obj(full, dt, out=mm, region=global_region)
            else:
                mm[...] = whole[global_region]
            mm.flush()                                        # msync: on disk before counted
            del mm
            chunk_nbytes = math.prod(chunk_shape) * dt.itemsize
            written += chunk_nbytes
            bar.update(chunk_nbytes)
            writer.commit(index + 1)
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    return {"path": str(path), "shape": block, "dtype": dt.name, "bytes": written,
            "seconds": seconds, "gb_per_s": written / seconds / 1e9 if seconds > 0 else math.inf,
            "chunks": len(regions), "initializer": plan.config}


def _npy_dtype(dt: np.dtype) -> np.dtype:
    """The dtype a ``.npy`` header records for ``dt``: bfloat16 has no type code, NumPy writes
    ``|V2`` (two raw bytes)."""
    return np.dtype("V2") if v.is_bfloat16(dt) else dt


def _header_bytes(block: tuple[int, ...], dt: np.dtype) -> bytes:
    """The ``.npy`` header of a C-order array, as NumPy writes it (version 1.0 when it fits)."""
    header = {"descr": np.lib.format.dtype_to_descr(_npy_dtype(dt)), "fortran_order": False,
              "shape": tuple(block)}
    buffer = io.BytesIO()
    if _needs_v2(header):
        np.lib.format.write_array_header_2_0(buffer, header)
    else:
        np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def _needs_v2(header: dict[str, Any]) -> bool:
    try:
        np.lib.format.write_array_header_1_0(io.BytesIO(), header)
    except ValueError:
        return True
    return False


def _header(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """(shape, dtype, fortran_order, header length) of a ``.npy`` file; ``|V2`` (bfloat16 as
    np.save writes it) is read as bfloat16."""
    shape, dt, fortran, offset = _raw_header(path)
    if dt.kind == "V" and dt.itemsize == 2 and dt.fields is None:
        dt = v.bfloat16()
    return shape, dt, fortran, offset


def _raw_header(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """The header as written (bfloat16 as ``|V2``).  A file that is not a valid ``.npy`` is a
    ValueError in one line, whatever NumPy's parser raised."""
    if not regular_file(path, "", follow=True):            # a FIFO would block the open
        raise FileNotFoundError(errno.ENOENT, f"No such file: {path}")
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dt = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dt = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
    except OSError:
        raise
    except Exception as exc:             # ValueError, SyntaxError, tokenize.TokenError, ...
        raise ValueError(f"{path} is not a valid .npy file: its header cannot be read "
                         f"({type(exc).__name__}: {str(exc)[:120]})") from None
    if len(shape) > 64 or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"{path} is not a valid .npy file: its shape must be at most 64 "
                         f"dimensions of sizes >= 0, got {str(tuple(shape))[:120]}")
    return tuple(shape), dt, fortran, offset


def npy_stats(path: str | os.PathLike, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
              on_chunk: Callable[[int], None] | None = None,
              progress: bool = False) -> dict[str, Any]:
    """Statistics of a ``.npy`` file of real numbers, in one streaming pass of bounded memory.

    ``mean``, ``std``, ``min`` and ``max`` are over the finite values (float64 accumulation);
    ``nan``, ``posinf`` and ``neginf`` count the others; ``fraction_at_min`` /
    ``fraction_at_max`` are the fractions of all values equal to min / max (a pile-up on a bound
    shows there).  Complex, structured and other non-real dtypes are a TypeError.
    ``incomplete``: a fastinit fill of the file was interrupted and not resumed (its progress
    record is beside it), so part of it is unwritten zeros.
    """
    shape, dt, fortran, offset = _header(path)
    _stats.check_summarizable(dt, str(path), "fastinit info reads float, bfloat16 and integer "
                              ".npy files")
    n = math.prod(shape)
    with _stats.reporting(n * dt.itemsize, progress, Path(path).name, on_chunk) as report:
        stats = _stats.summarize_file(path, dt, offset, n, chunk_bytes, report)
    return {"path": str(path), "shape": shape, "dtype": dt.name, "size": n, **stats,
            "incomplete": os.path.lexists(record_path(Path(path)))}
