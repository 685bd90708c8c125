"""The numpy.random.Generator methods that fastinit does not compute itself, run by NumPy.

``fastinit.Generator`` computes ``random``, ``uniform``, ``standard_normal`` and ``normal`` (and
``truncated_normal``) with its own kernels.  Every other method of ``numpy.random.Generator`` is
here, with NumPy's signature, and runs NumPy's own code over a ``fastinit.Philox`` placed at word
0 of the call's stream number.  A call takes exactly one stream number, as every fastinit call
does: its values depend only on (key, stream, arguments), never on earlier calls, and a call that
needs many words (a shuffle of 10**8 elements) reads more blocks of its own stream.  A call that
NumPy refuses gives the stream number back, so a failed call changes nothing.

The most common calls, ``integers`` into int32 or int64 with scalar bounds, and ``shuffle`` and
``permutation`` of 1-d arrays of 4- or 8-byte items (or of an int), are computed by
fastinit.Philox itself with NumPy's algorithms (Lemire's method; Fisher-Yates with NumPy's
masked draws), taking words in NumPy's order: the same values as NumPy's code over the same
stream, without NumPy's indirect call per value.

May import: numpy, fastinit._core.bit_generator.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from fastinit._core.bit_generator import (
    Philox,
    bounded_fill,
    numpy_call,
    numpy_call_kw,
    register_numpy_method,
    shuffle_contiguous,
)

_BOUNDED_BITS = {np.dtype(np.int32): 32, np.dtype(np.int64): 64}


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _bounded_plan(low: Any, high: Any, size: Any, dtype: Any,
                  endpoint: Any) -> tuple[np.ndarray, int, int] | None:
    """(out, off, rng) for an integers call that bounded_fill computes, else None (NumPy runs it:
    array bounds, other dtypes, size None or empty, and every call NumPy refuses)."""
    if size is None or type(endpoint) is not bool:
        return None
    try:
        bits = _BOUNDED_BITS.get(np.dtype(dtype))
    except TypeError:
        return None
    if bits is None:
        return None
    if high is None:
        low, high = 0, low
    if not (_is_int(low) and _is_int(high)):
        return None
    low, high = int(low), int(high) - (not endpoint)      # NumPy's closed interval
    if not -(1 << (bits - 1)) <= low <= high <= (1 << (bits - 1)) - 1:
        return None
    shape = (size,) if _is_int(size) else size
    if not (isinstance(shape, tuple) and all(_is_int(d) and d > 0 for d in shape)):
        return None
    return np.empty(shape, np.dtype(dtype)), low % (1 << bits), high - low


def _shuffles_compiled(x: Any, axis: Any) -> bool:
    """Whether shuffle_contiguous does NumPy's 1-d shuffle of ``x`` (else NumPy runs it)."""
    return (type(x) is np.ndarray and x.ndim == 1 and x.size > 1 and _is_int(axis)
            and axis in (0, -1) and x.dtype.itemsize in (4, 8) and not x.dtype.hasobject
            and x.flags.c_contiguous and x.flags.writeable)


def _numpy_method(method: Callable) -> Callable:
    """Give a delegated method NumPy's docstring, after a line on how fastinit runs it, and tell
    numpy_call its defaults (arguments left at them are not passed on)."""
    name = method.__name__
    register_numpy_method(name, method.__defaults__ or (), method.__kwdefaults__ or {})
    numpy_doc = inspect.getdoc(getattr(np.random.Generator, name)) or ""
    method.__doc__ = (f"NumPy's ``Generator.{name}``, run over a ``fastinit.Philox`` at the call's "
                      "stream number (one stream per call; see fastinit._numpy_methods).\n\n"
                      + numpy_doc)
    return method


