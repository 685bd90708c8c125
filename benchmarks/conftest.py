import numpy as np
import pytest

import fastinit as fi

SIZES = [1_000, 1_000_000, 64_000_000]
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16)]
try:
    import ml_dtypes
    DTYPES.append(np.dtype(ml_dtypes.bfloat16))
except ImportError:
    pass


def pytest_generate_tests(metafunc):
    if "size" in metafunc.fixturenames:
        metafunc.parametrize("size", SIZES, ids=[f"{s:.0e}" for s in SIZES])
    if "dtype" in metafunc.fixturenames:
        metafunc.parametrize("dtype", DTYPES, ids=[dt.name for dt in DTYPES])


@pytest.fixture
def rounds(size):
    """Large fills take long enough that a few rounds are plenty."""
    return 3 if size >= 10_000_000 else (20 if size >= 100_000 else 2000)


def run(benchmark, fn, rounds):
    return benchmark.pedantic(fn, rounds=rounds, warmup_rounds=1, iterations=1)


@pytest.fixture
def fast_rng():
    return fi.default_rng(0)


@pytest.fixture
def numpy_rng():
    return np.random.default_rng(0)
