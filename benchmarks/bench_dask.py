"""A normal array on a Dask LocalCluster of 2 worker processes: fastinit.dask against Dask's own
random, in memory (``x.sum().compute()``) and to an uncompressed Zarr store, beside the local
threaded fill.  ``FASTINIT_BENCH_DASK_ELEMENTS`` sets the size (default 2**28, 1 GiB of
float32; ``python -m fastinit bench --dask`` uses 4 GiB).
"""
import os

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
pytest.importorskip("zarr")
import fastinit as fi  # noqa: E402
import fastinit.dask  # noqa: E402

ELEMENTS = int(os.environ.get("FASTINIT_BENCH_DASK_ELEMENTS", 1 << 28))
SHAPE = (ELEMENTS // (1 << 14), 1 << 14)
CHUNKS = (1024, 1 << 14)                                  # 64 MiB of float32


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def _array(library):
    if library == "fastinit.dask":
        return fastinit.dask.default_rng(0).standard_normal(size=SHAPE, chunks=CHUNKS,
                                                            dtype=np.float32)
    return da.random.default_rng(0).standard_normal(size=SHAPE, chunks=CHUNKS, dtype=np.float32)


@pytest.mark.benchmark(group="normal float32 on a Dask cluster, in memory")
@pytest.mark.parametrize("library", ["fastinit.dask", "dask random", "local fill"])
def test_in_memory(benchmark, client, library):
    if library == "local fill":
        total = benchmark.pedantic(
            lambda: float(fi.default_rng(0).standard_normal(size=SHAPE, dtype=np.float32).sum(
                dtype=np.float64)), rounds=3, iterations=1)
    else:
        total = benchmark.pedantic(lambda: float(_array(library).sum(dtype=np.float64)
                                                 .compute()), rounds=3, iterations=1)
    assert abs(total) < 10 * np.sqrt(ELEMENTS)


@pytest.mark.benchmark(group="normal float32 on a Dask cluster, to Zarr")
@pytest.mark.parametrize("library", ["fastinit.dask", "dask random"])
def test_to_zarr(benchmark, client, tmp_path, library):
    paths = iter(str(tmp_path / f"{i}.zarr") for i in range(100))
    benchmark.pedantic(lambda: _array(library).to_zarr(next(paths), compressors=None),
                       rounds=2, iterations=1)
    assert len(list(tmp_path.iterdir())) == 2
