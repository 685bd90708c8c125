"""Every instruction-set level gives the same bits, for every method and dtype."""
import mmap
import os
import subprocess
import sys

import numpy as np
import pytest

import fastinit as fi
from fastinit import _generator
from fastinit._core import simd as _simd

from conftest import METHODS, call

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
        assert module.__name__ == f"fastinit._core.kernels_{level}"
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
    from fastinit._core import threads as _threads

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
@pytest.mark.parametrize("method", ["normal", "truncated_normal"])
@pytest.mark.parametrize("offset", [0, 1, 5, 16])
def test_streamed_chunks_give_the_same_bits_at_any_alignment(level, method, offset, monkeypatch):
    # The chunked kernels stream float32 from their L1 scratch: whole 64-byte lines non-temporal,
    # the partial lines at either end plain.  An output `offset` elements past a 64-byte line, on
    # one thread, so every chunk lands at the same misalignment.
    n = 3 * 4096 + 7
    with _simd.using_level(level):
        plain = call(fi.default_rng(7), method, size=n, dtype=np.float32)
        monkeypatch.setattr(_generator, "STREAMING_BYTES", 0)
        backing = np.full(n + 32, -1.0, np.float32)
        start = (-backing.ctypes.data % 64) // 4 + offset
        out = backing[start:start + n]
        with fi.threads(1):
            call(fi.default_rng(7), method, out=out, dtype=np.float32)
    assert out.tobytes() == plain.tobytes()
    assert (backing[:start] == -1).all() and (backing[start + n:] == -1).all()


def test_streaming_stores_go_to_touched_memory_only(monkeypatch):
    # A fresh buffer's pages are zeroed by the kernel just before the fill writes them (its
    # lines are then in cache): plain stores.  Touched, out-of-cache memory: streaming stores.
    from fastinit import _tensors

    if not sys.platform.startswith("linux"):
        pytest.skip("mincore is asked on Linux only")
    monkeypatch.setattr(_generator, "STREAMING_BYTES", 1 << 20)
    memory = mmap.mmap(-1, 16 << 20)                       # anonymous: never touched
    fresh = np.frombuffer(memory, np.uint8)
    assert not _tensors.mostly_resident(fresh.ctypes.data, fresh.nbytes)
    assert not _generator._streams(fresh)
    fresh[0] = fresh[-1] = 1                               # materialize's sentinels: still fresh
    assert not _tensors.mostly_resident(fresh.ctypes.data, fresh.nbytes)
    fresh[: 8 << 20] = 1                                   # half of it: 4 of the 8 pages asked
    assert not _tensors.mostly_resident(fresh.ctypes.data, fresh.nbytes)
    fresh[: 12 << 20] = 1                                  # 6 of 8
    assert _tensors.mostly_resident(fresh.ctypes.data, fresh.nbytes)
    assert _generator._streams(fresh)
    assert not _generator._streams(fresh[:1 << 19])        # below STREAMING_BYTES
    assert not _generator._streams(fresh.reshape(4096, 4096)[:, ::2])   # not contiguous
    fresh[:] = 1
    assert _tensors.mostly_resident(fresh.ctypes.data, fresh.nbytes)
    del fresh
    memory.close()


def _expected_uniform(words, dt, shift, scale, lo, hi):
    """min(max(shift + scale * u, lo), hi) from the words, in NumPy's arithmetic of the dtype."""
    if dt == np.float32:
        u = (words >> np.uint64(8)).astype(np.float32) * np.float32(2.0**-24)
    else:
        w64 = words[0::2] | (words[1::2] << np.uint64(32))
        u = (w64 >> np.uint64(11)).astype(np.float64) * 2.0**-53
    t = dt.type
    v = t(shift) + t(scale) * u
    v = np.where(v > t(lo), v, t(lo))
    return np.where(v < t(hi), v, t(hi)).astype(dt)


# (shift, scale, lo, hi) that exercise each step the fused path may skip (store.h): the add
# (shift +-0), the max (lo above shift; lo = -0), the min (v_max == hi, v_max below hi, hi = 0),
# and a scale so small that folding 2**-k into it would round (the chunked path then runs).
# scale = 0 makes every value 0, so the signed-zero rules act on every element, not on 1 in 2**24.
UNIFORM_MAPS = [(0.0, 1.0, 0.0, 1.0 - 2**-24), (-1.0, 2.0, -1.0, 1.0 - 2**-24),
                (-0.0, 1.0, -0.0, 0.5), (0.0, 1.0, -0.0, 2.0), (-3.0, 2.0, -2.0, -1.5),
                (1e-3, 2.0, 0.0, 1.0), (-1.0, 1.0, -1.0, 0.0), (0.25, 1e-42, 0.25, 1.0),
                (0.5, 0.0, 0.5, 0.5), (-0.0, 0.0, -0.0, 1.0), (-0.0, 0.0, -0.0, -0.0),
                (0.0, 0.0, 0.0, -0.0)]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("dt", [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint32)])
