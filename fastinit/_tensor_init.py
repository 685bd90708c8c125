"""How one named tensor of a checkpoint is initialized, and its values in memory.

A checkpoint writer is given, for each tensor, its shape, its dtype and an *init*, in any form of
naming an init (``fastinit._recipe``; the README's "Naming an init"): an initializer object, name
or config dict without a seed of its own, an init function of :mod:`fastinit.init` with its
arguments (``("kaiming_uniform_", {"a": 2.236})``, ``"normal_(std=0.02)"``, the canonical
``{"function": "normal_", "args": {"std": 0.02}}``), or a :class:`fastinit.Generator`
distribution with its arguments (``("normal", {"loc": 0.0, "scale": 0.02})``).

The values of the tensor named N under ``seed`` are those of its init drawing from
``Generator(seed, stream=stream_for(N))``, the stream ``fastinit.torch.materialize`` gives the
tensor of that name: ``fastinit.init.normal_(a, std=0.02, generator=Generator(seed,
stream=stream_for(N)))`` for ``("normal_", {"std": 0.02})``.  :func:`init_tensor` computes them
in memory, whole or as a block; a writer computes the file chunk by chunk with ``region=``.

May import: numpy, fastinit._generator, fastinit._validate, fastinit.initializers.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Sequence

import numpy as np

from fastinit import _validate as v
from fastinit import initializers
from fastinit._generator import Generator, stream_for

__all__ = ["TensorInit", "parse_init", "as_initializer", "seeded_initializer", "init_tensor",
           "storage_dtype", "key_of"]


def storage_dtype(dtype: Any, where: str) -> np.dtype:
    """float32, float64, float16 or bfloat16 as the dtype a writer fills; bfloat16 as the tagged
    uint16 words (``_validate.BFLOAT16_BITS``), so that ml_dtypes is not needed."""
    if isinstance(dtype, str) and dtype == "bfloat16":
        return v.BFLOAT16_BITS
    dt = v.resolve_dtype(dtype, None, where)
    return v.BFLOAT16_BITS if v.is_bfloat16(dt) else dt


def key_of(seed: Any, where: str) -> int:
    """The Philox key of a writer's seed: an int >= 0 or a numpy.random.SeedSequence."""
    return Generator(v.check_seed(seed, where)).key


class TensorInit:
    """A checkpoint tensor's init: the initializer :func:`fastinit.initializers.get` makes of
    any accepted form (a :class:`~fastinit.initializers.Recipe` for a torch function or a
    distribution), without a seed of its own.

    ``kind`` is "function", "distribution" or "initializer"; ``config()`` is its canonical
    JSON-able form (what a checkpoint's metadata records and :func:`parse_init` reads back);
    ``fill(out, shape, region, rng)`` writes the block ``region`` of the tensor of shape
    ``shape`` into ``out``, drawing from ``rng``.
    """

    def __init__(self, initializer: initializers.Initializer) -> None:
        self.initializer = initializer
        if isinstance(initializer, initializers.Recipe):
            form = initializer.form
            self.kind, self.name, self.args = form.kind, form.name, form.args
        else:
            config = initializer.get_config()
            config.pop("seed", None)
            for default_none in ("input_axes", "output_axes"):   # Keras' axes, unless given
                if config.get(default_none, 0) is None:
                    del config[default_none]
            self.kind, self.name, self.args = "initializer", type(initializer).__name__, config

    @property
    def local(self) -> bool:
        """Whether a block costs only its own size (False: the whole tensor is computed)."""
        return bool(self.initializer.local)

    def working_bytes(self, shape: tuple[int, ...]) -> int:
        """Memory to compute the whole tensor at once (0 for local inits)."""
        return self.initializer.working_bytes(shape) if not self.local else 0

    def config(self) -> dict[str, Any]:
        if self.kind == "initializer":
            return {"class_name": self.name, "config": self.args}
        return {self.kind: self.name, "args": self.args}

    def __repr__(self) -> str:
        return f"TensorInit({json.dumps(self.config())})"

    def drawing_from(self, rng: Generator) -> initializers.Initializer:
        """The initializer, drawing from ``rng`` (the tensor's stream) instead of its seed."""
        initializer = copy.copy(self.initializer)
        # An initializer that draws nothing (Constant) never reads it.
        initializer._generator = rng                      # type: ignore[attr-defined]
        return initializer

    def fill(self, out: np.ndarray, shape: tuple[int, ...], region: Any, rng: Generator) -> None:
        """Write the block ``region`` (None: all) of the ``shape`` tensor into ``out``."""
        self.drawing_from(rng)(shape, out.dtype, out=out, region=region)


def as_initializer(init: Any, where: str) -> initializers.Initializer:
    """``init``, in any form of naming an init (README, "Naming an init"), as an initializer:
    :func:`fastinit.initializers.get` with its errors naming ``where``."""
    if init is None:
        raise TypeError(f"{where}: init is required (an initializer, a name, a config dict, or "
                        "an init function with its arguments)")
    try:
        obj = initializers.get(init)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    assert obj is not None
    return obj


def seeded_initializer(init: Any, seed: int | None, where: str) -> initializers.Initializer:
    """:func:`as_initializer`, with ``seed`` if given (ValueError for an init that draws
    nothing)."""
    obj = as_initializer(init, where)
    config = obj.get_config()
    if seed is not None:
        if "seed" not in config:
            raise ValueError(f"{where}: {type(obj).__name__} takes no seed")
        config["seed"] = seed
    return type(obj).from_config(config)


def parse_init(init: Any, where: str) -> TensorInit:
    """The :class:`TensorInit` of any accepted form; TypeError or ValueError naming ``where``
    (the tensor) for anything else, and for an initializer with a seed of its own."""
    if isinstance(init, TensorInit):
        return init
    obj = as_initializer(init, where)
    seed = obj.get_config().get("seed")
    if seed is not None:
        raise ValueError(f"{where}: {type(obj).__name__} has a seed of its own ({seed}); "
                         "give it none: the writer's seed and the tensor's name choose its stream")
    return TensorInit(obj)


def init_tensor(name: str, shape: Sequence[int], init: Any, seed: Any, dtype: Any = np.float32,
                *, out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
    """The tensor a checkpoint writer stores under ``name``, computed in memory.

    Parameters
    ----------
    name : str
        The tensor's name; its values draw from ``Generator(seed, stream=stream_for(name))``.
    shape : sequence of int
    init
        Any form of naming an init (README, "Naming an init"), without a seed of its own.
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
