"""The NumPy-style Generator: seeding, size/out semantics, state, pickling, spawn, threads."""
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

import fastinit as fi
from fastinit._core import simd as _simd

from conftest import METHODS, call


@pytest.mark.parametrize("seed", [0, 12345, [1, 2, 3], np.random.SeedSequence(9)])
def test_seeds_as_numpy_reads_them(seed):
    a = fi.default_rng(seed).random(10)
    b = fi.default_rng(seed).random(10)
    np.testing.assert_array_equal(a, b)


def test_different_seeds_differ():
    assert not np.array_equal(fi.default_rng(1).random(10), fi.default_rng(2).random(10))


def test_none_seed_draws_entropy():
    assert fi.default_rng().key != fi.default_rng().key


def test_default_rng_returns_a_generator_unaltered():
    rng = fi.default_rng(3)
    assert fi.default_rng(rng) is rng


@pytest.mark.parametrize("method", METHODS)
def test_size_none_returns_python_scalar(method):
    x = call(fi.default_rng(1), method)
    assert isinstance(x, int if method == "random_raw" else float)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "random_raw"])
def test_scalar_is_the_first_element_of_an_array_call(method, dtype):
    x = call(fi.default_rng(4), method, dtype=dtype)
    arr = call(fi.default_rng(4), method, size=3, dtype=dtype)
    assert x == float(arr[0])


@pytest.mark.parametrize("size, shape", [(5, (5,)), ((2, 3), (2, 3)), ((), ())])
def test_size_shapes(size, shape):
    assert np.shape(fi.default_rng(0).normal(size=size)) == shape


@pytest.mark.parametrize("method", [m for m in METHODS if m != "random_raw"])
def test_out_fills_in_place_and_matches_the_allocating_call(method, dtype):
    out = np.empty((17, 3), dtype)
    ret = call(fi.default_rng(6), method, out=out)
    assert ret is out
    np.testing.assert_array_equal(out, call(fi.default_rng(6), method, size=(17, 3), dtype=dtype))


@pytest.mark.parametrize("method", [m for m in METHODS if m != "random_raw"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 0, 3), (70001,)],
                         ids=["0d", "empty", "small", "empty2d", "threaded"])
def test_out_alone_matches_the_allocating_call_for_every_shape(method, dtype, shape):
    # out= alone on a small buffer is checked and filled in one compiled step, larger ones go
    # through the thread pool: both give the allocating call's values and use one stream number.
    out = np.full(shape, 7, dtype)
    rng = fi.default_rng(8)
    assert call(rng, method, out=out) is out
    assert rng.state["stream"] == 1
    expected = np.asarray(call(fi.default_rng(8), method, size=shape, dtype=dtype))
    np.testing.assert_array_equal(out, expected)


# Call forms the compiled front end (fill_call) takes, and ones it hands to the general path.
SMALL_CALLS = [
    lambda rng: rng.random(1000),
    lambda rng: rng.random(1000, np.float32),
    lambda rng: rng.random((10, 3), dtype=np.dtype(np.float16)),
    lambda rng: rng.random(size=()),
    lambda rng: rng.random(0),
    lambda rng: rng.random(1000, dtype=float),
    lambda rng: rng.uniform(-1, 1, 1000),
    lambda rng: rng.uniform(0.5, 0.5, (4, 5), np.float32),
    lambda rng: rng.uniform(-1.0, 1.0, 999, "float32"),                  # a string dtype
    lambda rng: rng.uniform(-1.0, 1.0, np.int64(999)),                   # a NumPy integer
    lambda rng: rng.standard_normal((7, 9), np.float32),
    lambda rng: rng.normal(0, 0.02, 1000),
    lambda rng: rng.normal(0.0, 0.02, [10, 10]),                         # a list size
    lambda rng: rng.truncated_normal(0.0, 0.02, -2.0, 2.0, 1000, np.float32),
    lambda rng: rng.truncated_normal(1.0, 2.0, 0.0, 3.0, (3, 333)),
    lambda rng: rng.normal(0.0, 1.0, 70_001, np.float32),                # threaded
    lambda rng: rng.random(out=np.empty(100, np.float32)),
    lambda rng: rng.random(100, out=np.empty(100, np.float32)),
    lambda rng: rng.standard_normal(dtype=np.float32, out=np.empty(100, np.float32)),
    lambda rng: rng.normal(1.0, 2.0, (4, 25), out=np.empty((4, 25))),
]


