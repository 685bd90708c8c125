"""fastinit as a NumPy drop-in: fastinit.Philox as a numpy.random.BitGenerator, and every
numpy.random.Generator method on fastinit.Generator (docs/numpy.md, "A NumPy drop-in")."""
import inspect
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
from numpy.random.tests import test_direct, test_smoke
from scipy import stats

import fastinit as fi
from fastinit._core import simd as _simd

DATA = Path(__file__).with_name("data")
OWN = {"random", "uniform", "standard_normal", "normal"}       # fastinit's kernels
NUMPY_METHODS = sorted(name for name in dir(np.random.Generator) if not name.startswith("_"))
DELEGATED = sorted(set(NUMPY_METHODS) - OWN - {"bit_generator", "spawn"})


def at_stream(seed, stream):
    return np.random.Generator(fi.Philox(seed, stream=stream))


# -- fastinit.Philox: the words -------------------------------------------------------------------

@pytest.mark.parametrize("stream", [0, 1, 12345, 2**64 - 1])
def test_philox_reads_the_calls_words_in_block_order(stream):
    # 3000 words cross the 256-word buffer several times.
    expected = fi.Generator(99, stream=stream).random_raw(3000)
    words = fi.Philox(99, stream=stream).random_raw(3000)
    assert words.dtype == np.uint64
    np.testing.assert_array_equal(words, expected)


@pytest.mark.parametrize("key, stream", [(123, 0), (2**64 - 1, 2**64 - 2), (0xA5A5A5A5DEADBEEF, 7)])
def test_philox_random_raw_equals_randomgen(key, stream):
    randomgen = pytest.importorskip("randomgen")
    oracle = randomgen.Philox(key=key, counter=((stream << 64) - 1) % 2**128, number=4, width=32)
    np.testing.assert_array_equal(fi.Philox(key=key, stream=stream).random_raw(10_000),
                                  oracle.random_raw(10_000))


def test_next_uint64_and_next_double_take_words_as_documented():
    words = fi.Generator(5, stream=2).random_raw(2000).astype(np.uint64)
    u64 = words[0::2] | (words[1::2] << np.uint64(32))
    gen = at_stream(5, 2)
    # integers over the full uint64 range are next_uint64 itself.
    np.testing.assert_array_equal(
        gen.integers(0, 2**64, size=1000, dtype=np.uint64, endpoint=False), u64)
    doubles = (u64 >> np.uint64(11)).astype(np.float64) * 2.0**-53
    np.testing.assert_array_equal(at_stream(5, 2).random(1000), doubles)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_random_equals_fastinit_random_on_the_same_stream(dtype):
    ours = fi.Generator(11, stream=4).random(5000, dtype=dtype)
    np.testing.assert_array_equal(at_stream(11, 4).random(5000, dtype=dtype), ours)


def test_odd_words_then_uint64_straddle_the_buffer():
    words = fi.Generator(1).random_raw(600).astype(np.uint64)
    bg = fi.Philox(1)
    bg.random_raw(255)                   # one word left in the first buffer
    u64 = np.random.Generator(bg).integers(0, 2**64, size=2, dtype=np.uint64)
    np.testing.assert_array_equal(u64, [words[255] | (words[256] << np.uint64(32)),
                                        words[257] | (words[258] << np.uint64(32))])
    assert bg.state["state"]["word"] == 259


@pytest.mark.parametrize("level", _simd.available_levels())
def test_philox_words_are_the_same_on_every_simd_level(level):
    expected = fi.Generator(3, stream=9).random_raw(1000)
    with _simd.using_level(level):
        bg = fi.Philox(3, stream=9)
    np.testing.assert_array_equal(bg.random_raw(1000), expected)


