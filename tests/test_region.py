"""region= gives exactly the slice of the full result, computed without it."""
import numpy as np
import pytest

import fastinit as fi

from conftest import METHODS, call

CASES = [
    ((1001,), np.s_[3:998]),           # starts inside a Philox block, odd length
    ((1001,), np.s_[1:2]),
    ((1001,), np.s_[-7:]),
    ((64, 129), np.s_[5:60, 17:129]),  # odd row length: runs start at every block offset
    ((64, 129), np.s_[10:11, :]),
    ((64, 129), np.s_[:, 3:4]),
    ((3, 5, 7, 11), np.s_[1:3, 0:5, 2:7, 1:10]),
    ((3, 5, 7, 11), np.s_[1:2, :, :, :]),
    ((2, 3, 4, 513), np.s_[:, 1:3, 1:2, 255:258]),
    # Across the chunks (1024 samples; the truncated normal's 4096 or 2048) at odd offsets.
    ((20001,), np.s_[4095:16387]),
    ((3, 5000), np.s_[:, 1:4999]),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape, region", CASES)
def test_region_equals_slice(method, shape, region, dtype):
    full = call(fi.default_rng(77), method, size=shape, dtype=dtype)
    part = call(fi.default_rng(77), method, size=shape, dtype=dtype, region=region)
    np.testing.assert_array_equal(part, full[region])


@pytest.mark.parametrize("a, b", [(0.0, np.inf), (8.0, 9.0), (-0.1, 0.1)])
def test_region_equals_slice_for_every_truncation_method(a, b, dtype):
    shape, region = (33, 65), np.s_[3:30, 1:64]
    full = fi.default_rng(5).truncated_normal(0, 1, a, b, size=shape, dtype=dtype)
    part = fi.default_rng(5).truncated_normal(0, 1, a, b, size=shape, dtype=dtype, region=region)
    np.testing.assert_array_equal(part, full[region])


def test_region_with_out_fills_in_place(dtype):
    full = fi.default_rng(8).normal(size=(100, 50), dtype=dtype)
    out = np.zeros((20, 30), dtype=dtype)
    ret = fi.default_rng(8).normal(size=(100, 50), dtype=dtype, out=out, region=np.s_[40:60, 10:40])
    assert ret is out
    np.testing.assert_array_equal(out, full[40:60, 10:40])


def test_shards_tile_the_whole():
    shape = (4096, 512)
    full = fi.default_rng(7).normal(size=shape, dtype=np.float32)
    for r in range(0, 4096, 1024):
        for c in range(0, 512, 256):
            region = np.s_[r:r + 1024, c:c + 256]
            part = fi.default_rng(7).normal(size=shape, dtype=np.float32, region=region)
            np.testing.assert_array_equal(part, full[region])


def test_empty_region_and_empty_size(dtype):
    assert fi.default_rng(1).random(size=(5, 0), dtype=dtype).shape == (5, 0)
    assert fi.default_rng(1).random(size=10, dtype=dtype, region=np.s_[4:4]).shape == (0,)


def test_array_parameters_with_region():
    loc = np.arange(12.0).reshape(3, 4)
    full = fi.default_rng(3).normal(loc, 0.5, size=(3, 4))
    part = fi.default_rng(3).normal(loc, 0.5, size=(3, 4), region=np.s_[1:3, 2:4])
    np.testing.assert_array_equal(part, full[1:3, 2:4])
