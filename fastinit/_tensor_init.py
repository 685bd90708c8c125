"""How one named tensor of a checkpoint is initialized, and its values in memory.

A checkpoint writer is given, for each tensor, its shape, its dtype and an *init*, which is one of

- an init function of :mod:`fastinit.init` with its arguments: ``("kaiming_uniform_",
  {"a": 2.236})``, ``"ones_"``, or the canonical ``{"function": "normal_", "args": {"std":
  0.02}}``; its name ends with ``_``, as in ``torch.nn.init``;
- a distribution, a :class:`fastinit.Generator` method with its arguments: ``("normal", {"loc":
  0.0, "scale": 0.02})``, or ``{"distribution": "truncated_normal", "args": {...}}``;
- an initializer of :mod:`fastinit.initializers`: an object (``HeNormal()``), a name
  (``"he_normal"``) or a config dict (``{"class_name": "HeNormal", "config": {}}``), without a
  seed of its own.

A tuple's or a plain string's name is read in that order: a trailing ``_`` names a function, a
tuple names a distribution, a plain string names an initializer.  (``("truncated_normal", {})``
is the distribution; ``"truncated_normal"`` the initializer.)

The values of the tensor named N under ``seed`` are those of its init drawing from
``Generator(seed, stream=stream_for(N))``, the stream ``fastinit.torch.materialize`` gives the
tensor of that name: ``fastinit.init.normal_(a, std=0.02, generator=Generator(seed,
stream=stream_for(N)))`` for ``("normal_", {"std": 0.02})``.  :func:`init_tensor` computes them
in memory, whole or as a block; a writer computes the file chunk by chunk with ``region=``.
"""
from __future__ import annotations

import copy
import inspect
import json
import math
from typing import Any, Sequence

import numpy as np

from fastinit import _names
from fastinit import _validate as v
from fastinit import init as _init
from fastinit import initializers
from fastinit._generator import Generator, stream_for

__all__ = ["TensorInit", "Recipe", "parse_init", "as_initializer", "init_tensor",
           "storage_dtype", "key_of"]

FUNCTIONS = tuple(name for name in _init.__all__ if name.endswith("_"))
DISTRIBUTIONS = ("random", "uniform", "standard_normal", "normal", "truncated_normal")
# No local form: these compute the whole tensor for any block (QR; a sort over every row).
_WHOLE_FUNCTIONS = ("orthogonal_", "sparse_")
# Arguments the writer itself supplies.
_RESERVED = ("arr", "generator", "shape", "region", "size", "dtype", "out")


def storage_dtype(dtype: Any, where: str) -> np.dtype:
    """float32, float64, float16 or bfloat16 as the dtype a writer fills; bfloat16 as the tagged
    uint16 words (``_validate.BFLOAT16_BITS``), so that ml_dtypes is not needed."""
    if isinstance(dtype, str) and dtype == "bfloat16":
        return v.BFLOAT16_BITS
    dt = v.resolve_dtype(dtype, None, where)
    return v.BFLOAT16_BITS if v.is_bfloat16(dt) else dt


def key_of(seed: Any, where: str) -> int:
    """The Philox key of a writer's seed: an int >= 0 or a numpy.random.SeedSequence."""
    if isinstance(seed, np.random.SeedSequence):
        return Generator(seed).key
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{where}: seed must be an int or a numpy.random.SeedSequence, got "
                        f"{type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{where}: seed must be >= 0, got {seed}")
    return Generator(int(seed)).key


class TensorInit:
    """A parsed init: ``kind`` is "function", "distribution" or "initializer".

    ``config()`` is its canonical JSON-able form (what a checkpoint's metadata records and
    :func:`parse_init` reads back); ``fill(out, shape, region, rng)`` writes the block ``region``
    of the tensor of shape ``shape`` into ``out``.
    """

    def __init__(self, kind: str, name: str, args: dict[str, Any],
                 initializer: initializers.Initializer | None = None) -> None:
        self.kind, self.name, self.args = kind, name, args
        self.initializer = initializer

    @property
    def local(self) -> bool:
        """Whether a block costs only its own size (False: the whole tensor is computed)."""
        if self.kind == "function":
            return self.name not in _WHOLE_FUNCTIONS
        if self.kind == "initializer":
            return bool(self.initializer.local)          # type: ignore[union-attr]
        return True

    def working_bytes(self, shape: tuple[int, ...]) -> int:
        """Memory to compute the whole tensor at once (0 for local inits)."""
        if self.local:
            return 0
        if self.kind == "initializer":
            return self.initializer.working_bytes(shape)  # type: ignore[union-attr]
        return 32 * math.prod(shape)            # float64 Gaussian or keys, QR's copies, result

    def config(self) -> dict[str, Any]:
        if self.kind == "initializer":
            return {"class_name": self.name, "config": self.args}
        return {self.kind: self.name, "args": self.args}

    def __repr__(self) -> str:
        return f"TensorInit({json.dumps(self.config())})"

    def fill(self, out: np.ndarray, shape: tuple[int, ...], region: Any, rng: Generator) -> None:
        """Write the block ``region`` (None: all) of the ``shape`` tensor into ``out``."""
        if self.kind == "function":
            function = getattr(_init, self.name)
            extra = {"generator": rng} if "generator" in _parameters(function) else {}
            function(out, **self.args, **extra, shape=shape, region=region)
        elif self.kind == "distribution":
            getattr(rng, self.name)(**self.args, size=shape, out=out, region=region)
        else:
            initializer = copy.copy(self.initializer)
            initializer._generator = rng                  # type: ignore[union-attr]
            initializer(shape, out.dtype, out=out, region=region)  # type: ignore[misc]


