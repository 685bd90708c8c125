"""fastinit info's statistics kernel (fastinit.io._summary) and its threaded, streamed pass,
against NumPy in float64 as the oracle."""
import math

import numpy as np
import pytest

import fastinit as fi
from fastinit.io import _stats
from fastinit.io._summary import merge, summarize_block


def _oracle(values):
    x = np.asarray(values, np.float64).reshape(-1)
    finite = x[np.isfinite(x)]
    return {"count": finite.size, "mean": finite.mean(), "std": finite.std(),
            "lo": finite.min(), "hi": finite.max(),
            "at_lo": np.count_nonzero(x == finite.min()),
            "at_hi": np.count_nonzero(x == finite.max()),
            "nan": np.count_nonzero(np.isnan(x)), "posinf": np.count_nonzero(x == np.inf),
            "neginf": np.count_nonzero(x == -np.inf)}


def _check(got, want):
    assert got["count"] == want["count"]
    assert got["mean"] == pytest.approx(want["mean"], rel=1e-12, abs=1e-15)
    assert math.sqrt(got["m2"] / got["count"]) == pytest.approx(want["std"], rel=1e-12)
    for key in ("lo", "hi", "at_lo", "at_hi", "nan", "posinf", "neginf"):
        assert got[key] == want[key], key


SIZES = [1, 7, 8, 2047, 2048, 2049, 10_000]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.int16, np.int32,
                                   np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("size", SIZES)
def test_the_kernel_equals_numpy(dtype, size):
    rng = np.random.default_rng(size)
    if np.dtype(dtype).kind == "f":
        values = (rng.standard_normal(size) * 3 + 1).astype(dtype)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(max(info.min, -1000), min(info.max, 1000), size, dtype=dtype,
                              endpoint=True)
    _check(summarize_block(values), _oracle(values))


@pytest.mark.parametrize("size", SIZES)
def test_non_finite_values_are_counted_and_left_out(size):
    values = np.random.default_rng(1).standard_normal(size).astype(np.float32)
    if size > 1:
        values[np.arange(0, size, 5)] = np.nan
        values[np.arange(1, size, 11)] = np.inf
        values[np.arange(2, size, 13)] = -np.inf
    _check(summarize_block(values), _oracle(values))


def test_a_block_of_only_nan_has_no_finite_statistics():
    got = summarize_block(np.full(3000, np.nan))
    assert got["count"] == 0 and got["nan"] == 3000


def test_bfloat16_words_are_read_exactly():
    floats = np.random.default_rng(2).standard_normal(5000).astype(np.float32)
    words = (floats.view(np.uint32) >> 16).astype(np.uint16)
    exact = (words.astype(np.uint32) << 16).view(np.float32)
    _check(summarize_block(words, True), _oracle(exact))


def test_a_pile_up_on_the_bounds_is_counted_across_tiles():
    values = np.clip(np.random.default_rng(3).standard_normal(9000), -1.5, 1.5)
    got = summarize_block(values)
    assert got["at_lo"] == np.count_nonzero(values == -1.5) > 100
    assert got["at_hi"] == np.count_nonzero(values == 1.5) > 100


def test_merging_two_blocks_equals_the_whole():
    values = np.random.default_rng(4).standard_normal(7001)
    merged = merge(summarize_block(values[:3000]), summarize_block(values[3000:]))
    _check(merged, _oracle(values))


def test_the_kernel_refuses_what_it_cannot_read():
    with pytest.raises(TypeError, match="1-D"):
        summarize_block(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="uint16 words"):
        summarize_block(np.zeros(2, np.float32), True)
    with pytest.raises(TypeError):
        summarize_block(np.zeros(2, np.complex64))


def test_the_file_pass_is_the_same_on_any_thread_count_and_reads_each_byte_once(tmp_path):
    path = tmp_path / "x.npy"
    values = np.random.default_rng(5).standard_normal((300, 77)).astype(np.float32)
    np.save(path, values)
    results = []
    for threads in (1, 2, 3):
        seen = []
        with fi.threads(threads):
            results.append(fi.npy_stats(path, chunk_bytes=4096, on_chunk=seen.append))
        assert sum(seen) == values.nbytes
    assert results[0] == results[1] == results[2]
    want = _oracle(values)
    assert results[0]["std"] == pytest.approx(want["std"], rel=1e-12)
    assert results[0]["fraction_at_min"] == want["at_lo"] / values.size


def test_a_truncated_file_is_an_oserror_from_the_threaded_pass(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.ones(100_000, np.float32))
    with open(path, "r+b") as f:
        f.truncate(2000)
    with pytest.raises(OSError, match="truncated"):
        with fi.threads(2):
            _stats.summarize_file(path, np.dtype(np.float32), 128, 100_000, 4096)
