"""Seed checkpoints: safetensors files of any size, initialized chunk by chunk at disk speed.

A safetensors file is an 8-byte little-endian header length, a JSON header giving each tensor's
``dtype``, ``shape`` and ``data_offsets`` (plus an optional ``__metadata__`` map of strings),
spaces up to a multiple of 8 bytes, then the raw little-endian data.  The header depends only on
names, dtypes and shapes, and fastinit's values only on (seed, name, index), so
:func:`write_safetensors` writes the header first and then the data in chunks of bounded size,
computed by the thread pool while the previous chunk goes to disk.  Nothing here needs torch or
the safetensors package; the files load with ``safetensors.safe_open``, ``load_file`` and
transformers' ``from_pretrained``.

The file's layout is the safetensors library's own: tensors sorted by dtype (float64, float32,
bfloat16, float16) and then by name, the header serialized compactly (no spaces) with
``__metadata__`` first.

May import: numpy, fastinit._generator, fastinit._progress, fastinit._recipe,
fastinit._tensor_init, fastinit._core.threads, fastinit._validate, fastinit._version,
fastinit.io._files, fastinit.io._stats, fastinit.io.npy, fastinit.io.writer.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import errno
import json
import math
import os
import struct
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from fastinit._core import threads as _threads
from fastinit import _validate as v
from fastinit._generator import Generator, stream_for
from fastinit._progress import Progress, format_bytes
from fastinit._recipe import rehearse
from fastinit._tensor_init import TensorInit, key_of, parse_init, storage_dtype
from fastinit.io import _stats
from fastinit.io._files import Chunks, check_memory, check_space, flat_offset, record_path, \
    regular_file
from fastinit.io.writer import FileWriter
from fastinit.io.npy import DEFAULT_CHUNK_BYTES

__all__ = ["write_safetensors", "safetensors_stats", "read_header", "DTYPE_CODES"]

# fastinit's dtypes and the safetensors codes.  Random fills are float; a module's integer and
# bool buffers (BatchNorm's num_batches_tracked) are stored by save_initialized too.
DTYPE_CODES = {"float64": "F64", "float32": "F32", "bfloat16": "BF16", "float16": "F16",
               "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8", "uint64": "U64",
               "uint32": "U32", "uint16": "U16", "uint8": "U8", "bool": "BOOL"}
# The order the library sorts tensors in: its Dtype enum (in increasing alignment), descending.
_RANK = {code: rank for rank, code in enumerate(
    ["U64", "I64", "F64", "C64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16", "I8", "U8",
     "BOOL"])}
# What a reader maps each code to (fastinit info summarizes integers too).
_READ_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "bfloat16", "I64": "<i8",
                "I32": "<i4", "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2",
                "U8": "u1", "BOOL": "?"}
ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
             "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "C64": 8, "F8_E5M2": 1,
             "F8_E4M3": 1, "F8_E8M0": 1, "F8_E4M3FNUZ": 1, "F8_E5M2FNUZ": 1}
MAX_HEADER_BYTES = 100_000_000              # the safetensors library refuses larger headers
MAX_DIMS = 64                               # NumPy's and torch's limit on an array's rank


@dataclasses.dataclass
class Entry:
    """One tensor of the file: its place in the data section (bytes ``begin`` to ``end``)."""
    name: str
    shape: tuple[int, ...]
    dt: np.dtype                      # what is filled (bfloat16 as tagged uint16 words)
    init: TensorInit | None           # None: the data comes from elsewhere (save_initialized)
    begin: int = 0
    end: int = 0

    @property
    def code(self) -> str:
        return DTYPE_CODES[v.dtype_name(self.dt)]


def layout(entries: list[Entry]) -> list[Entry]:
    """Sort the entries as the safetensors library does and assign their data offsets."""
    ordered = sorted(entries, key=lambda e: (_RANK[e.code], e.name))
    offset = 0
    for entry in ordered:
        entry.begin = offset
        offset += math.prod(entry.shape) * entry.dt.itemsize
        entry.end = offset
    return ordered


def header_bytes(entries: list[Entry], metadata: Mapping[str, str]) -> bytes:
    """The 8-byte length and the JSON header, padded with spaces to a multiple of 8 bytes."""
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    for e in entries:
        header[e.name] = {"dtype": e.code, "shape": list(e.shape),
                          "data_offsets": [e.begin, e.end]}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    if len(text) > MAX_HEADER_BYTES:
        raise ValueError(f"the safetensors header would be {len(text)} bytes, more than the "
                         f"{MAX_HEADER_BYTES} readers accept (shorten the names or the metadata)")
    return struct.pack("<Q", len(text)) + text


def check_metadata(metadata: Any, where: str) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"{where}: metadata must be a dict of str to str, got "
                        f"{type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"{where}: metadata must map str to str (safetensors stores strings "
                            f"only); got {key!r}: {value!r}")
        if key.startswith("fastinit."):
            raise ValueError(f"{where}: metadata key {key!r} is reserved (fastinit records its "
                             "version, seed and inits under 'fastinit.')")
    return dict(metadata)


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{where}: tensor names must be str, got {name!r}")
    if not name or name == "__metadata__":
        raise ValueError(f"{where}: {name!r} cannot name a tensor")
    return name


def _entry(name: Any, spec: Any, dtype: Any, where: str) -> Entry:
    name = _check_name(name, where)
    label = f"{where}: tensor {name!r}"
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in ("shape", "dtype", "init")]
        if unknown or "shape" not in spec or "init" not in spec:
            raise ValueError(f"{label}: a tensor is {{'shape': [...], 'dtype': ..., 'init': ...}} "
                             f"(dtype optional); got keys {sorted(spec)}")
        shape, spec_dtype, init = spec["shape"], spec.get("dtype", "float32"), spec["init"]
    elif isinstance(spec, (tuple, list)) and len(spec) == 3:
        shape, spec_dtype, init = spec
    else:
        raise TypeError(f"{label}: give (shape, dtype, init), got {spec!r}")
    try:
        dims = v.normalize_size(shape)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{label}: {exc}") from None
    if dims is None:
        raise TypeError(f"{label}: shape must be a list of ints, got None")
    dt = storage_dtype(spec_dtype if dtype is None else dtype, label)
    return Entry(name, dims, dt, parse_init(init, label))


def _seed_text(seed: Any) -> str:
    if isinstance(seed, np.random.SeedSequence):
        return f"SeedSequence(entropy={seed.entropy}, spawn_key={tuple(seed.spawn_key)})"
    return str(int(seed))


def fastinit_metadata(seed: Any, key: int) -> dict[str, str]:
    from fastinit._version import __version__

    return {"format": "pt", "fastinit.version": __version__, "fastinit.seed": _seed_text(seed),
            "fastinit.key": f"0x{key:016x}"}


# -- reading --------------------------------------------------------------------------------------

@dataclasses.dataclass
class Header:
    """A parsed header: ``tensors`` in file order as (name, code, shape, begin, end)."""
    metadata: dict[str, str]
    tensors: list[tuple[str, str, tuple[int, ...], int, int]]
    data_start: int


def read_header(path: str | os.PathLike) -> Header:
    """The header of a safetensors file, checked as the safetensors library checks it.

    ValueError, in one line, for a file that is not valid: too short, a header length past the
    end of the file, a header that is not JSON, an entry whose offsets do not match its shape,
    or data that ends past the end of the file (a truncated file).
    """
    if not regular_file(path, "", follow=True):            # a FIFO would block the open
        raise FileNotFoundError(errno.ENOENT, f"No such file: {path}")
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        first = f.read(8)
        if len(first) < 8:
            raise ValueError(f"{path} is not a safetensors file: {size} bytes, too short for its "
                             "8-byte header length")
        (n,) = struct.unpack("<Q", first)
        if n > MAX_HEADER_BYTES:
            raise ValueError(f"{path} is not a valid safetensors file: its header length {n} is "
                             f"larger than any reader accepts ({MAX_HEADER_BYTES})")
        if 8 + n > size:
            raise ValueError(f"{path} is not a valid safetensors file: its header length {n} "
                             f"runs past the end of the file ({size} bytes)")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{path} is not a valid safetensors file: its header is not JSON "
                         f"without repeated keys ({_short(exc)})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a valid safetensors file: its header is not a JSON "
                         "object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(x, str)
                                                 for k, x in metadata.items()):
        raise ValueError(f"{path} is not a valid safetensors file: __metadata__ is not a map of "
                         "strings")
    tensors = []
    for name, info in header.items():
        try:
            code, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
            if code not in ITEMSIZE or not isinstance(shape, list) or len(shape) > MAX_DIMS \
                    or not all(isinstance(d, int) and d >= 0 for d in shape) \
                    or not isinstance(begin, int) or not isinstance(end, int):
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path} is not a valid safetensors file: the entry of "
                             f"{_short(name)} is not a dtype, a shape of at most {MAX_DIMS} "
                             f"dimensions and data_offsets: {_short(info)}") from None
        shape = tuple(shape)
        # The product stops growing past the file's size: a crafted shape costs no time.
        if end - begin != _bounded_prod(shape, size) * ITEMSIZE[code] or begin < 0:
            raise ValueError(f"{path} is not a valid safetensors file: {_short(name)} has "
                             f"data_offsets [{begin}, {end}] for {code} of shape "
                             f"{_short(shape)}")
        tensors.append((name, code, shape, begin, end))
    tensors.sort(key=lambda t: (t[3], t[4]))
    position = 0
    for name, _, _, begin, end in tensors:
        if begin != position:
            raise ValueError(f"{path} is not a valid safetensors file: {name!r} starts at byte "
                             f"{begin} of the data, not at {position} (overlap or gap)")
        position = end
    data_start = 8 + n
    if data_start + position > size:
        raise ValueError(f"{path} is truncated: its header describes {position} bytes of data "
                         f"but the file holds {size - data_start}")
    if data_start + position < size:
        raise ValueError(f"{path} is not a valid safetensors file: it holds "
                         f"{size - data_start - position} bytes after its last tensor (appended "
                         "to?); the safetensors library refuses it too")
    return Header(metadata, tensors, data_start)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different (the last of two would win silently)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {_short(key)} appears twice")
        result[key] = value
    return result


def _bounded_prod(shape: tuple[int, ...], limit: int) -> int:
    """``math.prod(shape)``, or ``limit + 1`` as soon as the product passes ``limit``."""
    product = 1
    for d in shape:
        product *= d
        if product > limit:
            return limit + 1
    return product


def _short(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut to ``limit`` characters: an error stays one readable line."""
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def safetensors_stats(path: str | os.PathLike, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                      on_chunk: Callable[[int], None] | None = None,
                      progress: bool = False) -> dict[str, Any]:
    """Per-tensor statistics of a safetensors file, streamed with bounded memory.

    Returns a dict with ``path``, ``metadata``, ``incomplete`` (a fastinit write of it was
    interrupted and not resumed: its progress record is beside it) and ``tensors``: one dict per
    tensor in file order with ``name``, ``dtype``, ``shape``, ``size``, ``init`` (the init
    fastinit recorded, parsed from the metadata, or None) and, for real dtypes, the statistics of
    :func:`fastinit.npy_stats` (over the finite values, with NaN and inf counts).
    """
    header = read_header(path)
    rows = []
    read = sum(end - begin for _, code, _, begin, end in header.tensors if code in _READ_DTYPES)
    with _stats.reporting(read, progress, Path(path).name, on_chunk) as report:
        for name, code, shape, begin, end in header.tensors:
            n = math.prod(shape)
            row: dict[str, Any] = {"name": name, "dtype": code, "shape": shape, "size": n,
                                   "init": _recorded_init(header.metadata, name)}
            if code in _READ_DTYPES:
                dt = _read_dtype(code)
                offset = header.data_start + begin
                row.update(_stats.summarize_file(path, dt, offset, n, chunk_bytes, report))
            rows.append(row)
    return {"path": str(path), "metadata": header.metadata, "tensors": rows,
            "incomplete": record_path(Path(path)).exists()}


