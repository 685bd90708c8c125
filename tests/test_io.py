"""Files larger than memory: fill_npy, resume, bounded memory, info, and the command line."""
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastinit as fi
from fastinit import cli, io
from fastinit.io import _files

ml_dtypes = pytest.importorskip("ml_dtypes")


def _load(path):
    a = np.load(path)
    return a.view(ml_dtypes.bfloat16) if a.dtype.kind == "V" else a


@pytest.mark.parametrize("shape, dtype, chunk_bytes", [
    ((300, 200), "float32", 10_000),          # slabs of rows
    ((7, 50, 33), "float64", 1_000),          # a row is larger than a chunk: walk the lead axis
    ((1000,), "float16", 256),
    ((64, 3, 5, 5), "bfloat16", 1 << 20),     # one chunk
])
def test_file_equals_the_in_memory_fill(tmp_path, shape, dtype, chunk_bytes):
    path = tmp_path / "w.npy"
    result = io.fill_npy(path, shape, "glorot_normal", dtype, seed=11, chunk_bytes=chunk_bytes,
                         progress=False)
    expected = fi.initializers.GlorotNormal(seed=11)(shape, fi._validate.resolve_dtype(
        dtype, None, "test"))
    got = _load(path)
    assert got.shape == shape and got.dtype == expected.dtype
    assert got.tobytes() == expected.tobytes()
    assert result["bytes"] == expected.nbytes
    assert not (tmp_path / ("w.npy" + io.PROGRESS_SUFFIX)).exists()


@pytest.mark.parametrize("shape, chunk_bytes", [((300, 200), 10_000), ((7, 50, 33), 1_000),
                                               ((5, 4, 3, 2), 7), ((10,), 100), ((0, 5), 8)])
def test_chunks_cover_the_array_once_in_order(shape, chunk_bytes):
    chunks = _files.Chunks(shape, 8, chunk_bytes)
    covered = np.zeros(shape, np.int64)
    position = 0
    for index in range(len(chunks)):
        region = chunks[index]
        block = covered[region]
        assert block.nbytes <= max(chunk_bytes, 8 * shape[-1] if len(shape) else 8)
        assert _files.flat_offset(region, shape) == position          # contiguous, in order
        position += block.size
        covered[region] += 1
    assert (covered == 1).all() and position == covered.size


def test_a_shard_file_is_the_block_of_the_full_init(tmp_path):
    path = tmp_path / "shard.npy"
    io.fill_npy(path, (40, 30), {"class_name": "RandomNormal", "config": {"stddev": 0.02}},
                seed=5, chunk_bytes=512, progress=False, region=np.s_[10:30, 5:25])
    full = fi.initializers.RandomNormal(stddev=0.02, seed=5)((40, 30))
    np.testing.assert_array_equal(np.load(path), full[10:30, 5:25])


class HeUniform(fi.initializers.HeUniform):
    """fastinit's HeUniform, interrupted (as by Ctrl-C) at its fourth chunk (the first call is
    fill_npy's rehearsal on one element)."""
    calls = 0

    def __call__(self, *args, **kwargs):
        type(self).calls += 1
        if type(self).calls == 5:
            raise KeyboardInterrupt
        return super().__call__(*args, **kwargs)


def test_an_interrupted_fill_resumes_without_changing_a_value(tmp_path):
    path = tmp_path / "w.npy"
    args = dict(shape=(500, 64), dtype="float32", chunk_bytes=8192, progress=False)
    with pytest.raises(KeyboardInterrupt):
        io.fill_npy(path, init=HeUniform(), **args)         # no seed: one is drawn and recorded
    args["init"] = "he_uniform"
    record = json.loads((tmp_path / ("w.npy" + io.PROGRESS_SUFFIX)).read_text())
    assert record["done"] == 3
    seed = record["arguments"]["initializer"]["config"]["seed"]
    written = np.load(path)[:48].copy()                       # 3 chunks of 16 rows
    with pytest.raises(ValueError, match="other arguments"):
        io.fill_npy(path, **{**args, "shape": (500, 65)}, resume=True)
    io.fill_npy(path, **args, resume=True)
    expected = fi.initializers.HeUniform(seed=seed)((500, 64))
    got = np.load(path)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got[:48], written)
    assert not (tmp_path / ("w.npy" + io.PROGRESS_SUFFIX)).exists()


