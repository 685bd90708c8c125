"""Bad input: the NumPy exception type, a message that says what to do, and nothing changed."""
import math

import numpy as np
import pytest

import fastinit as fi


def sentinel(shape=(8,), dtype=np.float32):
    return np.full(shape, 7.0, dtype=dtype)


def assert_untouched(out, value=7.0):
    assert np.all(out == value)


BAD_PARAMS = [
    ("normal", dict(loc=0.0, scale=-1.0), ValueError, "scale < 0"),
    ("normal", dict(loc=0.0, scale=math.nan), ValueError, "scale"),
    ("normal", dict(loc=math.nan, scale=1.0), ValueError, "loc must be finite"),
    ("normal", dict(loc=math.inf, scale=1.0), ValueError, "loc must be finite"),
    ("normal", dict(loc=0.0, scale=math.inf), ValueError, "scale must be finite"),
    ("normal", dict(loc=0.0, scale=np.array([1.0, -1.0] * 4)), ValueError, "scale < 0"),
    ("truncated_normal", dict(a=2.0, b=2.0), ValueError, "a >= b"),
    ("truncated_normal", dict(a=3.0, b=-1.0), ValueError, "a >= b"),
    ("truncated_normal", dict(a=math.nan, b=1.0), ValueError, "NaN"),
    ("truncated_normal", dict(scale=-0.5), ValueError, "scale < 0"),
    ("truncated_normal", dict(loc=math.inf), ValueError, "loc must be finite"),
    ("truncated_normal", dict(a=np.zeros(8), b=1.0), TypeError, "scalar"),
    ("uniform", dict(low=1.0, high=0.0), ValueError, "high - low < 0"),
    ("uniform", dict(low=math.nan, high=1.0), ValueError, "NaN"),
    ("uniform", dict(low=0.0, high=math.inf), OverflowError, "range"),
    ("uniform", dict(low=1.0 + 1e-12, high=1.0 + 2e-12), ValueError, "holds no float32"),
    ("uniform", dict(low=-1e39, high=0.0), OverflowError, "float32 range"),
    # Outputs that would overflow the dtype (|z| reaches 6.66 in float32) are refused up front.
    ("normal", dict(loc=0.0, scale=1e38), OverflowError, "float32 range"),
    ("normal", dict(loc=3e38, scale=1e37), OverflowError, "float32 range"),
    ("normal", dict(loc=0.0, scale=np.array([1.0, 1e38] * 4)), OverflowError, "float32 range"),
    ("truncated_normal", dict(scale=6e37, a=-1.0, b=math.inf), OverflowError, "float32 range"),
    # Bounds beyond the dtype's range hold no value of it (they used to give +inf).
    ("truncated_normal", dict(a=1e300, b=math.inf), ValueError, "holds no float32"),
    ("truncated_normal", dict(scale=1e30, a=1e10, b=math.inf), ValueError, "holds no float32"),
    ("truncated_normal", dict(loc=np.zeros(8), scale=1e30, a=1e10, b=math.inf), ValueError,
     "holds no float32"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method, kwargs", [
    ("truncated_normal", dict(a=-1e308, b=1e308)),               # was a ZeroDivisionError
    ("truncated_normal", dict(a=-1e308, b=0.5)),
    ("truncated_normal", dict(scale=1e36, a=40.0, b=math.inf)),   # the far tail, near the top
    ("normal", dict(scale=5e37)),                                 # reaches 3.3e38 < float32 max
    ("normal", dict(loc=-1e300, scale=1e307)),
])
def test_extreme_valid_parameters_give_finite_values_in_bounds(method, kwargs, dtype):
    if dtype == np.float32 and kwargs.get("loc", 0) == -1e300:
        pytest.skip("loc beyond float32")
    out = getattr(fi.default_rng(0), method)(size=100_000, dtype=dtype, **kwargs)
    assert np.all(np.isfinite(out))
    if method == "truncated_normal":
        loc, scale = kwargs.get("loc", 0.0), kwargs.get("scale", 1.0)
        wide = out.astype(np.float64)
        assert np.all(wide >= loc + scale * max(kwargs["a"], -1e300))
        assert np.all(wide <= loc + scale * min(kwargs["b"], 1e300))


@pytest.mark.parametrize("method, kwargs, exc, match", BAD_PARAMS)
def test_bad_parameters(method, kwargs, exc, match):
    rng = fi.default_rng(0)
    out = sentinel()
    with pytest.raises(exc, match=match):
        getattr(rng, method)(out=out, **kwargs)
    assert_untouched(out)
    assert rng.state["stream"] == 0, "a failed call must not use a stream number"


def bad_outs():
    base = np.full((8, 8), 7.0, np.float32)
    readonly = base.copy()
    readonly.flags.writeable = False
    raw = np.full(8 * 4 + 1, 7, np.uint8)
    misaligned = raw[1:].view(np.float32)
    return [
        ("non-contiguous", base[:, ::2], ValueError, "C-contiguous"),
        ("fortran", np.asfortranarray(base), ValueError, "C-contiguous"),
        ("read-only", readonly, ValueError, "read-only"),
        ("misaligned", misaligned, ValueError, "aligned"),
        ("byte-swapped", base.astype(">f4"), TypeError, "byte-swapped"),
        ("int32", np.full(8, 7, np.int32), TypeError, "wrong type|unsupported"),
        ("int16", np.full(8, 7, np.int16), TypeError, "wrong type|unsupported"),
        ("list", [7.0] * 8, TypeError, "numpy.ndarray"),
    ]


