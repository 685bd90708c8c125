"""Every thread count gives the same bits; threads are safe to use from several Python threads."""
import concurrent.futures
import hashlib
import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastinit as fi
from fastinit._core import threads as _threads

from conftest import METHODS, call


@pytest.fixture
def small_parts(monkeypatch):
    """Split even small fills, at unaligned element boundaries, to exercise every range edge."""
    monkeypatch.setattr(_threads, "MIN_ELEMENTS_PER_THREAD", 500)
    monkeypatch.setattr(_threads, "ALIGN_ELEMENTS", 1)


def _fills(method, dtype):
    rng = fi.default_rng(77)
    return [np.atleast_1d(call(rng, method, size=n, dtype=dtype)) for n in (4_099, 20_011)] + [
        call(rng, method, size=(3, 40, 257), dtype=dtype, region=np.s_[1:3, 7:33, 1:250])]


@pytest.mark.parametrize("method", METHODS)
def test_every_thread_count_gives_the_same_bits(method, dtype, small_parts):
    with fi.threads(1):
        reference = _fills(method, dtype)
    for n in (2, 3, 7):
        with fi.threads(n):
            got = _fills(method, dtype)
        for ref, out in zip(reference, got):
            assert out.tobytes() == ref.tobytes(), f"{n} threads differ from 1"


def test_default_split_of_a_large_fill_matches_one_thread():
    size = 7 * _threads.MIN_ELEMENTS_PER_THREAD + 12_345      # odd, and enough for 7 parts
    with fi.threads(1):
        one = fi.default_rng(5).normal(size=size, dtype=np.float32)
    with fi.threads(7):
        seven = fi.default_rng(5).normal(size=size, dtype=np.float32)
    assert one.tobytes() == seven.tobytes()


def test_split_covers_the_range_once():
    for total, parts in [(10, 1), (100_000, 3), (1 << 20, 7), (4096 * 2 + 1, 5)]:
        ranges = _threads.split(total, parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == total
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert all(lo < hi for lo, hi in ranges)


@pytest.mark.parametrize("n_threads", [2, 3])
def test_run_fills_every_piece_once_across_threads(n_threads):
    total = 10 * _threads.MIN_ELEMENTS_PER_THREAD + 777
    seen = []
    threads_used = set()

    def fill_range(begin, end):
        seen.append((begin, end))
        threads_used.add(threading.get_ident())

    with fi.threads(n_threads):
        _threads.run(fill_range, total)
    seen.sort()
    assert len(seen) == min(n_threads * _threads.PIECES_PER_THREAD, 10)
    assert seen[0][0] == 0 and seen[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(seen, seen[1:]))
    assert 1 <= len(threads_used) <= n_threads


def test_an_error_in_a_piece_reaches_the_caller():
    def fill_range(begin, end):
        if begin > 0:
            raise RuntimeError("piece failed")

    with fi.threads(2), pytest.raises(RuntimeError, match="piece failed"):
        _threads.run(fill_range, 4 * _threads.MIN_ELEMENTS_PER_THREAD)


def test_set_num_threads_and_context_manager():
    before = fi.get_num_threads()
    with fi.threads(3):
        assert fi.get_num_threads() == 3
    assert fi.get_num_threads() == before
    with pytest.raises(KeyError):
        with fi.threads(2):
            raise KeyError("boom")
    assert fi.get_num_threads() == before


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), ("2", TypeError),
                                      (2.5, TypeError), (None, TypeError)])
def test_bad_thread_counts_are_rejected(bad, exc):
    before = fi.get_num_threads()
    with pytest.raises(exc, match="number of threads"):
        fi.set_num_threads(bad)
    assert fi.get_num_threads() == before


def test_default_is_the_cores_available_and_the_environment_overrides_it():
    code = "import fastinit; print(fastinit.get_num_threads())"
    env = {k: v for k, v in os.environ.items() if k != "FASTINIT_NUM_THREADS"}
    default = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert int(default.stdout) == len(os.sched_getaffinity(0))
    forced = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**env, "FASTINIT_NUM_THREADS": "3"})
    assert int(forced.stdout) == 3
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "FASTINIT_NUM_THREADS": "many"})
    assert bad.returncode != 0 and "FASTINIT_NUM_THREADS='many'" in bad.stderr


def _digest(a):
    return hashlib.sha256(a.tobytes()).hexdigest()


def test_one_generator_shared_by_python_threads(small_parts):
    """Each call takes its own stream number; no output is corrupted or shared."""
    rng = fi.default_rng(9)
    calls, workers = 64, 8

    def work(_):
        return _digest(rng.normal(size=3_001, dtype=np.float32))

    with fi.threads(2), concurrent.futures.ThreadPoolExecutor(workers) as pool:
        digests = list(pool.map(work, range(calls)))
    assert rng.state["stream"] == calls
    expected = set()
    for s in range(calls):
        fresh = fi.default_rng(9)
        fresh.state = {**fresh.state, "stream": s}
        expected.add(_digest(fresh.normal(size=3_001, dtype=np.float32)))
    assert set(digests) == expected          # every stream used exactly once, every output intact


def _child_fill(_):
    with fi.threads(2):
        return _digest(fi.default_rng(3).random(4 * _threads.MIN_ELEMENTS_PER_THREAD))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_threaded_fill_works_in_a_forked_child():
    parent = _child_fill(None)            # the parent's pool exists before the fork
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        child = pool.map(_child_fill, [None])[0]
    assert child == parent


# -- concurrency: thread-count changes while other threads fill (issue: corrupted buffers) --------