@pytest.mark.parametrize("level", _simd.available_levels())
@pytest.mark.parametrize("first", [0, 5, 2**64 - 3])
def test_short_runs_of_words_are_the_philox_blocks_on_every_level(level, first):
    # The first refill after a move makes 8 blocks, fewer than a vector step of most levels: the
    # level's padded vector tail against the scalar rounds, across the wrap of the block number.
    from fastinit._core.kernels_baseline import philox_block
    key, stream, low = 0x0123456789ABCDEF, 2**64 - 1, 0xFFFFFFFF

    def block(j):
        j %= 2**64
        return philox_block((j & low, j >> 32, stream & low, stream >> 32), (key & low, key >> 32))

    with _simd.using_level(level):
        for nblocks in (1, 2, 5, 6, 7, 8, 9, 31, 33):
            bg = fi.Philox(key=key, stream=stream)
            bg.state = {"bit_generator": "fastinit.Philox",
                        "state": {"key": key, "stream": stream, "word": 4 * first}}
            expected = [w for j in range(first, first + nblocks) for w in block(j)]
            assert [int(w) for w in bg.random_raw(4 * nblocks)] == expected, nblocks


# -- fastinit.Philox: state, advance, jumped ------------------------------------------------------

@pytest.mark.parametrize("word", [0, 1, 3, 4, 255, 256, 1001, 2**66 - 1])
def test_state_round_trip_at_any_word(word):
    bg = fi.Philox(8, stream=6)
    bg.advance(word)
    state = bg.state
    assert state["state"] == {"key": bg.key, "stream": 6, "word": word}
    other = fi.Philox(0)
    other.state = state
    assert other.state == state
    if word < 2**66 - 4:
        np.testing.assert_array_equal(other.random_raw(4), bg.random_raw(4))
        reference = fi.Generator(8, stream=6).random_raw(word + 4, region=np.s_[word:])
        np.testing.assert_array_equal(fi.Philox(8, stream=6).advance(word).random_raw(4),
                                      reference)


def test_advance_and_jumped_bounds():
    bg = fi.Philox(8)
    with pytest.raises(ValueError, match="jumped"):
        bg.advance(2**66)
    with pytest.raises(ValueError):
        bg.advance(-1)
    with pytest.raises(TypeError):
        bg.advance(1.5)
    assert bg.state["state"]["word"] == 0
    jumped = bg.jumped(3)
    assert jumped.state["state"] == {"key": bg.key, "stream": 3, "word": 0}
    assert jumped.seed_seq is bg.seed_seq
    np.testing.assert_array_equal(jumped.random_raw(8), fi.Philox(8, stream=3).random_raw(8))
    with pytest.raises(ValueError, match="last stream"):
        fi.Philox(8, stream=2**64 - 1).jumped()


@pytest.mark.parametrize("bad, error", [
    ({"bit_generator": "Philox", "state": {"key": 1, "stream": 0, "word": 0}}, ValueError),
    ({"bit_generator": "fastinit.Philox", "state": {"key": 1, "stream": 0}}, ValueError),
    ({"bit_generator": "fastinit.Philox", "state": {"key": -1, "stream": 0, "word": 0}},
     ValueError),
    ({"bit_generator": "fastinit.Philox", "state": {"key": 1, "stream": 0, "word": 2**66}},
     ValueError),
    ({"bit_generator": "fastinit.Philox", "state": {"key": 1, "stream": 2**64, "word": 5}},
     ValueError),
    ({"bit_generator": "fastinit.Philox", "state": {"key": 1.0, "stream": 0, "word": 0}},
     TypeError),
    (["fastinit.Philox"], TypeError),
])
def test_bad_state_raises_and_changes_nothing(bad, error):
    bg = fi.Philox(4, stream=2).advance(5)
    before = bg.state
    with pytest.raises(error):
        bg.state = bad
    assert bg.state == before


def test_seeding_matches_fastinit_generator():
    for seed in (0, 42, [1, 2, 3], np.random.SeedSequence(7)):
        assert fi.Philox(seed).key == fi.Generator(seed).key
    assert fi.Philox(key=0xABC).key == 0xABC
    with pytest.raises(TypeError, match="not both"):
        fi.Philox(1, key=2)
    with pytest.raises(TypeError, match="seed"):
        fi.Philox(np.random.default_rng(0))
    with pytest.raises(ValueError):
        fi.Philox(stream=2**64)


def test_philox_spawn_and_seed_seq_follow_numpy():
    bg = fi.Philox(12)
    children = bg.spawn(2)
    assert [c.key for c in children] == [
        fi.Philox(s).key for s in np.random.SeedSequence(12).spawn(2)]
    assert all(type(c) is fi.Philox for c in children)
    assert bg.seed_seq.n_children_spawned == 2
    assert bg.state["state"]["word"] == 0                    # spawning reads no words


