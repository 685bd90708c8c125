"""The one init vocabulary: how every entry point reads "fill this with an init".

Every entry point (``initializers.get``, the file writers, ``fastinit.dask.initialize``, the CLI's
``--init`` and ``--spec``, ``diagnose``) hands what it is given to
:func:`fastinit.initializers.get`, which reads, in this order:

- an initializer object, returned as is;
- a Keras config ``{"class_name": "HeNormal", "config": {...}}``;
- an init function of :mod:`fastinit.init` with its arguments: ``("kaiming_uniform_", {"a":
  2.236})`` or ``{"function": "normal_", "args": {"std": 0.02}}``;
- a :class:`fastinit.Generator` distribution with its arguments: ``("uniform", {"low": -0.1,
  "high": 0.1})`` or ``{"distribution": "normal", "args": {}}``;
- a string: ``NAME``, ``NAME:VALUE`` or ``NAME(ARG=VALUE, ...)``.  ``NAME`` is a torch function
  (``normal_``), a Keras/JAX initializer name or class name (``he_normal``, ``HeNormal``,
  ``normal``), or a torch function without its ``_`` that Keras has no initializer of
  (``kaiming_normal``, ``xavier_uniform``, ``trunc_normal``).  ``:VALUE`` sets the init's main
  argument (:data:`MAIN_ARGUMENT`: ``normal:0.01`` is N(0, 0.01**2), ``uniform:0.1`` is
  U(-0.1, 0.1)); ``(ARG=VALUE, ...)`` its arguments by name, as Python literals (a bare word is
  a string: ``kaiming_normal_(mode=fan_out)``).  Strings never name a distribution.

This module reads the function and distribution forms and the string syntax; it knows no
initializer class, so that :mod:`fastinit.initializers` can build on it.  The grammar is the
README's section "Naming an init".

May import: numpy, fastinit._generator, fastinit._names, fastinit.init.
"""
from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import math
import re
from typing import Any, Callable

import numpy as np

from fastinit import _names
from fastinit import init as _init
from fastinit._generator import Generator

__all__ = ["FUNCTIONS", "DISTRIBUTIONS", "MAIN_ARGUMENT", "Form", "read_form", "split",
           "named_function", "function", "distribution", "torch_function", "main_arguments",
           "first_element", "rehearse"]

FUNCTIONS = tuple(name for name in _init.__all__ if name.endswith("_"))
DISTRIBUTIONS = ("random", "uniform", "standard_normal", "normal", "truncated_normal")
# No local form: these compute the whole tensor for any block (QR; a sort over every row).
_WHOLE_FUNCTIONS = ("orthogonal_", "sparse_")
# Arguments the writer itself supplies.
_RESERVED = ("arr", "generator", "shape", "region", "size", "dtype", "out")

# What the VALUE of NAME:VALUE sets, by torch function or initializer class; a pair is a
# symmetric interval (-VALUE, VALUE).
MAIN_ARGUMENT: dict[str, str | tuple[str, str]] = {
    "normal_": "std", "uniform_": ("a", "b"), "trunc_normal_": "std", "constant_": "val",
    "xavier_uniform_": "gain", "xavier_normal_": "gain", "kaiming_uniform_": "a",
    "kaiming_normal_": "a", "orthogonal_": "gain", "sparse_": "sparsity",
    "RandomNormal": "stddev", "TruncatedNormal": "stddev", "RandomUniform": ("minval", "maxval"),
    "Constant": "value", "VarianceScaling": "scale", "Orthogonal": "gain", "Identity": "gain",
}

# NAME, NAME:VALUE or NAME(ARGS); the name is a Python identifier.
_STRING = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*(\S+)|\((.*)\))?\s*", re.S)


