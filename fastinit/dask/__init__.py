"""Dask arrays of fastinit's values: the same bits whatever the chunking, the workers or the
retries, and the same bits as the in-memory call.

Dask's own random arrays draw each chunk from its own NumPy generator, so their values change
with the chunks (dask#1684).  A fastinit value depends only on (key, stream, index), so each
chunk here is the ``region=`` block of the in-memory call: one task per chunk, each computing
its block from a few numbers (key, stream number, shape, region, parameters), and the graph
carries no arrays.

>>> import fastinit.dask
>>> rng = fastinit.dask.default_rng(0)
>>> x = rng.normal(0.0, 0.02, size=(8192, 8192), chunks=(2048, 8192), dtype="float32")
>>> # x.compute() == fastinit.default_rng(0).normal(0.0, 0.02, size=(8192, 8192), dtype="float32")

- :func:`default_rng` / :class:`Generator`: ``random``, ``uniform``, ``standard_normal``,
  ``normal``, ``truncated_normal`` and ``random_raw`` with ``size``, ``dtype`` and ``chunks``
  (any Dask chunk spec, ``"auto"`` included).  Each call takes one stream number of the
  generator, as in memory.
- :func:`initialize`: an initializer of :mod:`fastinit.initializers` as a Dask array;
  :mod:`fastinit.dask.init`: the :mod:`fastinit.init` functions, returning Dask arrays.  Fans
  come from the global shape.

A chunk task fills its block on one thread: Dask runs the chunks in parallel, so fastinit's own
threads would only oversubscribe the cores.  Nothing in a task depends on the client process:
the chunk functions are plain module-level functions of their arguments, so they pickle for
``dask.distributed`` workers.  bfloat16 arrays need ml_dtypes (``fastinit[bf16]``).

``pip install fastinit[dask]``; ``import fastinit`` never imports dask.

May import: dask, numpy, fastinit._generator, fastinit._recipe, fastinit._tensor_init,
fastinit._core.threads, fastinit._validate, fastinit.initializers.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import dask.array as da
import numpy as np
from dask.base import tokenize

from fastinit import _generator
from fastinit import _validate as v
from fastinit import initializers as _initializers
from fastinit._recipe import first_element, rehearse
from fastinit._core.threads import threads
from fastinit._tensor_init import as_initializer, seeded_initializer

__all__ = ["Generator", "default_rng", "initialize", "from_blocks"]


def _dtype(dtype: Any, where: str) -> np.dtype:
    """float32, float64, float16 or bfloat16 (ml_dtypes' own, so that Dask and NumPy know it)."""
    dt = v.resolve_dtype(dtype, None, where)
    return v.bfloat16() if v.is_bfloat16(dt) else dt


def _shape(size: Any, where: str) -> tuple[int, ...]:
    shape = v.normalize_size(size)
    if shape is None:
        raise TypeError(f"{where}: size is required for a Dask array (a shape)")
    return shape


def from_blocks(name: str, function: Callable[..., np.ndarray], args: tuple,
                shape: tuple[int, ...], dtype: np.dtype, chunks: Any) -> da.Array:
    """A Dask array whose chunk at block index ``(i, j, ...)`` is ``function(*args, region)``,
    ``region`` the chunk's tuple of slices of ``shape``: one task per chunk, no arrays in the
    graph."""
    try:
        normalized = da.core.normalize_chunks(chunks, shape, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{name}: chunks {chunks!r} do not fit size {shape}: {exc}") from None
    token = f"{name}-{tokenize(function.__name__, args, shape, dtype.str, normalized)}"
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in normalized]
    graph = {}
    for index in np.ndindex(*(len(c) for c in normalized)):
        region = tuple(slice(int(starts[axis][i]), int(starts[axis][i]) + normalized[axis][i])
                       for axis, i in enumerate(index))
        graph[(token, *index)] = (function, *args, region)
    return da.Array(graph, token, normalized, dtype=dtype)


# -- chunk functions: module level, so that they pickle; every argument is a plain value ---------

def _method_chunk(key: int, stream: int, method: str, params: tuple, shape: tuple[int, ...],
                  dtype: str, region: tuple[slice, ...]) -> np.ndarray:
    rng = _generator.Generator(key=key, stream=stream)
    with threads(1):
        if method == "random_raw":
            return rng.random_raw(size=shape, region=region)
        return getattr(rng, method)(*params, size=shape, dtype=_dtype(dtype, method),
                                    region=region)


def _initializer_chunk(config: dict, shape: tuple[int, ...], dtype: str,
                       region: tuple[slice, ...]) -> np.ndarray:
    init = as_initializer(config, "initialize")
    with threads(1):
        return init(shape, _dtype(dtype, "initialize"), region=region)



class Generator:
    """A fastinit :class:`fastinit.Generator` whose methods return Dask arrays.

    Parameters are those of :class:`fastinit.Generator` (``seed``, ``key``, ``stream``); each
    method call takes the generator's next stream number and returns the array the in-memory
    method would return for that stream, chunked as asked.
    """

    def __init__(self, seed: Any = None, *, key: int | None = None, stream: int = 0) -> None:
        self._rng = seed if isinstance(seed, _generator.Generator) and key is None and \
            stream == 0 else _generator.Generator(seed, key=key, stream=stream)

    @property
    def key(self) -> int:
        return self._rng.key

    @property
    def state(self) -> dict[str, Any]:
        return self._rng.state

    def __repr__(self) -> str:
        return f"fastinit.dask.{self._rng!r}"

    def _array(self, method: str, params: tuple, size: Any, dtype: Any,
               chunks: Any) -> da.Array:
        shape = _shape(size, method)
        for p in params:
            if not isinstance(p, (int, float, np.number)) or isinstance(p, (bool, np.bool_)):
                raise TypeError(f"{method}: fastinit.dask takes scalar parameters, got "
                                f"{type(p).__name__} {p!r}")
        dt = np.dtype(np.uint32) if method == "random_raw" else _dtype(
            np.float64 if dtype is None else dtype, method)
        # Everything is checked before a stream number is taken: the method itself runs on
        # the first element (a throwaway generator), then the chunks are checked against size.
        dtype_name = "uint32" if method == "random_raw" else v.dtype_name(dt)
        _method_chunk(self.key, 0, method, params, shape, dtype_name, first_element(shape))
        da.core.normalize_chunks(chunks, shape, dtype=dt)
        stream = self._rng._bit_generator._take_stream()
        return from_blocks(f"fastinit-{method}", _method_chunk,
                           (self.key, stream, method, params, shape, dtype_name), shape, dt,
                           chunks)

    def random_raw(self, size: Any, *, chunks: Any = "auto") -> da.Array:
        """The call's raw Philox words as uint32 (``fastinit.Generator.random_raw``)."""
        return self._array("random_raw", (), size, None, chunks)

    def random(self, size: Any, dtype: Any = None, *, chunks: Any = "auto") -> da.Array:
        """Uniform on [0, 1) (``fastinit.Generator.random``)."""
        return self._array("random", (), size, dtype, chunks)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None, dtype: Any = None,
                *, chunks: Any = "auto") -> da.Array:
        """Uniform on [low, high) (``fastinit.Generator.uniform``)."""
        return self._array("uniform", (low, high), size, dtype, chunks)

    def standard_normal(self, size: Any = None, dtype: Any = None, *,
                        chunks: Any = "auto") -> da.Array:
        """N(0, 1) (``fastinit.Generator.standard_normal``)."""
        return self._array("standard_normal", (), size, dtype, chunks)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None, dtype: Any = None,
               *, chunks: Any = "auto") -> da.Array:
        """N(loc, scale**2) (``fastinit.Generator.normal``)."""
        return self._array("normal", (loc, scale), size, dtype, chunks)

    def truncated_normal(self, loc: float = 0.0, scale: float = 1.0, a: float = -2.0,
                         b: float = 2.0, size: Any = None, dtype: Any = None, *,
                         chunks: Any = "auto") -> da.Array:
        """N(loc, scale**2) truncated to [loc + a*scale, loc + b*scale], exact
        (``fastinit.Generator.truncated_normal``)."""
        return self._array("truncated_normal", (loc, scale, a, b), size, dtype, chunks)