def test_pickle_keeps_the_position():
    bg = fi.Philox(3, stream=5).advance(7)
    again = pickle.loads(pickle.dumps(bg))
    assert again.state == bg.state
    assert again.seed_seq.state == bg.seed_seq.state
    np.testing.assert_array_equal(again.random_raw(10), bg.random_raw(10))


# -- fastinit.Generator and its bit_generator -----------------------------------------------------

def test_generator_state_is_its_bit_generators():
    rng = fi.default_rng(21)
    rng.random(10)
    bg = rng.bit_generator
    assert isinstance(bg, fi.Philox) and bg is rng.bit_generator
    assert bg.state["state"] == {"key": rng.key, "stream": 1, "word": 0}
    saved = bg.state
    first = rng.integers(0, 100, 50)
    bg.state = saved
    np.testing.assert_array_equal(rng.integers(0, 100, 50), first)


def test_direct_reads_make_the_next_call_skip_the_stream():
    rng = fi.default_rng(21)
    np.random.Generator(rng.bit_generator).random(3)        # reads words of stream 0
    assert rng.state["stream"] == 1
    np.testing.assert_array_equal(rng.random(5), fi.Generator(21, stream=1).random(5))
    assert rng.bit_generator.state["state"]["stream"] == 2


def test_generator_wraps_a_philox_and_shares_it():
    bg = fi.Philox(17, stream=4)
    rng = fi.default_rng(bg)
    assert rng.bit_generator is bg
    np.testing.assert_array_equal(rng.random(6), fi.Generator(17, stream=4).random(6))
    assert bg.state["state"]["stream"] == 5
    with pytest.raises(TypeError, match="own key"):
        fi.Generator(bg, stream=3)


def test_spawn_children_match_numpys_seed_sequence_children():
    rng = fi.default_rng(12)
    kids = rng.spawn(3)
    assert [k.key for k in kids] == [
        fi.Generator(s).key for s in np.random.SeedSequence(12).spawn(3)]
    assert all(isinstance(k.bit_generator, fi.Philox) for k in kids)


# -- every NumPy method ---------------------------------------------------------------------------

def test_every_numpy_generator_method_exists():
    missing = [name for name in NUMPY_METHODS if not hasattr(fi.Generator, name)]
    assert missing == []


@pytest.mark.parametrize("name", DELEGATED)
def test_delegated_methods_have_numpys_signature(name):
    ours = inspect.signature(getattr(fi.Generator, name))
    theirs = inspect.signature(getattr(np.random.Generator, name))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.parameters.values()]
    assert f"Generator.{name}" in getattr(fi.Generator, name).__doc__


@pytest.mark.parametrize("name", sorted(OWN))
def test_own_methods_take_numpys_arguments_first(name):
    ours = list(inspect.signature(getattr(fi.Generator, name)).parameters)
    theirs = list(inspect.signature(getattr(np.random.Generator, name)).parameters)
    assert ours[:len(theirs)] == theirs


# (method, args, kwargs) for a valid call of each delegated method.
CALLS = {
    "beta": ((2.0, 3.0, 50), {}),
    "binomial": ((10, 0.3, 50), {}),
    "bytes": ((40,), {}),
    "chisquare": ((3.0, 50), {}),
    "choice": ((10, 5), {"replace": False}),
    "dirichlet": (([1.0, 2.0, 3.0], 20), {}),
    "exponential": ((2.0, 50), {}),
    "f": ((3.0, 4.0, 50), {}),
    "gamma": ((2.0, 1.5, 50), {}),
    "geometric": ((0.3, 50), {}),
    "gumbel": ((0.0, 1.0, 50), {}),
    "hypergeometric": ((10, 5, 7, 50), {}),
    "integers": ((0, 1000, 50), {"dtype": np.int32}),
    "laplace": ((0.0, 1.0, 50), {}),
    "logistic": ((0.0, 1.0, 50), {}),
    "lognormal": ((0.0, 1.0, 50), {}),
    "logseries": ((0.5, 50), {}),
    "multinomial": ((20, [0.2, 0.3, 0.5], 10), {}),
    "multivariate_hypergeometric": (([3, 4, 5], 6, 10), {}),
    "multivariate_normal": (([0.0, 1.0], [[1.0, 0.5], [0.5, 2.0]], 20), {}),
    "negative_binomial": ((5, 0.5, 50), {}),
    "noncentral_chisquare": ((3.0, 2.0, 50), {}),
    "noncentral_f": ((3.0, 4.0, 2.0, 50), {}),
    "pareto": ((3.0, 50), {}),
    "permutation": ((100,), {}),
    "permuted": ((np.arange(60).reshape(6, 10),), {"axis": 1}),
    "poisson": ((4.0, 50), {}),
    "power": ((3.0, 50), {}),
    "rayleigh": ((2.0, 50), {}),
    "shuffle": ((np.arange(100),), {}),
    "standard_cauchy": ((50,), {}),
    "standard_exponential": ((50,), {"dtype": np.float32}),
    "standard_gamma": ((2.0, 50), {}),
    "standard_t": ((5.0, 50), {}),
    "triangular": ((0.0, 1.0, 3.0, 50), {}),
    "vonmises": ((0.0, 4.0, 50), {}),
    "wald": ((1.0, 2.0, 50), {}),
    "weibull": ((2.0, 50), {}),
    "zipf": ((2.0, 50), {}),
}


