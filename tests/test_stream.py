"""The bit stream and the float conversions, checked exactly (docs/stream.md)."""
import csv
import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

import fastinit as fi
from fastinit._core.kernels_baseline import philox_block

import spec_reference
from conftest import DTYPES, METHODS, call

GOLDEN = Path(__file__).with_name("golden_hashes.csv")

# Random123's known answers for Philox4x32-10: counter words, key words -> output words.
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_random123_known_answers(counter, key, expected):
    assert philox_block(counter, key) == expected


def test_block_layout_matches_the_spec():
    # Block j of call s is philox(counter=(j lo, j hi, s lo, s hi), key=(k0, k1)).
    key, stream, j = 0x0123456789ABCDEF, 0x1122334455667788, (1 << 32) + 5
    rng = fi.Generator(key=key)
    rng.state = {"bit_generator": "Philox4x32-10", "key": key, "stream": stream}
    words = rng.random_raw(size=4 * j + 4 + 1, region=np.s_[4 * j:4 * j + 4])
    expected = philox_block((j & 0xFFFFFFFF, j >> 32, stream & 0xFFFFFFFF, stream >> 32),
                            (key & 0xFFFFFFFF, key >> 32))
    assert tuple(int(w) for w in words) == expected


@pytest.mark.parametrize("key, stream, first", [(123, 0, 0), (2**64 - 1, 2**64 - 2, 2**32 - 6),
                                                (0xA5A5A5A5DEADBEEF, 7, 3)])
def test_a_million_words_against_randomgen(key, stream, first):
    randomgen = pytest.importorskip("randomgen")
    n = 1_000_000
    rng = fi.Generator(key=key)
    rng.state = {**rng.state, "stream": stream}
    ours = rng.random_raw(size=first + n, region=np.s_[first:])
    # randomgen advances its 128-bit counter before each block, so start it one block early.
    block0 = first // 4
    oracle = randomgen.Philox(key=key, counter=((stream << 64) + block0 - 1) % 2**128,
                              number=4, width=32)
    theirs = oracle.random_raw(n + 4).astype(np.uint32)[first % 4:first % 4 + n]
    np.testing.assert_array_equal(ours, theirs)


def test_key_from_seed_is_seedsequence_state():
    k0, k1 = np.random.SeedSequence(42).generate_state(2, np.uint32)
    assert fi.default_rng(42).key == int(k0) | (int(k1) << 32)
    assert fi.Generator(key=99).key == 99


def test_every_call_advances_the_stream_by_one():
    rng = fi.default_rng(5)
    rng.random()
    rng.normal(size=(3, 4), region=np.s_[1:2, :])
    rng.truncated_normal(size=10, dtype=np.float32)
    rng.random_raw(7)
    assert rng.state["stream"] == 4
    # Call 4 is the same whatever came before it.
    fresh = fi.default_rng(5)
    fresh.state = {**fresh.state, "stream": 4}
    np.testing.assert_array_equal(rng.random(100), fresh.random(100))


def _words(seed, stream, n):
    rng = fi.default_rng(seed)
    rng.state = {**rng.state, "stream": stream}
    return rng.random_raw(n).astype(np.uint64)


def test_float32_uniform_is_top_24_bits():
    w = _words(3, 0, 4099)
    u = fi.default_rng(3).random(4099, dtype=np.float32)
    np.testing.assert_array_equal(u, ((w >> 8).astype(np.float64) * 2.0**-24).astype(np.float32))


def test_float64_uniform_is_top_53_of_two_words():
    w = _words(3, 0, 2 * 4099)
    x = (w[1::2] << 32) | w[0::2]
    u = fi.default_rng(3).random(4099)
    expected = np.array([int(v) >> 11 for v in x], dtype=np.float64) * 2.0**-53
    np.testing.assert_array_equal(u, expected)


