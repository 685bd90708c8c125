"""Initialized Zarr arrays of any size, chunk by chunk, with bounded memory.

:func:`write_zarr` creates a Zarr array and fills it with an initializer: on the active
``dask.distributed`` client when there is one (each Zarr chunk a task of
:func:`fastinit.dask.initialize`), otherwise here, with fastinit's threads filling one chunk
while a writer thread stores the previous one.  Either way the array equals the initializer's
in-memory result bit for bit: a chunk is the ``region=`` block of the whole.

bfloat16, which Zarr has no data type for, is stored as its uint16 words with the attribute
``"fastinit_dtype": "bfloat16"``; read it with ``z[...].view(ml_dtypes.bfloat16)``
(:func:`read_zarr` does).  ``pip install zarr`` (and ``fastinit[dask]`` for a cluster).

May import: dask, distributed, numpy, zarr, fastinit._progress, fastinit._recipe,
fastinit._tensor_init, fastinit._validate, fastinit.dask, fastinit.initializers,
fastinit.io._files, fastinit.io._stats, fastinit.io.npy.
"""
from __future__ import annotations

import concurrent.futures
import json
import math
import time
from collections import deque
from typing import Any, Sequence

import numpy as np

from fastinit import _validate as v
from fastinit import initializers
from fastinit._progress import Progress
from fastinit._recipe import rehearse
from fastinit._tensor_init import seeded_initializer
from fastinit.io._files import check_memory
from fastinit.io.npy import DEFAULT_CHUNK_BYTES

__all__ = ["write_zarr", "read_zarr", "default_chunks"]

BFLOAT16_ATTRIBUTE = "fastinit_dtype"