@dataclasses.dataclass(frozen=True)
class Form:
    """An init function of :mod:`fastinit.init` (``kind == "function"``) or a Generator
    distribution (``"distribution"``) with checked, JSON-able arguments."""
    kind: str
    name: str
    args: dict[str, Any]

    @property
    def local(self) -> bool:
        """Whether a block costs only its own size (False: the whole tensor is computed)."""
        return self.kind != "function" or self.name not in _WHOLE_FUNCTIONS

    def working_bytes(self, shape: tuple[int, ...]) -> int:
        """Memory to compute the whole tensor at once (0 for local forms)."""
        return 0 if self.local else 32 * math.prod(shape)  # float64 Gaussian, QR's copies

    def __str__(self) -> str:
        """The form as it reads back: ``normal_(std=0.02)``, ``('uniform', {'low': -1.0})``."""
        if self.kind == "function":
            return f"{self.name}({', '.join(f'{k}={x!r}' for k, x in self.args.items())})"
        return repr((self.name, self.args))

    def config(self) -> dict[str, Any]:
        """The canonical form, as a checkpoint records it and :func:`read_form` reads it."""
        return {self.kind: self.name, "args": dict(self.args)}

    def fill(self, out: Any, shape: tuple[int, ...], region: Any, rng: Generator) -> None:
        """Write the block ``region`` (None: all) of the ``shape`` tensor into ``out``."""
        if self.kind == "function":
            function = getattr(_init, self.name)
            extra = {"generator": rng} if "generator" in _parameters(function) else {}
            function(out, **self.args, **extra, shape=shape, region=region)
        else:
            getattr(rng, self.name)(**self.args, size=shape, out=out, region=region)


def _at(where: str) -> str:
    """The prefix of an error message about ``where`` (none for an empty ``where``)."""
    return f"{where}: " if where else ""


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def torch_function(name: str) -> str | None:
    """The :mod:`fastinit.init` function ``name`` stands for (``"kaiming_normal"`` ->
    ``"kaiming_normal_"``), or None."""
    for candidate in (name, name + "_"):
        if candidate in FUNCTIONS:
            return candidate
    return None


def split(text: str, where: str) -> tuple[str, dict[str, Any] | None, float | None]:
    """A string init as ``(name, args, value)``: ``"normal_(std=0.02)"`` -> ``("normal_",
    {"std": 0.02}, None)``, ``"normal:0.01"`` -> ``("normal", None, 0.01)``."""
    match = _STRING.fullmatch(text)
    if match is None:
        raise ValueError(f"{_at(where)}cannot read init {text!r}: write NAME, NAME:VALUE or "
                         "NAME(ARG=VALUE, ...), e.g. 'he_normal', 'normal:0.01', "
                         "'kaiming_uniform_(a=2.236)' (README: Naming an init)")
    name, value, call = match.groups()
    if value is not None:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{_at(where)}init {text!r}: {value!r} is not a number") from None
        return name, None, number
    if call is None:
        return name, None, None
    return name, _keywords(call, text, where), None


def _keywords(call: str, text: str, where: str) -> dict[str, Any]:
    try:
        node = ast.parse(f"f({call})", mode="eval").body
    except SyntaxError:
        node = None
    if not isinstance(node, ast.Call) or node.args:
        raise ValueError(f"{_at(where)}cannot read the arguments of {text!r}: give them by name, "
                         "as Python literals (normal_(std=0.02), kaiming_normal_(mode=fan_out))")
    args: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ValueError(f"{_at(where)}{text!r}: ** is not an argument")
        value = keyword.value
        if isinstance(value, ast.Name):              # a bare word: mode=fan_out
            args[keyword.arg] = value.id
            continue
        try:
            args[keyword.arg] = ast.literal_eval(value)
        except ValueError:
            raise ValueError(f"{_at(where)}{text!r}: the value of {keyword.arg} must be a number, a "
                             "string, a boolean or a list") from None
    return args


def main_arguments(target: str, value: float, text: str, where: str) -> dict[str, Any]:
    """The arguments ``NAME:VALUE`` gives the function or initializer class ``target``."""
    argument = MAIN_ARGUMENT.get(target)
    if argument is None:
        raise ValueError(f"{_at(where)}init {text!r}: {target} has no main argument to set with "
                         f"':'; give its arguments by name, as in {target}(ARG=VALUE)")
    if isinstance(argument, tuple):
        return {argument[0]: -value, argument[1]: value}
    return {argument: value}