def _box_muller_reference(w, dtype):
    """Box-Muller from the words, in float64 with libm (docs/stream.md, "Normal").

    Its angle 2*pi*k*2**-53 carries ~1e-15 rad of rounding at large k where ours is reduced
    exactly in turns, hence the absolute tolerance for float64.
    """
    w = [int(x) for x in w]
    out = []
    if dtype == np.float32:
        for k in range(len(w) // 2):
            u1 = float(np.float32(np.float32(w[2 * k] >> 1) * np.float32(2.0**-31)
                                  + np.float32(2.0**-32)))
            theta = 2 * math.pi * (w[2 * k + 1] >> 8) * 2.0**-24
            r = math.sqrt(-2 * math.log(u1))
            out += [r * math.cos(theta), r * math.sin(theta)]
    else:
        for k in range(len(w) // 4):
            u1 = ((((w[4 * k + 1] << 32) | w[4 * k]) >> 11) * 2.0**-53) + 2.0**-54
            theta = 2 * math.pi * ((((w[4 * k + 3] << 32) | w[4 * k + 2]) >> 11) * 2.0**-53)
            r = math.sqrt(-2 * math.log(u1))
            out += [r * math.cos(theta), r * math.sin(theta)]
    return np.array(out)


@pytest.mark.parametrize("dt, words_per_sample, rtol, atol",
                         [(np.float32, 1, 2e-6, 2e-7), (np.float64, 2, 1e-14, 4e-15)])
def test_normal_is_box_muller_of_the_words(dt, words_per_sample, rtol, atol):
    n = 20_000
    w = _words(11, 0, n * words_per_sample)
    z = fi.default_rng(11).standard_normal(n, dtype=dt)
    np.testing.assert_allclose(z, _box_muller_reference(w, dt), rtol=rtol, atol=atol)


def test_normal_affine_map_is_in_the_dtype():
    z = fi.default_rng(1).standard_normal(1000, dtype=np.float32)
    x = fi.default_rng(1).normal(0.5, 3.0, 1000, dtype=np.float32)
    np.testing.assert_array_equal(x, np.float32(0.5) + np.float32(3.0) * z)


def test_truncated_normal_keeps_the_normal_stream_where_it_fits(dtype):
    z = fi.default_rng(2).standard_normal(50_000, dtype=dtype)
    t = fi.default_rng(2).truncated_normal(0.0, 1.0, -2.0, 2.0, 50_000, dtype=dtype)
    inside = (z >= -2) & (z <= 2)
    np.testing.assert_array_equal(t[inside], z[inside])
    assert np.any(t[~inside] != z[~inside])


def _exact_fma(a, b, c, dt):
    """a * b + c rounded once to dt, with exact rational arithmetic (the oracle of the oracle)."""
    from fractions import Fraction
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    if np.dtype(dt) == np.float64:
        return float(exact)                 # int / int true division rounds correctly
    # float32: round the exact value to 24 bits, nearest-even, by scaling into [2**23, 2**24).
    if exact == 0:
        return np.float32(0.0)
    sign, mag = (-1 if exact < 0 else 1), abs(exact)
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    while Fraction(2) ** e > mag:
        e -= 1
    while Fraction(2) ** (e + 1) <= mag:
        e += 1
    scaled = mag / Fraction(2) ** (e - 23)           # in [2**23, 2**24)
    n = round(scaled)                                # Python's round: ties to even
    return np.float32(sign * n * 2.0 ** (e - 23))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_the_reference_fma_is_correctly_rounded(dt):
    """spec_reference.fma against exact rationals: random operands, products that cancel c
    almost exactly, and sums that land on or next to a rounding tie."""
    gen = np.random.default_rng(7)
    t = np.dtype(dt).type
    n = 3000
    a = gen.standard_normal(n).astype(dt) * t(2.0) ** gen.integers(-20, 20, n).astype(dt)
    b = gen.standard_normal(n).astype(dt)
    c = gen.standard_normal(n).astype(dt) * t(2.0) ** gen.integers(-30, 30, n).astype(dt)
    near = -(a * b)                                  # c = -fl(a*b): the result is a*b's error
    ties = (a * b) * t(1 + 2.0 ** (-np.finfo(dt).nmant - 1))
    a3, b3, c3 = (np.concatenate(v) for v in ((a, a, a), (b, b, b), (c, near, ties)))
    # a * b + c a hair below a rounding tie of dt, where rounding twice (to a wider format,
    # then to dt) lands on the tie and then on the wrong side: a = 2**-(p+1) (1 + 2**-(p-1)),
    # b = 1 - 2**-(p-1), c = 1 + 2**-(p-1) (an odd last bit), p = the dtype's precision.
    p = np.finfo(dt).nmant + 1
    tie_a = t(2.0 ** -p * (1 + 2.0 ** -(p - 1))) * t([1, -1, 2**10, 2.0**-10])
    tie_b = np.full(4, t(1 - 2.0 ** -(p - 1)))
    tie_c = t(1 + 2.0 ** -(p - 1)) * t([1, -1, 2**10, 2.0**-10])
    a3, b3, c3 = (np.concatenate([x, y]) for x, y in ((a3, tie_a), (b3, tie_b), (c3, tie_c)))
    got = spec_reference.fma(a3, b3, c3, dt)
    want = np.array([_exact_fma(x, y, z, dt) for x, y, z in zip(a3, b3, c3)], dtype=dt)
    assert got.dtype == np.dtype(dt)
    assert got.tobytes() == want.tobytes()


PLAN_BOUNDS = [-math.inf, -40.0, -9.0, -6.5, -3.0, -2.0, -1.0, -0.3, -0.05, 0.0, 0.05, 0.2, 0.4,
               0.9, 1.0, 2.0, 2.7, 3.0, 3.0001, 8.0, 9.0, 40.0, math.inf]


def test_the_readme_plan_is_the_library_plan():
    """Method, flip and every constant of every (a, b) pair above, bit for bit: docs/stream.md's
    per-call constants are complete (fastinit/_truncnorm.py is the implementation)."""
    from fastinit._truncnorm import plan as library_plan

    pairs = [(a, b) for a in PLAN_BOUNDS for b in PLAN_BOUNDS if a < b]
    for a, b in pairs:
        ours, readme = library_plan(a, b), spec_reference.plan(a, b)
        assert tuple(ours) == tuple(readme), (a, b, ours, readme)
    assert {spec_reference.plan(a, b).method for a, b in pairs} == {0, 1, 2}


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-1.0, 1.0), (-0.1, 0.1), (1e-3, 1e-3 + 1e-9),
                                       (-3.0, 1e30), (2.5, 2.5)])
