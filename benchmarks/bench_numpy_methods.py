"""NumPy's methods on fastinit.Generator (NumPy's code over fastinit.Philox) beside
numpy.random.default_rng (PCG64), one pytest-benchmark group per method and size.

    python -m pytest benchmarks/bench_numpy_methods.py --benchmark-group-by=group

``integers`` and ``permutation`` are the ones users call most; both libraries run the same NumPy
code, so a group compares the bit generators and fastinit's per-call overhead.  Compare within a
group; quote ratios, not times.
"""
import numpy as np
import pytest
from conftest import run

from fastinit.bench.fills import numpy_method_cases

METHOD_SIZES = [1_000, 1_000_000]
CASES = numpy_method_cases(1)       # only the names: each test builds its own for its size


@pytest.fixture(params=METHOD_SIZES, ids=[f"{s:.0e}" for s in METHOD_SIZES])
def method_size(request):
    return request.param


@pytest.fixture(params=sorted(CASES))
def method(request):
    return request.param


def _check(name, values, size):
    values = np.asarray(values)
    assert values.shape == (size,)
    if name == "permutation":
        assert np.array_equal(np.sort(values), np.arange(size))
    elif name.startswith("integers"):
        assert values.min() >= 0
    else:
        assert values.min() > 0


def test_numpy_method_fastinit(benchmark, fast_rng, method, method_size):
    benchmark.group = f"{method} n={method_size:.0e}"
    call = numpy_method_cases(method_size)[method][0]
    values = run(benchmark, lambda: call(fast_rng), 2000 if method_size < 10_000 else 20)
    _check(method, values, method_size)


def test_numpy_method_numpy(benchmark, numpy_rng, method, method_size):
    benchmark.group = f"{method} n={method_size:.0e}"
    call = numpy_method_cases(method_size)[method][0]
    values = run(benchmark, lambda: call(numpy_rng), 2000 if method_size < 10_000 else 20)
    _check(method, values, method_size)
