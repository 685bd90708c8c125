"""torch's random functions, drawn from fastinit's stream while a session runs.

:func:`fastinit.torch.fast_init` and :func:`fastinit.torch.materialize` take over
``Tensor.uniform_`` / ``normal_`` and ``trunc_normal_`` (:mod:`fastinit.torch.hooks`); model code
also calls torch's other random functions in its constructor or its init: ViT's
``nn.Parameter(torch.randn(...))``, Mamba's ``torch.rand`` for ``dt_proj.bias``,
``torch.nn.init.sparse_``'s ``torch.randperm``.  :class:`RandomCalls`, a
``torch.overrides.TorchFunctionMode`` pushed on the session's thread, answers every one of them
with fastinit's generator for the tensor (keyed as the session keys it: the next stream of
``fast_init``'s generator, or the stream of the tensor's name, or of the module being
initialized, in ``materialize``).  A model's weights then depend on fastinit's seed alone, and
torch's global RNG is neither used nor advanced.

Taken over, on CPU tensors:

- factories: ``torch.rand``, ``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``,
  ``poisson``, ``multinomial``, ``rand_like``, ``randn_like``, ``randint_like``;
- in place: ``Tensor.random_``, ``bernoulli_``, ``exponential_``, ``log_normal_``,
  ``cauchy_``, ``geometric_``.

The distributions are torch's (``rand`` uniform on [0, 1), ``random_()`` of a float tensor on
[0, 2**mantissa], ``geometric_`` counting trials from 1, ...); the values are fastinit's: a
float fill is fastinit's kernel, the others NumPy's algorithms over fastinit's Philox stream
(:mod:`fastinit`'s Generator methods).  A call falls through to torch unchanged with an explicit
``generator=``, on another device, for a layout, dtype or argument form not listed (complex
dtypes, ``out=`` of another shape), or for a leaf that requires grad outside ``no_grad``
(torch's own error then).

May import: numpy, torch, fastinit._tensors, fastinit.init.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from fastinit import _tensors
from fastinit import init as _init

__all__ = ["RandomCalls", "TAKEN_OVER", "fill_from_session"]

_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_INTS = {torch.int64: np.int64, torch.int32: np.int32, torch.int16: np.int16,
         torch.int8: np.int8, torch.uint8: np.uint8, torch.bool: np.bool_}
# random_() of a float tensor: [0, 2**mantissa], every value representable (torch's rule).
_MANTISSA = {torch.float32: 24, torch.float64: 53, torch.float16: 11, torch.bfloat16: 8}
_FACTORY_KEYS = {"size", "dtype", "device", "layout", "requires_grad", "pin_memory",
                 "generator", "out", "memory_format"}
_FALL = NotImplemented          # a handler's answer: let torch do it


class RandomCalls(TorchFunctionMode):
    """A torch function mode drawing torch's random functions from ``session.generator_for``."""

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        handler = _HANDLERS.get(func)
        if handler is not None and kwargs.get("generator") is None:
            try:
                result = handler(self.session, args, kwargs)
            except (TypeError, ValueError, OverflowError):
                result = _FALL                      # torch raises its own error
            if result is not _FALL:
                return result
        return func(*args, **kwargs)


# -- what a call fills ---------------------------------------------------------------------------

def _plain(tensor: Any) -> bool:
    """A plain strided tensor on a device fastinit fills (the CPU; CUDA with Triton)."""
    return (isinstance(tensor, torch.Tensor) and type(tensor) in (torch.Tensor,
                                                                    torch.nn.Parameter)
            and _tensors.fills_on(tensor.device) and tensor.layout == torch.strided)


def _writable(tensor: Any) -> bool:
    """An in-place fill fastinit may do: a plain tensor autograd does not record."""
    return _plain(tensor) and not (tensor.requires_grad and torch.is_grad_enabled())


def fill_from_session(session: Any, tensor: torch.Tensor,
                      fill: Callable[[torch.Tensor, Any], Any]) -> torch.Tensor:
    """``fill(target, generator)`` with the session's generator for ``tensor``, on the tensor
    or, when it is not contiguous (nor a DTensor, filled as its local shard), on a contiguous
    copy then copied back: the values in the tensor's logical C order.  The hooks of
    :mod:`fastinit.torch.hooks` fill through it too."""
    rng = session.generator_for(tensor)
    dtensor_type = _tensors._dtensor_type()
    dtensor = dtensor_type is not None and isinstance(tensor, dtensor_type)
    target = tensor if tensor.is_contiguous() or dtensor else torch.empty(
        tensor.shape, dtype=tensor.dtype, device=tensor.device)
    fill(target, rng)
    if target is not tensor:
        with torch.no_grad():
            tensor.copy_(target)
    return tensor


