"""Multithreaded fills without an OpenMP runtime.

A large fill is cut into contiguous element ranges ("pieces"), taken in turn by the calling
thread and by helper threads, each filled inside the kernel with the GIL released.  Values depend
on (key, stream, index) only, so every thread count and every cut gives the same bits.  Small
fills stay on the calling thread.

Plain Python threads instead of OpenMP: the kernels release the GIL, so they scale the same way,
and there is no OpenMP runtime to clash with the ones NumPy's BLAS, torch or scikit-learn load.

Concurrency and interrupts:

- The helper threads live as long as the process (a forked child starts its own); more are
  started when a fill asks for more than exist, and none is ever stopped.  Where the system
  refuses a new thread (``ulimit -v``, a process limit), the fill runs on the threads it has,
  the calling thread alone if need be: the same bits, no error.  So a fill never
  depends on another thread's setting: ``set_num_threads`` or ``with threads(k)`` in one thread
  only changes how many pieces later fills are cut into.
- ``with threads(k)`` applies to the fills the calling thread starts inside the block (it is
  per thread, and nests); ``set_num_threads`` sets the process-wide default for the others.
- Pieces hold at most ``MAX_PIECE_ELEMENTS`` elements, on one thread too, and the calling thread
  returns to Python between its pieces: Ctrl-C (KeyboardInterrupt) is honoured within about one
  piece's time, tens of milliseconds, whatever the fill's size.
- When a piece raises, or the caller is interrupted, no further piece is started, and the
  exception reaches the caller only after every helper has returned: no thread is still writing
  into the caller's buffer then.

May import: nothing outside the standard library.
"""
from __future__ import annotations

import contextlib
import operator
import os
import queue
import threading
from typing import Callable, Iterator

# Below this many elements per thread, starting a thread costs more than it saves.
MIN_ELEMENTS_PER_THREAD = 1 << 16
# Pieces per thread a large fill is cut into at least (see run()).
PIECES_PER_THREAD = 4
# Pieces hold at most this many elements: tens of milliseconds of the slowest kernel (float64
# truncated normals at ~250 M/s per core: 17 ms), so an interrupt is honoured quickly.
MAX_PIECE_ELEMENTS = 1 << 22
# Thread ranges start at multiples of this (whole Philox blocks and cache lines for every dtype).
ALIGN_ELEMENTS = 1 << 12


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


# The most threads a fill may use: more than any machine's cores today, few enough that a typo
# (10**6) cannot start thousands of helper threads.
MAX_THREADS = 1024


def _check(n: object, where: str) -> int:
    try:
        count = operator.index(n)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{where}: the number of threads must be an int, got {n!r}") from None
    if not 1 <= count <= MAX_THREADS:
        raise ValueError(f"{where}: the number of threads must be between 1 and {MAX_THREADS}, "
                         f"got {count}")
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


_default_threads = _from_environment()
_local = threading.local()          # .counts: this thread's stack of `with threads(k)` values


def get_num_threads() -> int:
    """The number of threads the calling thread's large fills use: the innermost
    ``with threads(k)`` block of this thread, else the process default (the cores available
    to the process, or ``FASTINIT_NUM_THREADS``, or what ``set_num_threads`` set)."""
    counts = getattr(_local, "counts", None)
    return counts[-1] if counts else _default_threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for large fills by default, process-wide (like ``torch.set_num_threads``).

    Fills already running keep their pieces; ``with threads(k)`` blocks keep their own count.
    The output does not depend on it: every thread count gives the same bits.
    """
    global _default_threads
    _default_threads = _check(n, "set_num_threads")


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Context manager: the fills this thread starts inside the block use ``n`` threads.

    Per thread and nestable: other Python threads, and the process default, are not changed.

    >>> import fastinit as fi
    >>> with fi.threads(1):
    ...     w = fi.default_rng(0).normal(size=10_000_000)
    """
    count = _check(n, "threads")
    counts = getattr(_local, "counts", None)
    if counts is None:
        counts = _local.counts = []
    counts.append(count)
    try:
        yield
    finally:
        counts.pop()