def _general_path_only(monkeypatch):
    for level in _simd.available_levels():
        monkeypatch.setattr(_simd.load(level), "fill_call", lambda *args: None)


@pytest.mark.parametrize("index", range(len(SMALL_CALLS)))
def test_the_compiled_front_end_matches_the_general_path(index, monkeypatch):
    fill = SMALL_CALLS[index]
    rng = fi.default_rng(21)
    fast = [np.asarray(fill(rng)) for _ in range(2)]
    fast_state = rng.state
    _general_path_only(monkeypatch)
    rng = fi.default_rng(21)
    general = [np.asarray(fill(rng)) for _ in range(2)]
    assert rng.state == fast_state
    for a, b in zip(fast, general):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("bad, error", [
    (lambda rng: rng.random(-1), ValueError),
    (lambda rng: rng.random(10, np.int32), TypeError),
    (lambda rng: rng.uniform(1.0, 0.0, 10), ValueError),
    (lambda rng: rng.normal(0.0, -1.0, 10, np.float32), ValueError),
    (lambda rng: rng.random(5, out=np.empty(4, np.float32)), ValueError),
    (lambda rng: rng.random(out=np.empty(4, np.float32), dtype=np.float64), TypeError),
    (lambda rng: rng.normal(0.0, 1.0, (2, -3)), ValueError),
    (lambda rng: rng.random(2**62), (ValueError, MemoryError)),
    (lambda rng: rng.random(out=np.empty((8, 8), np.float64)[:, ::2]), ValueError),
    (lambda rng: rng.normal(0.0, 1.0, 5, np.dtype(">f8")), TypeError),
])
def test_the_compiled_front_end_refuses_like_the_general_path(bad, error, monkeypatch):
    rng = fi.default_rng(4)
    with pytest.raises(error) as fast:
        bad(rng)
    assert rng.state["stream"] == 0
    _general_path_only(monkeypatch)
    with pytest.raises(error) as general:
        bad(rng)
    assert rng.state["stream"] == 0
    assert type(fast.value) is type(general.value) and str(fast.value) == str(general.value)


def test_the_last_stream_number_is_usable_and_then_calls_fail_cleanly():
    rng = fi.default_rng(3)
    rng.state = {**rng.state, "stream": 2**64 - 1}
    out = np.zeros(4, np.float32)
    rng.random(out=out)
    assert out.any() and rng.state["stream"] == 2**64
    for fill in (lambda: rng.random(out=out), lambda: rng.random(4)):
        before = out.copy()
        with pytest.raises(OverflowError, match="2\\*\\*64 stream numbers"):
            fill()
        np.testing.assert_array_equal(out, before)
    assert rng.state["stream"] == 2**64


def test_out_dtype_sets_the_default_dtype():
    w = np.empty((4, 4), np.float32)
    fi.default_rng(0).uniform(-0.1, 0.1, out=w)
    assert np.all(np.abs(w) <= 0.1)


def test_out_with_memmap(tmp_path):
    path = tmp_path / "w.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(300, 7))
    fi.default_rng(1).normal(out=mm)
    mm.flush()
    back = np.fromfile(path, dtype=np.float32).reshape(300, 7)
    np.testing.assert_array_equal(back, fi.default_rng(1).normal(size=(300, 7), dtype=np.float32))


def test_state_round_trip_continues_the_stream():
    rng = fi.default_rng(10)
    rng.random(5)
    state = rng.state
    a = rng.normal(size=100)
    rng.state = state
    np.testing.assert_array_equal(rng.normal(size=100), a)


def test_pickle_continues_the_stream():
    rng = fi.default_rng(11)
    rng.random(3)
    clone = pickle.loads(pickle.dumps(rng))
    assert clone.state == rng.state
    np.testing.assert_array_equal(clone.normal(size=50), rng.normal(size=50))
    assert [c.key for c in clone.spawn(2)] == [c.key for c in rng.spawn(2)]


DATA = Path(__file__).parent / "data"


