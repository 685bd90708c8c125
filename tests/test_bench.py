"""The main job, ``python -m fastinit bench``: it runs, covers its matrix and reports ratios.

No timing is asserted (timings belong in benchmarks/); only that every cell was measured and
that the ratios are the ratios of the times reported beside them.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from fastinit._core import simd as _simd
from fastinit.bench import fills

FILLS = ["uniform", "normal", "truncated_normal"]


def _bench_json(*args):
    result = subprocess.run(
        [sys.executable, "-m", "fastinit", "bench", "--size", "140000", "--repeats", "2",
         "--json", *args],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bench_json_has_every_fill_and_dtype_with_consistent_ratios():
    pytest.importorskip("ml_dtypes")
    result = _bench_json("--dtype", "all", "--threads", "2")
    machine = result["machine"]
    assert machine["simd"] == _simd.level and machine["threads"] == 2
    rows = {(r["fill"], r["dtype"]): r for r in result["rows"]}
    assert set(rows) == {(f, d) for f in FILLS
                         for d in ("float32", "float64", "float16", "bfloat16")}
    for r in rows.values():
        for key in ("fastinit_1_thread_s", "fastinit_threads_s", "numpy_s", "memset_s"):
            assert r[key] > 0
        assert r["vs_numpy"] == pytest.approx(r["numpy_s"] / r["fastinit_1_thread_s"])
        assert r["threads_vs_memset"] == pytest.approx(r["memset_s"] / r["fastinit_threads_s"])
        assert r["vs_raw_words"] == pytest.approx(r["raw_words_s"] / r["fastinit_1_thread_s"])
        if r["torch_s"] is not None:
            assert r["vs_torch"] == pytest.approx(r["torch_s"] / r["fastinit_1_thread_s"])
    methods = {r["method"]: r for r in result["numpy_methods"]}
    assert {"integers int32 [0, 1000)", "integers int64 [0, 2**40)", "permutation"} <= set(methods)
    for r in methods.values():
        assert r["fastinit_s"] > 0 and r["numpy_s"] > 0
        assert r["vs_numpy"] == pytest.approx(r["numpy_s"] / r["fastinit_s"])


@pytest.mark.parametrize("level", _simd.available_levels())
def test_bench_table_names_the_level_it_timed(level):
    result = subprocess.run(
        [sys.executable, "-m", "fastinit", "bench", "--size", "5000", "--repeats", "1",
         "--dtype", "float32", "--threads", "1", "--simd", level],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert f"SIMD {level} " in result.stdout
    assert sum(line.startswith(tuple(FILLS)) for line in result.stdout.splitlines()) == 3
    assert sum(line.startswith(("integers", "permutation"))
               for line in result.stdout.splitlines()) == 3


@pytest.mark.parametrize("a, b", [(-2.0, 2.0), (0.5, 1.0)])
def test_numpy_reference_truncated_normal_stays_in_bounds(a, b):
    out = np.empty(20_000, np.float32)
    fills.numpy_truncated_normal(np.random.default_rng(0), out, a, b)
    assert out.min() >= a and out.max() <= b
    assert len(np.unique(out)) > 19_000      # redrawn, not clamped to the bounds


def test_bench_model_times_every_case_and_reports_their_ratios():
    """``bench --model small``: every case ran (each in its own process) and the table's ratios
    are the ratios of the times it reports.  No timing is asserted."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from fastinit.bench import model as bench_model

    result = subprocess.run(
        [sys.executable, "-m", "fastinit", "bench", "--model", "small", "--dtype", "bfloat16",
         "--threads", "2", "--repeats", "1", "--json"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["machine"]["threads"] == 2
    assert data["model"]["parameters"] == bench_model.parameter_count("small")
    cold, warm = data["rows"]
    assert (cold["dtype"], cold["memory"], warm["dtype"], warm["memory"]) == (
        "bfloat16", "cold", "bfloat16", "warm")
    cases = {"floor", "construct", "fast_init", "reset_parameters", "materialize",
             "materialize_fills"}
    assert set(cold["seconds"]) == cases
    assert set(warm["seconds"]) == cases | {"torch_2sigma", "fastinit_2sigma", "torch_default",
                                            "fastinit_default"}
    table = bench_model.format_table(data)
    for row in (cold, warm):
        t = row["seconds"]
        assert all(seconds > 0 for seconds in t.values())
        assert f"{t['construct'] / t['materialize']:.2f}x construction" in table
    t = warm["seconds"]
    assert f"{t['torch_2sigma'] / t['fastinit_2sigma']:.1f}x torch" in table


def test_bench_checkpoint_measures_every_case(tmp_path):
    """bench --checkpoint small: every case ran, wrote the whole file and removed it, and the
    ratios are those of the times."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("safetensors")
    result = subprocess.run([sys.executable, "-m", "fastinit", "bench", "--checkpoint", "small",
                             "--dtype", "bfloat16", "--json"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    cases = report["dtypes"]["bfloat16"]["cases"]
    assert set(cases) == {"disk", "write_safetensors", "save_initialized", "torch"}
    assert all(c["seconds"] > 0 and c["peak_rss"] > 0 for c in cases.values())
    assert report["dtypes"]["bfloat16"]["bytes"] > 35 << 20
    assert list(tmp_path.iterdir()) == []                      # the files are removed


def test_the_benchmark_spec_is_the_llama_models_own_init(tmp_path):
    """write_safetensors of bench's Llama spec writes the data save_initialized writes for the
    real (meta) model: the spec is transformers' _init_weights, name for name."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("safetensors")
    import fastinit.torch
    from safetensors.torch import load_file
    from fastinit.bench import checkpoint as bench_checkpoint
    from fastinit.io import write_safetensors

    write_safetensors(tmp_path / "spec.safetensors",
                      bench_checkpoint.llama_spec("small", "bfloat16"), 4)
    cfg = transformers.LlamaConfig(**bench_checkpoint.PRESETS["small"],
                                   tie_word_embeddings=False)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(cfg)
    fastinit.torch.save_initialized(model, tmp_path / "model.safetensors", 4,
                                    dtype=torch.bfloat16)
    ours, theirs = (load_file(str(tmp_path / f)) for f in ("spec.safetensors",
                                                           "model.safetensors"))
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_bench_dask_measures_every_case(tmp_path):
    """bench --dask on a small array: every timing and ratio is there, and the Zarr stores and
    the plain file are removed."""
    pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    result = subprocess.run([sys.executable, "-m", "fastinit", "bench", "--dask", "--size",
                             str(1 << 22), "--repeats", "1", "--json"],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    seconds = report["seconds"]
    assert set(seconds) == {"local fill, warm array", "local fill, new array",
                            "fastinit.dask in memory", "dask random in memory",
                            "dask ones in memory (floor)",
                            "disk plain write", "fastinit.dask to zarr", "dask random to zarr"}
    assert all(s > 0 for s in seconds.values())
    assert report["ratios"]["in memory vs dask random"] == pytest.approx(
        seconds["dask random in memory"] / seconds["fastinit.dask in memory"])
    assert list(tmp_path.iterdir()) == []


def test_bench_small_times_every_method_against_numpy():
    result = subprocess.run([sys.executable, "-m", "fastinit", "bench", "--small", "--repeats",
                             "1", "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["small_calls"]
    names = {r["call"].split("(")[0] for r in rows}
    ours = {"random", "uniform", "standard_normal", "normal", "truncated_normal", "integers",
            "permutation", "shuffle"}
    # Every numpy.random.Generator method that draws values is timed.
    drawing = {m for m in dir(np.random.Generator) if not m.startswith("_")} - {
        "bit_generator", "spawn"}
    assert ours | drawing <= names
    for r in rows:
        assert r["fastinit_us"] > 0 and r["numpy_us"] > 0
        assert r["vs_numpy"] == pytest.approx(r["numpy_us"] / r["fastinit_us"])


@pytest.mark.parametrize("preload", [(), ("json",)], ids=["new interpreter", "fork server"])
def test_each_case_runs_in_a_process_of_its_own_and_failures_name_it(preload):
    """The harness of the fresh-process benchmarks, both ways: a case runs in another process
    than the caller's and than the previous case's, a failing case is a RuntimeError naming it
    with its traceback, and a case that kills its process is one too."""
    import os

    from fastinit.bench.harness import in_fresh_process

    first, peak = in_fresh_process("os", "getpid", what="pid", preload=preload)
    second, _ = in_fresh_process("os", "getpid", what="pid", preload=preload)
    assert len({first, second, os.getpid()}) == 3 and peak > 0
    with pytest.raises(RuntimeError, match="(?s)no such case failed.*nonexistent"):
        in_fresh_process("os", "nonexistent", what="no such case", preload=preload)
    with pytest.raises(RuntimeError, match="abort failed"):
        in_fresh_process("os", "abort", what="abort", preload=preload)
