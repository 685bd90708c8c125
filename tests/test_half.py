"""float16 and bfloat16: float32 values rounded to nearest-even once, with exact bounds."""
import sys

import numpy as np
import pytest
from scipy import stats

import fastinit as fi
from fastinit._core import simd as _simd
from fastinit._core import threads as _threads
from fastinit import _validate as v

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
HALVES = [F16, BF16]
ALPHA = 1e-4


@pytest.fixture(params=HALVES, ids=["float16", "bfloat16"])
def half(request):
    return request.param


def _round(x32, dt, lo=-np.inf, hi=np.inf):
    """The documented map: clamp the float32 value to the dtype's bounds, round to nearest-even;
    float16 saturates at +-65504."""
    x = np.clip(x32, np.float32(lo), np.float32(hi))
    if dt == F16:
        x = np.clip(x, np.float32(-65504), np.float32(65504))
    return x.astype(dt)


def _same(a, b):
    return a.view(np.uint16).tobytes() == b.view(np.uint16).tobytes()


CASES = {
    "random": (lambda g, dt: g.random(30_001, dtype=dt),
               lambda dt: (0.0, v.largest_below(1.0, dt))),
    "uniform": (lambda g, dt: g.uniform(-0.3, 0.7, 30_001, dtype=dt),
                lambda dt: (v.inward(-0.3, dt, "up"), v.largest_below(0.7, dt))),
    "standard_normal": (lambda g, dt: g.standard_normal(30_001, dtype=dt),
                        lambda dt: (-np.inf, np.inf)),
    "normal": (lambda g, dt: g.normal(0.5, 3.0, 30_001, dtype=dt), lambda dt: (-np.inf, np.inf)),
    "truncated_normal": (lambda g, dt: g.truncated_normal(0.25, 2.0, -1.5, 2.0, 30_001, dtype=dt),
                         lambda dt: (v.inward(0.25 - 3.0, dt, "up"),
                                     v.inward(0.25 + 4.0, dt, "down"))),
}


@pytest.mark.parametrize("method", list(CASES))
def test_half_is_the_float32_stream_rounded_once(method, half):
    draw, bounds = CASES[method]
    x32 = draw(fi.default_rng(12), np.float32)
    got = draw(fi.default_rng(12), half)
    assert got.dtype == half
    assert _same(got, _round(x32, half, *bounds(half)))


def test_subnormals_and_saturation_of_float16():
    for scale in (1e-6, 3e-5, 30_000.0):
        x32 = fi.default_rng(4).normal(0.0, scale, 50_000, dtype=np.float32)
        got = fi.default_rng(4).normal(0.0, scale, 50_000, dtype=F16)
        assert _same(got, _round(x32, F16))
        assert np.isfinite(got.astype(np.float32)).all()


def test_uniform_never_returns_high_where_rounding_would(half):
    below = v.largest_below(1.0, half)
    # Find samples whose float32 value rounds to 1.0 in this dtype, and fetch them by region.
    u32 = fi.default_rng(3).random(1 << 20, dtype=np.float32)
    hits = np.flatnonzero(u32.astype(half).astype(np.float32) == 1.0)
    assert hits.size > 0
    i = int(hits[0])
    got = fi.default_rng(3).random(1 << 20, dtype=half, region=np.s_[i:i + 1])
    assert float(got[0]) == below < 1.0
    full = fi.default_rng(3).random(1 << 20, dtype=half).astype(np.float32)
    assert full.max() == below and full.min() >= 0


@pytest.mark.parametrize("a, b", [(-2.0, 2.0), (0.5, 0.9), (6.0, np.inf), (8.0, 9.0),
                                  (-np.inf, -3.0)])
def test_truncated_normal_stays_inside_and_does_not_pile_on_a_bound(half, a, b):
    n = 100_000
    x = fi.default_rng(6).truncated_normal(0.0, 1.0, a, b, n, dtype=half).astype(np.float64)
    assert np.isfinite(x).all()
    assert x.min() >= a and x.max() <= b
    dist = stats.truncnorm(a, b)
    grid = np.unique(x)
    for bound in (a, b):
        if not np.isfinite(bound) or bound not in grid:
            continue
        # The bound's rounding cell reaches half a spacing into the interval: its expected count.
        k = np.searchsorted(grid, bound)
        inner = grid[k + 1] if bound == a else grid[k - 1]
        half_cell = abs(inner - bound) / 2
        lo, hi = (bound, bound + half_cell) if bound == a else (bound - half_cell, bound)
        expected = n * (dist.cdf(hi) - dist.cdf(lo))
        assert (x == bound).sum() <= 3 * expected + 10


def test_normals_are_not_clipped(half):
    z = fi.default_rng(8).standard_normal(1_000_000, dtype=half).astype(np.float32)
    assert np.abs(z).max() > 4.5


@pytest.mark.parametrize("method, dist", [
    ("random", stats.uniform()), ("standard_normal", stats.norm()),
    ("truncated_normal", stats.truncnorm(-2, 2))])
