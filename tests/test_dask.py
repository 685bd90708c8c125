"""fastinit.dask and Zarr: the same bits as in memory for any chunking, on the local scheduler
and on a real distributed.LocalCluster of two worker processes, a killed worker included."""
import math
import os
import pickle
import signal
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

import fastinit as fi

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")
ml_dtypes = pytest.importorskip("ml_dtypes")
import fastinit.dask  # noqa: E402
import fastinit.dask.init  # noqa: E402
from fastinit.io.zarr import read_zarr, write_zarr  # noqa: E402

SHAPE = (97, 66)
CHUNKINGS = [
    (32, 33),                                   # regular
    ((10, 40, 47), (1, 30, 35)),                # irregular
    ((1,) * 97, (66,)),                         # one chunk per row
    "auto",
]
DTYPES = ["float32", "float64", "float16", "bfloat16"]
METHODS = {
    "random": (),
    "uniform": (-0.5, 1.5),
    "standard_normal": (),
    "normal": (0.25, 2.0),
    "truncated_normal": (0.0, 1.0, -1.0, 2.0),
}


def _bits(a):
    return np.asarray(a).tobytes()


@pytest.mark.parametrize("chunks", CHUNKINGS, ids=["regular", "irregular", "rows", "auto"])
@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_any_chunking_gives_the_in_memory_bits(method, dtype, chunks):
    x = getattr(fastinit.dask.default_rng(4), method)(*METHODS[method], size=SHAPE, dtype=dtype,
                                                      chunks=chunks)
    want = getattr(fi.default_rng(4), method)(*METHODS[method], size=SHAPE, dtype=dtype)
    assert x.dtype == want.dtype and x.shape == want.shape
    assert _bits(x.compute(scheduler="threads")) == _bits(want)


def test_each_call_takes_one_stream_number_as_in_memory():
    lazy, eager = fastinit.dask.default_rng(9), fi.default_rng(9)
    for method, params in METHODS.items():
        x = getattr(lazy, method)(*params, size=(50, 3), chunks=(7, 3))
        assert _bits(x.compute()) == _bits(getattr(eager, method)(*params, size=(50, 3)))
    raw = lazy.random_raw(size=40, chunks=9)
    assert raw.dtype == np.uint32 and _bits(raw.compute()) == _bits(eager.random_raw(size=40))
    assert lazy.state == eager.state
    with pytest.raises(ValueError, match="scale < 0"):
        lazy.normal(0.0, -1.0, size=10)
    with pytest.raises(ValueError, match="chunks"):
        lazy.normal(size=10, chunks=(3, 3))
    with pytest.raises(TypeError, match="size is required"):
        lazy.normal()
    with pytest.raises(TypeError, match="scalar parameters"):
        lazy.normal(np.zeros(3), size=3)
    assert lazy.state == eager.state                    # rejected calls took no stream number


def test_the_graph_carries_no_arrays_and_pickles():
    x = fastinit.dask.default_rng(1).normal(size=(1000, 1000), chunks=(100, 1000),
                                            dtype="float32")
    graph = dict(x.__dask_graph__())
    assert len(graph) == 10
    for task in graph.values():
        assert not any(isinstance(part, np.ndarray) for part in task)
    assert len(pickle.dumps(graph)) < 10_000
    again = pickle.loads(pickle.dumps(graph))
    key = next(iter(again))
    function, *args = again[key]
    np.testing.assert_array_equal(function(*args), x.blocks[0].compute())


