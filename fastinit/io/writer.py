"""The one writer engine of fastinit's files.

Every file fastinit writes in pieces (``.npy`` fills, safetensors checkpoints,
``save_initialized``) is a header known before any data, then a data section of a known size
written in numbered *units* (chunks, batches) by a process that may be killed at any moment.
:class:`FileWriter` is what they share, so that one set of rules holds for all of them
(docs/checkpoints.md, "What every writer guarantees"):

- **One writer at a time.**  An advisory ``flock`` on ``<path>.fastinit-lock`` is taken before
  the first look at the file and held to the last byte; a second writer gets an OSError (EBUSY).
- **Only regular files.**  A symbolic link, a FIFO, a device or a directory at the path (or at
  its record) is refused before anything opens it.
- **The record first.**  A new file's progress record ``<path>.fastinit-progress`` is written
  before the file is created (``O_EXCL | O_NOFOLLOW``), and removed only after the last byte is
  on disk (``fsync``): a file without a record is a file whose write finished.  Records are new
  temporary files (``mkstemp``) renamed into place, never a planted link written through.
- **Every block reserved.**  The whole file is allocated (``posix_fallocate``) before a byte of
  data is written, so a full disk is an OSError at the start, never a SIGBUS or a hole mid-way.
- **A resume proves what it resumes.**  The record names the writer, the header's SHA-256, the
  file's size, the number of units and the arguments; a resume checks the file's first bytes and
  size against them and the arguments against its own, and refuses anything it cannot prove
  (a truncated or appended file, another seed, a record count out of range).
- **A unit counts once it is durable.**  :meth:`FileWriter.commit` records ``done`` units only
  after the caller has flushed them (``fdatasync`` / ``msync``).

The writer's caller builds the header and writes the data; the engine decides whether that
happens at all, and from which unit.

May import: fastinit.io._files.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from fastinit.io._files import (WriteLock, check_space, create_new, read_record, record_path,
                                regular_file, remove_quietly, reserve, write_record)

__all__ = ["FileWriter", "recorded_arguments", "RECORD_FORMAT"]

RECORD_FORMAT = "fastinit write 1"


class FileWriter:
    """One write of ``path``: a file of ``size`` bytes starting with ``header``, whose data is
    written in ``units`` numbered pieces, in order.

    Opening it (the constructor) takes the writer's lock, then either finds the interrupted
    write to resume, finds the same write complete, or creates the file (record first, then the
    file with its header and every block reserved).  Whatever is refused is refused before the
    file changes, and the lock is released again.

    Parameters
    ----------
    path : path-like
        The file.
    header : bytes
        Its first bytes, which depend only on what is written (a resume compares them).
    size : int
        The whole file's size in bytes, header included.
    units : int
        How many pieces the data is written in.
    arguments : dict
        JSON-serializable: what the data depends on beyond the header (seed, init, chunking).
        A resume of other arguments is refused, naming the first that differs.
    kind : str
        The writer, recorded (``"npy"``, ``"safetensors"``, ``"save_initialized"``).
    where : str
        Starts the error messages (the function, or the spec file, of the caller).
    resume : bool
        Finish an interrupted write of these arguments, or leave the same complete write as it
        is (``complete``; only where ``header_proves`` says the header names the arguments).
    overwrite : bool
        Replace a file there that is not a matching write (FileExistsError otherwise, or with
        ``resume``, a ValueError saying why it cannot be resumed).
    header_proves : bool
        The header alone names every argument (a safetensors header records the seed and the
        inits), so a record-less file with this header and size is this write, complete.  A
        ``.npy`` header names only the shape and dtype: without its record, nothing is resumed.
    force_hint : str
        How the caller writes the file anew, ending the message of a refused resume.

    Attributes
    ----------
    done : int
        The units already on disk: 0 for a new file, the record's count for a resume, ``units``
        for a complete file.
    complete : bool
        The same write was found complete (``resume``, ``header_proves``): nothing to write.
    """

    def __init__(self, path: str | os.PathLike, header: bytes, size: int, units: int,
                 arguments: dict[str, Any], *, kind: str, where: str, resume: bool = False,
                 overwrite: bool = False, header_proves: bool = True,
                 force_hint: str = "pass overwrite=True (--force) to write it again") -> None:
        self.path = Path(path)
        self.record_path = record_path(self.path)
        self.header, self.size, self.units = header, size, units
        self.where, self.force_hint = where, force_hint
        self.record: dict[str, Any] = {
            "format": RECORD_FORMAT, "kind": kind,
            "header_sha256": hashlib.sha256(header).hexdigest(), "size": size, "units": units,
            "arguments": json.loads(json.dumps(arguments))}     # as a record reads back
        self.complete = False
        exists = regular_file(self.path, where, follow=False)   # no FIFO, no planted link
        self._lock: WriteLock | None = WriteLock(self.path, where)
        try:
            done = self._resumable(exists, resume, overwrite, header_proves)
            if done is None:
                self._create(replace=exists)
                done = 0
        except BaseException:
            self.close()
            raise
        self.done = done

    # -- opening ----------------------------------------------------------------------------------

    def _resumable(self, exists: bool, resume: bool, overwrite: bool,
                   header_proves: bool) -> int | None:
        """The units a resume starts from (``units``: complete), or None to create the file."""
        where, path = self.where, self.path
        partial = regular_file(self.record_path, where, follow=False)
        if not resume:
            if exists and not overwrite:
                hint = "; resume=True (--resume) finishes its interrupted write" if partial else ""
                raise FileExistsError(f"{where}: {path} exists; pass overwrite=True (--force) to "
                                      f"replace it{hint}")
            return None
        if not exists:
            if overwrite:
                return None
            why = ("its write was interrupted before the file was created" if partial else
                   "it does not exist")
            raise ValueError(f"{where}: nothing to resume at {path} ({why}); write it without "
                             "resume=True (--resume)")
        reason = self._why_not(partial, header_proves)
        if isinstance(reason, int):
            return reason
        if overwrite:
            return None
        raise ValueError(f"{where}: cannot resume {path}: {reason}; {self.force_hint}")

    def _why_not(self, partial: bool, header_proves: bool) -> int | str:
        """The units done when the file is provably this write, else why it is not."""
        try:
            with open(self.path, "rb") as f:
                on_disk = f.read(len(self.header))
        except OSError as exc:
            return f"it cannot be read ({exc.strerror})"
        size = os.path.getsize(self.path)
        if on_disk != self.header:
            return ("its header is not the one these arguments write: its partial write had "
                    "other arguments, or the header was changed" if partial else
                    "it is not a fastinit write of these arguments")
        if size != self.size:
            return (f"it is {size} bytes, not the {self.size} its header describes (it was "
                    "truncated or appended to)")
        if not partial:
            if header_proves:
                self.complete = True                     # finished: nothing to write
                return self.units
            return (f"it has no {self.record_path.name}: its write finished, or it is not "
                    "fastinit's; nothing to resume")
        saved = read_record(self.record_path, self.where)
        done = saved.pop("done", None)
        valid = saved.get("format") == RECORD_FORMAT and isinstance(done, int) and \
            not isinstance(done, bool)
        if valid and saved != self.record:
            return "it was being written with other arguments: " + _difference(saved, self.record)
        if not valid or not 0 <= done <= self.units:
            return (f"its progress record {self.record_path} is not valid (done {done!r} of "
                    f"{saved.get('units')!r} units, format {saved.get('format')!r})")
        return done

    def _create(self, replace: bool) -> None:
        """Check the space, write the record, then the new file: its header, every block
        reserved.  A failure (no space, ``ulimit -f``, no permission) leaves nothing behind."""
        check_space(self.path, self.size, self.where)
        write_record(self.record_path, {**self.record, "done": 0})
        try:
            if replace:
                self.path.unlink()
            with os.fdopen(create_new(self.path), "wb") as f:
                f.write(self.header)
                f.flush()
                if self.size > len(self.header):
                    reserve(f.fileno(), self.size)          # every block, now
        except BaseException:
            remove_quietly(self.path, self.record_path)
            raise

    # -- writing ----------------------------------------------------------------------------------

    def commit(self, done: int) -> None:
        """Record that the first ``done`` units are on disk (flushed by the caller)."""
        write_record(self.record_path, {**self.record, "done": done})
        self.done = done

    def finish(self) -> None:
        """The last byte is written: make the file durable, then remove its record (now the
        file reads as complete) and release the lock."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self.record_path.unlink(missing_ok=True)
        finally:
            self.close()

    def discard(self) -> None:
        """Remove the file and its record (a write that cannot be resumed failed), then release
        the lock."""
        remove_quietly(self.path, self.record_path)
        self.close()

    def close(self) -> None:
        """Release the lock; an unfinished write keeps its record, for a resume."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "FileWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def recorded_arguments(path: str | os.PathLike, where: str) -> dict[str, Any] | None:
    """The arguments an interrupted write of ``path`` recorded (None without a record): what a
    resume must repeat, such as a seed drawn from the OS.  Read without the lock; the resume
    itself checks them again under it."""
    records = record_path(Path(path))
    if not regular_file(records, where, follow=False):
        return None
    arguments = read_record(records, where).get("arguments")
    return arguments if isinstance(arguments, dict) else None


def _difference(saved: dict[str, Any], given: dict[str, Any]) -> str:
    """The first field in which two records differ, for a message."""
    old, new = saved.get("arguments", {}), given["arguments"]
    if isinstance(old, dict):
        for key in list(new) + [k for k in old if k not in new]:
            if old.get(key) != new.get(key):
                return (f"{key} {_short(old.get(key))} (not {_short(new.get(key))}); resume "
                        "with those")
    for key in given:
        if saved.get(key) != given[key]:
            return f"{key} {_short(saved.get(key))} (not {_short(given[key])})"
    return "another record"


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."
