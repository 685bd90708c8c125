"""Fills of torch tensors on their own device, by fastinit's stream in Triton kernels.

A CUDA tensor (and, with ``FASTINIT_DEVICE_KERNELS=triton-interpret``, a CPU tensor, through
Triton's interpreter) is filled where it lives: no host buffer, no copy.  The kernels
(``triton_kernels.py``) compute docs/stream.md exactly, so the values equal the CPU kernels' bit
for bit for every method, dtype, region and stream.  Validation is the Generator's
(``fastinit._generator``), done before anything here runs; this module turns a validated call
into rows of consecutive global indices and launches one kernel over them.

Triton is the ``fastinit[gpu]`` extra and is imported on the first device fill only; torch is
imported only when a tensor is given.

May import: numpy, torch, triton, fastinit._device.triton_kernels, fastinit._validate.
"""
from __future__ import annotations

import importlib.util
import math
import os
from typing import Any

import numpy as np

from fastinit import _validate as v

ENV = "FASTINIT_DEVICE_KERNELS"
INTERPRET = "triton-interpret"
_INSTALL = ("fastinit fills CUDA tensors with Triton kernels: pip install 'fastinit[gpu]' "
            "(or pip install triton)")
# Philox blocks per program: up to 1024 (1024-4096 samples, enough work per program to hide the
# retry loop's reduction), fewer for short rows (a column shard's), a power of two from 16.
# Triton's interpreter runs programs one after another at a fixed Python cost per operation:
# there, wide programs (NumPy vectors) are what makes it fast.
BLOCK = 1024
INTERPRETER_BLOCK = 16384
MIN_BLOCK = 16
# The params vector the kernel reads (all float64: the key and stream words are exact in it, and
# float32 parameters are float32 values rounded on the host).
PARAMS = ("k0", "k1", "s0", "s1", "shift", "scale", "lo", "hi", "a", "b", "alpha", "c", "d2",
          "m2", "width")
_KINDS = {1: "uniform", 2: "normal", 3: "truncated_normal"}
_kernels: Any = None


def mode() -> str | None:
    """``"triton-interpret"`` when CPU tensors go through the Triton interpreter, else None."""
    value = os.environ.get(ENV, "")
    if value in ("", "cpu"):
        return None
    if value != INTERPRET:
        raise ValueError(f"{ENV}={value!r} is not understood; use {INTERPRET!r} (CPU tensors "
                         "through Triton's interpreter, for testing) or leave it unset")
    return INTERPRET


def serves(device: Any) -> bool:
    """Whether tensors on ``device`` (a torch.device) are filled by the device kernels."""
    return device.type == "cuda" or (device.type == "cpu" and mode() == INTERPRET)


def available() -> bool:
    """Whether Triton can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("triton") is not None
    except ValueError:                      # sys.modules["triton"] is None: disabled
        return False


def describe() -> str:
    """What fills device tensors here, for show_config: Triton's version and the tensors it
    serves, or how to get it.  Imports neither Triton nor torch."""
    if not available():
        return f"none; {_INSTALL}"
    from importlib import metadata

    try:
        version = metadata.version("triton")
    except metadata.PackageNotFoundError:    # importable but not installed as a distribution
        version = "(version unknown)"
    served = "CUDA and CPU tensors (interpreter)" if mode() == INTERPRET else "CUDA tensors"
    return f"triton {version}: {served}"


def check_available(device: Any, name: str) -> None:
    """ImportError naming the extra when Triton is missing for a fill on ``device``."""
    if not available():
        raise ImportError(f"{name}: {_INSTALL}; or fill a CPU tensor and move it with "
                          f".to('{device}')")


def _load() -> Any:
    """The kernels module.  Triton decides at decoration time whether a kernel is compiled or
    interpreted (its own library included), so interpret mode needs ``TRITON_INTERPRET=1`` in
    the environment before triton is first imported."""
    global _kernels
    if _kernels is None:
        import triton

        if mode() == INTERPRET and not triton.knobs.runtime.interpret:
            raise RuntimeError(f"{ENV}={INTERPRET} runs the kernels in Triton's interpreter: set "
                               "TRITON_INTERPRET=1 in the environment before triton is imported")
        from fastinit._device import triton_kernels
        _kernels = triton_kernels
    return _kernels


def samples_per_block(kind: int, method: int, itemsize: int) -> int:
    """Samples one Philox block gives (docs/stream.md): 4 32-bit words, one per float32 uniform
    or normal, two per float64 one, and twice that for a truncated normal's proposals."""
    per = 4 if itemsize == 4 else 2
    return per // 2 if kind == 3 and method != 0 else per


