"""fastinit: fast, reproducible random fills for neural-network weight initialization.

Philox4x32-10 words turned into uniform, normal and truncated-normal floats by typed Cython
kernels, written straight into float32, float64, float16 and bfloat16 buffers.  The value at each
index of a fill is a pure function of (seed, call, index): the same on any machine, SIMD level,
thread count, chunking or region.  On top: torch.nn.init-style functions (``fastinit.init``),
Keras/JAX-style initializers (``fastinit.initializers``) and ``.npy`` files larger than memory
(``fastinit.fill_npy``).  ``fastinit.Philox`` is the same stream as a ``numpy.random.BitGenerator``,
and every other ``numpy.random.Generator`` method runs over it.

>>> import numpy as np, fastinit as fi
>>> rng = fi.default_rng(42)
>>> w = rng.normal(0.0, 0.02, size=(64, 32), dtype=np.float32)

May import: fastinit._core.bit_generator, fastinit._device, fastinit._generator,
fastinit._core.simd, fastinit._core.threads, fastinit._version, fastinit.init,
fastinit.initializers, fastinit.io.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    from fastinit._core.bit_generator import Philox
    from fastinit._generator import Generator, stream_for
    from fastinit._core.threads import get_num_threads, set_num_threads, threads
except ImportError as exc:  # pragma: no cover - only hit from an unbuilt source tree
    raise ImportError(
        "fastinit's compiled kernels are missing. If you are in the fastinit source tree, "
        "build them with `pip install -e .` (or run from another directory after "
        "`pip install .`)."
    ) from exc

# The layers above the Generator (they import it, so they come after it).
from fastinit import init, initializers
from fastinit._version import __version__
from fastinit.init import seed

# The file writers load on first use: ``import fastinit`` stays the engine and the schemes.
_LAZY = {"fill_npy": "fastinit.io", "npy_stats": "fastinit.io"}
if TYPE_CHECKING:
    from fastinit.io import fill_npy, npy_stats
__all__ = [
    "Generator",
    "Philox",
    "__version__",
    "default_rng",
    "fill_npy",
    "get_num_threads",
    "init",
    "initializers",
    "npy_stats",
    "seed",
    "set_num_threads",
    "show_config",
    "stream_for",
    "threads",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastinit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def default_rng(seed: Any = None) -> Generator:
    """A new :class:`Generator`, seeded as ``numpy.random.default_rng`` is.

    Parameters
    ----------
    seed : None, int, sequence of int, numpy.random.SeedSequence, Generator or Philox, optional
        A fastinit Generator is returned unaltered, and a fastinit Philox wrapped (sharing its
        state), as NumPy does with its own.

    Returns
    -------
    Generator
    """
    if isinstance(seed, Generator):
        return seed
    return Generator(seed)


def show_config(file: Any = None) -> dict[str, Any]:
    """Print (and return) how fastinit runs here: SIMD level, threads, build flags.

    Parameters
    ----------
    file : file-like, optional
        Where to print; ``sys.stdout`` by default.  Pass ``False`` to only return the dict.

    Returns
    -------
    dict
        ``simd_level`` (the kernels in use), ``simd_available`` (built and runnable here),
        ``simd_cpu`` (what the CPU runs), ``simd_built``, ``philox_path``, ``num_threads``,
        ``cflags``, ``last_level_cache`` (bytes, as sysfs reports it), ``streaming_bytes``
        (fills of memory touched before, this large and more, use streaming stores: twice the
        cache a fill can count on), ``device_kernels`` (what fills CUDA tensors: Triton, or how
        to install it) and ``version``.
    """
    import sys

    from fastinit import _device, _generator
    from fastinit._core import simd as _simd

    config = {
        "version": __version__,
        "simd_level": _simd.level,
        "simd_available": _simd.available_levels(),
        "simd_cpu": _simd.cpu_levels(),
        "simd_built": _simd.built_levels(),
        "philox_path": _simd.kernels.PHILOX_PATH,
        "num_threads": get_num_threads(),
        "cflags": _simd.kernels.CFLAGS,
        "last_level_cache": _simd.last_level_cache_bytes(),
        "streaming_bytes": _generator.STREAMING_BYTES,
        "device_kernels": _device.describe(),
    }
    if file is not False:
        out = sys.stdout if file is None else file
        width = max(len(k) for k in config)
        for name, value in config.items():
            if isinstance(value, list):
                value = ", ".join(value)
            print(f"{name:<{width}}  {value}", file=out)
    return config