class Recipe(initializers.Initializer):
    """An init function of :mod:`fastinit.init` or a Generator distribution, with its arguments,
    as an initializer: ``Recipe(("normal_", {"std": 0.02}), seed=7)(shape)`` equals
    ``fastinit.init.normal_(np.empty(shape), std=0.02, generator=Generator(7))``.

    What ``fill_npy`` and ``write_zarr`` fill when given such a form instead of an initializer;
    ``seed=None`` draws fresh entropy on every call, as the initializers do.
    """

    def __init__(self, init: Any, seed: Any = None) -> None:
        spec = parse_init(init, "init")
        if spec.kind == "initializer":
            raise TypeError(f"init: {spec.name} is an initializer; use it directly")
        self._spec = spec
        self.init = spec.config()
        self.seed = initializers.check_seed(seed, "Recipe")

    @property
    def local(self) -> bool:                              # type: ignore[override]
        return self._spec.local

    def working_bytes(self, shape: Sequence[int]) -> int:
        return self._spec.working_bytes(tuple(shape))

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        full = initializers.shape_of(shape)
        target = initializers.target_block(full, dtype, out, region, "Recipe")
        self._spec.fill(target, full, region, Generator(self.seed))
        return target

    def get_config(self) -> dict[str, Any]:
        return {"init": self.init, "seed": self.seed}


def as_initializer(init: Any, where: str) -> initializers.Initializer:
    """``init`` as an initializer object: an initializer (object, name, config) as
    :func:`fastinit.initializers.get` reads it, any other form of :func:`parse_init` (a torch
    function or a distribution, with arguments) as a :class:`Recipe`."""
    if init is None:
        raise TypeError(f"{where}: init is required (an initializer, a name, a config dict, or "
                        "an init function with its arguments)")
    if isinstance(init, dict) and init.get("class_name") == "Recipe":
        return Recipe.from_config(init.get("config", {}))     # as a writer records one
    if isinstance(init, initializers.Initializer) or (
            isinstance(init, dict) and "class_name" in init) or (
            isinstance(init, str) and not init.endswith("_")):
        return _get_initializer(init, where)
    try:
        return Recipe(init)
    except (TypeError, ValueError) as exc:
        raise type(exc)(str(exc).replace("init: ", f"{where}: ", 1)) from None


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def _check_args(args: Any, allowed: list[str], what: str, where: str) -> dict[str, Any]:
    if not isinstance(args, dict):
        raise TypeError(f"{where}: the arguments of {what} must be a dict, got "
                        f"{type(args).__name__}")
    for key in args:
        if key in _RESERVED and key not in allowed:
            raise ValueError(f"{where}: {what} is not given {key!r}: the writer supplies it "
                             "(the tensor's shape and dtype, and the stream of its name)")
        if key not in allowed:
            raise ValueError(f"{where}: {what} takes no argument {key!r}; it takes "
                             f"{', '.join(allowed) if allowed else 'no arguments'}")
    try:
        json.dumps(args, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: the arguments of {what} must be JSON numbers, strings, "
                        f"booleans or lists (they are recorded in the file): {exc}") from None
    return dict(args)


