"""torch tensors as fill targets: a zero-copy NumPy view of the tensor's own memory.

The core fills NumPy arrays.  A CPU ``torch.Tensor`` (float32, float64, float16 or bfloat16,
contiguous, strided) is filled through ``tensor.detach().numpy()``, which shares its storage
(storage offset included): no copy, no autograd record, and the caller gets its own tensor back.
A CUDA tensor is filled on its device by the Triton kernels of ``fastinit._device``, the same
values (and a CPU tensor too, under ``FASTINIT_DEVICE_KERNELS=triton-interpret``).
bfloat16, which NumPy lacks, is viewed as uint16 words tagged ``BFLOAT16_BITS``, so ml_dtypes is
not needed.  A ``DTensor`` is filled as its local shard: the view is the local tensor and the
shard's place in the global shape is returned with it, so the values equal the same block of the
unsharded fill.

torch is never imported here: an object can only be a tensor if the caller has imported torch.

May import: numpy, torch, fastinit._device, fastinit._validate.
"""
from __future__ import annotations

import ctypes
import sys
from typing import Any, NamedTuple

import numpy as np

from fastinit import _device
from fastinit import _validate as v

_DTYPES = "torch.float32, torch.float64, torch.float16 or torch.bfloat16"


class TensorView(NamedTuple):
    """A tensor's memory as an ndarray, or the tensor itself where the device kernels fill it;
    for a DTensor shard, also its place in the whole."""
    array: np.ndarray | None                # None when ``device`` is set
    full_shape: tuple[int, ...] | None      # the global shape of a DTensor, else None
    region: tuple[slice, ...] | None        # the local shard's block of it, else None
    device: Any = None                      # the (local, detached) tensor the device kernels fill
    dtype: np.dtype | None = None           # its dtype as the core names it, with ``device``


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a torch.Tensor (False, importing nothing, when torch is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def view(tensor: Any, name: str) -> TensorView:
    """The fill target behind a CPU or CUDA tensor, or an error saying what to do instead.

    Raises before anything is written: TypeError for a meta tensor or one on a device the
    kernels do not serve, a sparse tensor, or an integer, complex or bool dtype (as
    ``Tensor.numpy()``); ValueError for a non-contiguous tensor (as NumPy's ``out=``);
    ImportError for a CUDA tensor without Triton.
    """
    import torch

    full_shape = region = None
    dtensor_type = _dtensor_type()
    if dtensor_type is not None and isinstance(tensor, dtensor_type):
        full_shape, region = _shard_region(tensor, name)
        tensor = tensor.to_local()
    device = tensor.device.type
    if device == "meta":
        raise TypeError(f"{name}: the tensor is on the meta device and has no memory to fill; "
                        "materialize it first (fastinit.torch.materialize(module, seed), or "
                        "module.to_empty(device='cpu') and then init)")
    on_device = _device.serves(tensor.device)
    if device != "cpu" and not on_device:
        raise TypeError(f"{name}: fastinit fills CPU and CUDA tensors, got one on "
                        f"{tensor.device}; fill a CPU tensor and move it with "
                        f".to('{tensor.device}') (no silent copy is made)")
    if tensor.layout != torch.strided:
        raise TypeError(f"{name}: cannot fill a {tensor.layout} tensor; use a dense (strided) one")
    if tensor.dtype not in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
        raise TypeError(f"{name}: unsupported tensor dtype {tensor.dtype}; use {_DTYPES}")
    if not tensor.is_contiguous():
        raise ValueError(f"{name}: the tensor is not contiguous; fill t.contiguous() and copy it "
                         "back with t.copy_(...), or fill a contiguous tensor")
    plain = tensor.detach()
    if on_device:
        _device.check_available(tensor.device, name)
        return TensorView(None, full_shape, region, plain, numpy_dtype(plain.dtype))
    _advise_huge_pages(plain.data_ptr(), plain.numel() * plain.element_size())
    if plain.dtype == torch.bfloat16:
        array = plain.view(torch.int16).numpy().view(v.BFLOAT16_BITS)
    else:
        array = plain.numpy()
    return TensorView(array, full_shape, region)


def numpy_dtype(dtype: Any) -> np.dtype:
    """The core's dtype for a torch float dtype (bfloat16 as the tagged uint16 words)."""
    name = str(dtype)
    return v.BFLOAT16_BITS if name == "torch.bfloat16" else np.dtype(name[len("torch."):])


def copy_to(tensor: Any, host: np.ndarray) -> None:
    """``tensor[...] = host`` for a device tensor: the host array's bits (of the tensor's dtype,
    broadcast to its shape), copied without a conversion."""
    import torch

    bfloat16 = v.is_bfloat16(host.dtype)
    source = torch.from_numpy(np.ascontiguousarray(host.view(np.int16) if bfloat16 else host))
    tensor.copy_(source.view(torch.bfloat16) if bfloat16 else source)


def zero_where(tensor: Any, mask: np.ndarray) -> None:
    """``tensor[mask] = 0`` (+0.0, all-zero bits) for a device tensor and a host mask."""
    import torch

    tensor[torch.from_numpy(np.ascontiguousarray(mask)).to(tensor.device)] = 0


def fills_on(device: Any) -> bool:
    """Whether fastinit fills tensors on ``device`` (a torch.device): the CPU, and a CUDA device
    when Triton is installed (for the hooks, which leave every other call to torch)."""
    return device.type == "cpu" or (_device.serves(device) and _device.available())


def is_torch_generator(obj: Any) -> bool:
    """Whether ``obj`` is a ``torch.Generator`` (False, importing nothing, without torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Generator)


# How many 32-bit words of a torch.Generator's output seed one fastinit call.
TORCH_SEED_WORDS = 4


def seed_from_torch(generator: Any) -> np.random.SeedSequence:
    """The fastinit seed of one call that draws from a ``torch.Generator``.

    ``torch.randint(0, 2**32, (4,), dtype=torch.int64, generator=generator)`` on the generator's
    device, read as a ``numpy.random.SeedSequence`` of those four words: the generator advances
    as by any torch draw, and the same torch seed gives the same fastinit values.
    """
    import torch

    words = torch.randint(0, 1 << 32, (TORCH_SEED_WORDS,), dtype=torch.int64,
                          generator=generator, device=generator.device)
    return np.random.SeedSequence([int(w) for w in words.cpu().tolist()])


def default_torch_generator() -> Any:
    """torch's default CPU generator, the one ``torch.manual_seed`` seeds."""
    import torch

    return torch.default_generator


def written(tensor: Any) -> None:
    """Tell autograd that ``tensor`` changed in place (as torch's own in-place fills do), so that
    a graph that saved it fails loudly instead of using the new values silently."""
    import torch

    torch.autograd.graph.increment_version(tensor)


# Large tensors are backed by transparent huge pages when the kernel allows it on request, as NumPy
# does for its own large allocations and torch does not: a fresh tensor's first touch then costs
# one fault per 2 MiB instead of one per 4 KiB.  Measured here (TinyLlama-sized fills of fresh
# memory, 2 threads): 520 -> 1250 M float32 normals/s.  Memory already touched is unaffected.
_HUGE_PAGE = 1 << 21
_ADVISE_BYTES = 4 << 20
_MADV_HUGEPAGE = 14
_madvise: Any = None    # libc's madvise and mincore, loaded on first use (Linux only)
_mincore: Any = None


def _advise_huge_pages(address: int, nbytes: int) -> None:
    """madvise(MADV_HUGEPAGE) over the whole 2 MiB pages inside [address, address + nbytes)."""
    if nbytes < _ADVISE_BYTES or not _load_libc():
        return
    start = -(-address // _HUGE_PAGE) * _HUGE_PAGE
    end = (address + nbytes) // _HUGE_PAGE * _HUGE_PAGE
    if end > start:
        _madvise(start, end - start, _MADV_HUGEPAGE)     # advice only: a refusal changes nothing


_PAGE = 4096
_MADV_DONTNEED = 4


def release_pages(address: int, nbytes: int) -> None:
    """madvise(MADV_DONTNEED) over the whole pages inside [address, address + nbytes).

    For memory mapped from a file with MAP_SHARED this only unmaps the pages from the process
    (their data stays in the page cache, dirty pages are still written back): resident memory
    goes down and nothing is lost.  Never call it on anonymous memory, whose contents it drops.
    """
    if not _load_libc():
        return
    start = -(-address // _PAGE) * _PAGE
    end = (address + nbytes) // _PAGE * _PAGE
    if end > start:
        _madvise(start, end - start, _MADV_DONTNEED)


def _load_libc() -> bool:
    global _madvise, _mincore
    if not sys.platform.startswith("linux"):
        return False
    if _madvise is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _madvise = libc.madvise
            _madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            _mincore = libc.mincore
            _mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
        except (OSError, AttributeError):
            _madvise = _mincore = False
    return bool(_madvise)


def mostly_resident(address: int, nbytes: int) -> bool:
    """Whether the memory [address, address + nbytes) is already backed by pages: true when more
    than half of 8 pages spread evenly through it are (mincore), and where that cannot be asked.

    The store policy reads it.  A fresh buffer's first touch has the kernel zero each page just
    before the fill writes it, so its lines are in cache and plain stores are the cheap ones;
    streaming stores pay off on memory touched before and since evicted.  Measured on the Xeon
    VM, 64 MiB float32, 1 thread: into fresh memory, streaming made uniform fills 25% slower and
    normal ones 15-25%; into touched memory, 54% and 9% faster.  The pages are taken inside the
    buffer, at 1/16, 3/16, ..., 15/16 of it: a few writes at its ends (materialize's sentinels
    in each tensor's first and last element) leave it fresh.
    """
    if not _load_libc() or nbytes <= 0:
        return True
    status = ctypes.create_string_buffer(1)
    resident = 0
    for k in range(1, 16, 2):
        page = (address + nbytes * k // 16) // _PAGE * _PAGE
        if _mincore(page, _PAGE, status) != 0:
            return True
        resident += status.raw[0] & 1
    return resident > 4


def _dtensor_type() -> Any:
    module = sys.modules.get("torch.distributed.tensor")
    return getattr(module, "DTensor", None) if module is not None else None


def _shard_region(tensor: Any, name: str) -> tuple[tuple[int, ...], tuple[slice, ...]]:
    """The global shape of a DTensor and the block its local shard holds, by torch's own rule
    for placing shards (even and uneven, any mesh dimension)."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    for placement in tensor.placements:
        if type(placement) not in (Shard, Replicate):
            raise ValueError(f"{name}: DTensor placement {placement} is not supported; fastinit "
                             "fills Shard(dim) and Replicate() placements")
    full_shape = tuple(tensor.shape)
    local_shape, offset = compute_local_shape_and_global_offset(
        full_shape, tensor.device_mesh, tensor.placements)
    region = tuple(slice(o, o + n) for o, n in zip(offset, local_shape))
    return full_shape, region
