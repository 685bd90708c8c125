"""Keras/JAX-style initializer objects on fastinit's kernels.

An initializer is a callable ``init(shape, dtype=np.float32, *, out=None, region=None)`` that
returns a new array (or fills ``out`` and returns it).  ``get_config()`` / ``from_config()``
round-trip it, and :func:`get` builds one from any form of naming an init (a name, a Keras-style
config dict, a torch function or a distribution with its arguments: ``fastinit._recipe``, the
README's "Naming an init").

Seeds.  A seeded initializer is a pure function of (seed, shape, dtype): every call returns the
same array, also after a ``get_config`` / ``from_config`` round-trip, and ``region=`` returns the
matching block of it.  ``seed=None`` draws fresh entropy on every call.  (Keras 3 instead fixes a
random seed when an unseeded initializer is built and does not save it, so a reloaded model
initializes differently; here an unseeded initializer never claims to be reproducible.)

Fans follow JAX's rule: ``fan_in = shape[in_axis] * receptive``, ``fan_out = shape[out_axis] *
receptive``, ``receptive`` the product of the dimensions that are neither ``in_axis``,
``out_axis`` nor batch axes.  The defaults (in_axis=-2, out_axis=-1) give Keras' layouts: Dense
``(in, out)`` and Conv ``(*kernel, in, out)``.  A rank-1 shape has fan_in = fan_out = shape[0],
rank 0 has fans of 1 (as Keras).  Keras 3's ``input_axes`` and ``output_axes`` are taken too,
with Keras' rule: when both are given, ``fan_in`` is the product of ``shape[input_axes]`` and
``fan_out`` that of ``shape[output_axes]``, with no receptive field (when only one is given,
Keras ignores it, and so does fastinit).  The two styles cannot be mixed.

Keras configs load as they are (``get({"class_name": ..., "config": keras_init.get_config()})``,
for every Keras 3 initializer, STFT included), and ``get_config()`` of a fastinit initializer
with a Keras equivalent emits Keras' keys, so ``keras.initializers.get`` loads it: the JAX axes
(``in_axis``, ``out_axis``, ``batch_axis``) and Orthogonal's ``column_axis`` appear only when they
differ from their defaults, which Keras cannot express.

May import: numpy, scipy, fastinit._generator, fastinit._keras, fastinit._names, fastinit._recipe,
fastinit._tensors, fastinit._validate.
"""
from __future__ import annotations

import inspect
import math
import operator
from typing import Any, Sequence

import numpy as np

from fastinit import _keras
from fastinit import _names
from fastinit import _recipe
from fastinit import _tensors
from fastinit import _validate as v
from fastinit._generator import Generator

__all__ = [
    "Initializer", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
    "LecunUniform", "LecunNormal", "RandomUniform", "RandomNormal", "TruncatedNormal",
    "Orthogonal", "Identity", "Zeros", "Ones", "Constant", "STFT", "Recipe", "compute_fans",
    "get",
]

# Standard deviation of a standard normal truncated to [-2, 2]: dividing by it gives the truncated
# distribution exactly the target variance (Keras and JAX use the same constant).
TRUNCATED_STDDEV_FACTOR = 0.87962566103423978

_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