def _values_fill(session: Any, tensor: torch.Tensor,
                 draw: Callable[[Any, tuple[int, ...]], np.ndarray]) -> torch.Tensor:
    """Values NumPy's algorithm draws from fastinit's stream, copied into ``tensor``."""
    rng = session.generator_for(tensor)
    values = np.ascontiguousarray(draw(rng, tuple(tensor.shape)))
    tensor.copy_(torch.from_numpy(values).reshape(tensor.shape))
    return tensor


def _number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(float(x))


def _array(x: Any) -> np.ndarray | float:
    """A parameter as NumPy reads it: a tensor as float64 (copied to the host), a number as
    itself."""
    if isinstance(x, torch.Tensor):
        if not _plain(x):
            raise TypeError("not a tensor fastinit reads")
        return x.detach().to(torch.float64).cpu().numpy()
    if not _number(x):
        raise TypeError("not a finite number")
    return float(x)


# -- factories ------------------------------------------------------------------------------------

def _new(args: tuple, kwargs: dict, default_dtype: torch.dtype | None,
         size: tuple[int, ...] | None = None, like: torch.Tensor | None = None) -> Any:
    """The tensor a factory call makes (uninitialized), or _FALL for a form fastinit leaves to
    torch."""
    if not set(kwargs) <= _FACTORY_KEYS or kwargs.get("pin_memory") or \
            kwargs.get("layout") not in (None, torch.strided):
        return _FALL
    device = kwargs.get("device") or (like.device if like is not None else
                                      torch.get_default_device())
    if not _tensors.fills_on(torch.device(device)):
        return _FALL
    if size is None:
        given = kwargs.get("size", args)
        if len(given) == 1 and isinstance(given[0], (tuple, list, torch.Size)):
            given = given[0]
        size = tuple(int(d) for d in given)
    if any(d < 0 for d in size):
        return _FALL
    dtype = kwargs.get("dtype") or (like.dtype if like is not None else default_dtype)
    out = kwargs.get("out")
    if out is not None:
        if not _writable(out) or tuple(out.shape) != size or (kwargs.get("dtype") not in
                                                              (None, out.dtype)):
            return _FALL
        return out
    return torch.empty(size, dtype=dtype, device=device)


def _finish(tensor: torch.Tensor, kwargs: dict) -> torch.Tensor:
    if kwargs.get("requires_grad"):
        tensor.requires_grad_(True)
    return tensor


def _standard(fill: Callable[[torch.Tensor, Any], Any]) -> Callable:
    """A factory of floats (``torch.rand``, ``torch.randn``): a new tensor, filled by ``fill``."""
    def factory(session: Any, args: tuple, kwargs: dict, like: Any = None) -> Any:
        tensor = _new(args, kwargs, torch.get_default_dtype(), like=like,
                      size=tuple(like.shape) if like is not None else None)
        if tensor is _FALL or tensor.dtype not in _FLOATS:
            return _FALL
        return _finish(fill_from_session(session, tensor, fill), kwargs)
    return factory


_rand = _standard(lambda t, rng: _init.uniform_(t, 0.0, 1.0, generator=rng))
_randn = _standard(lambda t, rng: _init.normal_(t, 0.0, 1.0, generator=rng))


def _like(factory: Callable, session: Any, args: tuple, kwargs: dict) -> Any:
    """``rand_like(input, ...)``: the factory with input's shape (and dtype, device)."""
    kwargs = dict(kwargs)
    like = kwargs.pop("input", args[0] if args else None)
    return factory(session, (), kwargs, like=like) if _plain(like) else _FALL


def _integers(session: Any, tensor: torch.Tensor, low: int, high: int) -> Any:
    """Integers on [low, high) into ``tensor`` (of any real dtype)."""
    if low >= high:
        return _FALL
    return _values_fill(session, tensor, lambda rng, shape: rng.integers(
        low, high, size=shape, dtype=np.int64))


def _randint(session: Any, args: tuple, kwargs: dict) -> Any:
    kwargs = dict(kwargs)
    numbers_given = [a for a in args if not isinstance(a, (tuple, list, torch.Size))]
    shapes = [a for a in args if isinstance(a, (tuple, list, torch.Size))]
    low = kwargs.pop("low", numbers_given[0] if len(numbers_given) == 2 else 0)
    high = kwargs.pop("high", numbers_given[-1] if numbers_given else None)
    size = kwargs.pop("size", shapes[0] if shapes else None)
    if high is None or size is None or not all(isinstance(x, int) and not isinstance(x, bool)
                                               for x in (low, high)):
        return _FALL
    tensor = _new((), kwargs, torch.int64, size=tuple(int(d) for d in size))
    if tensor is _FALL or tensor.is_complex():
        return _FALL
    return _finish(_integers(session, tensor, low, high), kwargs)


