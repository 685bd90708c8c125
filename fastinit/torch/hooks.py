"""The hooks behind :func:`fastinit.torch.fast_init` and :func:`fastinit.torch.materialize`: which
generator fills a tensor, and the torch calls taken over while a session runs.

What the hooks take over, while a :func:`fast_init` block or a :func:`materialize` call runs on
the calling thread:

- ``Tensor.uniform_(a, b)`` and ``Tensor.normal_(mean, std)``: every ``torch.nn.init`` function
  that draws through them (``uniform_``, ``normal_``, ``xavier_*``, ``kaiming_*``, ``orthogonal_``'s
  Gaussian, ``sparse_``'s values) and any model code calling them directly or on ``.data``;
- ``torch.nn.init.trunc_normal_`` (through ``torch.nn.init._no_grad_trunc_normal_``, which every
  reference to ``trunc_normal_`` calls, transformers' included): exact rejection sampling, every
  value in [a, b].

A call falls through to torch unchanged when it passes an explicit ``generator=`` (it asked for
that generator's stream), when the tensor is not a CPU float32/float64/float16/bfloat16 strided
tensor (meta tensors included), when autograd would record the in-place op (a leaf that
requires grad outside ``torch.no_grad()``), or when torch would reject its arguments (so that
torch's own error is raised).

torch's other random functions (``torch.rand``, ``randn``, ``randint``, ``randperm``,
``normal``, ``Tensor.random_``, ``bernoulli_``, ``exponential_``, ...) are taken over too, by the
torch function mode of :mod:`fastinit.torch.random_calls`: inside a session, torch's global RNG
is neither used nor advanced.

May import: numpy, torch, fastinit._generator, fastinit._tensors, fastinit._validate,
fastinit.init, fastinit.torch.random_calls.
"""
from __future__ import annotations

import contextlib
import math
import threading
from typing import Any, Callable, Iterator

import numpy as np
import torch

from fastinit import _tensors
from fastinit import _validate as v
from fastinit import init as _init
from fastinit._generator import Generator, stream_for
from fastinit.torch.random_calls import RandomCalls, fill_from_session

__all__ = ["fast_init", "Named", "active", "check_seed", "identity", "local", "FLOATS"]

# The floating dtypes fastinit fills.
FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


# -- which generator fills a tensor ---------------------------------------------------------------

class _Sequential:
    """fast_init: one Generator; each call it handles takes its next stream number, so the same
    seed and the same model code give the same bits."""

    def __init__(self, seed: Any) -> None:
        self.rng = Generator(seed)

    def generator_for(self, tensor: torch.Tensor) -> Generator:
        return self.rng


class Named:
    """materialize: the tensor named N draws from ``Generator(seed, stream=stream_for(N))``.

    A tensor is recognized by its memory (data pointer, shape, dtype), so ``param``, ``param.data``
    and ``param.detach()`` are the same tensor.  Anything else (a temporary such as
    ``orthogonal_``'s Gaussian matrix, a slice of a parameter) draws from the stream of the name
    of the module whose init is running.  Each name's generator advances with each fill, so a
    tensor filled twice gets fresh values the second time, the same on every run.
    """

    def __init__(self, seed: Any, names: dict[tuple, str],
                 after_module: Callable[[torch.nn.Module], None] | None = None) -> None:
        self.key = Generator(seed).key
        self.names = names
        self.module_name = ""
        self.generators: dict[str, Generator] = {}
        # Called when a module's init code has run (save_initialized releases its pages).
        self.after_module = after_module or (lambda module: None)

    def generator_for(self, tensor: torch.Tensor) -> Generator:
        name = self.names.get(identity(tensor), self.module_name)
        rng = self.generators.get(name)
        if rng is None:
            rng = self.generators[name] = Generator(key=self.key, stream=stream_for(name))
        return rng


def identity(tensor: torch.Tensor) -> tuple:
    shard = local(tensor)
    return (shard.data_ptr(), tuple(shard.shape), shard.dtype)


