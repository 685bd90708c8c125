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
from fastinit import _threads

from conftest import DTYPES, METHODS, call


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
