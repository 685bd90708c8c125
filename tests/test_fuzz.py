"""Property-based tests over every method and init with parameters drawn from the extreme floats:
each call either returns finite values inside the documented bounds, or raises ValueError,
TypeError or OverflowError with the buffer untouched and no stream number used."""
import math

import numpy as np
import pytest

import fastinit as fi
from fastinit import _validate as v

hypothesis = pytest.importorskip("hypothesis")
ml_dtypes = pytest.importorskip("ml_dtypes")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

F32_MAX = float(np.finfo(np.float32).max)
EXTREMES = [0.0, -0.0, 5e-324, -5e-324, 1e-310, 2.0**-149, 1e-45, 1e-8, 0.02, 0.5, 1.0, -1.0,
            2.0, -2.0, 9.0, -9.0, 40.0, 65504.0, 1e10, 1e30, 1e38, F32_MAX, -F32_MAX, 3.4e38,
            1e300, -1e300, 1e308, -1e308, math.inf, -math.inf, math.nan]
REAL = st.one_of(st.sampled_from(EXTREMES), st.floats(allow_nan=True, allow_infinity=True))
DTYPES = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16),
          np.dtype(ml_dtypes.bfloat16)]
EXPECTED = (ValueError, TypeError, OverflowError)
FUZZ = settings(max_examples=250, deadline=None, derandomize=True)
SENTINEL = 7.0


def _attempt(call, dt, streams=1):
    """Run ``call(rng, out)``; return the values (float64) or None after checking a clean
    refusal: the buffer untouched and no stream number taken.  A success takes ``streams``."""
    rng = fi.default_rng(0)
    out = np.full(64, SENTINEL, dt)
    try:
        call(rng, out)
    except EXPECTED:
        assert np.all(out.astype(np.float64) == SENTINEL), "a failed call wrote into out"
        assert rng.state["stream"] == 0, "a failed call used a stream number"
        return None
    assert rng.state["stream"] == streams
    values = out.astype(np.float64)
    assert np.all(np.isfinite(values)), "a call returned a value that is not finite"
    return values


@FUZZ
@given(low=REAL, high=REAL, dt=st.sampled_from(DTYPES))
def test_uniform(low, high, dt):
    values = _attempt(lambda rng, out: rng.uniform(low, high, out=out), dt)
    if values is None:
        return
    if low == high:
        assert np.all(values == v.to_dtype(low, dt))
    else:
        assert np.all(values >= low) and np.all(values < high)


@FUZZ
@given(loc=REAL, scale=REAL, dt=st.sampled_from(DTYPES))
def test_normal(loc, scale, dt):
    _attempt(lambda rng, out: rng.normal(loc, scale, out=out), dt)


@FUZZ
@given(loc=REAL, scale=REAL, a=REAL, b=REAL, dt=st.sampled_from(DTYPES))
def test_truncated_normal(loc, scale, a, b, dt):
    values = _attempt(lambda rng, out: rng.truncated_normal(loc, scale, a, b, out=out), dt)
    if values is None:
        return
    lo, hi = (loc + scale * a, loc + scale * b) if scale > 0 else (loc, loc)
    assert np.all(values >= lo) and np.all(values <= hi)


@FUZZ
@given(mean=REAL, std=REAL, a=REAL, b=REAL, dt=st.sampled_from(DTYPES))
def test_trunc_normal_init(mean, std, a, b, dt):
    values = _attempt(lambda rng, out: fi.init.trunc_normal_(out, mean, std, a, b,
                                                             generator=rng), dt)
    if values is not None:
        assert np.all(values >= a) and np.all(values <= b)


@FUZZ
@given(first=REAL, second=REAL, name=st.sampled_from(["uniform_", "normal_"]),
       dt=st.sampled_from(DTYPES))
def test_uniform_and_normal_inits(first, second, name, dt):
    values = _attempt(lambda rng, out: getattr(fi.init, name)(out, first, second, generator=rng),
                      dt)
    if values is not None and name == "uniform_" and first != second:
        assert np.all(values >= first) and np.all(values < second)


@FUZZ
@given(param=REAL, name=st.sampled_from(["xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                         "kaiming_normal_", "orthogonal_"]),
       dt=st.sampled_from(DTYPES))
def test_variance_scaling_inits(param, name, dt):
    def call(rng, out):
        matrix = out.reshape(8, 8)
        if name.startswith("kaiming"):
            getattr(fi.init, name)(matrix, a=param, generator=rng)
        else:
            getattr(fi.init, name)(matrix, param, generator=rng)
    _attempt(call, dt)


@FUZZ
@given(first=REAL, second=REAL, cls=st.sampled_from(["RandomUniform", "RandomNormal",
                                                     "TruncatedNormal", "VarianceScaling"]),
       dt=st.sampled_from(DTYPES))
def test_initializer_objects(first, second, cls, dt):
    """An initializer refuses bad parameters when it is built (nothing to write yet) or fills
    finite values."""
    if cls == "VarianceScaling":
        _attempt_initializer(lambda: fi.initializers.VarianceScaling(scale=first, seed=1), dt)
    else:
        _attempt_initializer(lambda: getattr(fi.initializers, cls)(first, second, seed=1), dt)


def _attempt_initializer(build, dt):
    """Build an initializer and fill an (8, 8) buffer with it: a refusal when built, or when
    called with the buffer untouched, or finite values."""
    try:
        init = build()
    except EXPECTED:
        return
    out = np.full((8, 8), SENTINEL, dt)
    try:
        init((8, 8), dt, out=out)
    except EXPECTED:
        assert np.all(out.astype(np.float64) == SENTINEL)
        return
    assert np.all(np.isfinite(out.astype(np.float64)))


@FUZZ
@given(sparsity=REAL, std=REAL, dt=st.sampled_from(DTYPES))
def test_sparse_init(sparsity, std, dt):
    _attempt(lambda rng, out: fi.init.sparse_(out.reshape(8, 8), sparsity, std, generator=rng),
             dt, streams=2)                      # values and zero positions, as documented


@FUZZ
@given(value=REAL, dt=st.sampled_from(DTYPES))
def test_constant_init(value, dt):
    values = _attempt(lambda rng, out: (fi.init.constant_(out, value), rng.random()), dt)
    if values is not None:
        assert np.all(values == v.to_dtype(value, dt))


@FUZZ
@given(value=REAL, cls=st.sampled_from(["Constant", "Identity", "Orthogonal"]),
       dt=st.sampled_from(DTYPES))
def test_deterministic_and_orthogonal_initializer_objects(value, cls, dt):
    _attempt_initializer(lambda: getattr(fi.initializers, cls)(value), dt)