def _randint_like(session: Any, args: tuple, kwargs: dict) -> Any:
    kwargs = dict(kwargs)
    like, rest = args[0], list(args[1:])
    low = kwargs.pop("low", rest[0] if len(rest) == 2 else 0)
    high = kwargs.pop("high", rest[-1] if rest else None)
    if not _plain(like) or not isinstance(high, int) or not isinstance(low, int):
        return _FALL
    tensor = _new((), kwargs, None, size=tuple(like.shape), like=like)
    if tensor is _FALL or tensor.is_complex():
        return _FALL
    return _finish(_integers(session, tensor, low, high), kwargs)


def _randperm(session: Any, args: tuple, kwargs: dict) -> Any:
    kwargs = dict(kwargs)
    n = kwargs.pop("n", args[0] if args else None)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        return _FALL
    tensor = _new((), kwargs, torch.int64, size=(n,))
    if tensor is _FALL or tensor.is_complex():
        return _FALL
    return _finish(_values_fill(session, tensor, lambda rng, shape: rng.permutation(n)), kwargs)


def _normal(session: Any, args: tuple, kwargs: dict) -> Any:
    kwargs = dict(kwargs)
    mean = kwargs.pop("mean", args[0] if len(args) > 0 else 0.0)
    std = kwargs.pop("std", args[1] if len(args) > 1 else 1.0)
    size = kwargs.pop("size", args[2] if len(args) > 2 else None)
    tensors = [x for x in (mean, std) if isinstance(x, torch.Tensor)]
    if not tensors:                                 # normal(mean, std, size)
        if size is None or not (_number(mean) and _number(std)) or std < 0:
            return _FALL
        tensor = _new((), kwargs, torch.get_default_dtype(), size=tuple(int(d) for d in size))
        if tensor is _FALL or tensor.dtype not in _FLOATS:
            return _FALL
        return _finish(fill_from_session(session, tensor, lambda t, rng: _init.normal_(
            t, float(mean), float(std), generator=rng)), kwargs)
    if size is not None or not all(_plain(t) and t.dtype in _FLOATS for t in tensors):
        return _FALL
    mean_a, std_a = _array(mean), _array(std)
    if np.any(np.asarray(std_a) < 0) or not np.all(np.isfinite(std_a)):
        return _FALL
    shape = np.broadcast_shapes(np.shape(mean_a), np.shape(std_a))
    tensor = _new((), kwargs, tensors[0].dtype, size=tuple(shape))
    if tensor is _FALL:
        return _FALL
    return _values_fill(session, tensor, lambda rng, s: rng.normal(mean_a, std_a, size=s))


def _bernoulli(session: Any, args: tuple, kwargs: dict) -> Any:
    kwargs = dict(kwargs)
    probabilities = args[0] if args else kwargs.pop("input")
    p = kwargs.pop("p", args[1] if len(args) > 1 else None)
    if not _plain(probabilities):
        return _FALL
    chances = _array(probabilities) if p is None else _array(p)
    if np.any((np.asarray(chances) < 0) | (np.asarray(chances) > 1)):
        return _FALL
    tensor = _new((), kwargs, None, size=tuple(probabilities.shape), like=probabilities)
    if tensor is _FALL:
        return _FALL
    return _values_fill(session, tensor, lambda rng, s: rng.random(size=s) < chances)


def _poisson(session: Any, args: tuple, kwargs: dict) -> Any:
    rates: Any = args[0] if args else kwargs.get("input")
    if set(kwargs) - {"input", "generator"} or not _plain(rates) or \
            rates.dtype not in _FLOATS:
        return _FALL
    lam = _array(rates)
    if np.any(np.asarray(lam) < 0):
        return _FALL
    tensor = torch.empty(rates.shape, dtype=rates.dtype)
    return _values_fill(session, tensor, lambda rng, s: rng.poisson(lam, size=s))


def _multinomial(session: Any, args: tuple, kwargs: dict) -> Any:
    kwargs = dict(kwargs)
    weights = args[0] if args else kwargs.pop("input")
    count = kwargs.pop("num_samples", args[1] if len(args) > 1 else None)
    replacement = kwargs.pop("replacement", args[2] if len(args) > 2 else False)
    if set(kwargs) - {"generator"} or not _plain(weights) or weights.dim() not in (1, 2) \
            or not isinstance(count, int) or count < 1:
        return _FALL
    rows = np.asarray(_array(weights)).reshape(-1, weights.shape[-1])
    if np.any(rows < 0) or np.any(rows.sum(axis=1) <= 0) or \
            (not replacement and np.any((rows > 0).sum(axis=1) < count)):
        return _FALL                                 # torch's error
    tensor = torch.empty((rows.shape[0], count), dtype=torch.int64)

    def draw(rng: Any, shape: tuple[int, ...]) -> np.ndarray:
        return np.stack([rng.choice(rows.shape[1], size=count, replace=bool(replacement),
                                    p=row / row.sum()) for row in rows])
    _values_fill(session, tensor, draw)
    return tensor if weights.dim() == 2 else tensor[0]