def _read_dtype(code: str) -> np.dtype:
    return v.BFLOAT16_BITS if code == "BF16" else np.dtype(_READ_DTYPES[code])


def _recorded_init(metadata: dict[str, str], name: str) -> Any:
    text = metadata.get("fastinit.init." + name)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- writing --------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Piece:
    entry: Entry
    region: tuple[slice, ...] | None         # the block of the tensor (None: all of it)
    buffer_offset: int
    nbytes: int


@dataclasses.dataclass
class _Batch:
    file_offset: int
    nbytes: int
    pieces: list[_Piece]


def _batches(entries: list[Entry], data_start: int, chunk_bytes: int) -> list[_Batch]:
    """The data in file order, as batches of at most ``chunk_bytes``: each a contiguous byte
    range of the file made of whole chunks of tensors (several small tensors share a batch)."""
    batches: list[_Batch] = []
    current: _Batch | None = None
    for entry in entries:
        chunks = Chunks(entry.shape, entry.dt.itemsize, chunk_bytes)
        for index in range(len(chunks)):
            region = chunks[index]
            start = entry.begin + flat_offset(region, entry.shape) * entry.dt.itemsize
            nbytes = math.prod(r.stop - r.start for r in region) * entry.dt.itemsize
            if current is None or current.nbytes + nbytes > chunk_bytes:
                current = _Batch(data_start + start, 0, [])
                batches.append(current)
            current.pieces.append(_Piece(entry, region, current.nbytes, nbytes))
            current.nbytes += nbytes
    return batches