@pytest.mark.parametrize("streaming", [False, True])
def test_the_fused_path_is_the_documented_formula(level, dt, streaming):
    """The register path (store.h) at every address offset and first index, for each map."""
    module = _simd.load(level)
    n, key, stream = 3000, 0xFEEDFACE12345678, 9
    words_per_sample = 2 if dt == np.float64 else 1
    maps = UNIFORM_MAPS if dt != np.uint32 else [(0.0, 1.0, 0.0, 1.0)]
    if dt == np.float32:
        maps = maps + [(0.25, 1e-40, 0.25, 1.0)]       # subnormal float32 scale
    for first in (0, 1, 2, 3, 6):
        philox = fi.Philox(key=key, stream=stream)
        words = philox.random_raw(words_per_sample * (first + n)).astype(np.uint64)
        words = words[words_per_sample * first:]
        for shift, scale, lo, hi in maps:
            expected = words.astype(np.uint32) if dt == np.uint32 else _expected_uniform(
                words, dt, shift, scale, lo, hi)
            kind = module.Kind.KIND_RAW if dt == np.uint32 else module.Kind.KIND_UNIFORM
            params = (shift, scale, lo, hi, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
            for offset in range(0, 64, dt.itemsize):
                raw = np.zeros(n * dt.itemsize + 128, np.uint8)
                start = (-raw.ctypes.data) % 64 + offset
                out = raw[start:start + n * dt.itemsize].view(dt)
                module.fill(out, kind, (first + n,), (first,), key, stream, params, 0, -1,
                            streaming)
                assert out.tobytes() == expected.tobytes(), (first, offset, shift, scale)


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
    assert f"simd_level        {_simd.level}" in printed
    assert config["last_level_cache"] == _simd.last_level_cache_bytes() > 0
    assert config["streaming_bytes"] == 2 * _simd.usable_cache_bytes() == _generator.STREAMING_BYTES
    assert config["streaming_bytes"] <= 2 * config["last_level_cache"]


def test_the_last_level_cache_is_read_from_sysfs(tmp_path):
    for index, (kind, size) in enumerate([("Data", "48K"), ("Instruction", "32K"),
                                          ("Unified", "1024K"), ("Unified", "96M")]):
        (tmp_path / f"index{index}").mkdir()
        (tmp_path / f"index{index}" / "type").write_text(kind + "\n")
        (tmp_path / f"index{index}" / "size").write_text(size + "\n")
    assert _simd.last_level_cache_bytes(str(tmp_path)) == 96 << 20
    missing = str(tmp_path / "absent")
    assert _simd.last_level_cache_bytes(missing) == _simd.DEFAULT_LAST_LEVEL_CACHE_BYTES
    assert _simd.usable_cache_bytes(missing) == _simd.DEFAULT_LAST_LEVEL_CACHE_BYTES
    # No shared_cpu_list: the size as it is.
    assert _simd.usable_cache_bytes(str(tmp_path)) == 96 << 20


@pytest.mark.parametrize("cpus, usable_mib", [("0-1", 8), ("0-7,64-71", 64), ("0-63", 96),
                                              ("3", 4)])
def test_the_usable_cache_is_a_slice_per_cpu_sharing_it(tmp_path, cpus, usable_mib):
    # A VM's sysfs may report the host's L3 as shared by its few vCPUs.
    for index, (kind, size, shared) in enumerate([("Data", "48K", "0"),
                                                  ("Unified", "2048K", "0"),
                                                  ("Unified", "96M", cpus)]):
        entry = tmp_path / f"index{index}"
        entry.mkdir()
        (entry / "type").write_text(kind + "\n")
        (entry / "size").write_text(size + "\n")
        (entry / "shared_cpu_list").write_text(shared + "\n")
    assert _simd.last_level_cache_bytes(str(tmp_path)) == 96 << 20
    assert _simd.usable_cache_bytes(str(tmp_path)) == usable_mib << 20
    assert _simd.CACHE_SLICE_BYTES == 4 << 20


@pytest.mark.parametrize("triton", ["installed", "blocked"])
def test_show_config_says_what_fills_device_tensors_without_importing_triton(triton):
    block = "import sys; sys.modules['triton'] = None; " if triton == "blocked" else ""
    code = (block + "import sys, fastinit; c = fastinit.show_config(False)['device_kernels']; "
            "print(c); print('triton' in sys.modules and sys.modules['triton'] is not None, "
            "'torch' in sys.modules)")
    env = {k: val for k, val in os.environ.items() if k != "FASTINIT_DEVICE_KERNELS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    described, imported = done.stdout.strip().splitlines()
    assert imported == "False False"
    if triton == "blocked":
        assert described.startswith("none; ") and "fastinit[gpu]" in described
    else:
        pytest.importorskip("triton")
        from importlib import metadata
        assert described == f"triton {metadata.version('triton')}: CUDA tensors"