def test_pickles_from_before_the_engine_moved_still_load():
    """Pickles written by 0.2.0.dev0, when Philox lived in fastinit._bit_generator (made by
    `pickle.dumps(..., protocol=4)` of Philox(1234) after np.random.Generator(bg).random(7), and
    of default_rng(5) after standard_normal(3)): they load and continue where they stood."""
    old_bg = (DATA / "philox_0.2.0.dev0.pickle").read_bytes()
    old_rng = (DATA / "generator_0.2.0.dev0.pickle").read_bytes()
    assert b"fastinit._bit_generator" in old_bg and b"fastinit._bit_generator" in old_rng
    bg = pickle.loads(old_bg)
    fresh = fi.Philox(1234)
    np.random.Generator(fresh).random(7)
    assert type(bg) is fi.Philox and bg.state == fresh.state
    np.testing.assert_array_equal(bg.random_raw(9), fresh.random_raw(9))
    rng = pickle.loads(old_rng)
    again = fi.default_rng(5)
    again.standard_normal(3)
    assert rng.state == again.state
    np.testing.assert_array_equal(rng.normal(size=20), again.normal(size=20))
    # New pickles name the engine's own module.
    assert b"fastinit._core.bit_generator" in pickle.dumps(fi.Philox(1))


def test_spawn_gives_independent_reproducible_children():
    kids = fi.default_rng(12).spawn(3)
    assert len({k.key for k in kids}) == 3
    again = fi.default_rng(12).spawn(3)
    assert [k.key for k in kids] == [k.key for k in again]
    seq = np.random.SeedSequence(12).spawn(3)
    assert kids[0].key == fi.Generator(seq[0]).key


def test_repr():
    r = repr(fi.Generator(key=0xABC))
    assert "Philox4x32-10" in r and "0x0000000000000abc" in r and "stream=0" in r


@pytest.mark.parametrize("style", ["size", "out"])
def test_concurrent_calls_take_distinct_streams(style):
    # Four threads, 50 calls each, on one generator: every call gets its own stream number.
    # out= on a small buffer is the compiled one-step path; size= the general one.
    rng = fi.default_rng(13)
    results = {}

    def worker(t):
        if style == "size":
            results[t] = [rng.random(1000, dtype=np.float32) for _ in range(50)]
        else:
            results[t] = [np.empty(1000, np.float32) for _ in range(50)]
            for buf in results[t]:
                rng.random(out=buf)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rng.state["stream"] == 200
    # Each call's output is one of the 200 streams, none repeated.
    expected = {}
    for s in range(200):
        g = fi.default_rng(13)
        g.state = {**g.state, "stream": s}
        expected[g.random(1000, dtype=np.float32).tobytes()] = s
    seen = [expected[a.tobytes()] for arrs in results.values() for a in arrs]
    assert sorted(seen) == list(range(200))


def test_stream_for_is_the_documented_hash():
    import hashlib

    for name in ["", "lm_head.weight", "model.layers.10.mlp.up_proj.weight", "ünïcode"]:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
        expected = int("".join(reversed([digest[i:i + 2] for i in range(0, 16, 2)])), 16)
        assert fi.stream_for(name) == expected
    assert fi.stream_for("a.weight") != fi.stream_for("a.bias")
    with pytest.raises(TypeError, match="str"):
        fi.stream_for(b"bytes")


def test_generator_stream_starts_there_and_advances():
    s = fi.stream_for("encoder.weight")
    named = fi.Generator(3, stream=s)
    moved = fi.Generator(3)
    moved.state = {**moved.state, "stream": s}
    assert np.array_equal(named.normal(size=1000), moved.normal(size=1000))
    assert named.state["stream"] == s + 1
    for bad, exc in [(-1, ValueError), (2**64, ValueError), (1.0, TypeError), (True, TypeError)]:
        with pytest.raises(exc, match="stream"):
            fi.Generator(3, stream=bad)


def test_an_exhausted_generators_state_can_be_set_back():
    rng = fi.Generator(5, stream=2**64 - 1)
    rng.random()
    state = rng.state
    assert state["stream"] == 2**64
    with pytest.raises(OverflowError, match="all 2\\*\\*64"):
        rng.random()
    other = fi.Generator(5)
    other.state = state                            # the exhausted state round-trips
    assert other.state == state
    with pytest.raises(OverflowError):
        other.random()
    with pytest.raises(ValueError, match="2\\*\\*64"):
        other.state = {**state, "stream": 2**64 + 1}