def _copy(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def test_every_delegated_method_is_in_the_tables():
    assert sorted(CALLS) == DELEGATED
    assert sorted(BAD_CALLS) == DELEGATED


@pytest.mark.parametrize("name", DELEGATED)
def test_a_delegated_call_is_numpys_method_on_its_own_stream(name):
    args, kwargs = CALLS[name]
    rng = fi.default_rng(2024)
    rng.random(3)
    rng.random(3)                               # the call below takes stream 2
    in_place = name == "shuffle"
    mine, theirs = _copy(args), _copy(args)
    ours = getattr(rng, name)(*mine, **kwargs)
    reference = getattr(at_stream(2024, 2), name)(*theirs, **kwargs)
    if in_place:
        ours, reference = mine[0], theirs[0]
    np.testing.assert_array_equal(ours, reference)
    assert rng.state["stream"] == 3
    # Independent of what came before: the same call on a fresh generator at stream 2.
    again = getattr(fi.Generator(2024, stream=2), name)(*_copy(args), **kwargs)
    if not in_place:
        np.testing.assert_array_equal(again, reference)


@pytest.mark.parametrize("name", DELEGATED)
def test_arguments_written_out_at_their_defaults_give_the_same_call(name):
    # Arguments that are their parameters' defaults are not passed on to NumPy (numpy_call):
    # with every argument written out, the call gives NumPy's values on the same stream.
    args, kwargs = CALLS[name]
    signature = inspect.signature(getattr(fi.Generator, name))
    bound = signature.bind(None, *args, **kwargs)
    bound.apply_defaults()
    kinds = {k: signature.parameters[k].kind for k in bound.arguments}
    positional = tuple(v for k, v in list(bound.arguments.items())[1:]
                       if kinds[k] is inspect.Parameter.POSITIONAL_OR_KEYWORD)
    keywords = {k: v for k, v in bound.arguments.items()
                if kinds[k] is inspect.Parameter.KEYWORD_ONLY}
    outputs = []
    for rng, call_args, call_kwargs in ((fi.Generator(9, stream=4), positional, keywords),
                                        (fi.Generator(9, stream=4), args, kwargs),
                                        (at_stream(9, 4), positional, keywords)):
        copied = _copy(call_args)
        out = getattr(rng, name)(*copied, **call_kwargs)
        outputs.append(copied[0] if name == "shuffle" else out)
    np.testing.assert_array_equal(outputs[0], outputs[2])
    np.testing.assert_array_equal(outputs[1], outputs[2])


# (low, high, endpoint): every branch of NumPy's bounded fills (width 0, a 32-bit width, the full
# 32-bit and 64-bit widths, Lemire with heavy rejection near 2**31 and 2**63, negative bounds).
BOUNDS = [(5, 6, False), (5, 5, True), (0, 1000, False), (-7, 13, True), (0, 2**31 + 1, False),
          (-2**31, 2**31 - 1, True), (0, 2**32, False), (0, 2**32 - 1, True), (3, 2**40, False),
          (-2**63, 2**63 - 1, True), (0, 2**62 + 2**61, False), (-2**62, 2**62 + 1, False),
          (10, None, False), (2**31 - 2, 2**31 - 1, True)]


def _fits(low, high, endpoint, dtype):
    bits = np.dtype(dtype).itemsize * 8
    top = (high if high is not None else low) - (not endpoint)
    return -2**(bits - 1) <= low and top <= 2**(bits - 1) - 1


@pytest.mark.parametrize("low, high, endpoint, dtype", [
    (*b, dt) for b in BOUNDS for dt in (np.int32, np.int64, "int64", int) if _fits(*b, dt)])
def test_compiled_integers_equal_numpys_code_on_the_same_stream(low, high, endpoint, dtype):
    ours = fi.Generator(41, stream=3).integers(low, high, size=(700, 3), dtype=dtype,
                                               endpoint=endpoint)
    theirs = at_stream(41, 3).integers(low, high, size=(700, 3), dtype=dtype, endpoint=endpoint)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("size", [(), 1, (1,), np.int64(5), (2, 0), 0])
def test_integers_sizes_match_numpy(size):
    ours = fi.Generator(2, stream=7).integers(0, 100, size=size, dtype=np.int32)
    theirs = at_stream(2, 7).integers(0, 100, size=size, dtype=np.int32)
    assert type(ours) is type(theirs) and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_compiled_integers_equal_numpys_code_over_many_buffers():
    for low, high in ((0, 10), (0, 2**63 - 2**61)):
        ours = fi.Generator(9, stream=5).integers(low, high, 300_001)
        np.testing.assert_array_equal(ours, at_stream(9, 5).integers(low, high, 300_001))


@pytest.mark.parametrize("level", _simd.available_levels())
def test_compiled_integers_are_the_same_on_every_simd_level(level):
    expected = at_stream(6, 1).integers(-100, 100, 5000, dtype=np.int32)
    with _simd.using_level(level):
        ours = fi.Generator(6, stream=1).integers(-100, 100, 5000, dtype=np.int32)
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("make", [
    lambda: np.arange(2), lambda: np.arange(1001, dtype=np.int32),
    lambda: np.linspace(0, 1, 5000, dtype=np.float32), lambda: np.arange(777.0),
    lambda: (np.arange(300) + 1j).astype(np.complex64),
    lambda: np.arange(600)[::2],                             # strided: NumPy's own code
    lambda: np.arange(100, dtype=np.int16),                  # 2-byte items: NumPy's own code
    lambda: np.arange(24).reshape(6, 4)])                    # 2-d: NumPy's own code
def test_shuffle_equals_numpys_code_on_the_same_stream(make):
    ours, theirs = make(), make()
    fi.Generator(8, stream=4).shuffle(ours)
    at_stream(8, 4).shuffle(theirs)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("n", [2, 3, 1000, 2**17 + 3])
def test_permutation_of_an_int_equals_numpys_code(n):
    np.testing.assert_array_equal(fi.Generator(8, stream=4).permutation(n),
                                  at_stream(8, 4).permutation(n))


def test_large_calls_read_many_blocks_of_their_own_stream():
    rng = fi.default_rng(3)
    perm = rng.permutation(1_000_000)
    np.testing.assert_array_equal(np.sort(perm), np.arange(1_000_000))
    np.testing.assert_array_equal(perm, at_stream(3, 0).permutation(1_000_000))
    assert rng.state["stream"] == 1


# (args, kwargs) that NumPy refuses, for each delegated method.
BAD_CALLS = {
    "beta": ((-1.0, 2.0), {}),
    "binomial": ((10, 1.5), {}),
    "bytes": (("ten",), {}),
    "chisquare": ((0.0,), {}),
    "choice": ((5, 10), {"replace": False}),
    "dirichlet": (([1.0, -1.0],), {}),
    "exponential": ((-1.0,), {}),
    "f": ((0.0, 1.0), {}),
    "gamma": ((-1.0,), {}),
    "geometric": ((0.0,), {}),
    "gumbel": ((0.0, -1.0), {}),
    "hypergeometric": ((5, 5, 11), {}),
    "integers": ((5, 1), {}),
    "laplace": ((0.0, -1.0), {}),
    "logistic": ((0.0, -1.0), {}),
    "lognormal": ((0.0, -1.0), {}),
    "logseries": ((1.5,), {}),
    "multinomial": ((10, [1.5, 0.2]), {}),
    "multivariate_hypergeometric": (([3, 4], 10), {}),
    "multivariate_normal": (([0.0, 0.0], [[1.0, 0.0]]), {}),
    "negative_binomial": ((5, 1.5), {}),
    "noncentral_chisquare": ((3.0, -1.0), {}),
    "noncentral_f": ((3.0, 4.0, -1.0), {}),
    "pareto": ((-1.0,), {}),
    "permutation": ((np.arange(4),), {"axis": 3}),
    "permuted": ((np.arange(4),), {"axis": 2}),
    "poisson": ((-1.0,), {}),
    "power": ((-1.0,), {}),
    "rayleigh": ((-1.0,), {}),
    "shuffle": (("abc",), {}),
    "standard_cauchy": ((-1,), {}),
    "standard_exponential": ((5,), {"dtype": np.int32}),
    "standard_gamma": ((-1.0,), {}),
    "standard_t": ((0.0,), {}),
    "triangular": ((1.0, 0.0, 2.0), {}),
    "vonmises": ((0.0, -1.0), {}),
    "wald": ((1.0, -1.0), {}),
    "weibull": ((-1.0,), {}),
    "zipf": ((0.5,), {}),
}


def _raised(call):
    try:
        call()
    except Exception as exc:                    # noqa: BLE001 - the type is what is compared
        return type(exc), str(exc)
    return None


@pytest.mark.parametrize("name", DELEGATED)
def test_bad_arguments_raise_numpys_error_and_change_nothing(name):
    args, kwargs = BAD_CALLS[name]
    expected = _raised(lambda: getattr(np.random.default_rng(0), name)(*args, **kwargs))
    assert expected is not None, f"NumPy accepted the bad call of {name}"
    rng = fi.default_rng(0)
    rng.random()
    state = rng.bit_generator.state
    assert _raised(lambda: getattr(rng, name)(*args, **kwargs)) == expected
    assert rng.bit_generator.state == state
    # The next call gets the stream the failed one would have had.
    np.testing.assert_array_equal(rng.integers(0, 10, 5),
                                  fi.Generator(0, stream=1).integers(0, 10, 5))


def test_concurrent_delegated_calls_take_distinct_streams():
    rng = fi.default_rng(77)
    results: dict[int, list] = {}

    def worker(t):
        results[t] = [rng.integers(0, 2**62, size=64) for _ in range(100)]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = sorted(tuple(a) for r in results.values() for a in r)
    expected = sorted(tuple(fi.Generator(77, stream=s).integers(0, 2**62, size=64))
                      for s in range(400))
    assert got == expected
    assert rng.state["stream"] == 400


@pytest.mark.parametrize("shared", [False, True])
def test_concurrent_numpy_calls_take_distinct_streams(shared):
    # NumPy's code over a per-thread Philox, with the Generator's own Philox private or
    # reachable by other code (then the take holds its lock).
    rng = fi.default_rng(78)
    if shared:
        assert isinstance(rng.bit_generator, fi.Philox)
    results: dict[int, list] = {}

    def worker(t):
        results[t] = [tuple(rng.standard_exponential(8)) for _ in range(100)]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = sorted(tuple(fi.Generator(78, stream=s).standard_exponential(8))
                      for s in range(400))
    assert sorted(a for r in results.values() for a in r) == expected
    assert rng.state["stream"] == 400


def test_shared_bit_generator_under_threads_hands_out_each_stream_once():
    # Calls of the Generator and direct NumPy reads of its bit generator, in parallel.
    rng = fi.default_rng(5)
    numpy_gen = np.random.Generator(rng.bit_generator)
    taken: list[int] = []

    def calls():
        for _ in range(200):
            taken.append(int(rng.random_raw(1)[0]))

    def reads():
        for _ in range(200):
            numpy_gen.integers(0, 10, 10)

    threads = [threading.Thread(target=f) for f in (calls, calls, reads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    firsts = {int(fi.Generator(5, stream=s).random_raw(1)[0]): s for s in range(2000)}
    streams = [firsts[w] for w in taken]
    assert len(set(streams)) == 400


# -- statistics of the delegated methods ----------------------------------------------------------

ALPHA = 1e-4


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integers_are_uniform(dtype):
    draws = fi.default_rng(31).integers(-7, 13, size=200_000, dtype=dtype)
    assert draws.dtype == dtype and draws.min() == -7 and draws.max() == 12
    counts = np.bincount(draws + 7, minlength=20)
    assert stats.chisquare(counts).pvalue > ALPHA


def test_exponential_and_gamma_pass_ks():
    rng = fi.default_rng(32)
    assert stats.kstest(rng.exponential(2.0, 100_000), stats.expon(scale=2.0).cdf).pvalue > ALPHA
    assert stats.kstest(rng.gamma(0.7, 3.0, 100_000),
                        stats.gamma(0.7, scale=3.0).cdf).pvalue > ALPHA
    assert stats.kstest(rng.standard_exponential(100_000, dtype=np.float32),
                        stats.expon.cdf).pvalue > ALPHA


def test_permutations_are_uniform():
    rng = fi.default_rng(33)
    index = {p: i for i, p in enumerate(__import__("itertools").permutations(range(4)))}
    counts = np.zeros(24)
    for _ in range(24_000):
        counts[index[tuple(rng.permutation(4))]] += 1
    assert stats.chisquare(counts).pvalue > ALPHA


# -- NumPy's own bit-generator tests --------------------------------------------------------------
# numpy/random/tests/test_direct.py and test_smoke.py, from the installed numpy package, run
# against fastinit.Philox (and, for the smoke tests, fastinit.Generator too).

class TestNumpyDirect(test_direct.Base):
    @classmethod
    def setup_class(cls):
        cls.bit_generator = fi.Philox
        cls.bits = 32
        cls.dtype = np.uint32
        cls.data1 = cls._read_csv(DATA / "philox-testset-1.csv")
        cls.data2 = cls._read_csv(DATA / "philox-testset-2.csv")
        cls.seed_error_type = TypeError
        cls.invalid_init_types = [(1.5,), ("seed",), (None, 2)]
        cls.invalid_init_values = [(-1,), ([-1],), ([2**200, -5],)]

    # Base's two tests below assume MT19937's double from two words, ((a >> 5) * 2**26 +
    # (b >> 6)) * 2**-53, for every 32-bit generator.  fastinit.Philox makes its doubles as its
    # float64 random() does (docs/numpy.md): the same checks, with that construction.
    def _doubles(self, words):
        u64 = words[0::2].astype(np.uint64) | (words[1::2].astype(np.uint64) << np.uint64(32))
        return (u64 >> np.uint64(11)) * (1.0 / 9007199254740992.0)

    def test_uniform_double(self):
        for data in (self.data1, self.data2):
            uniforms = np.random.Generator(self.bit_generator(*data["seed"])).random(500)
            np.testing.assert_array_equal(uniforms, self._doubles(data["data"]))

    def test_gauss_inv(self):
        # The legacy polar method of RandomState, from the documented doubles.
        for data in (self.data1, self.data2):
            gauss = np.random.RandomState(self.bit_generator(*data["seed"])).standard_normal(25)
            doubles = self._doubles(data["data"])
            expected, loc = [], 0
            while len(expected) < 25:
                x1, x2 = 2.0 * doubles[loc] - 1.0, 2.0 * doubles[loc + 1] - 1.0
                loc += 2
                r2 = x1 * x1 + x2 * x2
                if r2 >= 1.0 or r2 == 0.0:
                    continue
                f = np.sqrt(-2.0 * np.log(r2) / r2)
                expected += [f * x2, f * x1]
            np.testing.assert_allclose(gauss, expected[:25], rtol=1e-15)


class TestNumpySmokeOnPhilox(test_smoke.RNG):
    @classmethod
    def _create_rng(cls):
        seed = [12345]
        return test_smoke.RNGData(fi.Philox, 2**63 + 2**31 + 2**15 + 1, seed,
                                  np.random.Generator(fi.Philox(*seed)), 64)


class TestNumpySmokeOnFastinitGenerator(test_smoke.RNG):
    """The same smoke tests with fastinit.default_rng as the generator under test."""

    @classmethod
    def _create_rng(cls):
        seed = [12345]
        return test_smoke.RNGData(fi.Philox, 2**63 + 2**31 + 2**15 + 1, seed,
                                  fi.default_rng(*seed), 64)
