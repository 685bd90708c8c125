"""Every instruction-set level gives the same bits, for every method and dtype."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastinit as fi
from fastinit import _generator, _simd

from conftest import DTYPES, METHODS, call

LEVELS = _simd.available_levels()
EXPECTED_PATH = {"avx2": "avx2", "avx512": "avx512"}

# Sizes around the vector widths and chunk edges (a chunk is 256 samples; the widest Philox path
# makes 32 blocks at a time), and a 2-D region that starts inside a block.
SIZES = [1, 3, 31, 257, 4097, 70_001]


def _outputs(method, dtype):
    rng = fi.default_rng(2024)
    outs = [np.atleast_1d(call(rng, method, size=n, dtype=dtype)) for n in SIZES]
    outs.append(call(rng, method, size=(37, 129), dtype=dtype, region=np.s_[5:30, 3:128]))
    return outs


def test_the_chosen_level_is_the_best_available():
    if os.environ.get("FASTINIT_SIMD"):
        pytest.skip("FASTINIT_SIMD chooses the level in this run")
    assert _simd.level == LEVELS[-1]


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_runs_its_own_module(level):
    with _simd.using_level(level) as module:
        assert _simd.kernels is module
        assert module.__name__ == f"fastinit._kernels_{level}"
        if level in EXPECTED_PATH:
            assert module.PHILOX_PATH == EXPECTED_PATH[level]


@pytest.mark.skipif(len(LEVELS) < 2, reason="only one SIMD level runs on this machine")
@pytest.mark.parametrize("method", METHODS)
def test_every_level_gives_the_same_bits(method, dtype):
    with _simd.using_level("baseline"):
        reference = _outputs(method, dtype)
    for level in LEVELS[1:]:
        with _simd.using_level(level):
            got = _outputs(method, dtype)
        for ref, out in zip(reference, got):
            assert out.dtype == ref.dtype
            assert out.tobytes() == ref.tobytes(), f"{level} differs from baseline"


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("method", METHODS)
def test_streaming_stores_give_the_same_bits(level, method, dtype, monkeypatch):
    from fastinit import _threads

    with _simd.using_level(level):
        plain = _outputs(method, dtype)
        # Stream every threaded fill, and thread every fill above 1000 elements.
        monkeypatch.setattr(_generator, "STREAMING_BYTES", 0)
        monkeypatch.setattr(_threads, "MIN_ELEMENTS_PER_THREAD", 1000)
        with fi.threads(2):
            streamed = _outputs(method, dtype)
    for a, b in zip(plain, streamed):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("level", LEVELS)
def test_streaming_kernel_path_gives_the_same_bits(level, dtype):
    """The kernels' streaming path itself, on unaligned ranges."""
    module = _simd.load(level)
    params = (0.0, 1.0, -np.inf, np.inf, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    for kind in (module.Kind.KIND_UNIFORM, module.Kind.KIND_NORMAL):
        a = np.empty(10_007, dtype)
        b = np.empty(10_007, dtype)
        module.fill(a, kind, (10_007,), (0,), 99, 5, params)
        module.fill(b[:3], kind, (10_007,), (0,), 99, 5, params, 0, 3, True)
        module.fill(b, kind, (10_007,), (0,), 99, 5, params, 3, 10_007, True)
        assert a.tobytes() == b.tobytes()


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})


@pytest.mark.parametrize("level", LEVELS)
def test_fastinit_simd_forces_a_level(level):
    result = _run("import fastinit; print(fastinit.show_config(False)['simd_level'])",
                  FASTINIT_SIMD=level)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == level


def test_an_unknown_level_is_a_clear_error():
    result = _run("import fastinit", FASTINIT_SIMD="sse9")
    assert result.returncode != 0
    assert "unknown SIMD level 'sse9'" in result.stderr


def test_a_level_the_cpu_lacks_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(_simd, "cpu_levels", lambda: ["baseline"])
    with pytest.raises(RuntimeError, match="does not support the avx512 kernels"):
        _simd.load("avx512")


def test_show_config_reports_level_threads_and_flags(capsys):
    config = fi.show_config()
    printed = capsys.readouterr().out
    assert config["simd_level"] == _simd.level
    assert config["num_threads"] == fi.get_num_threads()
    assert "-ffp-contract=off" in config["cflags"] or "/fp:precise" in config["cflags"]
    assert "-march=native" not in config["cflags"]
    assert f"simd_level      {_simd.level}" in printed
