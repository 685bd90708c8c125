"""Array-valued parameters are applied in the kernels, element by element: each element equals
the scalar call with that element's parameters, on the same stream, bit for bit."""
import numpy as np
import pytest

import fastinit as fi
from fastinit._core import simd as _simd
from fastinit._core import threads as _threads

LEVELS = _simd.available_levels()
SHAPE = (37, 6)
METHODS = ["uniform", "normal", "truncated_normal"]
# float16 and bfloat16 compute in float32 and round once: the map runs before the rounding.
ALL_DTYPES = [np.float32, np.float64, np.float16, "bfloat16"]


@pytest.fixture(params=ALL_DTYPES, ids=["float32", "float64", "float16", "bfloat16"])
def any_dtype(request):
    if request.param == "bfloat16":
        pytest.importorskip("ml_dtypes")
    return request.param


def _filler(method, dtype, size, region=None):
    """fill(rng, p, q): the method with its two parameters (low, high or loc, scale)."""
    if method == "uniform":
        return lambda rng, low, high: rng.uniform(low, high, size, dtype, region=region)
    if method == "normal":
        return lambda rng, loc, scale: rng.normal(loc, scale, size, dtype, region=region)
    return lambda rng, loc, scale: rng.truncated_normal(loc, scale, -1.5, 0.5, size, dtype,
                                                        region=region)


# Parameter columns: per column j of SHAPE, (first, second) parameter of each method.
FIRST = np.array([-1.0, 0.0, -0.0, 2.5, 1e-3, -7.0])
SECOND = np.array([1.0, 0.02, 3.0, 1e-6, 0.5, 2.0])


def _column_parameters(method):
    if method == "uniform":
        return FIRST, FIRST + SECOND           # low, high
    return FIRST, SECOND                       # loc, scale


@pytest.mark.parametrize("method", METHODS)
def test_each_element_is_the_scalar_call_with_its_parameters(method, any_dtype):
    first, second = _column_parameters(method)
    fill = _filler(method, any_dtype, SHAPE)
    got = fill(fi.default_rng(5), first, second)          # (6,) broadcast over (37, 6)
    for j in range(SHAPE[1]):
        want = fill(fi.default_rng(5), float(first[j]), float(second[j]))
        assert got[:, j].tobytes() == want[:, j].tobytes(), j


@pytest.mark.parametrize("method", METHODS)
def test_broadcast_shapes_strides_and_regions(method, any_dtype):
    """Rows broadcast (n, 1), full arrays, 0-d arrays, strided views and regions: all the same
    values as the fully materialized parameters."""
    first, second = _column_parameters(method)
    fill = _filler(method, any_dtype, SHAPE)
    full_first = np.broadcast_to(first, SHAPE).copy()
    full_second = np.broadcast_to(second, SHAPE).copy()
    reference = fill(fi.default_rng(9), full_first, full_second)
    wide = np.repeat(first, 2)[::2]                       # a strided view
    assert wide.strides != first.strides
    assert fill(fi.default_rng(9), wide, second).tobytes() == reference.tobytes()
    column = np.linspace(-1, 1, SHAPE[0])[:, None]               # (37, 1): one value per row
    other = np.broadcast_to(column + 1.0 if method == "uniform" else 0.5, column.shape)
    rows = fill(fi.default_rng(9), column, other)
    for i in range(0, SHAPE[0], 9):
        want = fill(fi.default_rng(9), float(column[i, 0]), float(other[i, 0]))
        assert rows[i].tobytes() == want[i].tobytes()
    zero_d = fill(fi.default_rng(9), np.array(first[1]), np.array(second[1]))
    assert zero_d.tobytes() == fill(fi.default_rng(9), float(first[1]),
                                    float(second[1])).tobytes()
    region = np.s_[3:30, 1:5]
    part = _filler(method, any_dtype, SHAPE, region)(fi.default_rng(9), first, second)
    assert part.tobytes() == np.ascontiguousarray(reference[region]).tobytes()


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("method", METHODS)
def test_levels_threads_and_chunks_agree(level, method, monkeypatch):
    """A large call, cut across threads and chunks, on every level: the same bits."""
    shape = (3001, 33)
    first, second = _column_parameters(method)
    first = np.resize(first, shape[1])
    second = np.resize(second, shape[1])
    fill = _filler(method, np.float32, shape)
    with _simd.using_level("baseline"), fi.threads(1):
        reference = fill(fi.default_rng(3), first, second)
    monkeypatch.setattr(_threads, "MIN_ELEMENTS_PER_THREAD", 1000)
    with _simd.using_level(level), fi.threads(2):
        got = fill(fi.default_rng(3), first, second)
    assert got.tobytes() == reference.tobytes()


def test_array_parameters_fill_out_in_place(any_dtype):
    dt = fi.default_rng(0).random(1, dtype=any_dtype).dtype
    out = np.zeros(SHAPE, dt)
    loc = np.arange(SHAPE[1], dtype=np.float64)
    assert fi.default_rng(1).normal(loc, 0.5, out=out) is out
    want = fi.default_rng(1).normal(loc, 0.5, size=SHAPE, dtype=any_dtype)
    assert out.tobytes() == want.tobytes()


def test_bad_array_parameters_change_nothing():
    rng = fi.default_rng(2)
    out = np.full(SHAPE, 7.0, np.float32)
    before = rng.state
    with pytest.raises(ValueError, match="scale"):
        rng.normal(0.0, -np.ones(SHAPE[1]), out=out)
    with pytest.raises(ValueError, match="broadcast"):
        rng.normal(np.zeros(5), 1.0, out=out)
    assert rng.state == before and np.all(out == 7.0)
