"""Statistics against SciPy, moments against exact formulas, and exact bounds."""
import math

import numpy as np
import pytest

import fastinit as fi
from fastinit import _truncnorm
from fastinit._core.kernels_baseline import TruncatedMethod

stats = pytest.importorskip("scipy.stats")

N = 200_000
ALPHA = 1e-4


def ks_pvalue(sample, dist):
    return stats.kstest(np.asarray(sample, np.float64), dist.cdf).pvalue


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-0.1, 0.1), (-3.0, 7.5)])
def test_uniform_ks(dtype, low, high):
    x = fi.default_rng(101).uniform(low, high, N, dtype=dtype)
    assert ks_pvalue(x, stats.uniform(low, high - low)) > ALPHA


@pytest.mark.parametrize("loc, scale", [(0.0, 1.0), (0.0, 0.02), (3.0, 5.0)])
def test_normal_ks(dtype, loc, scale):
    x = fi.default_rng(102).normal(loc, scale, N, dtype=dtype)
    assert ks_pvalue(x, stats.norm(loc, scale)) > ALPHA


TRUNCATIONS = [(-2.0, 2.0), (0.0, math.inf), (-math.inf, 1.0), (-0.1, 0.1), (0.5, 0.7),
               (-0.2, 5.0), (6.0, math.inf), (8.0, 9.0), (-math.inf, -12.0), (40.0, math.inf),
               (-math.inf, math.inf)]


@pytest.mark.parametrize("a, b", TRUNCATIONS)
def test_truncated_normal_ks(dtype, a, b):
    x = fi.default_rng(103).truncated_normal(0.0, 1.0, a, b, N, dtype=dtype)
    assert np.all((x >= a) & (x <= b))
    if a >= 40 and dtype == np.float32:
        # At a = 40 the whole distribution spans a few float32 ulps: compare moments instead.
        assert abs(np.mean(x, dtype=np.float64) - stats.truncnorm(a, b).mean()) < 1e-3
        return
    assert ks_pvalue(x, stats.truncnorm(a, b)) > ALPHA


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16, "bfloat16"])
@pytest.mark.parametrize("std, low, high", [(0.02, -2.0, 2.0), (1e-3, -1.0, 1.0),
                                            (0.02, -0.06, 2.0), (1e-4, -3e-4, 1.0)])
def test_small_std_against_wide_bounds(dt, std, low, high):
    """torch's trunc_normal_(std=0.02, a=-2, b=2) convention: bounds in absolute units, far
    beyond the std (the case whose erfinv path gave torch 2000-sigma float32 outliers and piled
    bfloat16 mass on -2).  Every value lies inside, and the sample is the normal truncated there."""
    if dt == "bfloat16":
        pytest.importorskip("ml_dtypes")
    rng = fi.default_rng(107)
    x = np.asarray(rng.truncated_normal(0.0, std, low / std, high / std, N, dtype=dt),
                   np.float64)
    assert np.all((x >= low) & (x <= high))
    assert np.abs(x).max() < 7 * std                      # no outliers: |z| < 7 in 2e5 draws
    dist = stats.truncnorm(low / std, high / std, 0.0, std)
    if dt in (np.float32, np.float64):
        assert ks_pvalue(x, dist) > ALPHA
    else:
        # Half precision: compare the quantiles of the rounded sample with the distribution's,
        # to a rounding cell of the value (8 bits of bfloat16, 11 of float16).
        eps = 2.0**-8 if dt == "bfloat16" else 2.0**-11
        q = np.linspace(0.01, 0.99, 49)
        want = dist.ppf(q)
        got = np.quantile(x, q)
        assert np.all(np.abs(got - want) <= 2 * eps * np.abs(want) + 0.02 * std)
        # No value piles up on a bound beyond its share: the bound's rounding cell.
        for bound in (low, high):
            share = np.mean(x == bound)
            assert share < 1e-3


@pytest.mark.parametrize("a, b", [(-2.0, 2.0), (0.0, math.inf), (1.0, 3.0), (6.0, math.inf),
                                  (8.0, 9.0)])