def parse_init(init: Any, where: str) -> TensorInit:
    """The :class:`TensorInit` of any accepted form (see the module docstring); TypeError or
    ValueError naming ``where`` (the tensor) for anything else."""
    if isinstance(init, TensorInit):
        return init
    if isinstance(init, initializers.Initializer):
        return _from_initializer(init, where)
    if isinstance(init, str) and not init.endswith("_"):
        return _from_initializer(_get_initializer(init, where), where)
    if isinstance(init, dict) and "class_name" in init:
        return _from_initializer(_get_initializer(init, where), where)
    if isinstance(init, dict):
        kinds = [k for k in ("function", "distribution") if k in init]
        extra = [k for k in init if k not in ("function", "distribution", "args")]
        if len(kinds) != 1 or extra:
            raise ValueError(f"{where}: an init dict is {{'function': name, 'args': {{...}}}}, "
                             "{'distribution': name, 'args': {...}} or an initializer config "
                             f"{{'class_name': ..., 'config': {{...}}}}; got keys {sorted(init)}")
        name, args = init[kinds[0]], init.get("args", {})
        return _from_function(name, args, where) if kinds[0] == "function" else \
            _from_distribution(name, args, where)
    if isinstance(init, str):
        return _from_function(init, {}, where)
    if isinstance(init, (tuple, list)) and len(init) in (1, 2) and isinstance(init[0], str):
        name, args = init[0], init[1] if len(init) == 2 else {}
        if name.endswith("_"):
            return _from_function(name, args, where)
        return _from_distribution(name, args, where)
    raise TypeError(f"{where}: cannot read init {init!r}: give an init function name with its "
                    "arguments (('normal_', {'std': 0.02})), a distribution (('uniform', "
                    "{'low': -0.1, 'high': 0.1})) or an initializer (fastinit.initializers."
                    "HeNormal(), 'he_normal' or a config dict)")


def _from_function(name: Any, args: Any, where: str) -> TensorInit:
    if name not in FUNCTIONS:
        raise ValueError(f"{where}: {_names.unknown('init function', name, FUNCTIONS)}")
    allowed = [p for p in _parameters(getattr(_init, name)) if p not in _RESERVED]
    return TensorInit("function", name, _check_args(args, allowed, name, where))


def _from_distribution(name: Any, args: Any, where: str) -> TensorInit:
    if name not in DISTRIBUTIONS:
        raise ValueError(f"{where}: {_names.unknown('distribution', name, DISTRIBUTIONS)} (an "
                         "init function's name ends with '_')")
    allowed = [p for p in _parameters(getattr(Generator, name)) if p not in _RESERVED + ("self",)]
    return TensorInit("distribution", name, _check_args(args, allowed, name, where))


def _get_initializer(identifier: Any, where: str) -> initializers.Initializer:
    """``initializers.get(identifier)``, its errors naming ``where``; an unknown name is matched
    against the whole vocabulary (a torch name without its ``_`` finds it)."""
    try:
        obj = initializers.get(identifier)
    except ValueError as exc:
        if isinstance(identifier, str):
            raise ValueError(f"{where}: " + str(_names.unknown(
                "init", identifier, FUNCTIONS + initializers.NAMES))) from None
        raise ValueError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None
    assert obj is not None
    return obj


def _from_initializer(obj: initializers.Initializer, where: str) -> TensorInit:
    config = obj.get_config()
    if config.get("seed") is not None:
        raise ValueError(f"{where}: {type(obj).__name__} has a seed of its own ({config['seed']}); "
                         "give it none: the writer's seed and the tensor's name choose its stream")
    config.pop("seed", None)
    for default_none in ("input_axes", "output_axes"):   # Keras' axes, unless given
        if config.get(default_none, 0) is None:
            del config[default_none]
    return TensorInit("initializer", type(obj).__name__, config, obj)


def init_tensor(name: str, shape: Sequence[int], init: Any, seed: Any, dtype: Any = np.float32,
                *, out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
    """The tensor a checkpoint writer stores under ``name``, computed in memory.

    Parameters
    ----------
    name : str
        The tensor's name; its values draw from ``Generator(seed, stream=stream_for(name))``.
    shape : sequence of int
    init
        An init function with arguments, a distribution or an initializer (see
        :mod:`fastinit.io`).
    seed : int or numpy.random.SeedSequence
    dtype : float32, float64, float16 or "bfloat16"
        bfloat16 comes back as ml_dtypes' bfloat16 when ml_dtypes is installed, else as the
        raw uint16 words.
    out, region : optional
        Fill ``out`` with the block ``region`` of the tensor (for shards and chunks).

    Returns
    -------
    numpy.ndarray
    """
    if not isinstance(name, str):
        raise TypeError(f"init_tensor: name must be a str, got {type(name).__name__}")
    full = v.normalize_size(shape)
    if full is None:
        raise TypeError("init_tensor: shape must be an int or a tuple of ints, got None")
    spec = parse_init(init, repr(name))
    key = key_of(seed, "init_tensor")
    dt = storage_dtype(dtype, "init_tensor")
    block = full if region is None else v.normalize_region(region, full)[1]
    if out is None:
        target = np.empty(block, dt)
    else:
        if v.is_bfloat16(dt) and isinstance(out, np.ndarray) and v.is_bfloat16(out.dtype):
            dt = out.dtype                   # ml_dtypes' bfloat16 or the tagged uint16 words
        target = v.check_out(out, dt, "init_tensor")
        if target.shape != block:
            raise ValueError(f"init_tensor: out.shape {target.shape} is not the block's {block}")
    spec.fill(target, full, region, Generator(key=key, stream=stream_for(name)))
    if out is None and v.is_bfloat16(dt):
        try:
            return target.view(v.bfloat16())
        except ImportError:
            return target
    return target