class _Helpers:
    """Helper threads that take tasks from one queue; started on demand, never stopped."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.count = 0

    def ensure(self, n: int) -> int:
        """Start helpers until there are ``n``, or as many as the system allows (under
        ``ulimit -v`` or a thread limit, ``Thread.start`` raises RuntimeError); return how many
        there are.  A fill on fewer threads gives the same bits, so fewer is not an error."""
        with self.lock:
            while self.count < n:
                try:
                    threading.Thread(target=self._serve, name=f"fastinit-{self.count}",
                                     daemon=True).start()
                except RuntimeError:            # "can't start new thread"
                    break
                self.count += 1
            return min(n, self.count)

    def _serve(self) -> None:
        while True:
            self.tasks.get()()          # a task never raises: _Fill.help records its errors


_helpers = _Helpers()


def _after_fork_in_child() -> None:
    global _helpers
    _helpers = _Helpers()               # the parent's threads do not exist in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def split(total: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering 0..total, inner bounds on ALIGN_ELEMENTS."""
    bounds = [0]
    for i in range(1, parts):
        cut = total * i // parts // ALIGN_ELEMENTS * ALIGN_ELEMENTS
        bounds.append(max(cut, bounds[-1]))
    bounds.append(total)
    return [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


class _Fill:
    """The pieces of one fill, taken in turn by the threads working on it."""

    def __init__(self, fill_range: Callable[[int, int], None],
                 pieces: list[tuple[int, int]], helpers: int) -> None:
        self.fill_range = fill_range
        self.pieces = pieces
        self.lock = threading.Lock()
        self.taken = 0
        self.stopped = False
        self.error: BaseException | None = None
        self.helpers_left = helpers
        self.all_helpers_done = threading.Condition(self.lock)

    def work(self) -> None:
        """Fill pieces until none is left or the fill is stopped; raises what a piece raised."""
        while True:
            with self.lock:
                if self.stopped or self.taken >= len(self.pieces):
                    return
                index = self.taken
                self.taken += 1
            self.fill_range(*self.pieces[index])

    def help(self) -> None:
        """A helper thread's share: its errors are kept for the caller, never lost."""
        try:
            self.work()
        except BaseException as exc:    # noqa: BLE001 - handed to the calling thread
            with self.lock:
                self.stopped = True
                if self.error is None:
                    self.error = exc
        finally:
            with self.lock:
                self.helpers_left -= 1
                if self.helpers_left == 0:
                    self.all_helpers_done.notify_all()

    def stop_and_wait(self) -> None:
        """Start no new piece; return once every helper has returned (a second Ctrl-C does not
        cut the wait short: a helper may be writing the caller's buffer until then)."""
        interrupted: BaseException | None = None
        with self.lock:
            self.stopped = True
            while self.helpers_left:
                try:
                    self.all_helpers_done.wait()
                except BaseException as exc:    # noqa: BLE001 - re-raised below
                    interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted


def run(fill_range: Callable[[int, int], None], total: int) -> None:
    """Call ``fill_range(begin, end)`` over pieces covering 0..total, in parallel when it is
    large enough; returns (or raises) only when no thread is working on it any more."""
    parts = max(1, min(get_num_threads(), total // MIN_ELEMENTS_PER_THREAD))
    if parts == 1 and total <= MAX_PIECE_ELEMENTS:
        fill_range(0, total)
        return
    # A few pieces per thread, each taken by whichever thread is free: a helper starts tens of
    # microseconds after the caller (traced here on 1M float32 normals) and the cores need not
    # run at the same speed, so equal fixed shares would leave one thread idle at the end.
    count = max(min(parts * PIECES_PER_THREAD, total // MIN_ELEMENTS_PER_THREAD),
                -(-total // MAX_PIECE_ELEMENTS), 1)
    helpers = _helpers
    working = helpers.ensure(parts - 1) if parts > 1 else 0
    fill = _Fill(fill_range, split(total, count), working)
    for _ in range(working):
        helpers.tasks.put(fill.help)
    try:
        fill.work()
    finally:
        fill.stop_and_wait()
    if fill.error is not None:
        raise fill.error
