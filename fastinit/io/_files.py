"""What the chunked file writers share: a tensor cut into contiguous chunks, the free-space check
and the reservation of every data block, progress records written atomically, the memory a
whole-tensor init may take, and the file-system primitives that :class:`fastinit.io.writer.
FileWriter` (the one writer engine) and every reader use:

- only regular files are read or written: a FIFO, a device or a directory is refused before it
  is opened (it could block forever), and a writer refuses a symbolic link at its path (a link
  planted in a shared directory would send the data, or a record's JSON, to its target);
- a progress record is written to a new temporary file made with ``mkstemp`` (``O_EXCL``, so a
  planted link is never followed) in the same directory, then renamed over the record;
- a new data file is created with ``O_EXCL | O_NOFOLLOW``;
- one writer at a time per path: :class:`WriteLock` holds an advisory ``flock`` on
  ``<path>.fastinit-lock``, and a second writer gets an OSError at once.

May import: numpy, fastinit._progress.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fastinit._progress import format_bytes

PROGRESS_SUFFIX = ".fastinit-progress"
LOCK_SUFFIX = ".fastinit-lock"


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
    the new one, never a truncated file that a resume could not read.  The new record is a
    temporary file of its own (``mkstemp``: exclusive, never a planted link), renamed over."""
    fd, temporary = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                                     prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_record(path: Path, where: str) -> dict[str, Any]:
    """The record at ``path``; ValueError when it is not one of ours."""
    if not regular_file(path, where, follow=False):
        raise ValueError(f"{where}: there is no progress record {path}")
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{where}: the progress record {path} cannot be read ({exc}); remove it "
                         "and write the file again") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: {path} is not a fastinit progress record")
    return record


def regular_file(path: str | os.PathLike, where: str, *, follow: bool) -> bool:
    """Whether ``path`` exists, as a regular file; OSError for anything else there: a FIFO, a
    device, a directory (reading them could block or fail mid-way) and, unless ``follow`` (a
    reader's choice), a symbolic link."""
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        return False
    at = f"{where}: " if where else ""
    if stat.S_ISLNK(info.st_mode):
        raise OSError(errno.ELOOP, f"{at}{path} is a symbolic link; fastinit writes only to "
                      "regular files at the path it is given (give the link's target, or remove "
                      "the link)")
    if not stat.S_ISREG(info.st_mode):
        kind = ("a directory" if stat.S_ISDIR(info.st_mode) else
                "a FIFO" if stat.S_ISFIFO(info.st_mode) else "not a regular file")
        raise OSError(errno.EINVAL, f"{at}{path} is {kind}; fastinit reads and writes "
                      "regular files only")
    return True


def create_new(path: Path) -> int:
    """A new file at ``path``, opened for writing: ``O_EXCL | O_NOFOLLOW``, so an existing file,
    or a link planted there since the checks, is never written through."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | \
        getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, 0o644)


class WriteLock:
    """The advisory lock of one writer of ``path``: ``flock(LOCK_EX | LOCK_NB)`` on
    ``<path>.fastinit-lock``, held until :meth:`release` (or the process ends).  A second
    writer of the same path gets an OSError (EBUSY) naming it, instead of interleaving its data
    with the first's.  The lock file is removed on release; one left by a killed writer holds
    no lock and is reused."""

    def __init__(self, path: Path, where: str) -> None:
        self.path = path.with_name(path.name + LOCK_SUFFIX)
        regular_file(self.path, where, follow=False)          # no planted link or FIFO
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | \
            getattr(os, "O_CLOEXEC", 0)
        self.fd: int | None = os.open(self.path, flags, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise OSError(errno.EBUSY, f"{where}: another fastinit writer is writing {path} (it "
                          f"holds {self.path.name}); wait for it to finish") from None

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(self.fd)
            self.fd = None


def remove_quietly(*paths: Path) -> None:
    for created in paths:
        with contextlib.suppress(OSError):
            created.unlink()