def read_form(init: Any, where: str, also: tuple[str, ...] = ()) -> Form:
    """The :class:`Form` of an init function or distribution given as a tuple or list
    ``(name, args)``, a dict ``{"function" | "distribution": name, "args": {...}}`` or a string
    naming a torch function; ValueError or TypeError naming ``where`` for anything else (an
    unknown name gets the close matches among the functions and ``also``)."""
    if isinstance(init, Form):
        return init
    if isinstance(init, dict):
        kinds = [k for k in ("function", "distribution") if k in init]
        extra = [k for k in init if k not in ("function", "distribution", "args")]
        if len(kinds) != 1 or extra:
            raise ValueError(f"{_at(where)}an init dict is {{'function': name, 'args': {{...}}}}, "
                             "{'distribution': name, 'args': {...}} or an initializer config "
                             f"{{'class_name': ..., 'config': {{...}}}}; got keys {sorted(init)}")
        name, args = init[kinds[0]], init.get("args", {})
        return function(name, args, where, also) if kinds[0] == "function" else \
            distribution(name, args, where)
    if isinstance(init, (tuple, list)) and len(init) in (1, 2) and isinstance(init[0], str):
        name, args = init[0], init[1] if len(init) == 2 else {}
        if name.endswith("_"):
            return function(name, args, where, also)
        return distribution(name, args, where)
    if isinstance(init, str):
        return named_function(*split(init, where), init, where, also)
    raise TypeError(f"{_at(where)}cannot read init {init!r}: give an init function name with its "
                    "arguments (('normal_', {'std': 0.02}) or 'normal_(std=0.02)'), a "
                    "distribution (('uniform', {'low': -0.1, 'high': 0.1})) or an initializer "
                    "(fastinit.initializers.HeNormal(), 'he_normal' or a config dict)")


def named_function(name: str, args: dict[str, Any] | None, value: float | None, text: str,
                   where: str, also: tuple[str, ...] = ()) -> Form:
    """The torch function a split string ``text`` names (:func:`split`'s ``name, args,
    value``), with its arguments or its main argument set to ``value``."""
    target = torch_function(name) or name
    if value is not None:
        args = main_arguments(target, value, text, where)
    return function(target, args or {}, where, also)


def function(name: Any, args: Any, where: str, also: tuple[str, ...] = ()) -> Form:
    """The form of the init function ``name`` with ``args``; an unknown name is matched against
    the functions and the names in ``also``."""
    if name not in FUNCTIONS:
        raise ValueError(f"{_at(where)}{_names.unknown('init', name, FUNCTIONS + also)}")
    allowed = [p for p in _parameters(getattr(_init, name)) if p not in _RESERVED]
    return Form("function", name, _check_args(args, allowed, name, where))


def distribution(name: Any, args: Any, where: str) -> Form:
    """The form of the Generator distribution ``name`` with ``args``."""
    if name not in DISTRIBUTIONS:
        raise ValueError(f"{_at(where)}{_names.unknown('distribution', name, DISTRIBUTIONS)} (an "
                         "init function's name ends with '_')")
    allowed = [p for p in _parameters(getattr(Generator, name)) if p not in _RESERVED + ("self",)]
    return Form("distribution", name, _check_args(args, allowed, name, where))


def _check_args(args: Any, allowed: list[str], what: str, where: str) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise TypeError(f"{_at(where)}the arguments of {what} must be a dict, got "
                        f"{type(args).__name__}")
    for key in args:
        if key in _RESERVED and key not in allowed:
            raise ValueError(f"{_at(where)}{what} is not given {key!r}: the writer supplies it "
                             "(the tensor's shape and dtype, and the stream of its name)")
        if key not in allowed:
            raise ValueError(f"{_at(where)}{what} takes no argument {key!r}; it takes "
                             f"{', '.join(allowed) if allowed else 'no arguments'}")
    try:
        json.dumps(args, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{_at(where)}the arguments of {what} must be JSON numbers, strings, "
                        f"booleans or lists (they are recorded in the file): {exc}") from None
    return dict(args)


def first_element(shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The region of a tensor's first element (an empty block for an empty tensor)."""
    return tuple(slice(0, min(1, d)) for d in shape)


def rehearse(initializer: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray | None:
    """Run ``initializer`` on the first element of the ``shape`` tensor, so that bad arguments
    fail before a writer changes anything; one without a chunked form (``local`` False:
    Orthogonal's QR) is computed whole instead, and that tensor returned for the write."""
    if not initializer.local:
        return initializer(shape, dtype)
    initializer(shape, dtype, region=first_element(shape))
    return None