def default_chunks(shape: tuple[int, ...], itemsize: int,
                   chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> tuple[int, ...]:
    """A regular chunk shape of at most ``chunk_bytes``: whole trailing axes, the leading axes
    cut (the layout of rows a checkpoint reader takes)."""
    chunks = list(shape)
    for axis in range(len(shape)):
        rest = math.prod(chunks[axis + 1:]) * itemsize
        if math.prod(chunks[axis:]) * itemsize <= chunk_bytes:
            break
        chunks[axis] = max(1, min(shape[axis], chunk_bytes // max(rest, 1)))
        if chunks[axis] * rest <= chunk_bytes:
            break
    return tuple(max(1, c) for c in chunks)


def _active_client() -> Any:
    """The current dask.distributed client, or None (distributed not imported or none made)."""
    import sys

    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def write_zarr(store: Any, shape: Sequence[int], init: Any, seed: int | None = None, *,
               chunks: Sequence[int] | None = None, dtype: Any = np.float32,
               overwrite: bool = False, progress: bool = False,
               use_dask: bool | None = None, resume: bool = False,
               **zarr_kwargs: Any) -> dict[str, Any]:
    """Create the Zarr array ``store`` and fill it with an initializer, chunk by chunk.

    Parameters
    ----------
    store : str, path or zarr store
        Where the array goes (a directory path for a cluster: the workers write to it).
    shape : sequence of int
    init : Initializer, str, dict or tuple
        Any form of naming an init (README, "Naming an init"), as for
        :func:`fastinit.fill_npy`; ``seed`` seeds it (overriding its own).  The array equals
        ``init(shape, dtype)`` with that seed.
    seed : int, optional
        Without one (and without the initializer's own) a seed is drawn and returned.
    chunks : sequence of int, optional
        Zarr's chunk shape (default: whole trailing axes, at most 64 MiB a chunk).
    dtype : float32, float64, float16 or "bfloat16"
    overwrite : bool
        Replace an existing array (refused otherwise: FileExistsError / ContainsArrayError).
    progress : bool
        A progress bar when filling here (tqdm).
    use_dask : bool, optional
        Fill on the active ``dask.distributed`` client (True), here (False), or on the client
        when there is one (None, the default).
    resume : bool
        Finish an interrupted write of the same arguments: the store's attributes say how far a
        write here got (``fastinit_chunks_done``, updated about once a second as chunks are
        stored in order) and whether it finished (``fastinit_complete``); the chunks from there
        on are written again.  A complete store is left as it is.  (A cluster stores chunks in
        no order: its interrupted write is resumed from the start.)
    **zarr_kwargs
        Passed to ``zarr.create_array`` (e.g. ``compressors``); the default stores chunks
        uncompressed (``compressors=None``): random floats do not compress.

    Returns
    -------
    dict
        ``store``, ``shape``, ``chunks``, ``dtype``, ``bytes``, ``seconds``, ``gb_per_s``,
        ``dask`` (whether a cluster filled it) and ``initializer`` (its config, with the seed).
    """
    import zarr

    seeded = seeded_initializer(init, seed, "write_zarr")
    own_seed = seeded.get_config().get("seed")
    obj = initializers.pinned(seeded)
    full = v.normalize_size(shape)
    if full is None:
        raise TypeError("write_zarr: shape must be an int or a tuple of ints, got None")
    dt = v.resolve_dtype(dtype, None, "write_zarr")
    bf16 = v.is_bfloat16(dt)
    stored = np.dtype(np.uint16) if bf16 else dt
    chunk_shape = default_chunks(full, dt.itemsize) if chunks is None else tuple(
        v.normalize_size(chunks) or ())
    if len(chunk_shape) != len(full) or any(c < 1 for c in chunk_shape):
        raise ValueError(f"write_zarr: chunks {chunks} must give one positive size per axis of "
                         f"{full}")
    # Bad arguments fail here, before anything is created: a local initializer on the first
    # element; one without a chunked form (Orthogonal) is computed whole, once, if it fits.
    if not obj.local:
        check_memory(obj.working_bytes(full), f"{type(obj).__name__} of shape {full}",
                     "write_zarr")
    whole = rehearse(obj, full, dt)
    client = _active_client() if use_dask is not False else None
    if use_dask and client is None:
        raise ValueError("write_zarr: use_dask=True needs an active dask.distributed client")
    if whole is not None:
        client = None                     # computed whole already: written from here
    zarr_kwargs.setdefault("compressors", None)
    done, count = 0, math.prod(-(-d // c) for d, c in zip(full, chunk_shape))
    if resume:
        array, obj, done = _resumed(store, obj, own_seed, full, chunk_shape, stored, bf16)
        if client is not None and done < count:
            done = 0                  # a cluster stores chunks in no order: from the start
        if whole is not None and done < count:
            whole = obj(full, dt)                  # with the recorded seed
    else:
        array = zarr.create_array(store, shape=full, chunks=chunk_shape, dtype=stored,
                                  overwrite=overwrite, **zarr_kwargs)
        # Marked incomplete before any chunk is stored: a killed write never looks finished.
        array.attrs.update({**({BFLOAT16_ATTRIBUTE: "bfloat16"} if bf16 else {}),
                            "fastinit_initializer": _config(obj), COMPLETE: False,
                            CHUNKS_DONE: 0})
    config = _config(obj)
    nbytes = math.prod(full) * dt.itemsize
    t0 = time.perf_counter()
    todo = count - done
    if todo and client is not None:
        _fill_on_cluster(array, store, obj, full, chunk_shape, dt)
    elif todo:
        _fill_here(array, obj, whole, full, chunk_shape, dt, progress, done)
    array.attrs.update({COMPLETE: True, CHUNKS_DONE: done + todo})
    if done:                                             # the bytes written by this call
        nbytes = dt.itemsize * sum(math.prod(r.stop - r.start for r in region)
                                   for region in _regions(full, chunk_shape)[done:])
    seconds = time.perf_counter() - t0
    return {"store": str(store), "shape": full, "chunks": chunk_shape, "dtype": v.dtype_name(dt),
            "bytes": nbytes, "seconds": seconds,
            "gb_per_s": nbytes / seconds / 1e9 if seconds > 0 else math.inf,
            "dask": client is not None, "initializer": config}


# The store's attributes that say whether fastinit's write of it finished, and how far it got.
COMPLETE = "fastinit_complete"
CHUNKS_DONE = "fastinit_chunks_done"


def _config(obj: Any) -> dict[str, Any]:
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def _resumed(store: Any, obj: Any, own_seed: Any, shape: tuple[int, ...],
             chunks: tuple[int, ...], stored: np.dtype, bf16: bool) -> tuple[Any, Any, int]:
    """The interrupted array of ``store``, its initializer (with the recorded seed when the
    init has none of its own) and the chunks already stored; ValueError for anything that is
    not an interrupted fastinit write of these arguments."""
    import zarr

    try:
        array = zarr.open_array(store, mode="r+")
    except Exception as exc:                       # no array there (zarr's own errors vary)
        raise ValueError(f"write_zarr: nothing to resume at {store} ({exc})") from None
    attrs: dict[str, Any] = dict(array.attrs)
    if COMPLETE not in attrs:
        raise ValueError(f"write_zarr: cannot resume {store}: it is not a fastinit write")
    recorded: Any = attrs.get("fastinit_initializer", {})
    config = _config(obj)
    if own_seed is None and "seed" in recorded.get("config", {}):
        config["config"]["seed"] = recorded["config"]["seed"]
        obj = type(obj).from_config(config["config"])
    same = (tuple(array.shape) == shape and tuple(array.chunks) == chunks
            and np.dtype(array.dtype) == stored
            and (attrs.get(BFLOAT16_ATTRIBUTE) == "bfloat16") == bf16
            and recorded == json.loads(json.dumps(config)))
    if not same:
        raise ValueError(f"write_zarr: {store} was written with other arguments (shape "
                         f"{tuple(array.shape)}, chunks {tuple(array.chunks)}, {recorded}); "
                         "resume with those")
    total = len(_regions(shape, chunks))
    done = total if attrs[COMPLETE] is True else attrs.get(CHUNKS_DONE)
    if not isinstance(done, int) or isinstance(done, bool) or not 0 <= done <= total:
        raise ValueError(f"write_zarr: {store}'s {CHUNKS_DONE} attribute ({done!r}) is not a "
                         f"count of its {total} chunks; write it again")
    return array, obj, done


def _regions(shape: tuple[int, ...], chunks: tuple[int, ...]) -> list[tuple[slice, ...]]:
    counts = [-(-d // c) for d, c in zip(shape, chunks)]
    return [tuple(slice(i * c, min((i + 1) * c, d)) for i, c, d in zip(index, chunks, shape))
            for index in np.ndindex(*counts)]


def _fill_here(array: Any, obj: Any, whole: np.ndarray | None, shape: tuple[int, ...],
               chunks: tuple[int, ...], dt: np.dtype, progress: bool, done: int = 0) -> None:
    """Fill chunk after chunk (from chunk ``done`` on) with every thread, each stored by a
    writer thread while the next is filled: at most two chunks in memory (and ``whole``, for
    Orthogonal).  The chunks stored, in order, are counted in the attributes about once a
    second, so that an interrupted write resumes from there."""
    bar = Progress(math.prod(shape) * dt.itemsize, progress, str(array.name or "zarr"))
    pending: deque[concurrent.futures.Future] = deque()
    bf16 = v.is_bfloat16(dt)
    regions = _regions(shape, chunks)
    stored, recorded = done, time.monotonic()

    def store(region: tuple[slice, ...], block: np.ndarray) -> None:
        array[region] = block.view(np.uint16) if bf16 else block
        bar.update(block.nbytes)

    def finished() -> None:
        nonlocal stored, recorded
        pending.popleft().result()
        stored += 1
        if time.monotonic() - recorded > 1.0:
            array.attrs[CHUNKS_DONE] = stored
            recorded = time.monotonic()

    try:
        with concurrent.futures.ThreadPoolExecutor(1, "fastinit-zarr") as writer:
            for region in regions[done:]:
                if len(pending) == 2:
                    finished()
                block = whole[region].copy() if whole is not None else obj(
                    shape, dt, region=region)
                pending.append(writer.submit(store, region, block))
            while pending:
                finished()
    finally:
        bar.close()


def _fill_on_cluster(array: Any, store: Any, obj: Any, shape: tuple[int, ...],
                     chunks: tuple[int, ...], dt: np.dtype) -> None:
    """Each Zarr chunk one task of fastinit.dask.initialize, stored by the worker itself."""
    import dask.array as da

    import fastinit.dask

    values = fastinit.dask.initialize(obj, shape, chunks=chunks, dtype=dt)
    if v.is_bfloat16(dt):
        values = da.map_blocks(_words, values, dtype=np.uint16)
    da.store(values, array, lock=False, compute=True)


def _words(block: np.ndarray) -> np.ndarray:
    return block.view(np.uint16)


def read_zarr(store: Any) -> np.ndarray:
    """The array in ``store``, bfloat16 as ml_dtypes' bfloat16 (see the module docstring)."""
    import zarr

    array = zarr.open_array(store, mode="r")
    values = np.asarray(array[...])
    if array.attrs.get(BFLOAT16_ATTRIBUTE) == "bfloat16":
        return values.view(v.bfloat16())
    return values



def zarr_stats(store: Any, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
               on_chunk: Any = None, progress: bool = False) -> dict[str, Any]:
    """Statistics of a Zarr array, as :func:`fastinit.io.npy_stats` gives a ``.npy`` file's.

    The array is read in slabs of whole rows of about ``chunk_bytes`` (at least one row), so the
    memory stays bounded; bfloat16 (the ``fastinit_dtype`` attribute) is read exactly, as its
    float32 top halves.  ``incomplete``: a fastinit write of the store did not finish (its
    ``fastinit_complete`` attribute is false), so some chunks hold the fill value.
    """
    import zarr

    from fastinit.io import _stats

    array = zarr.open_array(store, mode="r")
    bfloat16 = array.attrs.get(BFLOAT16_ATTRIBUTE) == "bfloat16"
    dt = np.dtype(array.dtype)
    _stats.check_summarizable(dt, str(store), "fastinit info reads float, bfloat16 and integer "
                              "Zarr arrays")
    shape = tuple(array.shape)
    n = math.prod(shape)
    row = math.prod(shape[1:]) * dt.itemsize if shape else dt.itemsize
    rows = max(1, chunk_bytes // max(1, row))

    def read(index: int) -> np.ndarray:
        if not shape:
            return np.asarray(array[...]).reshape(-1)
        return np.asarray(array[index * rows:(index + 1) * rows])

    slabs = -(-shape[0] // rows) if shape else 1
    with _stats.reporting(n * dt.itemsize, progress, str(store), on_chunk) as report:
        stats = _stats.summarize_chunks(read, slabs, n, bfloat16, report)
    return {"path": str(store), "shape": shape, "dtype": "bfloat16" if bfloat16 else dt.name,
            "size": n, **stats, "incomplete": array.attrs.get(COMPLETE) is False}