def test_truncated_normal_moments(a, b):
    # Exact moments of the truncated normal (Johnson, Kotz & Balakrishnan, ch. 13).
    loc, scale = 1.5, 2.0
    x = fi.default_rng(104).truncated_normal(loc, scale, a, b, 1_000_000)
    mean, var = stats.truncnorm(a, b, loc, scale).stats("mv")
    n = x.size
    assert abs(x.mean() - mean) < 5 * math.sqrt(var / n)
    # Var of the sample variance ~ (mu4 - var^2) / n; 5 sigma with a generous mu4 <= 10 var^2.
    assert abs(x.var() - var) < 5 * math.sqrt(10 * var * var / n)


def test_truncated_normal_far_tail_is_not_piled_on_a_bound(dtype):
    x = fi.default_rng(105).truncated_normal(0.0, 1.0, 8.0, 9.0, N, dtype=dtype)
    assert np.all(np.isfinite(x))
    assert np.mean(x == np.float32(8.0)) < 1e-3 and np.mean(x == 9.0) == 0
    # P(X > 8 + t | X > 8) ~ exp(-8t): the mean excess is ~ 1/8.
    assert abs(np.mean(x, dtype=np.float64) - stats.truncnorm(8, 9).mean()) < 2e-3


@pytest.mark.parametrize("a", [-30.0, -3.0, -1.0, -0.3, -0.01, 0.0, 0.01, 0.3, 1.0, 2.5, 5.0,
                               10.0, 50.0])
@pytest.mark.parametrize("width", [1e-6, 0.01, 0.3, 1.0, 2.0, 4.0, 30.0, math.inf])
def test_every_truncation_method_accepts_at_least_half(a, width):
    b = a + width
    p = _truncnorm.plan(a, b)
    x = fi.default_rng(7).truncated_normal(0.0, 1.0, a, b, 2000)
    assert np.all((x >= a) & (x <= b))
    acc = _acceptance(p)
    assert acc >= 0.5, (a, b, p.method, acc)


def _acceptance(p):
    """The probability one candidate of plan p is accepted, by numerical integration."""
    a, b = (-p.b, -p.a) if p.flip else (p.a, p.b)
    if p.method == TruncatedMethod.TN_NORMAL:
        return stats.norm.cdf(b) - stats.norm.cdf(a)
    m = math.sqrt(p.m2)
    # Scaled mass (Phi(b) - Phi(a)) * exp(m^2/2), stable in the tails.
    hi = min(p.b, max(p.a, m) + 40.0)
    xs = np.linspace(p.a, hi, 200_001)
    scaled_mass = np.trapezoid(np.exp((m * m - xs * xs) / 2), xs) / math.sqrt(2 * math.pi)
    if p.method == TruncatedMethod.TN_UNIFORM:
        return math.sqrt(2 * math.pi) * scaled_mass / p.width
    log_envelope = (-p.d2 / 2 + p.alpha ** 2 / 2 - p.alpha * p.a + math.log(p.c / p.alpha)
                    + p.m2 / 2)
    return math.sqrt(2 * math.pi) * scaled_mass * math.exp(-log_envelope)


def test_uniform_never_returns_high_where_rounding_would():
    # uniform(1, 2) in float32 is 1 + 1 * u; u = 1 - 2**-24 (word >> 8 == 0xFFFFFF) rounds to 2.
    # Find such a word in call 0 of a fixed key and draw exactly that index through region=.
    rng = fi.Generator(key=12345)
    n, found = 1 << 26, None
    words = rng.random_raw(n)
    hits = np.flatnonzero((words >> 8) == 0xFFFFFF)
    assert hits.size, "no word with top 24 bits set in 2**26 words; pick another key"
    i = int(hits[0])
    assert np.float32(1) + np.float32(1) * np.float32(1 - 2.0**-24) == np.float32(2)
    rng.state = {**rng.state, "stream": 0}
    x = rng.uniform(1.0, 2.0, size=n, dtype=np.float32, region=np.s_[i:i + 1])
    assert x[0] < 2.0
    assert x[0] == np.nextafter(np.float32(2), np.float32(0))


def test_uniform_bounds_hold_when_low_and_high_are_not_representable(dtype):
    low, high = 0.1, 0.3
    x = fi.default_rng(9).uniform(low, high, N, dtype=dtype)
    assert np.all(x.astype(np.float64) >= low) and np.all(x.astype(np.float64) < high)