def local(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor this process holds: a DTensor's local shard, any other tensor itself."""
    return tensor.to_local() if _is_dtensor(tensor) else tensor  # type: ignore[attr-defined]


def _is_dtensor(tensor: Any) -> bool:
    dtensor = _tensors._dtensor_type()
    return dtensor is not None and isinstance(tensor, dtensor)


# -- the hooks ------------------------------------------------------------------------------------

_local = threading.local()          # .sessions: this thread's stack of active sessions
_install_lock = threading.Lock()
_installed = 0                      # sessions active in all threads; hooks are in while > 0
_originals: dict[str, Any] = {}


def _session() -> Any:
    stack = getattr(_local, "sessions", None)
    return stack[-1] if stack else None


def _takes(tensor: Any, generator: Any) -> bool:
    """Whether fastinit fills this call (see the module docstring for what falls through)."""
    if generator is not None or not isinstance(tensor, torch.Tensor):
        return False
    local = tensor.to_local() if _is_dtensor(tensor) else tensor
    if (not _tensors.fills_on(local.device) or local.layout != torch.strided
            or local.dtype not in FLOATS):
        return False
    return not (tensor.requires_grad and torch.is_grad_enabled())


def _fill(tensor: torch.Tensor, fill: Callable[[Any, Generator], Any]) -> bool:
    """``fill(target, generator)`` on the tensor, or on a contiguous copy that is then copied
    back (values in the tensor's logical C order, as for a contiguous one).

    False when fastinit refuses the arguments (e.g. bounds beyond float16's range): its checks
    run before anything is written or a stream number is taken, so the call can go to torch.
    """
    try:
        fill_from_session(_session(), tensor, fill)
    except (ValueError, OverflowError, TypeError):
        return False
    return True


def _uniform_(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    low = args[0] if len(args) > 0 else kwargs.pop("from", 0.0)
    high = args[1] if len(args) > 1 else kwargs.pop("to", 1.0)
    generator = kwargs.pop("generator", None)
    if (_session() is not None and not kwargs and len(args) <= 2 and _takes(self, generator)
            and _real(low) and _real(high) and low <= high
            and math.isfinite(float(high) - float(low))
            and _fill(self, lambda t, rng: _init.uniform_(t, float(low), float(high),
                                                          generator=rng))):
        return self
    return _originals["uniform_"](self, *args, **_restore_kwargs(kwargs, args, low, high,
                                                                  generator, ("from", "to")))


def _normal_(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    mean = args[0] if len(args) > 0 else kwargs.pop("mean", 0.0)
    std = args[1] if len(args) > 1 else kwargs.pop("std", 1.0)
    generator = kwargs.pop("generator", None)
    if (_session() is not None and not kwargs and len(args) <= 2 and _takes(self, generator)
            and _real(mean) and _real(std) and math.isfinite(float(mean))
            and 0 <= float(std) < math.inf
            and _fill(self, lambda t, rng: _init.normal_(t, float(mean), float(std),
                                                         generator=rng))):
        return self
    return _originals["normal_"](self, *args, **_restore_kwargs(kwargs, args, mean, std,
                                                                 generator, ("mean", "std")))


def _restore_kwargs(kwargs: dict, args: tuple, first: Any, second: Any, generator: Any,
                    names: tuple[str, str]) -> dict:
    """The keyword arguments of a call that falls through, as the caller gave them."""
    if len(args) < 1:
        kwargs[names[0]] = first
    if len(args) < 2:
        kwargs[names[1]] = second
    if generator is not None:
        kwargs["generator"] = generator
    return kwargs


def _no_grad_trunc_normal_(tensor: torch.Tensor, mean: float, std: float, a: float, b: float,
                           generator: Any = None) -> torch.Tensor:
    if (_session() is not None and _takes(tensor, generator)
            and all(_real(x) for x in (mean, std, a, b)) and float(std) > 0 and a < b
            and all(math.isfinite(float(x)) for x in (mean, std))
            and _fill(tensor, lambda t, rng: _init.trunc_normal_(
                t, float(mean), float(std), float(a), float(b), generator=rng))):
        return tensor
    return _originals["_no_grad_trunc_normal_"](tensor, mean, std, a, b, generator=generator)


def _real(x: Any) -> bool:
    """A Python int or float that converts to a float that is not NaN."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return not math.isnan(float(x))
    except OverflowError:                    # an int beyond float's range
        return False


_HOOKS = {
    "uniform_": (torch.Tensor, _uniform_),
    "normal_": (torch.Tensor, _normal_),
    "_no_grad_trunc_normal_": (torch.nn.init, _no_grad_trunc_normal_),
}


@contextlib.contextmanager
def active(session: Any) -> Iterator[Any]:
    """Install the hooks (once, for all threads) and make ``session`` this thread's."""
    global _installed
    with _install_lock:
        if _installed == 0:
            for name, (owner, hook) in _HOOKS.items():
                _originals[name] = getattr(owner, name)
                _originals["own " + name] = name in vars(owner)
                setattr(owner, name, hook)
        _installed += 1
    stack = getattr(_local, "sessions", None)
    if stack is None:
        stack = _local.sessions = []
    stack.append(session)
    try:
        with RandomCalls(session):            # torch.rand, randn, randperm, ... (this thread)
            yield session
    finally:
        stack.pop()
        with _install_lock:
            _installed -= 1
            if _installed == 0:
                for name, (owner, _) in _HOOKS.items():
                    if _originals["own " + name]:
                        setattr(owner, name, _originals[name])
                    else:
                        delattr(owner, name)        # torch.Tensor inherits it from TensorBase


def check_seed(seed: Any, where: str, allow_none: bool) -> None:
    """A session's seed: an int >= 0 or a SeedSequence (None too for fast_init)."""
    v.check_seed(seed, where, none=allow_none)


@contextlib.contextmanager
def fast_init(seed: int | np.random.SeedSequence | None = None) -> Iterator[Generator]:
    """Context manager: model code inside initializes CPU tensors with fastinit's kernels.

    >>> import torch, fastinit.torch
    >>> with fastinit.torch.fast_init(seed=0):
    ...     layer = torch.nn.Linear(1024, 1024)       # kaiming_uniform_(a=sqrt(5)), by fastinit

    Every ``torch.nn.init`` function and ``Tensor.uniform_`` / ``normal_`` call on a CPU float
    tensor made on this thread is filled by fastinit with the arguments torch received, so the
    distributions, bounds and fans are torch's; ``trunc_normal_`` is exact.  Each such call takes
    the next stream number of ``Generator(seed)``: the same seed and the same code give the same
    bits on every run and thread count, and torch's global RNG is neither used nor advanced by
    them.  What falls through to torch is listed in this module's docstring.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or None
        None draws fresh entropy (not reproducible).

    Yields
    ------
    Generator
        The generator the calls draw from (its ``state`` says how many calls it handled).
    """
    check_seed(seed, "fast_init", allow_none=True)
    with active(_Sequential(seed)) as session:
        yield session.rng
