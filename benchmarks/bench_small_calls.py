"""Every method at about 1,000 values, fastinit.Generator beside numpy.random.default_rng, one
pytest-benchmark group per call (the calls of ``python -m fastinit bench --small``).

    python -m pytest benchmarks/bench_small_calls.py --benchmark-group-by=group

At this size a call's cost is mostly its argument handling, which fastinit's common calls do in a
compiled front end (``fill_call`` in fastinit/_core/kernels.pxi).  Compare within a group; quote
ratios, not times.
"""
import numpy as np
import pytest
from conftest import run

import fastinit as fi
from fastinit.bench.fills import small_call_cases

CASES = small_call_cases()


@pytest.fixture(params=list(CASES))
def small_call(request):
    return request.param


def _check(values):
    if values is not None and not isinstance(values, bytes):
        assert np.all(np.isfinite(np.asarray(values, np.float64)))


def test_small_call_fastinit(benchmark, fast_rng, small_call):
    benchmark.group = f"small call {small_call}"
    call = CASES[small_call]
    with fi.threads(1):
        values = run(benchmark, lambda: call(fast_rng), 2000)
    _check(values)


def test_small_call_numpy(benchmark, numpy_rng, small_call):
    benchmark.group = f"small call {small_call}"
    call = CASES[small_call]
    values = run(benchmark, lambda: call(numpy_rng), 2000)
    _check(values)