def test_a_task_holds_one_chunk():
    """The chunk function allocates its block and nothing of the size of the whole."""
    x = fastinit.dask.default_rng(1).truncated_normal(size=(4000, 1000), chunks=(500, 1000),
                                                      dtype="float32")
    function, *args = next(iter(dict(x.__dask_graph__()).values()))
    tracemalloc.start()
    block = function(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert block.nbytes == 500 * 1000 * 4
    assert peak < 1.25 * block.nbytes, f"a task peaked at {peak / block.nbytes:.2f} chunks"


@pytest.mark.parametrize("chunks", CHUNKINGS[:3], ids=["regular", "irregular", "rows"])
@pytest.mark.parametrize("name, args, kwargs", [
    ("kaiming_uniform", (math.sqrt(5),), {}),
    ("xavier_normal", (), {"gain": 2.0}),
    ("trunc_normal", (0.0, 0.02, -0.04, 0.04), {}),
    ("normal", (), {"std": 0.02}),
    ("orthogonal", (), {"gain": 1.5}),
    ("sparse", (0.25,), {}),
    ("eye", (), {}),
    ("ones", (), {}),
])
def test_init_functions_equal_the_in_memory_ones(name, args, kwargs, chunks):
    dask_function = getattr(fastinit.dask.init, name)
    memory_function = getattr(fi.init, name + "_")
    takes_generator = "generator" in memory_function.__code__.co_varnames
    extra = {"generator": fi.Generator(3)} if takes_generator else {}
    x = dask_function(SHAPE, *args, **kwargs, **extra, chunks=chunks, dtype="bfloat16")
    extra = {"generator": fi.Generator(3)} if takes_generator else {}
    want = memory_function(np.empty(SHAPE, ml_dtypes.bfloat16), *args, **kwargs, **extra)
    assert _bits(x.compute()) == _bits(want)


def test_init_functions_take_stream_numbers_as_in_memory():
    lazy, eager = fi.Generator(5), fi.Generator(5)
    for _ in range(2):
        fastinit.dask.init.sparse((20, 10), 0.5, generator=lazy, chunks=5)
        fi.init.sparse_(np.empty((20, 10), np.float32), 0.5, generator=eager)
        fastinit.dask.init.normal((20, 10), generator=lazy, chunks=5)
        fi.init.normal_(np.empty((20, 10), np.float32), generator=eager)
    assert lazy.state == eager.state
    with pytest.raises(ValueError, match="scale < 0"):
        fastinit.dask.init.normal((4, 4), 0.0, -1.0, generator=lazy)
    with pytest.raises(TypeError, match="unexpected keyword"):
        fastinit.dask.init.normal((4, 4), stdd=1.0, generator=lazy)
    assert lazy.state == eager.state


@pytest.mark.parametrize("init", [fi.initializers.HeNormal(seed=0), "glorot_uniform",
                                  {"class_name": "Orthogonal", "config": {"seed": 2}},
                                  fi.initializers.Identity(gain=2.0)],
                         ids=["HeNormal", "name", "Orthogonal", "Identity"])
def test_initializers_equal_the_in_memory_ones(init):
    shape = (3, 3, 32, 40) if not isinstance(init, fi.initializers.Identity) else (40, 40)
    x = fastinit.dask.initialize(init, shape, chunks=(3, 3, 8, 40)[-len(shape):],
                                 dtype="float16")
    obj = fi.initializers.get(init)
    if obj.get_config().get("seed", 0) is None:       # unseeded: the seed drawn is in the graph
        config = next(iter(dict(x.__dask_graph__()).values()))[1]
        obj = fi.initializers.get(config)
    assert _bits(x.compute()) == _bits(obj(shape, "float16"))


# -- Zarr, without a cluster ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_write_zarr_equals_the_initializer_in_memory(tmp_path, dtype):
    store = str(tmp_path / "w.zarr")
    result = write_zarr(store, (300, 70), "he_uniform", 7, chunks=(64, 32), dtype=dtype,
                        use_dask=False)
    assert not result["dask"] and result["chunks"] == (64, 32)
    want = fi.initializers.HeUniform(seed=7)((300, 70), dtype)
    assert _bits(read_zarr(store)) == _bits(want)
    recorded = dict(zarr.open_array(store).attrs["fastinit_initializer"])
    assert fi.initializers.get(recorded) == fi.initializers.HeUniform(seed=7)


def test_to_zarr_of_a_dask_array_reads_back(tmp_path):
    x = fastinit.dask.default_rng(2).normal(0, 0.02, size=(200, 50), chunks=(40, 50),
                                            dtype="float32")
    x.to_zarr(str(tmp_path / "x.zarr"))
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "x.zarr"))[...],
                                  fi.default_rng(2).normal(0, 0.02, size=(200, 50),
                                                           dtype="float32"))


def test_write_zarr_errors_before_creating_anything(tmp_path):
    with pytest.raises(ValueError, match="write_zarr: unknown init 'he_bogus'"):
        write_zarr(str(tmp_path / "a.zarr"), (4, 4), "he_bogus", 0)
    with pytest.raises(ValueError, match="chunks"):
        write_zarr(str(tmp_path / "a.zarr"), (4, 4), "he_normal", 0, chunks=(2,))
    with pytest.raises(TypeError, match="dtype"):
        write_zarr(str(tmp_path / "a.zarr"), (4, 4), "he_normal", 0, dtype="int32")
    with pytest.raises(ValueError, match="client"):
        write_zarr(str(tmp_path / "a.zarr"), (4, 4), "he_normal", 0, use_dask=True)
    assert list(tmp_path.iterdir()) == []
    write_zarr(str(tmp_path / "b.zarr"), (4, 4), "he_normal", 0)
    with pytest.raises(Exception, match="exist|array"):          # zarr's ContainsArrayError
        write_zarr(str(tmp_path / "b.zarr"), (4, 4), "he_normal", 0)
    write_zarr(str(tmp_path / "b.zarr"), (4, 4), "he_normal", 1, overwrite=True)