def test_uniform_is_the_readme_construction_bit_for_bit(dtype, low, high):
    n = 20_000
    words = _words(6, 0, n * (2 if dtype == np.float64 else 1))
    got = fi.default_rng(6).uniform(low, high, n, dtype=dtype)
    want = spec_reference.uniform(words, low, high, dtype)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("low, high", [(6e4, 7e4), (-1e-3, 1e6), (-6e4, 6e4), (-0.3, 0.7),
                                       (65504.0, 65504.0), (1.0, 1.0 + 2**-12), (0.0, 2**-25),
                                       (-65504.0, 65504.0), (-1.0, 65519.0), (-1.0, 65520.0),
                                       (1.0, 0.5), (0.0, math.inf)])
def test_float16_uniform_and_its_refusals_are_the_spec_s(low, high):
    """docs/stream.md's float16 uniform, values and refusals alike: a bound float16 cannot hold
    is an OverflowError (65519 rounds to 65504 and is held, 65520 rounds to inf), a width beyond
    it is computed in float32, an interval with no float16 value is a ValueError."""
    n = 10_000
    try:
        want = spec_reference.uniform(_words(6, 0, n), low, high, np.float16)
    except (ValueError, OverflowError) as exc:
        with pytest.raises(type(exc)):
            fi.default_rng(6).uniform(low, high, n, dtype=np.float16)
        return
    got = fi.default_rng(6).uniform(low, high, n, dtype=np.float16)
    assert got.tobytes() == want.tobytes()


def golden_cases():
    """(name, array) for the outputs whose hashes pin the stream."""
    for method in METHODS:
        for dt in DTYPES if method != "random_raw" else [np.uint32]:
            rng = fi.default_rng(20261122)
            rng.random_raw()     # start at stream 1, so stream numbers are part of the check
            out = call(rng, method, size=(37, 101), dtype=dt)
            yield f"{method}/{np.dtype(dt).name}", out
    for a, b in [(0.0, math.inf), (6.0, math.inf), (8.0, 9.0), (-0.1, 0.1), (-math.inf, -3.0)]:
        for dt in DTYPES:
            yield (f"truncated_normal[{a},{b}]/{np.dtype(dt).name}",
                   fi.default_rng(7).truncated_normal(0.0, 1.0, a, b, 5000, dtype=dt))


def sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def test_golden_hashes():
    """Any change to the stream fails here.  Regenerate deliberately: python tests/regenerate_golden.py"""
    with GOLDEN.open() as f:
        expected = {row["case"]: row["sha256"] for row in csv.DictReader(f)}
    got = {name: sha256(arr) for name, arr in golden_cases()}
    assert set(got) == set(expected)
    changed = sorted(name for name in got if got[name] != expected[name])
    assert not changed, f"stream changed for {changed}"


@pytest.mark.parametrize("dt, words_per_sample", [(np.float32, 1), (np.float64, 2)])
def test_normal_is_the_readme_construction_bit_for_bit(dt, words_per_sample):
    n = 200_000
    w = _words(5, 0, n * words_per_sample)
    z = fi.default_rng(5).standard_normal(n, dtype=dt)
    want = spec_reference.standard_normal(w, dt)
    bits = np.uint32 if dt == np.float32 else np.uint64
    bad = np.flatnonzero(z.view(bits) != want.view(bits))
    assert bad.size == 0, f"{bad.size} of {n} samples differ, first at {bad[:5]}"


@pytest.mark.parametrize("a, b", [(-2.0, 2.0),          # normal method, ~4.6% retried
                                  (0.5, 0.9),           # uniform proposal
                                  (-9.0, -8.0),         # exponential, flipped, far tail
                                  (1.0, math.inf),      # exponential, one-sided
                                  (-0.3, 2.7),          # general intervals holding 0
                                  (-6.5, 0.2),
                                  (-1.0, 40.0),
                                  (-math.inf, 0.4),
                                  (0.0, 0.05),          # one-sided, a bound at 0
                                  (3.0, 3.0001),
                                  (-45.0, -38.0)])      # float64's far tail
def test_truncated_normal_is_the_readme_construction_bit_for_bit(dtype, a, b):
    # Everything from docs/stream.md: the plan, its constants and the output bounds included.
    _check_truncated_normal_against_the_spec(dtype, a, b, 0.25, 1.5)


@pytest.mark.parametrize("a, b", [(-2.0, 2.0), (-1.5, 3.0), (-4.0, 4.0)])
@pytest.mark.parametrize("loc, scale", [(0.0, 1.0), (-0.0, 1.0), (-0.0, 0.02), (1e-3, 0.02),
                                        (0.04, 0.02), (-7.0, 3.0)])
def test_each_shortcut_of_the_output_map_keeps_the_bits(dtype, a, b, loc, scale):
    # With the normal method (these intervals), attempt 0 skips the steps of the output map that
    # change no accepted value (select.h): the multiply at scale 1, the add at loc -0, the clamp
    # where [a, b] maps inside the bounds (kept where a bound is 0: loc 0.04, scale 0.02, a -2).
    assert spec_reference.plan(a, b).method == 0
    _check_truncated_normal_against_the_spec(dtype, a, b, loc, scale)


def _check_truncated_normal_against_the_spec(dtype, a, b, loc, scale):
    n = 3000
    tp = spec_reference.plan(a, b)
    per_sample = {0: 1, 1: 2, 2: 2}[tp.method] * (2 if dtype == np.float64 else 1)
    rng = fi.default_rng(8)
    rng.state = {**rng.state, "stream": 3}
    got = rng.truncated_normal(loc, scale, a, b, size=n, dtype=dtype)
    dt = np.dtype(dtype)
    lo, hi = spec_reference.inward_bounds(loc, scale, a, b, dt)
    want = spec_reference.truncated_normal(_words(8, 3, n * per_sample), rng.key, 3, tp, loc, scale,
                                           lo, hi, dtype, philox_block)
    bits = np.uint32 if dt == np.float32 else np.uint64
    bad = np.flatnonzero(got.view(bits) != want.view(bits))
    assert bad.size == 0, f"{bad.size} of {n} samples differ, first at {bad[:5]}"