@pytest.mark.parametrize("method", ["random", "uniform", "normal", "standard_normal",
                                    "truncated_normal"])
@pytest.mark.parametrize("what, out, exc, match", bad_outs(), ids=[c[0] for c in bad_outs()])
def test_bad_out(method, what, out, exc, match):
    before = np.array(out, copy=True)
    rng = fi.default_rng(0)
    with pytest.raises(exc, match=match):
        getattr(rng, method)(out=out)
    np.testing.assert_array_equal(np.asarray(out), before)
    assert rng.state["stream"] == 0, "a failed call must not use a stream number"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_random_raw_out_must_be_uint32(dtype):
    out = np.zeros(8, dtype)
    rng = fi.default_rng(0)
    with pytest.raises(TypeError, match="expected uint32"):
        rng.random_raw(out=out)
    assert not out.any() and rng.state["stream"] == 0


@pytest.mark.parametrize("dtype, match", [(np.int32, "unsupported dtype"),
                                          (np.int16, "unsupported dtype"),
                                          (">f2", "byte-swapped"),
                                          (np.complex64, "unsupported dtype"),
                                          (">f8", "byte-swapped"),
                                          ("nonsense", "not a dtype")])
def test_bad_dtype(dtype, match):
    with pytest.raises(TypeError, match=match):
        fi.default_rng(0).random(4, dtype=dtype)


def test_explicit_dtype_must_match_out():
    out = sentinel()
    with pytest.raises(TypeError, match="wrong type"):
        fi.default_rng(0).normal(out=out, dtype=np.float64)
    assert_untouched(out)


def test_size_must_match_out():
    out = sentinel()
    with pytest.raises(ValueError, match="does not match"):
        fi.default_rng(0).random(size=9, out=out)
    assert_untouched(out)


@pytest.mark.parametrize("region, exc, match", [
    (np.s_[0:9], ValueError, "outside"),
    (np.s_[-20:], ValueError, "outside"),
    (np.s_[5:3], ValueError, "outside"),
    (np.s_[0:8:2], ValueError, "step"),
    ((np.s_[0:2], np.s_[0:2]), ValueError, "dimension"),
    (3, TypeError, "slice"),
    ((3,), TypeError, "slice"),
])
def test_bad_region(region, exc, match):
    out = sentinel()
    with pytest.raises(exc, match=match):
        fi.default_rng(0).random(size=8, dtype=np.float32, out=out, region=region)
    assert_untouched(out)


def test_region_shape_must_match_out():
    out = sentinel((4,))
    with pytest.raises(ValueError, match="region's shape"):
        fi.default_rng(0).random(size=8, out=out, region=np.s_[0:5])
    assert_untouched(out, 7.0)


def test_region_needs_size():
    with pytest.raises(ValueError, match="needs size"):
        fi.default_rng(0).random(region=np.s_[0:2])


@pytest.mark.parametrize("size, exc", [(-1, ValueError), ((2, -3), ValueError), (2.5, TypeError),
                                       ((1 << 30, 1 << 30), ValueError)])
def test_bad_size(size, exc):
    with pytest.raises(exc):
        fi.default_rng(0).random(size)


def test_params_that_do_not_broadcast_to_size():
    with pytest.raises(ValueError, match="broadcast"):
        fi.default_rng(0).normal(np.zeros(3), 1.0, size=(4, 2))


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (1.5, TypeError),
                                       (np.random.default_rng(0), TypeError)])
def test_bad_seed(seed, exc):
    with pytest.raises(exc):
        fi.default_rng(seed)


@pytest.mark.parametrize("key, exc", [(-1, ValueError), (2**64, ValueError), (1.0, TypeError)])
def test_bad_key(key, exc):
    with pytest.raises(exc):
        fi.Generator(key=key)


def test_seed_and_key_together():
    with pytest.raises(TypeError, match="not both"):
        fi.Generator(1, key=2)


@pytest.mark.parametrize("state", [{"bit_generator": "PCG64", "key": 1, "stream": 0},
                                   {"bit_generator": "Philox4x32-10", "key": 1, "stream": -1},
                                   {"bit_generator": "Philox4x32-10", "key": 2**64, "stream": 0},
                                   "nope"])
def test_bad_state_changes_nothing(state):
    rng = fi.default_rng(1)
    before = rng.state
    with pytest.raises((ValueError, TypeError)):
        rng.state = state
    assert rng.state == before


@pytest.mark.parametrize("size, exc", [
    (True, TypeError), ((True, 3), TypeError), ((4.7, 3), TypeError), ("12", TypeError),
    (np.array([[2, 3]]), TypeError), (np.array([2.0, 3.0]), TypeError),
    ((1,) * 65, ValueError),                       # NumPy's limit of 64 dimensions
    ((1 << 20, 1 << 20), MemoryError),             # 8 TiB: NumPy cannot allocate it
])
def test_sizes_numpy_refuses_are_refused_before_a_stream_number_is_taken(size, exc):
    rng = fi.default_rng(0)
    with pytest.raises(exc):
        rng.random(size=size)
    with pytest.raises(exc):                       # NumPy agrees on the exception type
        np.random.default_rng(0).random(size=size)
    assert rng.state["stream"] == 0


@pytest.mark.parametrize("size, shape", [(np.array([3, 4]), (3, 4)), (np.array(5), (5,)),
                                         (np.int64(3), (3,)), ([2, 3], (2, 3))])
def test_sizes_numpy_accepts_are_accepted(size, shape):
    assert fi.default_rng(0).random(size=size).shape == shape == \
        np.random.default_rng(0).random(size=size).shape
