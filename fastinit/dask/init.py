"""The :mod:`fastinit.init` functions as Dask arrays: ``kaiming_uniform(shape, a=..., chunks=...)``.

Each function takes the shape of the tensor first, then the arguments of the ``fastinit.init``
function of the same name (with a trailing underscore there: ``kaiming_uniform_``), and
``chunks`` and ``dtype`` as keywords.  It takes its stream number(s) from ``generator`` (a
:class:`fastinit.Generator`, an int seed, a ``torch.Generator``, or None for the default
generator that :func:`fastinit.seed` reseeds) exactly as the in-memory function does on an
ndarray, and its chunks are the
``region=`` blocks of that function on the full shape, so fans come from the global shape and
the array equals ``fastinit.init.kaiming_uniform_(np.empty(shape, dtype), ...)`` bit for bit:

>>> import fastinit, fastinit.dask.init
>>> w = fastinit.dask.init.kaiming_uniform((4096, 4096), a=5 ** 0.5, generator=0,
...                                        chunks=(1024, 4096))

``orthogonal`` and ``sparse`` have no chunked form: each is computed whole in one task, then
cut into the chunks.

May import: dask, numpy, fastinit._generator, fastinit._recipe, fastinit._core.threads,
fastinit._validate, fastinit.dask, fastinit.init.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from fastinit import _validate as v
from fastinit import init as _init
from fastinit._generator import Generator
from fastinit._recipe import first_element
from fastinit._core.threads import threads
from fastinit.dask import _dtype, _shape, from_blocks

_WHOLE = ("orthogonal", "sparse")
# Stream numbers a call takes (sparse_ draws its values and then its zero positions).
_STREAMS = {"sparse": 2}

__all__ = [name[:-1] for name in _init.__all__ if name.endswith("_")]


def _function_chunk(name: str, kwargs: dict, key: int | None, stream: int,
                    shape: tuple[int, ...], dtype: str, region: tuple[slice, ...]) -> np.ndarray:
    function = getattr(_init, name + "_")
    block = tuple(r.stop - r.start for r in region)
    out = np.empty(block, _dtype(dtype, name))
    extra = {} if key is None else {"generator": Generator(key=key, stream=stream)}
    with threads(1):
        function(out, **kwargs, **extra, shape=shape, region=region)
    return out


def _whole_chunk(name: str, kwargs: dict, key: int | None, stream: int, shape: tuple[int, ...],
                 dtype: str, region: tuple[slice, ...]) -> np.ndarray:
    full = tuple(slice(0, d) for d in shape)
    return _function_chunk(name, kwargs, key, stream, shape, dtype, full)[region]


def _make(name: str) -> Callable[..., Any]:
    function = getattr(_init, name + "_")
    signature = inspect.signature(function)
    takes_generator = "generator" in signature.parameters
    arguments = [p for p in signature.parameters.values()
                 if p.name not in ("arr", "shape", "region")]

    def dask_init(shape: Any, *args: Any, chunks: Any = "auto", dtype: Any = np.float32,
                  **kwargs: Any) -> Any:
        full = _shape(shape, name)
        dt = _dtype(dtype, name)
        try:
            bound = inspect.Signature(arguments).bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{name}: {exc}") from None
        given = dict(bound.arguments)
        generator = given.pop("generator", None)
        key, stream = None, 0
        if takes_generator:
            rng = _init.resolve_generator(generator)
            key, stream = rng.key, rng._bit_generator._next_stream
        dtype_name = v.dtype_name(dt)
        chunk = _function_chunk if name not in _WHOLE else _whole_chunk
        # Checked on the first element with the stream it would get, before any stream is
        # taken; then the chunks are checked against the shape.
        chunk(name, given, key, stream, full, dtype_name, first_element(full))
        from dask.array.core import normalize_chunks
        normalize_chunks(chunks, full, dtype=dt)
        if takes_generator:
            for _ in range(_STREAMS.get(name, 1)):
                taken = rng._bit_generator._take_stream()
            stream = taken - _STREAMS.get(name, 1) + 1
        if name in _WHOLE:
            whole = from_blocks(f"fastinit-{name}", _whole_chunk,
                                (name, given, key, stream, full, dtype_name), full, dt, full)
            return whole.rechunk(chunks)
        return from_blocks(f"fastinit-{name}", _function_chunk,
                           (name, given, key, stream, full, dtype_name), full, dt, chunks)

    dask_init.__name__ = dask_init.__qualname__ = name
    dask_init.__doc__ = (f"{name}(shape, {', '.join(str(p) for p in arguments)}, *, "
                         f"chunks='auto', dtype=np.float32)\n\n"
                         f"``fastinit.init.{name}_`` on a new Dask array of ``shape``; see the "
                         f"module docstring.\n\n{inspect.getdoc(function) or ''}")
    return dask_init


for _name in __all__:
    globals()[_name] = _make(_name)
del _name