def default_rng(seed: Any = None) -> Generator:
    """A :class:`Generator` seeded as ``fastinit.default_rng(seed)`` (a fastinit Generator is
    used as it is, sharing its stream numbers)."""
    return Generator(seed)


def initialize(init: Any, shape: Sequence[int], *, seed: int | None = None,
               chunks: Any = "auto", dtype: Any = np.float32) -> da.Array:
    """An initializer of :mod:`fastinit.initializers` as a Dask array: ``init(shape, dtype)``
    chunk by chunk.

    ``init`` is any form of naming an init (README, "Naming an init"), as ``fill_npy`` takes
    it: an initializer, a name or a config dict, or an init function of :mod:`fastinit.init` or
    a distribution with its arguments (``"normal_(std=0.02)"``, ``("normal_", {"std": 0.02})``),
    drawing from ``Generator(seed)``.  ``seed`` replaces the initializer's own; an unseeded
    one is given a seed drawn now, so that every chunk belongs to the same tensor.
    Orthogonal, which has no chunked form, is computed whole in one task and then cut into the
    chunks.
    """
    obj = seeded_initializer(init, seed, "initialize")
    shape_t = _shape(shape, "initialize")
    dt = _dtype(dtype, "initialize")
    obj = _initializers.pinned(obj)
    config: dict[str, Any] = {"class_name": type(obj).__name__, "config": obj.get_config()}
    if obj.local:                       # checked on the first element before building anything
        rehearse(obj, shape_t, dt)
    else:
        # No chunked form (Orthogonal's QR): computed whole in one task, then cut into chunks.
        whole = from_blocks("fastinit-initialize", _initializer_chunk,
                            (config, shape_t, v.dtype_name(dt)), shape_t, dt, shape_t or ())
        return whole.rechunk(chunks)
    return from_blocks("fastinit-initialize", _initializer_chunk,
                       (config, shape_t, v.dtype_name(dt)), shape_t, dt, chunks)