def _axes(axis: int | Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    items = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in items:
        a = operator.index(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}={axis} is out of range for a shape of rank {ndim}")
        out.append(a % ndim)
    return tuple(out)


def _axis_arg(axis: int | Sequence[int]) -> int | tuple[int, ...]:
    """An axis argument as an int or a tuple of ints (a config's lists come back as tuples)."""
    if isinstance(axis, (int, np.integer)):
        return operator.index(axis)
    return tuple(operator.index(a) for a in axis)


def compute_fans(shape: Sequence[int], in_axis: int | Sequence[int] = -2,
                 out_axis: int | Sequence[int] = -1,
                 batch_axis: int | Sequence[int] = (), *,
                 input_axes: Sequence[int] | None = None,
                 output_axes: Sequence[int] | None = None) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of ``shape``.

    JAX's rule with ``in_axis``, ``out_axis`` and ``batch_axis`` (see the module docstring), or
    Keras' when both ``input_axes`` and ``output_axes`` are given: ``fan_in =
    prod(shape[input_axes])``, ``fan_out = prod(shape[output_axes])``, no receptive field.
    """
    shape = tuple(operator.index(d) for d in shape)
    if input_axes is not None and output_axes is not None:
        ins = _axes(input_axes, len(shape), "input_axes")
        outs = _axes(output_axes, len(shape), "output_axes")
        return float(math.prod(shape[i] for i in ins)), float(math.prod(shape[i] for i in outs))
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    ins = _axes(in_axis, len(shape), "in_axis")
    outs = _axes(out_axis, len(shape), "out_axis")
    batch = _axes(batch_axis, len(shape), "batch_axis")
    receptive = math.prod(d for i, d in enumerate(shape) if i not in ins + outs + batch)
    fan_in = math.prod(shape[i] for i in ins) * receptive
    fan_out = math.prod(shape[i] for i in outs) * receptive
    return float(fan_in), float(fan_out)


def _check_number(value: Any, name: str, cls: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{cls}: {name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{cls}: {name} must be finite, got {value}")
    return value


def check_seed(seed: Any, cls: str) -> Any:
    """An initializer's seed: None, an int >= 0, or a ``keras.random.SeedGenerator`` (also as its
    saved config); TypeError or ValueError naming ``cls`` for anything else."""
    if seed is None or _keras.is_seed_generator(seed):
        return seed
    if isinstance(seed, dict):
        return _keras.deserialize_seed(seed, cls)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        # Keras' words, which its users (and its tests) recognize.
        raise TypeError(f"{cls}: `seed` argument should be an instance of "
                        f"`keras.random.SeedGenerator()` or an integer. Received: seed={seed!r}")
    return v.check_seed(seed, cls, sequence=False)


class Initializer:
    """Base class: ``init(shape, dtype=np.float32, *, out=None, region=None)``.

    Once the program has imported Keras, a new initializer of one of this module's classes is an
    instance of the Keras flavour of its class (see ``fastinit._keras``): Keras saves, reloads and
    adjusts its fans as its own.  ``isinstance`` with the fastinit class still holds.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> "Initializer":
        # Only fastinit's own classes: a user's subclass stays the class the user wrote.
        if (cls.__module__ == __name__ and "_fastinit_class" not in cls.__dict__
                and _keras.loaded() is not None):
            cls = _keras.flavour(cls)
        return super().__new__(cls)

    # Whether a region costs only its own size to compute.  Orthogonal's QR has no local form:
    # a chunked writer computes it whole, once (see working_bytes).
    local = True

    def working_bytes(self, shape: Sequence[int]) -> int:
        """Memory needed to compute the whole tensor at once when ``local`` is False; 0 for the
        local initializers, whose blocks cost their own size."""
        return 0

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a JSON-able dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Initializer":
        """The initializer ``cls(**config)``; ValueError names a key it does not take."""
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config: config must be a dict of constructor "
                            f"arguments, got {type(config).__name__}")
        allowed = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
        unknown = [key for key in config if key not in allowed]
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown config key {unknown[0]!r}; it takes "
                             f"{', '.join(allowed) if allowed else 'no arguments'}")
        return cls(**config)

    def __repr__(self) -> str:
        # Keras' axes are None unless given: left out, as noise.
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if not (v is None and k in ("input_axes", "output_axes")))
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Initializer) and _plain(type(self)) is _plain(type(other))
                and self.get_config() == other.get_config())

    __hash__ = None  # type: ignore[assignment]


def _plain(cls: type) -> type:
    """The fastinit class behind a Keras flavour (``cls`` itself otherwise)."""
    return cls.__dict__.get("_fastinit_class", cls)


class _Seeded(Initializer):
    # An int, None, or a keras.random.SeedGenerator.
    seed: Any
    # A checkpoint writer sets this on a copy, so that the tensor draws from its name's stream.
    _generator: Generator | None = None

    def _rng(self) -> Generator:
        if self._generator is not None:
            return self._generator
        if _keras.is_seed_generator(self.seed):
            return Generator(_keras.draw_seed(self.seed))     # advances: each call differs
        return Generator(self.seed)       # seed None: fresh entropy on every call

    def _seed_config(self) -> Any:
        """The seed as a config records it (a SeedGenerator as Keras saves one)."""
        if _keras.is_seed_generator(self.seed):
            return _keras.serialize_seed(self.seed)
        return self.seed