class NumpyMethods:
    """Mixin of ``fastinit.Generator``: the NumPy methods it delegates (see the module)."""

    _bit_generator: Philox

    @_numpy_method
    def beta(self, a: Any, b: Any, size: Any = None) -> Any:
        return numpy_call(self, "beta", a, b, size)

    @_numpy_method
    def binomial(self, n: Any, p: Any, size: Any = None) -> Any:
        return numpy_call(self, "binomial", n, p, size)

    @_numpy_method
    def bytes(self, length: int) -> Any:
        return numpy_call(self, "bytes", length)

    @_numpy_method
    def chisquare(self, df: Any, size: Any = None) -> Any:
        return numpy_call(self, "chisquare", df, size)

    @_numpy_method
    def choice(self, a: Any, size: Any = None, replace: bool = True, p: Any = None, axis: int = 0,
               shuffle: bool = True) -> Any:
        return numpy_call(self, "choice", a, size, replace, p, axis, shuffle)

    @_numpy_method
    def dirichlet(self, alpha: Any, size: Any = None) -> Any:
        return numpy_call(self, "dirichlet", alpha, size)

    @_numpy_method
    def exponential(self, scale: Any = 1.0, size: Any = None) -> Any:
        return numpy_call(self, "exponential", scale, size)

    @_numpy_method
    def f(self, dfnum: Any, dfden: Any, size: Any = None) -> Any:
        return numpy_call(self, "f", dfnum, dfden, size)

    @_numpy_method
    def gamma(self, shape: Any, scale: Any = 1.0, size: Any = None) -> Any:
        return numpy_call(self, "gamma", shape, scale, size)

    @_numpy_method
    def geometric(self, p: Any, size: Any = None) -> Any:
        return numpy_call(self, "geometric", p, size)

    @_numpy_method
    def gumbel(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        return numpy_call(self, "gumbel", loc, scale, size)

    @_numpy_method
    def hypergeometric(self, ngood: Any, nbad: Any, nsample: Any, size: Any = None) -> Any:
        return numpy_call(self, "hypergeometric", ngood, nbad, nsample, size)

    @_numpy_method
    def integers(self, low: Any, high: Any = None, size: Any = None, dtype: Any = np.int64,
                 endpoint: bool = False) -> Any:
        plan = _bounded_plan(low, high, size, dtype, endpoint)
        if plan is None:
            return numpy_call(self, "integers", low, high, size, dtype, endpoint)
        out, off, rng = plan                    # allocated before the stream is taken
        streams = self._bit_generator
        key, stream = streams.key, streams._take_stream()
        bounded_fill(out, key, stream, off, rng)
        return out

    @_numpy_method
    def laplace(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        return numpy_call(self, "laplace", loc, scale, size)

    @_numpy_method
    def logistic(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        return numpy_call(self, "logistic", loc, scale, size)

    @_numpy_method
    def lognormal(self, mean: Any = 0.0, sigma: Any = 1.0, size: Any = None) -> Any:
        return numpy_call(self, "lognormal", mean, sigma, size)

    @_numpy_method
    def logseries(self, p: Any, size: Any = None) -> Any:
        return numpy_call(self, "logseries", p, size)

    @_numpy_method
    def multinomial(self, n: Any, pvals: Any, size: Any = None) -> Any:
        return numpy_call(self, "multinomial", n, pvals, size)

    @_numpy_method
    def multivariate_hypergeometric(self, colors: Any, nsample: Any, size: Any = None,
                                    method: str = "marginals") -> Any:
        return numpy_call(self, "multivariate_hypergeometric", colors, nsample, size, method)

    @_numpy_method
    def multivariate_normal(self, mean: Any, cov: Any, size: Any = None, check_valid: str = "warn",
                            tol: float = 1e-08, *, method: str = "svd") -> Any:
        return numpy_call_kw(self, "multivariate_normal", (mean, cov, size, check_valid, tol),
                             {"method": method})

    @_numpy_method
    def negative_binomial(self, n: Any, p: Any, size: Any = None) -> Any:
        return numpy_call(self, "negative_binomial", n, p, size)

    @_numpy_method
    def noncentral_chisquare(self, df: Any, nonc: Any, size: Any = None) -> Any:
        return numpy_call(self, "noncentral_chisquare", df, nonc, size)

    @_numpy_method
    def noncentral_f(self, dfnum: Any, dfden: Any, nonc: Any, size: Any = None) -> Any:
        return numpy_call(self, "noncentral_f", dfnum, dfden, nonc, size)

    @_numpy_method
    def pareto(self, a: Any, size: Any = None) -> Any:
        return numpy_call(self, "pareto", a, size)

    @_numpy_method
    def permutation(self, x: Any, axis: int = 0) -> Any:
        if _is_int(x) and x > 1 and _is_int(axis) and axis in (0, -1):
            arr = np.arange(x)                      # NumPy's permutation of an int
            self._shuffle_compiled(arr)
            return arr
        return numpy_call(self, "permutation", x, axis)

    @_numpy_method
    def permuted(self, x: Any, *, axis: int | None = None, out: Any = None) -> Any:
        return numpy_call_kw(self, "permuted", (x,), {"axis": axis, "out": out})

    @_numpy_method
    def poisson(self, lam: Any = 1.0, size: Any = None) -> Any:
        return numpy_call(self, "poisson", lam, size)

    @_numpy_method
    def power(self, a: Any, size: Any = None) -> Any:
        return numpy_call(self, "power", a, size)

    @_numpy_method
    def rayleigh(self, scale: Any = 1.0, size: Any = None) -> Any:
        return numpy_call(self, "rayleigh", scale, size)

    @_numpy_method
    def shuffle(self, x: Any, axis: int = 0) -> Any:
        if _shuffles_compiled(x, axis):
            return self._shuffle_compiled(x)
        return numpy_call(self, "shuffle", x, axis)

    def _shuffle_compiled(self, x: np.ndarray) -> None:
        streams = self._bit_generator
        key, stream = streams.key, streams._take_stream()
        shuffle_contiguous(x, key, stream)

    @_numpy_method
    def standard_cauchy(self, size: Any = None) -> Any:
        return numpy_call(self, "standard_cauchy", size)

    @_numpy_method
    def standard_exponential(self, size: Any = None, dtype: Any = np.float64, method: str = "zig",
                             out: Any = None) -> Any:
        return numpy_call(self, "standard_exponential", size, dtype, method, out)

    @_numpy_method
    def standard_gamma(self, shape: Any, size: Any = None, dtype: Any = np.float64,
                       out: Any = None) -> Any:
        return numpy_call(self, "standard_gamma", shape, size, dtype, out)

    @_numpy_method
    def standard_t(self, df: Any, size: Any = None) -> Any:
        return numpy_call(self, "standard_t", df, size)

    @_numpy_method
    def triangular(self, left: Any, mode: Any, right: Any, size: Any = None) -> Any:
        return numpy_call(self, "triangular", left, mode, right, size)

    @_numpy_method
    def vonmises(self, mu: Any, kappa: Any, size: Any = None) -> Any:
        return numpy_call(self, "vonmises", mu, kappa, size)

    @_numpy_method
    def wald(self, mean: Any, scale: Any, size: Any = None) -> Any:
        return numpy_call(self, "wald", mean, scale, size)

    @_numpy_method
    def weibull(self, a: Any, size: Any = None) -> Any:
        return numpy_call(self, "weibull", a, size)

    @_numpy_method
    def zipf(self, a: Any, size: Any = None) -> Any:
        return numpy_call(self, "zipf", a, size)
