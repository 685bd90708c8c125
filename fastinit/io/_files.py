"""What the chunked file writers share: a tensor cut into contiguous chunks, the free-space check
and the reservation of every data block, progress records written atomically, and the memory a
whole-tensor init may take.
"""
from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from fastinit._progress import format_bytes

PROGRESS_SUFFIX = ".fastinit-progress"


class Chunks:
    """Contiguous blocks of ``shape`` (in C order) of at most ``chunk_bytes``, as regions,
    computed on demand (a file may have millions of chunks).

    The trailing axes that fit in a chunk are taken whole; the axis before them is cut into slabs
    of ``per`` indices; the leading axes are walked one index at a time.
    """

    def __init__(self, shape: tuple[int, ...], itemsize: int, chunk_bytes: int) -> None:
        self.shape = shape
        k = len(shape)                                   # shape[k:] is taken whole
        while k > 0 and math.prod(shape[k - 1:]) * itemsize <= chunk_bytes:
            k -= 1
        self.k = k
        if math.prod(shape) == 0:
            self.count, self.per, self.slabs = 0, 1, 0
        elif k == 0:
            self.count, self.per, self.slabs = 1, 1, 1
        else:
            self.per = max(1, chunk_bytes // (math.prod(shape[k:]) * itemsize))
            self.slabs = -(-shape[k - 1] // self.per)
            self.count = math.prod(shape[: k - 1]) * self.slabs

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[slice, ...]:
        if not 0 <= index < self.count:
            raise IndexError(index)
        if self.k == 0:
            return tuple(slice(0, d) for d in self.shape)
        lead, slab = divmod(index, self.slabs)
        lead_index = np.unravel_index(lead, self.shape[: self.k - 1]) if self.k > 1 else ()
        start = slab * self.per
        stop = min(start + self.per, self.shape[self.k - 1])
        return (tuple(slice(int(i), int(i) + 1) for i in lead_index) + (slice(start, stop),)
                + tuple(slice(0, d) for d in self.shape[self.k:]))


def flat_offset(region: tuple[slice, ...], shape: tuple[int, ...]) -> int:
    """The C-order index of a region's first element."""
    offset, stride = 0, 1
    for sl, d in zip(reversed(region), reversed(shape)):
        offset += sl.start * stride
        stride *= d
    return offset


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux's MemAvailable), if known."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(need: int, what: str, where: str) -> None:
    """MemoryError naming both sizes when ``need`` bytes cannot fit in the available memory."""
    available = available_memory()
    if available is not None and need > available:
        raise MemoryError(f"{where}: {what} needs {format_bytes(need)} of memory to compute whole "
                          f"(it has no chunked form), more than the {format_bytes(available)} "
                          "available")


def check_space(path: Path, nbytes: int, where: str) -> None:
    """OSError (ENOSPC) naming both sizes when ``nbytes`` cannot fit on ``path``'s filesystem;
    the file being replaced counts as free."""
    replaced = path.stat().st_size if path.is_file() else 0
    free = shutil.disk_usage(path.parent if str(path.parent) else ".").free + replaced
    if nbytes > free:
        raise OSError(errno.ENOSPC, f"{where}: {path} needs {format_bytes(nbytes)} but the "
                      f"disk has {format_bytes(free)} free"
                      + (" (counting the file it replaces)" if replaced else ""))


def reserve(fd: int, total: int) -> None:
    """Allocate every block of the first ``total`` bytes of the file now.

    A memory-mapped or sparse file on a full disk would otherwise fail mid-fill (SIGBUS for a
    map), after part of the data is written; with the blocks reserved, a full disk is an OSError
    here, before any data.
    """
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, total)
    else:                                              # pragma: no cover - macOS, Windows
        os.ftruncate(fd, total)


def record_path(path: Path) -> Path:
    """The progress record beside ``path``: ``<path>.fastinit-progress``."""
    return path.with_name(path.name + PROGRESS_SUFFIX)


def write_record(path: Path, record: dict[str, Any]) -> None:
    """Write the JSON record to ``path`` atomically: a kill at any moment leaves the old record or
    the new one, never a truncated file that a resume could not read."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(record))
    os.replace(temporary, path)


def read_record(path: Path, where: str) -> dict[str, Any]:
    """The record at ``path``; ValueError when it is not one of ours."""
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: the progress record {path} cannot be read ({exc}); remove it "
                         "and write the file again") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: {path} is not a fastinit progress record")
    return record


def remove_quietly(*paths: Path) -> None:
    for created in paths:
        with contextlib.suppress(OSError):
            created.unlink()