_sync_data = getattr(os, "fdatasync", os.fsync)     # macOS has fsync only


def _pwrite_durably(fd: int, data: memoryview, offset: int) -> None:
    """All of ``data`` at ``offset``, on disk (fdatasync) before the batch is counted."""
    while data:
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written
    _sync_data(fd)


@dataclasses.dataclass
class WritePlan:
    path: Path
    entries: list[Entry]
    header: bytes
    batches: list[_Batch]
    key: int
    wholes: dict[str, np.ndarray]
    writer: FileWriter                      # holds the lock from the plan to the end of the write

    @property
    def done(self) -> int:
        """The batches on disk already (all of them for a complete file)."""
        return self.writer.done


def write_safetensors(path: str | os.PathLike, tensors: Mapping[str, Any], seed: Any, *,
                      dtype: Any = None, metadata: Mapping[str, str] | None = None,
                      chunk_bytes: int = DEFAULT_CHUNK_BYTES, progress: bool = False,
                      resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Write an initialized safetensors checkpoint of any size with bounded memory.

    Parameters
    ----------
    path : path-like
        The ``.safetensors`` file.
    tensors : mapping of str to (shape, dtype, init)
        Each tensor's name, shape, dtype (float32, float64, float16 or "bfloat16") and init, in
        any form of naming an init (README, "Naming an init"): an init function with its
        arguments (``("normal_", {"std": 0.02})``, ``"normal_(std=0.02)"``), a distribution
        (``("uniform", {"low": -0.1, "high": 0.1})``) or an initializer without a seed
        (``HeNormal()``, ``"he_normal"``); see docs/checkpoints.md.  A dict
        ``{"shape": ..., "dtype": ..., "init": ...}`` is the same.
    seed : int or numpy.random.SeedSequence
        The tensor named N draws from ``Generator(seed, stream=fastinit.stream_for(N))``, so its
        values equal the same init in memory (:func:`fastinit.io.init_tensor`, the
        ``fastinit.init`` function with that generator, ``fastinit.torch.materialize``).
    dtype : dtype, optional
        Store every tensor in this dtype instead (e.g. "bfloat16").
    metadata : dict of str to str, optional
        Extra ``__metadata__`` entries.  fastinit adds ``format: pt``, ``fastinit.version``,
        ``fastinit.seed``, ``fastinit.key`` and ``fastinit.init.<name>`` (each tensor's init as
        JSON), so the file says how it was made.
    chunk_bytes : int
        The largest block filled and written at once (64 MiB).  Peak memory is about twice this
        (one block filled while the previous one is written; once with one thread), plus any
        tensor whose init has no chunked form (``orthogonal_``, ``sparse_``, ``Orthogonal``),
        which is computed whole.
    progress : bool
        A progress bar (tqdm, ``fastinit[progress]``) for files of 256 MiB and more.
    resume : bool
        Finish an interrupted write of the same arguments (its ``<path>.fastinit-progress``
        record is beside it): only the missing chunks are written, and the file equals an
        uninterrupted write.  A complete file of the same arguments is left as it is; a missing
        file is a ValueError ("nothing to resume"), unless ``overwrite``.
    overwrite : bool
        Replace an existing file that is not a matching partial write (refused otherwise).
        With ``resume``: resume what can be resumed, write anew what cannot.

    Returns
    -------
    dict
        ``path``, ``bytes`` (data written by this call), ``file_bytes``, ``tensors``, ``chunks``,
        ``seconds`` and ``gb_per_s``.

    Raises
    ------
    TypeError, ValueError
        A bad name, shape, dtype, init or argument, before anything is written.
    FileExistsError
        ``path`` exists and is not a matching partial write, without ``overwrite=True``.
    OSError
        Not enough free space (ENOSPC, naming both sizes), before any data is written.
    MemoryError
        A whole-computed tensor that cannot fit in the available memory.
    """
    plan = plan_write(path, tensors, seed, dtype=dtype, metadata=metadata,
                      chunk_bytes=chunk_bytes, resume=resume, overwrite=overwrite)
    return run_write(plan, progress)


def plan_write(path: Any, tensors: Any, seed: Any, *, dtype: Any, metadata: Any,
               chunk_bytes: Any, resume: bool, overwrite: bool,
               where: str = "write_safetensors") -> WritePlan:
    """Every check, then the file created and reserved (or the partial one checked).  ``where``
    starts the error messages (the spec file's name, for the command line)."""
    path = Path(path)
    if not isinstance(tensors, Mapping):
        raise TypeError(f"{where}: tensors must map names to (shape, dtype, init), got "
                        f"{type(tensors).__name__}")
    if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 8:
        raise ValueError(f"{where}: chunk_bytes must be an int >= 8, got {chunk_bytes!r}")
    key = key_of(seed, where)
    extra = check_metadata(metadata, where)
    entries = layout([_entry(name, spec, dtype, where) for name, spec in tensors.items()])
    meta = {**fastinit_metadata(seed, key), **extra}
    for entry in entries:
        meta["fastinit.init." + entry.name] = json.dumps(entry.init.config())   # type: ignore
    header = header_bytes(entries, meta)
    total = len(header) + (entries[-1].end if entries else 0)
    regular_file(path, where, follow=False)                  # no FIFO, no planted link
    check_space(path, total, where)            # before anything costs time or memory
    wholes = _check_inits(entries, key, where)
    data_bytes = entries[-1].end if entries else 0
    # At least ~16 batches (of 1 MiB or more), so that filling overlaps writing in small files
    # too; derived from the header and chunk_bytes only, so a resume cuts the same batches.
    batch_bytes = min(chunk_bytes, max(1 << 20, -(-data_bytes // 16)))
    batches = _batches(entries, len(header), batch_bytes)
    writer = FileWriter(path, header, total, len(batches), {"chunk_bytes": chunk_bytes},
                        kind="safetensors", where=where, resume=resume, overwrite=overwrite)
    return WritePlan(path, entries, header, batches, key, wholes, writer)


def _check_inits(entries: list[Entry], key: int, where: str) -> dict[str, np.ndarray]:
    """Run every init once on a one-element block (or on all of a tensor without a chunked
    form, which is kept for the write), so that bad arguments fail before the file changes."""
    wholes: dict[str, np.ndarray] = {}
    whole_entries = [e for e in entries if not e.init.local]   # type: ignore[union-attr]
    if whole_entries:
        check_memory(sum(e.init.working_bytes(e.shape) for e in whole_entries),  # type: ignore
                     "computing " + ", ".join(repr(e.name) for e in whole_entries), where)
    for e in entries:
        assert e.init is not None
        rng = Generator(key=key, stream=stream_for(e.name))
        try:
            whole = rehearse(e.init.drawing_from(rng), e.shape, e.dt)
            if whole is not None:
                wholes[e.name] = whole
        except (TypeError, ValueError, OverflowError) as exc:
            raise type(exc)(f"{where}: tensor {e.name!r} ({json.dumps(e.init.config())}): "
                            f"{exc}") from None
    return wholes


def _fill_batch(plan: WritePlan, batch: _Batch, buffer: np.ndarray) -> memoryview:
    for piece in batch.pieces:
        e = piece.entry
        raw = buffer[piece.buffer_offset:piece.buffer_offset + piece.nbytes]
        block = tuple(r.stop - r.start for r in piece.region) if piece.region else e.shape
        out = raw.view(e.dt).reshape(block)
        whole = plan.wholes.get(e.name)
        if whole is not None:
            out[...] = whole[piece.region] if piece.region is not None else whole
        else:
            rng = Generator(key=plan.key, stream=stream_for(e.name))
            e.init.fill(out, e.shape, piece.region, rng)          # type: ignore[union-attr]
    return buffer.data[:batch.nbytes]


def run_write(plan: WritePlan, progress: bool) -> dict[str, Any]:
    """Fill batch after batch into one of two buffers, each written (and flushed) by a writer
    thread while the next is filled; the record counts the batches on disk, in order.  At the end
    the file is made durable and its record removed; the writer's lock is released."""
    try:
        result = _write_batches(plan, progress)
        plan.writer.finish()
        return result
    finally:
        plan.writer.close()


def _write_batches(plan: WritePlan, progress: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    file_bytes = plan.writer.size
    if plan.writer.complete:                              # a complete file of these arguments
        return _result(plan, 0, file_bytes, t0)
    todo = plan.batches[plan.done:]
    total = sum(b.nbytes for b in todo)
    bar = Progress(total, progress, plan.path.name)
    size = max((b.nbytes for b in todo), default=0)
    buffers = [np.empty(size, np.uint8) for _ in range(1 if _threads.get_num_threads() == 1
                                                       else 2)]
    written = 0
    pending: deque[tuple[int, concurrent.futures.Future]] = deque()
    fd = os.open(plan.path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))

    def finish_oldest() -> None:
        nonlocal written
        index, future = pending.popleft()
        future.result()
        written += plan.batches[index].nbytes
        bar.update(plan.batches[index].nbytes)
        plan.writer.commit(index + 1)

    try:
        with concurrent.futures.ThreadPoolExecutor(1, "fastinit-writer") as writer:
            try:
                for index in range(plan.done, len(plan.batches)):
                    if len(pending) == len(buffers):
                        finish_oldest()                   # its buffer is the one to reuse
                    batch = plan.batches[index]
                    data = _fill_batch(plan, batch, buffers[index % len(buffers)])
                    pending.append((index, writer.submit(_pwrite_durably, fd, data,
                                                         batch.file_offset)))
                while pending:
                    finish_oldest()
            except BaseException:
                # Nothing may write after we return: wait for the writes under way, and record
                # those that completed, so that a resume skips them.
                while pending:
                    try:
                        finish_oldest()
                    except BaseException:             # noqa: BLE001 - the first error wins
                        pending.clear()
                raise
    finally:
        os.close(fd)
        bar.close()
    return _result(plan, written, file_bytes, t0)


def _result(plan: WritePlan, written: int, file_bytes: int, t0: float) -> dict[str, Any]:
    seconds = time.perf_counter() - t0
    return {"path": str(plan.path), "bytes": written, "file_bytes": file_bytes,
            "tensors": len(plan.entries), "chunks": len(plan.batches), "seconds": seconds,
            "gb_per_s": written / seconds / 1e9 if seconds > 0 else math.inf}


# -- the command line's spec file ---------------------------------------------------------------



def recorded_seed(path: str | os.PathLike) -> int | None:
    """The int seed fastinit recorded in a safetensors file's metadata (None if there is none)."""
    try:
        text = read_header(path).metadata.get("fastinit.seed", "")
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def format_init(config: Any) -> str:
    """A recorded init as a call: ``normal_(std=0.02)``, ``HeNormal()``."""
    if not isinstance(config, dict):
        return str(config)
    if "class_name" in config:
        name, args = config["class_name"], config.get("config", {})
    else:
        name = config.get("function") or config.get("distribution") or config.get("module", "?")
        args = config.get("args", {})
    if not isinstance(args, dict):
        return f"{name}({args})"
    return f"{name}({', '.join(f'{k}={x!r}' for k, x in args.items())})"


def describe(entries: Iterable[Entry]) -> str:
    """``N tensors, X`` for messages."""
    entries = list(entries)
    nbytes = sum(e.end - e.begin for e in entries)
    return f"{len(entries)} tensor{'s' if len(entries) != 1 else ''}, {format_bytes(nbytes)}"
