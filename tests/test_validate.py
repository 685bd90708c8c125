"""The scalar fast path of the argument checks agrees with NumPy's float32 rounding and nextafter."""
import math

import numpy as np
import pytest

from fastinit import _validate as v

F32 = np.dtype(np.float32)


def _float32_values(rng):
    special = [0.0, -0.0, 1.0, -1.0, 2.0**-149, -(2.0**-149), 2.0**-126, float(np.finfo(np.float32).max),
               -float(np.finfo(np.float32).max), math.inf, -math.inf]
    rand = rng.standard_normal(2000) * 10.0 ** rng.uniform(-45, 38, 2000)
    return special + [float(x) for x in rand.astype(np.float32)]


@pytest.mark.parametrize("up", [True, False])
def test_next_matches_numpy_nextafter(up):
    toward = np.float32(np.inf if up else -np.inf)
    for d in _float32_values(np.random.default_rng(1)):
        with np.errstate(over="ignore"):
            want = float(np.nextafter(np.float32(d), toward))
        got = v._next(d, F32, up)
        assert got == want, (d, up, got, want)


def test_to_dtype_matches_numpy_cast():
    rng = np.random.default_rng(2)
    xs = rng.standard_normal(5000) * 10.0 ** rng.uniform(-50, 40, 5000)
    xs = np.concatenate([xs, [3.4028235677973366e38, 3.4028235677973362e38, -3.5e38, 1e-46]])
    with np.errstate(over="ignore"):
        want = xs.astype(np.float32).astype(np.float64)
    got = np.array([v.to_dtype(float(x), F32) for x in xs])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_and_array_paths_agree(dtype):
    dt = np.dtype(dtype)
    values = [0.1, -0.1, 1e-40, 3.0e38, -2.5, 7.0]
    for direction in ("up", "down"):
        arr = v.inward(np.array(values), dt, direction)
        assert [v.inward(x, dt, direction) for x in values] == list(arr)
    assert [v.largest_below(x, dt) for x in values] == list(v.largest_below(np.array(values), dt))