def test_ks_after_upcast(half, method, dist):
    x = getattr(fi.default_rng(21), method)(size=20_000, dtype=half).astype(np.float64)
    assert stats.kstest(x, dist.cdf).pvalue > ALPHA


@pytest.mark.parametrize("method", list(CASES))
def test_regions_threads_and_levels_give_the_same_bits(method, half, monkeypatch):
    shape = (37, 129)
    region = np.s_[5:30, 3:128]
    kwargs = {"random": {}, "uniform": {"low": -1, "high": 3}, "standard_normal": {},
              "normal": {"loc": 1, "scale": 2}, "truncated_normal": {"a": -1.0, "b": 2.5}}[method]
    full = getattr(fi.default_rng(2), method)(size=shape, dtype=half, **kwargs)
    part = getattr(fi.default_rng(2), method)(size=shape, dtype=half, region=region, **kwargs)
    assert _same(np.ascontiguousarray(full[region]), part)
    monkeypatch.setattr(_threads, "MIN_ELEMENTS_PER_THREAD", 500)
    monkeypatch.setattr(_threads, "ALIGN_ELEMENTS", 1)
    for level in _simd.available_levels():
        for n in (1, 3, 7):
            with _simd.using_level(level), fi.threads(n):
                again = getattr(fi.default_rng(2), method)(size=shape, dtype=half, **kwargs)
            assert _same(again, full), (level, n)


def test_out_buffers_and_array_parameters(half):
    out = np.empty((4, 50), half)
    assert fi.default_rng(1).normal(out=out) is out
    loc = np.array([[0.0], [10.0], [-5.0], [1.0]])
    x = fi.default_rng(1).normal(loc, 0.5, size=(4, 50), dtype=half)
    z = fi.default_rng(1).standard_normal(size=(4, 50), dtype=np.float32)
    expected = (np.float32(0.5) * z + loc.astype(np.float32)).astype(half)
    assert _same(x, expected)


def test_init_functions_and_initializers_take_half(half):
    w = fi.init.xavier_uniform_(np.empty((64, 32), half), generator=0)
    bound = np.sqrt(6 / 96)
    assert w.dtype == half and np.abs(w.astype(np.float32)).max() <= bound
    assert fi.initializers.HeNormal(seed=1)((3, 3, 8, 16), half).dtype == half
    q = fi.init.orthogonal_(np.empty((16, 16), half), generator=0).astype(np.float64)
    np.testing.assert_allclose(q.T @ q, np.eye(16), atol=0.05)
    assert (fi.init.eye_(np.empty((3, 3), half)).astype(np.float32) == np.eye(3)).all()


def test_bfloat16_without_ml_dtypes_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)
    with pytest.raises(ImportError, match=r"pip install fastinit\[bf16\]"):
        fi.default_rng(0).random(3, dtype="bfloat16")


@pytest.mark.parametrize("low, high, what", [(6e4, 7e4, "high"), (-1e-3, 1e6, "high"),
                                             (-7e4, 0.0, "low")])
def test_a_uniform_bound_float16_cannot_hold_is_an_overflow_error(low, high, what):
    """docs/stream.md, "Parameters": clamping such a bound would pile the mass beyond +-65504
    onto it, so the call refuses, for scalars and arrays alike, and takes no stream number."""
    for bounds in ((low, high), (np.array([low, low]), np.array([high, high]))):
        g = fi.Generator(0)
        with pytest.raises(OverflowError, match=f"{what} exceeds the float16 range"):
            g.uniform(*bounds, size=2, dtype=F16)
        assert g.state["stream"] == 0


def test_a_uniform_width_float16_cannot_hold_is_computed_in_float32():
    """Both bounds are float16 values, and high - low (1.2e5) is rounded to float32, where the
    half-precision samples are computed: the values are the float32 call's, rounded once."""
    got = fi.Generator(3).uniform(-6e4, 6e4, size=20_001, dtype=F16)
    x32 = fi.Generator(3).uniform(-6e4, 6e4, size=20_001, dtype=np.float32)
    assert _same(got, _round(x32, F16, v.inward(-6e4, F16, "up"), v.largest_below(6e4, F16)))
    assert got.min() >= -6e4 and got.max() < 6e4 and np.isfinite(got).all()


@pytest.mark.parametrize("method, args", [
    ("uniform", ((1 + 2**-11 + 2**-30), (1 + 2**-11 + 2**-30))),
    ("uniform", (-0.3, 0.7)), ("normal", (0.5, 3.0))])
def test_scalar_and_array_parameters_give_the_same_bits(half, method, args):
    """One parameter check serves both: low == high is low rounded once to the dtype (rounding
    through float32 first gives 1.0 here, not 1 + 2**-10), on either path."""
    scalar = getattr(fi.Generator(5), method)(*args, size=(3, 4), dtype=half)
    array = getattr(fi.Generator(5), method)(*(np.full(4, x) for x in args), size=(3, 4),
                                             dtype=half)
    assert _same(scalar, array)
    if args[0] == args[1]:
        assert np.all(scalar.astype(np.float64) == v.rounded(args[0], half))