def fresh_seed() -> int:
    """A seed drawn from the operating system's entropy, for work that must record its seed."""
    return int(np.random.SeedSequence().generate_state(1, np.uint32)[0])


def pinned(init: Initializer) -> Initializer:
    """``init`` itself, or, for a seedable initializer without a seed, a copy with a fresh seed
    fixed: a writer computing a tensor in pieces needs every piece from the same stream."""
    config = init.get_config()
    if "seed" not in config or config["seed"] is not None:
        if isinstance(config.get("seed"), dict):
            raise ValueError(f"{type(init).__name__} is seeded by a keras.random.SeedGenerator, "
                             "which gives every call, so every piece, other values; give it an "
                             "int seed or none")
        return init
    config["seed"] = fresh_seed()
    return type(init).from_config(config)


def shape_of(shape: Sequence[int] | int) -> tuple[int, ...]:
    """An initializer's shape argument, as NumPy reads a shape (TypeError for non-integers,
    ValueError for negatives)."""
    dims = v.normalize_size(shape)
    if dims is None:
        raise TypeError("shape must be an int or a tuple of ints, got None")
    return dims


class VarianceScaling(_Seeded):
    """Samples with variance ``scale / max(1, fan)``.

    Parameters
    ----------
    scale : float
        Scaling factor, > 0 (2.0 for ReLU: He; 1.0: Glorot and LeCun).
    mode : {"fan_in", "fan_out", "fan_avg", "fan_geo_avg"}
        The fan: fan_in, fan_out, (fan_in + fan_out) / 2, or sqrt(fan_in * fan_out) (JAX).
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}
        ``truncated_normal``: N(0, s) truncated at +-2 s with s = sqrt(variance) /
        0.87962566103423978, so the result has exactly the target variance;
        ``untruncated_normal``: N(0, sqrt(variance)); ``uniform``: U(+-sqrt(3 * variance)).
        ``"normal"`` is refused: Keras reads it as truncated and JAX as untruncated.
    in_axis, out_axis, batch_axis : int or tuple of int
        Axes for the fans (JAX's rule; the defaults give Keras' layouts).
    seed : int, optional
        Makes the initializer reproducible (see the module docstring).
    input_axes, output_axes : list of int, optional
        Keras 3's axes: with both given, fan_in = prod(shape[input_axes]) and fan_out =
        prod(shape[output_axes]), no receptive field.  Not together with the JAX axes.

    References
    ----------
    .. [1] X. Glorot, Y. Bengio, AISTATS (2010); K. He et al., ICCV (2015); Y. LeCun et al.,
           "Efficient BackProp" (1998).
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", in_axis: int | Sequence[int] = -2,
                 out_axis: int | Sequence[int] = -1, batch_axis: int | Sequence[int] = (),
                 seed: Any = None, input_axes: Sequence[int] | None = None,
                 output_axes: Sequence[int] | None = None) -> None:
        name = type(self).__name__
        scale = _check_number(scale, "scale", name)
        # Keras' words where Keras has the same check, so that its users recognize them.
        if scale <= 0:
            raise ValueError(f"{name}: Argument `scale` must be positive float. Received: "
                             f"scale={scale}")
        if mode not in _MODES:
            raise ValueError(f"{name}: Invalid `mode` argument: {mode!r}. Please use one of "
                             f"{', '.join(_MODES)}")
        if distribution == "normal":
            raise ValueError(f"{name}: Invalid `distribution` argument: 'normal' is ambiguous "
                             "(Keras reads it as truncated, JAX as untruncated): say "
                             "'truncated_normal' or 'untruncated_normal'")
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"{name}: Invalid `distribution` argument: {distribution!r}. Please "
                             f"use one of {', '.join(_DISTRIBUTIONS)}")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.in_axis, self.out_axis, self.batch_axis = (_axis_arg(in_axis), _axis_arg(out_axis),
                                                        _axis_arg(batch_axis))
        self.input_axes = _keras_axes(input_axes, "input_axes", name)
        self.output_axes = _keras_axes(output_axes, "output_axes", name)
        if (self.input_axes is not None or self.output_axes is not None) and self._jax_axes():
            raise ValueError(f"{name}: give Keras' input_axes/output_axes or JAX's "
                             "in_axis/out_axis/batch_axis, not both (their fan rules differ)")
        self.seed = check_seed(seed, name)

    def _jax_axes(self) -> bool:
        """Whether the JAX axes differ from their defaults."""
        return (self.in_axis, self.out_axis, self.batch_axis) != (-2, -1, ())

    def fans(self, shape: Sequence[int]) -> tuple[float, float]:
        """``(fan_in, fan_out)`` for ``shape``: Keras' rule when both of its axes are given,
        else JAX's (see the module docstring)."""
        return compute_fans(shape, self.in_axis, self.out_axis, self.batch_axis,
                            input_axes=self.input_axes, output_axes=self.output_axes)

    def stddev_or_bound(self, shape: Sequence[int]) -> float:
        """The normal's s (before truncation) or the uniform's bound for ``shape``."""
        fan_in, fan_out = self.fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
               "fan_geo_avg": math.sqrt(fan_in * fan_out)}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "truncated_normal":
            return math.sqrt(variance) / TRUNCATED_STDDEV_FACTOR
        if self.distribution == "untruncated_normal":
            return math.sqrt(variance)
        return math.sqrt(3.0 * variance)

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        shape = shape_of(shape)
        s = self.stddev_or_bound(shape)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            return rng.truncated_normal(0.0, s, -2.0, 2.0, size=shape, dtype=dtype, out=out,
                                        region=region)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, s, size=shape, dtype=dtype, out=out, region=region)
        return rng.uniform(-s, s, size=shape, dtype=dtype, out=out, region=region)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"scale": self.scale, "mode": self.mode,
                                  "distribution": self.distribution, "seed": self._seed_config()}
        if self._jax_axes():            # fastinit's own: Keras has no such keys
            config.update(in_axis=self.in_axis, out_axis=self.out_axis,
                          batch_axis=self.batch_axis)
        else:                           # Keras' keys, so that keras.initializers.get loads it
            config.update(input_axes=self.input_axes, output_axes=self.output_axes)
        return config


