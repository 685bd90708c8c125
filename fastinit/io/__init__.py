"""Weight files larger than memory, written chunk by chunk with bounded memory.

- :mod:`fastinit.io.npy`: :func:`fill_npy` and :func:`npy_stats`, one tensor per ``.npy`` file.
- :mod:`fastinit.io.safetensors`: :func:`write_safetensors` (a seed checkpoint of many named
  tensors) and :func:`safetensors_stats`; :func:`init_tensor` is a named tensor in memory.

Every writer checks its arguments and the free disk space, then reserves the whole file before a
byte of data is written, records its progress so that an interrupted write can be finished with
``resume=True``, and writes the same bits as the in-memory init.  None of them needs torch or
the safetensors package.
"""
from __future__ import annotations

from fastinit._tensor_init import init_tensor
from fastinit.io._files import PROGRESS_SUFFIX
from fastinit.io.npy import DEFAULT_CHUNK_BYTES, fill_npy, npy_stats
from fastinit.io.safetensors import safetensors_stats, write_safetensors

__all__ = ["fill_npy", "npy_stats", "write_safetensors", "safetensors_stats", "init_tensor",
           "DEFAULT_CHUNK_BYTES", "PROGRESS_SUFFIX"]
