"""fastinit beside NumPy (and torch when installed), one pytest-benchmark group per cell.

    python -m pytest benchmarks/ --benchmark-group-by=group --benchmark-columns=mean,ops

The matrix of ``python -m fastinit bench``: every fill and dtype at sizes 1e3, 1e6 and 6.4e7,
fastinit on one thread and on all available threads (at the best SIMD level; FASTINIT_SIMD picks
another), NumPy, torch on one thread, and ``a.fill(0)`` on the same buffer as the memory yardstick.
Each benchmark fills a preallocated buffer (out=) and checks the result inside the benchmark.
Compare within a group; quote ratios, not times.
"""
import numpy as np
import pytest

import fastinit as fi
from fastinit.bench.fills import numpy_fills

from conftest import run


def _group(benchmark, fill, dtype, size):
    benchmark.group = f"{fill} {np.dtype(dtype).name} n={size:.0e}"


THREADS = {"1thread": 1, "allthreads": fi.get_num_threads()}


@pytest.fixture(params=list(THREADS))
def threads(request):
    """fastinit's benchmarks run on one thread and on all of them."""
    with fi.threads(THREADS[request.param]):
        yield THREADS[request.param]


# -- uniform ---------------------------------------------------------------------------------

def test_uniform_fastinit(benchmark, fast_rng, dtype, size, rounds, threads):
    _group(benchmark, "uniform", dtype, size)
    out = np.empty(size, dtype)
    run(benchmark, lambda: fast_rng.random(out=out), rounds)
    assert 0 <= float(out.min()) and float(out.max()) < 1


def test_uniform_numpy(benchmark, numpy_rng, dtype, size, rounds):
    _group(benchmark, "uniform", dtype, size)
    out = np.empty(size, dtype)
    run(benchmark, numpy_fills(numpy_rng, out)["uniform"], rounds)
    assert 0 <= float(out.min()) and float(out.max()) <= 1   # a float16 cast can reach 1


# -- normal ----------------------------------------------------------------------------------

def test_normal_fastinit(benchmark, fast_rng, dtype, size, rounds, threads):
    _group(benchmark, "normal", dtype, size)
    out = np.empty(size, dtype)
    run(benchmark, lambda: fast_rng.standard_normal(out=out), rounds)
    assert abs(float(out.astype(np.float64).mean())) < 0.2


def test_normal_numpy(benchmark, numpy_rng, dtype, size, rounds):
    _group(benchmark, "normal", dtype, size)
    out = np.empty(size, dtype)
    run(benchmark, numpy_fills(numpy_rng, out)["normal"], rounds)
    assert abs(float(out.astype(np.float64).mean())) < 0.2


# -- truncated normal on [-2, 2] -----------------------------------------------------------------

def test_truncated_normal_fastinit(benchmark, fast_rng, dtype, size, rounds, threads):
    _group(benchmark, "truncated_normal", dtype, size)
    out = np.empty(size, dtype)
    run(benchmark, lambda: fast_rng.truncated_normal(0.0, 1.0, -2.0, 2.0, out=out), rounds)
    assert float(out.min()) >= -2 and float(out.max()) <= 2


def test_truncated_normal_numpy(benchmark, numpy_rng, dtype, size, rounds):
    _group(benchmark, "truncated_normal", dtype, size)
    out = np.empty(size, dtype)
    run(benchmark, numpy_fills(numpy_rng, out)["truncated_normal"], rounds)
    assert float(out.min()) >= -2 and float(out.max()) <= 2


# -- the memory yardstick -----------------------------------------------------------------------

@pytest.mark.parametrize("fill", ["uniform", "normal", "truncated_normal"])
def test_memset(benchmark, fill, dtype, size, rounds):
    _group(benchmark, fill, dtype, size)
    out = np.empty(size, dtype)
    run(benchmark, lambda: out.fill(0), rounds)
    assert not out.any()


# -- torch, when installed ---------------------------------------------------------------------

@pytest.mark.parametrize("fill", ["uniform", "normal", "truncated_normal"])
def test_torch(benchmark, fill, dtype, size, rounds):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    _group(benchmark, fill, dtype, size)
    t = torch.empty(size, dtype=getattr(torch, dtype.name))
    fns = {"uniform": lambda: t.uniform_(0.0, 1.0),
           "normal": lambda: t.normal_(0.0, 1.0),
           "truncated_normal": lambda: torch.nn.init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0)}
    run(benchmark, fns[fill], rounds)
    assert bool(torch.isfinite(t).all())