def _keras_axes(axes: Any, label: str, cls: str) -> list[int] | None:
    if axes is None:
        return None
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        axes = [axes]
    try:
        return [operator.index(a) for a in axes]
    except TypeError:
        raise TypeError(f"{cls}: {label} must be a list of ints or None, got {axes!r}") from None


class _Preset(VarianceScaling):
    _SCALE = 1.0
    _MODE = "fan_in"
    _DISTRIBUTION = "truncated_normal"

    def __init__(self, seed: Any = None, input_axes: Sequence[int] | None = None,
                 output_axes: Sequence[int] | None = None) -> None:
        super().__init__(self._SCALE, self._MODE, self._DISTRIBUTION, seed=seed,
                         input_axes=input_axes, output_axes=output_axes)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._seed_config(), "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class GlorotUniform(_Preset):
    """Glorot/Xavier uniform: U(+-sqrt(6 / (fan_in + fan_out))) (Glorot & Bengio 2010)."""
    _MODE, _DISTRIBUTION = "fan_avg", "uniform"


class GlorotNormal(_Preset):
    """Glorot/Xavier normal, truncated: variance 2 / (fan_in + fan_out) (Glorot & Bengio 2010)."""
    _MODE = "fan_avg"


class HeUniform(_Preset):
    """He uniform: U(+-sqrt(6 / fan_in)) (He et al. 2015)."""
    _SCALE, _DISTRIBUTION = 2.0, "uniform"


class HeNormal(_Preset):
    """He normal, truncated: variance 2 / fan_in (He et al. 2015)."""
    _SCALE = 2.0


class LecunUniform(_Preset):
    """LeCun uniform: U(+-sqrt(3 / fan_in)) (LeCun et al. 1998)."""
    _DISTRIBUTION = "uniform"


class LecunNormal(_Preset):
    """LeCun normal, truncated: variance 1 / fan_in, for SELU (Klambauer et al. 2017)."""