# -- in place -------------------------------------------------------------------------------------

def _random_(session: Any, args: tuple, kwargs: dict) -> Any:
    self, rest = args[0], list(args[1:])
    kwargs = dict(kwargs)
    low, high = kwargs.pop("from", None), kwargs.pop("to", None)
    if len(rest) == 1:
        high = rest[0]
    elif len(rest) == 2:
        low, high = rest
    if set(kwargs) - {"generator"} or not _writable(self) or self.is_complex():
        return _FALL
    low = 0 if low is None else low
    if high is None:
        if self.dtype in _MANTISSA:
            high = (1 << _MANTISSA[self.dtype]) + 1
        elif self.dtype in _INTS:
            high = int(np.iinfo(_INTS[self.dtype]).max) + 1 if self.dtype != torch.bool else 2
        else:
            return _FALL
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (low, high)) or \
            high > 1 << 63:
        return _FALL
    return _integers(session, self, low, high)


def _bernoulli_(session: Any, args: tuple, kwargs: dict) -> Any:
    self = args[0]
    p = kwargs.get("p", args[1] if len(args) > 1 else 0.5)
    if set(kwargs) - {"p", "generator"} or not _writable(self) or self.is_complex():
        return _FALL
    chances = _array(p)
    if np.any((np.asarray(chances) < 0) | (np.asarray(chances) > 1)):
        return _FALL
    return _values_fill(session, self, lambda rng, s: rng.random(size=s) < chances)


def _in_place(draw: Callable[..., np.ndarray], names: tuple[str, ...],
              defaults: tuple[float, ...], valid: Callable[..., bool],
              floats_only: bool = True) -> Callable:
    """An in-place fill by ``draw(rng, shape, *parameters)``, of a float tensor (or, unless
    ``floats_only``, of any real one)."""
    def handler(session: Any, args: tuple, kwargs: dict) -> Any:
        self = args[0]
        values = [kwargs.get(n, args[1 + i] if len(args) > 1 + i else d)
                  for i, (n, d) in enumerate(zip(names, defaults))]
        if set(kwargs) - {*names, "generator"} or not _writable(self) or self.is_complex() or \
                (floats_only and self.dtype not in _FLOATS) or \
                not all(_number(x) for x in values) or not valid(*map(float, values)):
            return _FALL
        return _values_fill(session, self, lambda rng, s: draw(rng, s, *map(float, values)))
    return handler


_HANDLERS: dict[Any, Callable[[Any, tuple, dict], Any]] = {
    torch.rand: _rand,
    torch.randn: _randn,
    torch.rand_like: lambda session, args, kwargs: _like(_rand, session, args, kwargs),
    torch.randn_like: lambda session, args, kwargs: _like(_randn, session, args, kwargs),
    torch.randint: _randint,
    torch.randint_like: _randint_like,
    torch.randperm: _randperm,
    torch.normal: _normal,
    torch.bernoulli: _bernoulli,
    torch.poisson: _poisson,
    torch.multinomial: _multinomial,
    torch.Tensor.random_: _random_,
    torch.Tensor.bernoulli_: _bernoulli_,
    torch.Tensor.exponential_: _in_place(
        lambda rng, s, lambd: rng.exponential(1.0 / lambd, size=s), ("lambd",), (1.0,),
        lambda lambd: lambd > 0),
    torch.Tensor.log_normal_: _in_place(
        lambda rng, s, mean, std: rng.lognormal(mean, std, size=s), ("mean", "std"),
        (1.0, 2.0), lambda mean, std: std > 0),
    torch.Tensor.cauchy_: _in_place(
        lambda rng, s, median, sigma: median + sigma * rng.standard_cauchy(size=s),
        ("median", "sigma"), (0.0, 1.0), lambda median, sigma: sigma > 0),
    torch.Tensor.geometric_: _in_place(
        lambda rng, s, p: rng.geometric(p, size=s), ("p",), (0.5,), lambda p: 0 < p < 1,
        floats_only=False),
}
# What is taken over, by the names a user writes: "torch.rand", "Tensor.random_".
TAKEN_OVER = sorted(("Tensor." if "TensorBase" in getattr(f, "__qualname__", "") else "torch.")
                    + f.__name__ for f in _HANDLERS)