def test_fills_are_immune_to_thread_count_changes_in_other_threads():
    """Three threads fill while a fourth changes the thread count every way it can, for a fixed
    number of iterations: every call succeeds and every buffer holds exactly its stream."""
    iterations, size = 60, 5 * _threads.MIN_ELEMENTS_PER_THREAD + 123
    errors, results = [], {}
    start = threading.Barrier(4)
    default = fi.get_num_threads()

    def filler(seed):
        rng = fi.default_rng(seed)
        out = np.empty(size, np.float32)
        digests = []
        start.wait()
        for _ in range(iterations):
            try:
                rng.normal(0.0, 1.0, out=out)
            except Exception as exc:          # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            digests.append(_digest(out))
        results[seed] = digests

    done = threading.Event()

    def toggler():
        start.wait()
        i = 0
        while not done.is_set():              # for as long as the fillers' iterations last
            k = 1 + i % 4
            if i % 2:
                fi.set_num_threads(k)
            else:
                with fi.threads(k):
                    pass
            i += 1
        fi.set_num_threads(default)

    fillers = [threading.Thread(target=filler, args=(s,)) for s in (1, 2, 3)]
    toggling = threading.Thread(target=toggler)
    for w in fillers + [toggling]:
        w.start()
    for w in fillers:
        w.join()
    done.set()
    toggling.join()
    assert errors == []
    for seed, digests in results.items():
        rng = fi.default_rng(seed)
        with fi.threads(1):
            expected = [_digest(rng.normal(0.0, 1.0, size=size, dtype=np.float32))
                        for _ in range(iterations)]
        assert digests == expected
    assert fi.get_num_threads() == default


def test_threads_blocks_are_per_thread_and_nest():
    default = fi.get_num_threads()
    seen = {}
    inside = threading.Barrier(3)

    def body(k):
        with fi.threads(k):
            with fi.threads(k + 10):
                seen[(k, "inner")] = fi.get_num_threads()
            inside.wait()                     # all three are inside their blocks at once
            seen[(k, "outer")] = fi.get_num_threads()

    threads = [threading.Thread(target=body, args=(k,)) for k in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {(k, w): k + (10 if w == "inner" else 0) for k in (1, 2, 3)
                    for w in ("inner", "outer")}
    assert fi.get_num_threads() == default    # no block changed the process default


def test_a_failing_fill_returns_only_when_no_helper_is_writing():
    """A piece fails early; the caller gets the error only after the slow helpers have finished
    their pieces, and no piece starts after it."""
    total = 16 * _threads.MIN_ELEMENTS_PER_THREAD
    running, finished, started_after = [0], [], []
    lock = threading.Lock()
    failed = threading.Event()

    def fill_range(begin, end):
        with lock:
            if failed.is_set():
                started_after.append(begin)
            running[0] += 1
        try:
            if begin == 0:
                failed.set()
                raise RuntimeError("first piece failed")
            failed.wait(5)
            threading.Event().wait(0.05)      # a slow piece, still writing
            finished.append(begin)
        finally:
            with lock:
                running[0] -= 1

    with fi.threads(4), pytest.raises(RuntimeError, match="first piece failed"):
        _threads.run(fill_range, total)
    assert running[0] == 0                    # nothing was still running when the error came
    assert len(started_after) <= 3            # at most the helpers' pieces already under way


def test_large_fills_on_one_thread_are_cut_into_pieces():
    seen = []
    total = 3 * _threads.MAX_PIECE_ELEMENTS + 5
    with fi.threads(1):
        _threads.run(lambda b, e: seen.append((b, e)), total)
    assert len(seen) >= 4 and seen[0][0] == 0 and seen[-1][1] == total
    assert all(e - b <= _threads.MAX_PIECE_ELEMENTS for b, e in seen)


_INTERRUPTED_CHILD = r"""
import os, signal, sys, threading, time
import numpy as np, fastinit as fi
from fastinit._core import threads as _threads
threads = int(sys.argv[1])
fi.set_num_threads(threads)
n = 8 * _threads.MAX_PIECE_ELEMENTS        # 8 pieces of float64: 256 MiB, ~0.15 s of work
out = np.full(n, np.nan)


def press_ctrl_c():
    # A real SIGINT to this process, once the fill has written its first values: the moment
    # a user's Ctrl-C would land, without racing a timer against the fill.
    while np.isnan(out[0]):
        time.sleep(0.0002)
    os.kill(os.getpid(), signal.SIGINT)


def checksum():
    # Reads the buffer in place (a copy would first-touch as much memory again).
    return int(out.view(np.uint64).sum(dtype=np.uint64))


threading.Thread(target=press_ctrl_c, daemon=True).start()
try:
    fi.default_rng(0).truncated_normal(0.0, 1.0, -2.0, 2.0, out=out)
    print("finished", flush=True)
except KeyboardInterrupt:
    first = checksum()
    time.sleep(0.3)                            # a helper still writing would change the buffer
    second = checksum()
    left = int(np.count_nonzero(np.isnan(out)))
    again = fi.default_rng(1).normal(size=5_000_000)
    ok = np.array_equal(again, fi.default_rng(1).normal(size=5_000_000))
    print("interrupted", first == second, left, ok, n, flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
@pytest.mark.parametrize("n_threads", [1, 2])
def test_ctrl_c_stops_a_large_fill_midway_and_nothing_writes_after(n_threads):
    child = subprocess.run([sys.executable, "-c", _INTERRUPTED_CHILD, str(n_threads)],
                           capture_output=True, text=True, timeout=120)
    words = child.stdout.split()
    assert words and words[0] == "interrupted", (child.stdout, child.stderr)
    unchanged, nan_left, usable = words[1] == "True", int(words[2]), words[3] == "True"
    n = int(words[4])
    assert unchanged and usable
    assert 0 < nan_left < n                   # stopped midway, not at the end