class RandomUniform(_Seeded):
    """U(minval, maxval)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05,
                 seed: Any = None) -> None:
        name = type(self).__name__
        self.minval = _check_number(minval, "minval", name)
        self.maxval = _check_number(maxval, "maxval", name)
        if self.minval > self.maxval:
            raise ValueError(f"{name}: minval > maxval ({minval} > {maxval})")
        self.seed = check_seed(seed, name)

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        return self._rng().uniform(self.minval, self.maxval, size=shape_of(shape), dtype=dtype,
                                   out=out, region=region)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self._seed_config()}


class RandomNormal(_Seeded):
    """N(mean, stddev**2)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None) -> None:
        name = type(self).__name__
        self.mean = _check_number(mean, "mean", name)
        self.stddev = _check_number(stddev, "stddev", name)
        if self.stddev < 0:
            raise ValueError(f"{name}: stddev must be >= 0, got {stddev}")
        self.seed = check_seed(seed, name)

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        return self._rng().normal(self.mean, self.stddev, size=shape_of(shape), dtype=dtype,
                                  out=out, region=region)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self._seed_config()}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev**2) truncated at mean +- 2 stddev (exact rejection, as Keras' intent)."""

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        return self._rng().truncated_normal(self.mean, self.stddev, -2.0, 2.0, size=shape_of(shape),
                                            dtype=dtype, out=out, region=region)


class Orthogonal(_Seeded):
    """A (semi-)orthogonal matrix times ``gain``, over ``column_axis`` (JAX's rule).

    The array is seen as a matrix of shape (product of the other axes, shape[column_axis]); a
    float64 Gaussian of that shape (transposed if it is wide) is factored by QR and Q is
    multiplied by the signs of R's diagonal, which makes it Haar-distributed (Saxe et al. 2014).
    """

    def __init__(self, gain: float = 1.0, column_axis: int = -1, seed: Any = None) -> None:
        name = type(self).__name__
        self.gain = _check_number(gain, "gain", name)
        self.column_axis = operator.index(column_axis)
        self.seed = check_seed(seed, name)

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        shape = shape_of(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of at least 2 dimensions, got {shape}")
        axis = _axes(self.column_axis, len(shape), "column_axis")[0]
        n_cols = shape[axis]
        n_rows = math.prod(shape) // n_cols if n_cols else 0
        v.check_in_range(self.gain, v.resolve_dtype(dtype, out, "Orthogonal"), "Orthogonal: gain")
        full = np.zeros(shape, np.float64)
        if n_rows and n_cols:
            a = self._rng().standard_normal(size=(max(n_rows, n_cols), min(n_rows, n_cols)),
                                            dtype=np.float64)
            q, r = np.linalg.qr(a)
            q *= np.sign(np.diag(r))
            if n_rows < n_cols:
                q = q.T
            rest = tuple(d for i, d in enumerate(shape) if i != axis)
            full = np.moveaxis(q.reshape(rest + (n_cols,)), -1, axis) * self.gain
        return _deliver(full, dtype, out, region, "Orthogonal")

    local = False

    def working_bytes(self, shape: Sequence[int]) -> int:
        """Memory the whole matrix takes to make: the float64 Gaussian, LAPACK's copy, Q and the
        scaled result, 4 x 8 bytes per element (R is at most as large again for square ones)."""
        return 32 * math.prod(shape_of(shape))

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"gain": self.gain, "seed": self._seed_config()}
        if self.column_axis != -1:      # Keras' Orthogonal always takes the last axis
            config["column_axis"] = self.column_axis
        return config


class Identity(Initializer):
    """``gain`` times the identity matrix; 2-D shapes only."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = _check_number(gain, "gain", type(self).__name__)

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        shape = shape_of(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape, got {shape}")
        target = target_block(shape, dtype, out, region, "Identity")
        # Only the block is computed, so a file's chunks each cost their own size.
        starts = (0, 0) if region is None else v.normalize_region(region, shape)[0]
        rows = np.arange(starts[0], starts[0] + target.shape[0])[:, None]
        cols = np.arange(starts[1], starts[1] + target.shape[1])[None, :]
        v.assign(target, (rows == cols) * self.gain)
        return target

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


class Constant(Initializer):
    """Every element ``value``: a real number, or an array broadcast to the shape (as Keras).

    An array value (an ndarray, a nested list, or a tensor of any backend) must be finite; its
    config records it as Keras does (``{"class_name": "__numpy__", "config": {"value": [...],
    "dtype": ...}}``), so either library loads the other's.
    """

    def __init__(self, value: Any = 0.0) -> None:
        self.value = _constant_value(value, type(self).__name__)

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        shape = shape_of(shape)
        name = type(self).__name__
        if isinstance(self.value, float):
            target = target_block(shape, dtype, out, region, name)
            v.assign(target, self.value)         # OverflowError past the dtype, nothing written
            return target
        try:
            full = np.broadcast_to(self.value, shape)
        except ValueError:
            raise ValueError(f"{name}: Expected `shape` to be {self.value.shape} or a shape it "
                             f"broadcasts to. Received shape={shape}") from None
        return _deliver(full, dtype, out, region, name)

    def get_config(self) -> dict[str, Any]:
        if isinstance(self.value, float):
            return {"value": self.value}
        return {"value": {"class_name": "__numpy__",
                          "config": {"value": self.value.tolist(), "dtype": str(self.value.dtype)}}}


def _constant_value(value: Any, cls: str) -> float | np.ndarray:
    """A constant's value: a finite float, or a finite float array (read-only)."""
    if isinstance(value, dict) and value.get("class_name") == "__numpy__":
        config = value.get("config", {})
        value = np.asarray(config.get("value"), dtype=config.get("dtype"))
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return _check_number(value, "value", cls)
    if _tensors.is_tensor(value):
        value = value.detach().cpu().numpy()
    try:
        array = np.array(value, dtype=np.float64 if not hasattr(value, "dtype") else None)
    except (TypeError, ValueError):
        raise TypeError(f"{cls}: value must be a real number or an array of them, got "
                        f"{type(value).__name__}") from None
    if array.dtype.kind not in "biuf" or array.dtype == bool:
        raise TypeError(f"{cls}: value must be a real number or an array of them, got an array "
                        f"of {array.dtype}")
    if array.ndim == 0:
        return _check_number(float(array), "value", cls)
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{cls}: value must be finite")
    array.setflags(write=False)
    return array


class _Fixed(Constant):
    _VALUE = 0.0

    def __init__(self) -> None:
        super().__init__(self._VALUE)

    def get_config(self) -> dict[str, Any]:
        return {}


class Zeros(_Fixed):
    """Every element 0."""


class Ones(_Fixed):
    """Every element 1."""
    _VALUE = 1.0


class STFT(Initializer):
    """Conv kernels of a short-time Fourier transform, as ``keras.initializers.STFT``.

    For a shape ``(T, C, F)`` (frame length, input channels, ``F = fft_length // 2 + 1``
    frequency bins), element ``(t, c, f)`` is ``cos(-2 pi t f / N) * w[t] / s`` (``"real"``) or
    the sine (``"imag"``), ``N = 2 (F - 1)``, ``w`` the window (``scipy.signal.get_window(window,
    T, fftbins=periodic)``, an array of T values, or none) and ``s`` the scaling: the window's L2
    norm (``"density"``), its L1 norm (``"spectrum"``) or 1 (None).  Computed in float64 and
    rounded once (Keras computes in the output dtype).  A string window needs SciPy.
    """

    def __init__(self, side: str = "real", window: Any = "hann", scaling: str | None = "density",
                 periodic: bool = False) -> None:
        name = type(self).__name__
        if side not in ("real", "imag"):
            raise ValueError(f"{name}: side should be 'real' or 'imag', not {side!r}")
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(f"{name}: scaling must be None, 'density' or 'spectrum', got "
                             f"{scaling!r}")
        if not isinstance(periodic, (bool, np.bool_)):
            raise TypeError(f"{name}: periodic must be a bool, got {periodic!r}")
        if isinstance(window, str):
            _scipy_window(window, 1, False)          # an unknown window fails here, as in Keras
        elif window is not None:
            values = np.asarray(window, dtype=np.float64)
            if values.ndim != 1 or not np.isfinite(values).all():
                raise ValueError(f"{name}: window must be a name, None or a 1-D array of finite "
                                 "numbers")
            window = values.tolist()
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, bool(periodic)

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        shape = shape_of(shape)
        if len(shape) != 3 or shape[2] < 2:
            raise ValueError(f"STFT needs a shape (frame_length, channels, fft_length // 2 + 1) "
                             f"with at least 2 frequency bins, got {shape}")
        frame_length, channels, bins = shape
        time = np.arange(frame_length, dtype=np.float64)[:, None, None]
        freq = np.arange(bins, dtype=np.float64)[None, None, :] / (2 * (bins - 1))
        angle = -2.0 * time * freq * np.pi
        kernel = np.cos(angle) if self.side == "real" else np.sin(angle)
        if self.window is not None:
            win = (_scipy_window(self.window, frame_length, self.periodic)
                   if isinstance(self.window, str) else np.asarray(self.window, np.float64))
            if win.shape != (frame_length,):
                raise ValueError(f"STFT: the window has {win.size} values, not frame_length="
                                 f"{frame_length}")
            norm = {"density": math.sqrt(float(np.sum(win ** 2))),
                    "spectrum": float(np.sum(np.abs(win))), None: 1.0}[self.scaling]
            kernel = kernel * win[:, None, None] / norm
        full = np.broadcast_to(kernel, (frame_length, channels, bins))
        return _deliver(full, dtype, out, region, "STFT")

    def get_config(self) -> dict[str, Any]:
        return {"side": self.side, "window": self.window, "periodic": self.periodic,
                "scaling": self.scaling}


def _scipy_window(window: str, length: int, periodic: bool) -> np.ndarray:
    try:
        from scipy.signal import get_window
    except ImportError:
        raise ImportError("STFT with a named window needs SciPy (pip install scipy), or pass the "
                          "window's values") from None
    return np.asarray(get_window(window, length, fftbins=periodic), dtype=np.float64)


def target_block(shape: tuple[int, ...], dtype: Any, out: np.ndarray | None, region: Any,
                 name: str) -> np.ndarray:
    """The array an initializer writes the block ``region`` of ``shape`` into: ``out``
    (checked) or a new one."""
    dt = v.resolve_dtype(dtype, out, name)
    if region is None:
        block: tuple[int, ...] = shape
    else:
        block = v.normalize_region(region, shape)[1]
    if out is None:
        return np.empty(block, dt)
    out = v.check_out(out, dt, name)
    if out.shape != block:
        raise ValueError(f"{name}: out.shape {out.shape} does not match {block}")
    return out


def _deliver(full: np.ndarray, dtype: Any, out: np.ndarray | None, region: Any,
             name: str) -> np.ndarray:
    target = target_block(full.shape, dtype, out, region, name)
    if region is not None:
        starts, block = v.normalize_region(region, full.shape)
        full = full[tuple(slice(s, s + e) for s, e in zip(starts, block))]
    v.assign(target, full)
    return target


class Recipe(_Seeded):
    """An init function of :mod:`fastinit.init` or a Generator distribution, with its arguments,
    as an initializer: ``Recipe(("normal_", {"std": 0.02}), seed=7)(shape)`` equals
    ``fastinit.init.normal_(np.empty(shape), std=0.02, generator=Generator(7))``.

    What :func:`get` makes of the torch forms (``"normal_(std=0.02)"``, ``("normal_", {"std":
    0.02})``, ``{"distribution": "uniform", "args": {...}}``), so that every entry point that
    takes an initializer takes them; ``seed=None`` draws fresh entropy on every call, as the
    other initializers do.
    """

    def __init__(self, init: Any, seed: Any = None) -> None:
        self.form = _recipe.read_form(init, "Recipe", NAMES)
        self.init = self.form.config()
        self.seed = check_seed(seed, "Recipe")

    @property
    def local(self) -> bool:                              # type: ignore[override]
        return self.form.local

    def working_bytes(self, shape: Sequence[int]) -> int:
        return self.form.working_bytes(shape_of(shape))

    def __call__(self, shape: Sequence[int], dtype: Any = np.float32, *,
                 out: np.ndarray | None = None, region: Any = None) -> np.ndarray:
        full = shape_of(shape)
        target = target_block(full, dtype, out, region, "Recipe")
        self.form.fill(target, full, region, self._rng())
        return target

    def get_config(self) -> dict[str, Any]:
        return {"init": self.init, "seed": self._seed_config()}

    def __repr__(self) -> str:
        return f"Recipe({str(self.form)!r}, seed={self._seed_config()!r})"


_CLASSES: dict[str, type[Initializer]] = {
    cls.__name__: cls for cls in (VarianceScaling, GlorotUniform, GlorotNormal, HeUniform,
                                  HeNormal, LecunUniform, LecunNormal, RandomUniform,
                                  RandomNormal, TruncatedNormal, Orthogonal, Identity, Zeros,
                                  Ones, Constant, STFT, Recipe)
}
_SNAKE = {"variance_scaling": "VarianceScaling", "glorot_uniform": "GlorotUniform",
          "glorot_normal": "GlorotNormal", "he_uniform": "HeUniform", "he_normal": "HeNormal",
          "lecun_uniform": "LecunUniform", "lecun_normal": "LecunNormal",
          "random_uniform": "RandomUniform", "random_normal": "RandomNormal",
          "truncated_normal": "TruncatedNormal", "orthogonal": "Orthogonal",
          "identity": "Identity", "zeros": "Zeros", "ones": "Ones", "constant": "Constant",
          "stft": "STFT"}
# The snake-case names ``get`` takes (Keras' and JAX's), for other modules' messages.
NAMES = tuple(sorted(_SNAKE))
# Keras 3's other names for the same classes.
_KERAS_ALIASES = {"normal": "RandomNormal", "uniform": "RandomUniform", "one": "Ones",
                  "zero": "Zeros", "IdentityInitializer": "Identity",
                  "OrthogonalInitializer": "Orthogonal", "STFTInitializer": "STFT"}


def _class_of(name: str) -> str | None:
    """The class a Keras/JAX name, alias or class name stands for (None: not an initializer)."""
    name = _SNAKE.get(name, _KERAS_ALIASES.get(name, name))
    return name if name in _CLASSES and name != "Recipe" else None


def get(identifier: Any) -> Initializer | None:
    """An initializer from any form of naming an init (README, "Naming an init").

    - an initializer, returned as is; None gives None, as in Keras;
    - a string ``NAME``, ``NAME:VALUE`` or ``NAME(ARG=VALUE, ...)``: a Keras/JAX name
      (``"he_normal"``, ``"HeNormal"``, ``"normal"``), a :mod:`fastinit.init` function
      (``"kaiming_normal_"``, also without its ``_`` where Keras has no such name), with its
      main argument (``"normal:0.01"``) or its arguments by name (``"normal_(std=0.02)"``);
    - a Keras-style config dict (``{"class_name": "HeNormal", "config": {"seed": 1}}``);
    - an init function or a Generator distribution with its arguments (``("normal_", {"std":
      0.02})``, ``{"distribution": "uniform", "args": {"low": -1, "high": 1}}``): a
      :class:`Recipe`;
    - an array or tensor of values: a :class:`Constant` of it, as Keras' ``get(tensor)``.

    An unknown name is a ValueError with the close matches among every name of the vocabulary.
    """
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, np.ndarray) or _tensors.is_tensor(identifier) or (
            hasattr(identifier, "__array__") and hasattr(identifier, "shape")):
        return Constant(identifier)
    if isinstance(identifier, str):
        name, args, value = _recipe.split(identifier, "")
        cls_name = _class_of(name)
        if cls_name is None:              # parsed once: the Form goes to Recipe as it is
            return Recipe(_recipe.named_function(name, args, value, identifier, "", NAMES))
        if value is not None:
            args = _recipe.main_arguments(cls_name, value, identifier, "")
        return _CLASSES[cls_name].from_config(args or {})
    if isinstance(identifier, dict) and "class_name" in identifier:
        class_name = identifier["class_name"]
        if not isinstance(class_name, str):
            raise TypeError(f"an initializer config's class_name must be a str, got "
                            f"{type(class_name).__name__}")
        cls_name = _class_of(class_name) or ("Recipe" if class_name == "Recipe" else None)
        if cls_name is None:
            raise _names.unknown("initializer", class_name, _CLASSES)
        config = identifier.get("config", {})
        if not isinstance(config, dict):
            raise TypeError(f"the config of {class_name} must be a dict of its arguments, got "
                            f"{type(config).__name__}")
        return _CLASSES[cls_name].from_config(dict(config))
    if isinstance(identifier, (dict, tuple, list)):
        return Recipe(_recipe.read_form(identifier, "", NAMES))
    raise TypeError(f"cannot read init {identifier!r}: give a name, a config dict, an init "
                    "function or distribution with its arguments, or an Initializer (README: "
                    "Naming an init)")


# Keras' serialization and layers know these classes once the program imports Keras.
_keras.watch(lambda: _CLASSES.values())