def test_resume_needs_an_interrupted_fill(tmp_path):
    with pytest.raises(ValueError, match="nothing to resume"):
        io.fill_npy(tmp_path / "none.npy", (4, 4), "zeros", resume=True, progress=False)


def test_memory_stays_bounded_while_filling_a_file_many_chunks_large(tmp_path):
    # 256 MiB written in 4 MiB chunks; peak RSS may grow by a few chunks, not by the file.
    code = textwrap.dedent(f"""
        import resource, sys
        import numpy as np
        from fastinit import io
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        io.fill_npy({str(tmp_path / 'big.npy')!r}, (4096, 16384), "he_normal", "float32",
                    seed=1, chunk_bytes=4 << 20, progress=False)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    growth = int(result.stdout)
    assert growth < 48 << 20, f"peak RSS grew by {growth / 2**20:.0f} MiB for 4 MiB chunks"
    assert os.path.getsize(tmp_path / "big.npy") >= 256 << 20


def test_npy_stats_streams_the_right_numbers(tmp_path):
    x = fi.default_rng(3).truncated_normal(0.5, 2.0, -1.0, 1.0, size=(300, 70), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    stats = io.npy_stats(tmp_path / "x.npy", chunk_bytes=4096)
    x64 = x.astype(np.float64)
    assert stats["shape"] == (300, 70) and stats["dtype"] == "float32"
    assert stats["mean"] == pytest.approx(x64.mean(), rel=1e-12)
    assert stats["std"] == pytest.approx(x64.std(), rel=1e-12)
    assert (stats["min"], stats["max"]) == (x64.min(), x64.max())
    assert stats["fraction_at_min"] == (x64 == x64.min()).mean()


# -- the command line --------------------------------------------------------------------------

def _cli(*args, pre=""):
    code = pre + "import sys; from fastinit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True)


def test_cli_init_then_info(tmp_path):
    path = tmp_path / "w.npy"
    result = _cli("init", path, "--shape", 300, 128, "--init", "he_normal", "--dtype", "bfloat16",
                  "--seed", 7, "--chunk-size", "16K")
    assert result.returncode == 0, result.stderr
    assert "HeNormal(seed=7)" in result.stdout
    assert re.search(r"wrote 75\.0 KiB in [\d.]+ s \([\d.]+ ([KMGT]iB|B)/s\)", result.stdout)
    assert "75.0 KiB in chunks of 16.0 KiB" in result.stdout       # sizes in human units
    assert result.stderr == ""                             # no bar for a small file
    expected = fi.initializers.HeNormal(seed=7)((300, 128), "bfloat16")
    assert _load(path).tobytes() == expected.tobytes()
    info = _cli("info", path, "--json")
    assert info.returncode == 0, info.stderr
    stats = json.loads(info.stdout)
    assert stats["shape"] == [300, 128] and stats["dtype"] == "bfloat16"
    assert stats["max"] == float(expected.astype(np.float64).max())


def test_cli_variance_scaling_options_and_region(tmp_path):
    path = tmp_path / "w.npy"
    result = _cli("init", path, "--shape", 40, 30, "--init", "he_normal", "--mode", "fan_out",
                  "--distribution", "uniform", "--seed", 2, "--region", "10:30,:20",
                  "--no-progress", "--threads", 1)
    assert result.returncode == 0, result.stderr
    init = fi.initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=2)
    np.testing.assert_array_equal(np.load(path), init((40, 30))[10:30, :20])
    assert result.stderr == ""


def test_cli_without_tqdm_prints_no_bar(tmp_path):
    result = _cli("init", tmp_path / "w.npy", "--shape", 100, 10, "--init", "zeros",
                  pre="import sys; sys.modules['tqdm'] = None; ")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("args, message", [
    (["--init", "he_gaussian"], "unknown init 'he_gaussian'"),
    (["--init", "he_normal", "--gain", "2"], "--gain does not apply"),
    (["--init", "zeros", "--seed", "3"], "--seed does not apply"),
    (["--init", "variance_scaling", "--distribution", "normal"], "ambiguous"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    result = _cli("init", tmp_path / "w.npy", "--shape", 4, 4, *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "w.npy").exists()


def test_cli_refuses_a_file_larger_than_the_disk(tmp_path):
    result = _cli("init", tmp_path / "w.npy", "--shape", 10**8, 10**8, "--init", "zeros")
    assert result.returncode == 2 and "GiB free" in result.stderr
    assert not (tmp_path / "w.npy").exists()


def test_cli_bfloat16_without_ml_dtypes_names_the_extra(tmp_path):
    result = _cli("init", tmp_path / "w.npy", "--shape", 4, 4, "--init", "ones", "--dtype",
                  "bfloat16", pre="import sys; sys.modules['ml_dtypes'] = None; ")
    assert result.returncode == 2 and "pip install fastinit[bf16]" in result.stderr


# -- progress bars on large in-memory fills ---------------------------------------------------

@pytest.mark.parametrize("method", ["random", "standard_normal", "truncated_normal"])
def test_progress_bar_on_large_fills_changes_nothing(method, monkeypatch, capsys):
    from fastinit import _generator, _progress
    monkeypatch.setattr(_progress, "PROGRESS_BYTES", 1 << 20)
    monkeypatch.setattr(_generator, "PROGRESS_STEP_BYTES", 100_000)
    plain = getattr(fi.default_rng(4), method)(size=(700, 1001), dtype=np.float32)
    capsys.readouterr()
    shown = getattr(fi.default_rng(4), method)(size=(700, 1001), dtype=np.float32, progress=True)
    assert "100%" in capsys.readouterr().err
    assert plain.tobytes() == shown.tobytes()
    monkeypatch.setitem(sys.modules, "tqdm", None)            # without tqdm: silent
    quiet = getattr(fi.default_rng(4), method)(size=(700, 1001), dtype=np.float32, progress=True)
    assert capsys.readouterr().err == "" and quiet.tobytes() == plain.tobytes()


@pytest.mark.parametrize("shape, exc", [((4.7, 3), TypeError), ("12", TypeError),
                                        ((True, 3), TypeError), ((-2, 3), ValueError),
                                        (None, TypeError)])
def test_fill_npy_reads_shapes_as_the_generator_does(tmp_path, shape, exc):
    path = tmp_path / "w.npy"
    with pytest.raises(exc):
        fi.fill_npy(path, shape, "he_normal", seed=0)
    assert not path.exists()


# -- full disks, file limits, corrupt and replaced files -------------------------------------------

def _interrupted_fill(path, shape=(2048, 1024), chunk_bytes=1 << 20):
    """A fill of ``path`` interrupted at its fourth chunk (record left for resume)."""
    HeUniform.calls = 0
    with pytest.raises(KeyboardInterrupt):
        io.fill_npy(path, shape, HeUniform(seed=1), "float32", chunk_bytes=chunk_bytes,
                    progress=False)


@pytest.mark.skipif(not hasattr(os, "posix_fallocate"), reason="posix_fallocate")
def test_the_whole_file_is_reserved_before_data_is_written(tmp_path):
    path = tmp_path / "w.npy"
    _interrupted_fill(path)                                    # 3 of 8 MiB written
    st = os.stat(path)
    assert st.st_size > 8 << 20
    assert st.st_blocks * 512 >= st.st_size                  # every block allocated, no holes


def test_a_file_larger_than_the_free_space_is_refused_naming_both_sizes(small_filesystem):
    path = small_filesystem / "w.npy"
    with pytest.raises(OSError, match=r"needs 32\.0 MiB but the disk has 1[0-9]\.\d MiB free"):
        io.fill_npy(path, (8192, 1024), "he_normal", seed=0, progress=False)
    assert list(small_filesystem.iterdir()) == []


def test_a_disk_that_fills_up_is_a_clean_oserror_before_any_data(small_filesystem, monkeypatch):
    """The free-space check passes (another writer takes the space after it: simulated by a
    free-space report that lies), then the filesystem refuses the reservation: OSError (ENOSPC),
    no SIGBUS, and nothing left behind."""
    import errno
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 40, 0, 1 << 40))
    path = small_filesystem / "w.npy"
    with pytest.raises(OSError) as info:
        io.fill_npy(path, (8192, 1024), "he_normal", seed=0, progress=False)
    assert info.value.errno == errno.ENOSPC
    assert list(small_filesystem.iterdir()) == []


def test_the_space_check_counts_the_file_being_replaced(small_filesystem):
    path = small_filesystem / "w.npy"
    np.save(path, np.zeros((3000, 1024), np.float32))          # 11.7 MiB of the 16
    io.fill_npy(path, (2500, 1024), "he_normal", seed=0, progress=False)   # 9.8 MiB
    np.testing.assert_array_equal(np.load(path),
                                  fi.initializers.HeNormal(seed=0)((2500, 1024)))


def test_a_file_size_limit_leaves_nothing_behind(tmp_path):
    code = textwrap.dedent(f"""
        import resource, fastinit as fi
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
        try:
            fi.fill_npy({str(tmp_path / "w.npy")!r}, (1024, 1024), "he_normal", seed=0,
                        progress=False)
        except OSError as exc:
            print("OSError", exc.errno)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "OSError"
    assert list(tmp_path.iterdir()) == []                    # no header-only .npy, no record


def test_a_corrupt_header_is_a_one_line_error(tmp_path):
    path = tmp_path / "w.npy"
    _interrupted_fill(path)
    with open(path, "r+b") as f:                             # break the header's dict literal
        f.seek(10)
        f.write(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2048, 1024(")
    with pytest.raises(ValueError, match="header is not the one these arguments write"):
        io.fill_npy(path, (2048, 1024), HeUniform(seed=1), "float32", chunk_bytes=1 << 20,
                    progress=False, resume=True)
    for argv, text in ((["info", str(path)], "not a valid .npy"),
                       (["init", str(path), "--shape", "2048", "1024", "--init", "he_uniform",
                         "--seed", "1", "--chunk-size", "1M", "--resume", "--no-progress"],
                        "header is not the one")):
        result = subprocess.run([sys.executable, "-m", "fastinit", *argv], capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and text in result.stderr


def test_resume_refuses_a_file_whose_header_was_replaced(tmp_path):
    path = tmp_path / "w.npy"
    _interrupted_fill(path)
    np.save(path, np.zeros((1024, 1024), np.float64))          # same bytes, other dtype and shape
    before = path.read_bytes()
    with pytest.raises(ValueError, match="header is not the one these arguments write"):
        io.fill_npy(path, (2048, 1024), HeUniform(seed=1), "float32", chunk_bytes=1 << 20,
                    progress=False, resume=True)
    assert path.read_bytes() == before


def test_info_counts_nan_and_inf_and_summarizes_the_finite_values(tmp_path, capsys):
    path = tmp_path / "w.npy"
    values = np.array([1.0, np.nan, -2.0, np.inf, 3.0, -np.inf, np.nan], np.float32)
    np.save(path, values)
    stats = io.npy_stats(path, chunk_bytes=16)                 # several blocks
    assert (stats["nan"], stats["posinf"], stats["neginf"], stats["finite"]) == (2, 1, 1, 3)
    assert (stats["min"], stats["max"]) == (-2.0, 3.0)
    assert stats["mean"] == pytest.approx(2 / 3)
    assert stats["std"] == pytest.approx(np.std([1, -2, 3]))
    assert cli.main(["info", str(path)]) == 0
    assert "2 NaN, 1 +inf, 1 -inf" in capsys.readouterr().out


@pytest.mark.parametrize("array", [np.zeros(4, np.complex64),
                                   np.zeros(4, [("a", np.int8), ("b", np.int8)])],
                         ids=["complex", "structured 2-byte"])
def test_info_refuses_what_it_cannot_summarize(tmp_path, array):
    path = tmp_path / "w.npy"
    np.save(path, array)
    with pytest.raises(TypeError, match="cannot summarize"):
        io.npy_stats(path)
    result = subprocess.run([sys.executable, "-m", "fastinit", "info", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_an_interrupted_info_does_not_suggest_resume(tmp_path, monkeypatch, capsys):
    path = tmp_path / "w.npy"
    np.save(path, np.zeros(4, np.float32))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "npy_stats", interrupted)
    assert cli.main(["info", str(path)]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "resume" not in err


def test_cli_shows_a_bar_from_the_threshold_on(tmp_path):
    result = _cli("init", tmp_path / "w.npy", "--shape", 300, 128, "--init", "he_normal",
                  "--seed", 7, "--chunk-size", "16K",
                  pre="import fastinit._progress as p; p.PROGRESS_BYTES = 1 << 10; ")
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr                         # the tqdm bar (bytes, rate, ETA)


def test_cli_refuses_to_replace_a_file_without_force(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.ones(3, np.float32))
    args = ("init", path, "--shape", 4, 4, "--init", "he_normal", "--seed", 1)
    refused = _cli(*args)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert refused.stdout == ""                            # nothing printed before the check
    np.testing.assert_array_equal(np.load(path), np.ones(3, np.float32))
    replaced = _cli(*args, "--force")
    assert replaced.returncode == 0, replaced.stderr
    np.testing.assert_array_equal(np.load(path), fi.initializers.HeNormal(seed=1)((4, 4)))


def test_cli_validates_before_printing(tmp_path):
    result = _cli("init", tmp_path / "w.npy", "--shape", 4, 4, "--init", "he_normal",
                  "--region", "0:9,:")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_version_and_help_have_no_markup():
    version = _cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"fastinit {fi.__version__}"
    for args in ([], ["init"], ["info"], ["bench"]):
        helped = _cli(*args, "--help")
        assert helped.returncode == 0 and "``" not in helped.stdout


# -- initializers without a local form ------------------------------------------------------------

def test_identity_is_written_in_bounded_memory(tmp_path):
    """4000 x 4000 float32 (64 MiB) in 1 MiB chunks: each chunk computes only its own block."""
    code = textwrap.dedent(f"""
        import resource, numpy as np, fastinit as fi
        fi.fill_npy({str(tmp_path / "warm.npy")!r}, (64, 64), "identity", progress=False)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fi.fill_npy({str(tmp_path / "eye.npy")!r}, (4000, 4000), {{"class_name": "Identity",
                    "config": {{"gain": 2.0}}}}, chunk_bytes=1 << 20, progress=False)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 24 << 20, "identity used more than a few chunks of memory"
    np.testing.assert_array_equal(np.load(tmp_path / "eye.npy"), 2.0 * np.eye(4000))


def test_orthogonal_is_factored_once_per_file(tmp_path, monkeypatch):
    calls = []
    qr = np.linalg.qr
    monkeypatch.setattr(np.linalg, "qr", lambda a, *args, **kw: calls.append(a.shape) or
                        qr(a, *args, **kw))
    path = tmp_path / "q.npy"
    io.fill_npy(path, (300, 200), {"class_name": "Orthogonal", "config": {"seed": 4}},
                chunk_bytes=4096, progress=False)                 # 59 chunks
    assert len(calls) == 1
    calls.clear()
    expected = fi.initializers.Orthogonal(seed=4)((300, 200))
    np.testing.assert_array_equal(np.load(path), expected)


def test_an_orthogonal_too_large_for_memory_is_refused_up_front(tmp_path):
    path = tmp_path / "q.npy"
    with pytest.raises(MemoryError, match=r"needs .* of memory .* more than the .* available"):
        io.fill_npy(path, (100_000, 100_000), {"class_name": "Orthogonal", "config": {"seed": 4}},
                    progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_mistyped_option_shows_the_subcommands_usage(tmp_path, capsys):
    from fastinit import cli

    path = tmp_path / "w.npy"
    with pytest.raises(SystemExit) as exit_:
        cli.main(["init", str(path), "--shape", "3", "--init", "zeros", "--sede", "3"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: fastinit init") and "unrecognized arguments: --sede 3" in err
    assert not path.exists()