def test_cli_init_zarr(tmp_path, capsys):
    from fastinit import cli

    store = str(tmp_path / "weights.zarr")
    assert cli.main(["init", store, "--shape", "500", "64", "--init", "he_normal", "--seed",
                     "3", "--chunks", "100", "64"]) == 0
    np.testing.assert_array_equal(read_zarr(store),
                                  fi.initializers.HeNormal(seed=3)((500, 64)))
    assert zarr.open_array(store).chunks == (100, 64)
    assert "weights.zarr" in capsys.readouterr().out
    assert cli.main(["init", store, "--shape", "500", "64", "--init", "he_normal"]) == 2
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_cli_info_reads_a_zarr_store(tmp_path, capsys, dtype):
    import json

    from fastinit import cli

    store = str(tmp_path / "weights.zarr")
    assert cli.main(["init", store, "--shape", "300", "40", "--init", "he_normal", "--seed", "4",
                     "--chunks", "64", "40", "--dtype", dtype]) == 0
    capsys.readouterr()
    values = fi.initializers.HeNormal(seed=4)((300, 40), dtype).astype(np.float64)
    assert cli.main(["info", store, "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["shape"] == [300, 40] and stats["dtype"] == dtype
    assert stats["min"] == values.min() and stats["max"] == values.max()
    assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12, abs=1e-15)
    assert stats["std"] == pytest.approx(values.std(), rel=1e-12)


@pytest.mark.parametrize("command", [["init", "x.txt", "--shape", "4", "--init", "zeros"],
                                     ["info", "x.txt"]])
def test_cli_refuses_a_path_of_unknown_type(tmp_path, capsys, command, monkeypatch):
    from fastinit import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.txt").write_text("not an array")
    assert cli.main(command) == 2
    assert "unknown file type" in capsys.readouterr().err
    assert (tmp_path / "x.txt").read_text() == "not an array"


# -- a real cluster -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.parametrize("chunks", CHUNKINGS[:3], ids=["regular", "irregular", "rows"])
def test_on_a_cluster_compute_and_zarr_give_the_in_memory_bits(client, tmp_path, chunks):
    x = fastinit.dask.default_rng(11).truncated_normal(0.0, 0.02, size=SHAPE, chunks=chunks,
                                                       dtype="float32")
    want = fi.default_rng(11).truncated_normal(0.0, 0.02, size=SHAPE, dtype="float32")
    assert _bits(client.compute(x).result()) == _bits(want)
    store = str(tmp_path / "x.zarr")
    x.to_zarr(store, compute=True)
    assert _bits(zarr.open_array(store)[...]) == _bits(want)
    # The workers are other processes: their values did not come from this one.
    assert set(client.run(os.getpid).values()).isdisjoint({os.getpid()})


def test_write_zarr_uses_the_active_client(client, tmp_path):
    store = str(tmp_path / "w.zarr")
    result = write_zarr(store, (400, 96), "glorot_normal", 5, chunks=(50, 96),
                        dtype="bfloat16")
    assert result["dask"]
    assert _bits(read_zarr(store)) == \
        _bits(fi.initializers.GlorotNormal(seed=5)((400, 96), "bfloat16"))


def test_a_killed_worker_is_recovered_and_the_store_is_unchanged(client, tmp_path):
    """One worker process is killed (SIGKILL) while the tasks run; Dask reruns its tasks on
    the other worker (and the restarted one), and the stored values are still bit-identical."""
    shape, chunks = (4096, 8192), (128, 8192)                  # 128 MiB in 32 chunks of 4 MiB
    store = str(tmp_path / "k.zarr")
    x = fastinit.dask.default_rng(13).normal(0.0, 0.02, size=shape, chunks=chunks,
                                             dtype="float32")
    target = zarr.create_array(store, shape=shape, chunks=chunks, dtype="float32",
                               compressors=None)
    future = client.compute(da.store(x, target, lock=False, compute=False))
    victim = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and victim is None:
        processing = {w: tasks for w, tasks in client.processing().items() if tasks}
        stored = sum(1 for _ in os.scandir(os.path.join(store, "c"))) if os.path.isdir(
            os.path.join(store, "c")) else 0
        if processing and stored >= 1:
            victim = next(iter(processing))
        time.sleep(0.002)
    assert victim is not None, "the computation never started"
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)
    assert not future.done()                                   # killed mid-computation
    future.result(timeout=300)
    want = fi.default_rng(13).normal(0.0, 0.02, size=shape, dtype="float32")
    assert _bits(zarr.open_array(store)[...]) == _bits(want)
    client.wait_for_workers(2, timeout=120)


def test_import_fastinit_imports_no_optional_dependency():
    code = ("import sys, fastinit, fastinit.io; "
            "loaded = [m for m in ('dask', 'distributed', 'zarr', 'safetensors', 'torch', "
            "'ml_dtypes', 'tqdm', 'keras', 'matplotlib') if m in sys.modules]; assert not loaded, loaded")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_import_fastinit_loads_no_file_writer_until_one_is_used():
    code = ("import sys, fastinit; "
            "assert not [m for m in sys.modules if m.startswith('fastinit.io')], 'io loaded'; "
            "assert callable(fastinit.fill_npy) and 'fastinit.io.npy' in sys.modules; "
            "assert 'fill_npy' in dir(fastinit)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
