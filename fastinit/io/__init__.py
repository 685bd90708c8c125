"""Weight files larger than memory, written chunk by chunk with bounded memory.

- :mod:`fastinit.io.npy`: :func:`fill_npy` and :func:`npy_stats`, one tensor per ``.npy`` file.
- :mod:`fastinit.io.safetensors`: :func:`write_safetensors` (a seed checkpoint of many named
  tensors) and :func:`safetensors_stats`; :func:`init_tensor` is a named tensor in memory.
- :mod:`fastinit.io.zarr`: :func:`write_zarr` (on a dask.distributed cluster when one is
  active) and :func:`read_zarr`.

Every writer writes the same bits as the in-memory init and checks its arguments before it
creates anything.  The ``.npy`` and safetensors writers also check the free disk space, reserve
the whole file before a byte of data is written and record their progress, so that an
interrupted write can be finished with ``resume=True``; they need neither torch nor the
safetensors package.  The Zarr writer needs zarr (imported when called).

May import: fastinit._tensor_init, fastinit.io._files, fastinit.io.npy, fastinit.io.safetensors,
fastinit.io.zarr.
"""
from __future__ import annotations

from fastinit._tensor_init import init_tensor
from fastinit.io._files import PROGRESS_SUFFIX
from fastinit.io.npy import DEFAULT_CHUNK_BYTES, fill_npy, npy_stats
from fastinit.io.safetensors import safetensors_stats, write_safetensors
from fastinit.io.zarr import read_zarr, write_zarr

__all__ = ["fill_npy", "npy_stats", "write_safetensors", "safetensors_stats", "init_tensor",
           "write_zarr", "read_zarr", "DEFAULT_CHUNK_BYTES", "PROGRESS_SUFFIX"]