def rows(shape: tuple[int, ...], starts: tuple[int, ...],
         block: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """The block of ``shape`` at ``starts`` as rows of consecutive C-order indices: the first
    global index of each row (int64, in the block's C order) and the common row length.

    Trailing axes the block spans whole merge into the rows, so a whole tensor is one row and a
    column shard of a matrix one row per matrix row.
    """
    nd = len(shape)
    split = max(nd - 1, 0)          # the first axis of the rows: every later one is whole
    while split > 0 and block[split] == shape[split]:
        split -= 1
    # Axes split .. nd-1 make one run: the block's extent on axis split times the whole rest.
    strides = [math.prod(shape[d + 1:]) for d in range(nd)]
    length = math.prod(block[split:]) if nd else 1
    base = sum(s * st for s, st in zip(starts, strides))
    offsets = np.zeros((), np.int64) + base
    for d in range(split):
        offsets = offsets[..., None] + np.arange(block[d], dtype=np.int64) * strides[d]
    return np.ascontiguousarray(offsets.reshape(-1)), length


def _params(key: int, stream: int, params: tuple, dt: np.dtype) -> list[float]:
    """PARAMS for the kernel: the map and truncation constants rounded once to the compute
    dtype, as the CPU kernels' ``<float>p.shift`` does."""
    cdt = v.compute_dtype(dt)
    shift, scale, lo, hi, _method, *trunc = params
    words = [key & 0xFFFFFFFF, key >> 32, stream & 0xFFFFFFFF, stream >> 32]
    return words + [float(cdt.type(x)) for x in (shift, scale, lo, hi, *trunc)]


def fill(tensor: Any, kind: int, shape: tuple[int, ...], starts: tuple[int, ...], key: int,
         stream: int, params: tuple, dt: np.dtype, elements: tuple | None = None) -> None:
    """Fill ``tensor`` (contiguous, on a device the kernels serve, of dtype ``dt``), the block at
    ``starts`` of call (key, stream) whose full shape is ``shape``, on its device.

    ``params`` and ``elements`` are the CPU kernels' (``fastinit._core.kernels_baseline.fill``),
    already validated.
    """
    import torch

    if tensor.numel() == 0:
        return
    kernels = _load()
    device = tensor.device
    method = int(params[4])
    cdt = v.compute_dtype(dt)
    spb = samples_per_block(kind, method, cdt.itemsize)
    starts_of_rows, length = rows(shape, starts, tuple(tensor.shape))
    row_starts = torch.from_numpy(starts_of_rows).to(device)
    vector = torch.tensor(_params(key, stream, params, dt), dtype=torch.float64, device=device)
    touched = -(-length // spb) + 1                  # at most, by a row of this length
    widest = INTERPRETER_BLOCK if mode() == INTERPRET else BLOCK
    block = max(MIN_BLOCK, min(widest, 1 << (touched - 1).bit_length()))
    tiles = -(-touched // block)                     # programs per row
    if elements is not None:
        region = tuple(slice(s, s + e) for s, e in zip(starts, tensor.shape))
        maps = [torch.from_numpy(np.ascontiguousarray(
            np.broadcast_to(np.asarray(p, cdt), shape)[region])).to(device) for p in elements]
    else:
        maps = [vector] * 4                           # unused: ELEMENTS is off
    half = 1 if dt == np.float16 else 2 if v.is_bfloat16(dt) else 0
    out = tensor.view(torch.int16) if half == 2 else tensor
    grid = (len(starts_of_rows) * tiles,)
    kernels.fill_kernel[grid](
        out, row_starts, vector, *maps, length, tiles,
        KIND=kind, METHOD=method, F64=cdt.itemsize == 8, HALF=half,
        ELEMENTS=elements is not None, SPB=spb, BLOCK=block, enable_fp_fusion=False)