def test_uniform_with_equal_bounds_returns_low():
    assert np.all(fi.default_rng(0).uniform(2.5, 2.5, 10) == 2.5)


@pytest.mark.parametrize("a, b", [(-2.0, 2.0), (0.1, 0.3), (3.0, 3.001), (-1e-3, 1e-3)])
def test_truncated_normal_stays_in_closed_interval_after_rounding(dtype, a, b):
    loc, scale = 0.3, 0.7
    x = fi.default_rng(10).truncated_normal(loc, scale, a, b, N, dtype=dtype).astype(np.float64)
    assert np.all(x >= loc + scale * a) and np.all(x <= loc + scale * b)


def test_random_is_in_unit_interval(dtype):
    x = fi.default_rng(11).random(N, dtype=dtype)
    assert x.min() >= 0 and x.max() < 1


def test_array_parameters_broadcast():
    rng = fi.default_rng(12)
    loc = np.array([0.0, 10.0, 100.0])
    x = rng.normal(loc, [1.0, 2.0, 3.0], size=(40_000, 3))
    np.testing.assert_allclose(x.mean(axis=0), loc, atol=0.1)
    np.testing.assert_allclose(x.std(axis=0), [1, 2, 3], rtol=0.03)
    u = rng.uniform(np.zeros(3), [1.0, 2.0, 3.0], size=(40_000, 3), dtype=np.float32)
    assert np.all(u < np.array([1, 2, 3], np.float32)) and np.all(u >= 0)
    t = rng.truncated_normal(loc, 1.0, -1.0, 1.0, size=(40_000, 3))
    assert np.all(t >= loc - 1) and np.all(t <= loc + 1)
    assert rng.normal([0.0, 1.0], 1.0).shape == (2,)


def _truncated_kernel(loc, scale, a, b, n, dt, seed):
    """The truncated-normal kernel itself, whatever shortcut the Generator would take."""
    from fastinit import _generator

    rng = fi.default_rng(seed)
    params = _generator._truncated_params_scalar(loc, scale, a, b, np.dtype(dt))
    out = np.empty(n, dt)
    _generator._fill_buffer(out, _generator._TRUNCATED_NORMAL, (n,), (0,), rng.key, 0, params,
                            False, "truncated_normal")
    return out


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16], ids=["f32", "f64", "f16"])
@pytest.mark.parametrize("loc, scale, a, b", [(0.0, 0.02, -100.0, 100.0), (1.0, 1e-8, -9.0, 9.0),
                                              (0.0, 1.0, -9.0, np.inf), (-3.0, 2.0, -np.inf,
                                                                           np.inf)])
def test_a_truncation_no_normal_reaches_has_the_truncated_kernels_bits(dt, loc, scale, a, b):
    """With a <= -9 and b >= 9 nothing can be rejected, and the normal kernel (with the call's
    clamp) computes truncated_normal: the same bits as the truncated kernel."""
    got = fi.default_rng(4).truncated_normal(loc, scale, a, b, size=200_001, dtype=dt)
    assert got.tobytes() == _truncated_kernel(loc, scale, a, b, 200_001, dt, 4).tobytes()


def test_the_normal_kernel_applies_finite_clamp_bounds():
    from fastinit import _generator
    from fastinit._core import simd as _simd

    key = fi.default_rng(2).key
    z = np.empty(50_000, np.float32)
    clamped = np.empty(50_000, np.float32)
    _simd.kernels.fill(z, _generator._NORMAL, (50_000,), (0,), key, 0,
                       (0.0, 1.0, -np.inf, np.inf) + _generator._NO_TRUNCATION)
    _simd.kernels.fill(clamped, _generator._NORMAL, (50_000,), (0,), key, 0,
                       (0.0, 1.0, -0.5, 0.75) + _generator._NO_TRUNCATION)
    assert np.array_equal(clamped, np.clip(z, np.float32(-0.5), np.float32(0.75)))
    assert (clamped == np.float32(-0.5)).sum() > 1000 and (clamped == np.float32(0.75)).sum() > 1000
