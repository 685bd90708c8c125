"""torch.nn.init on NumPy arrays and torch tensors: the same names, arguments, defaults, formulas
and errors.

Every function fills a writable C-contiguous float32, float64, float16 or bfloat16 ndarray, or a
contiguous CPU ``torch.Tensor`` of those dtypes (a ``requires_grad`` parameter, a view with a
storage offset, a ``DTensor`` shard), in place and returns it: the same values for an array and a
tensor of the same dtype and shape.
Randomness comes from ``generator``:

- a :class:`fastinit.Generator`: each call uses one stream number of it (``sparse_`` two);
- an int seed: the same seed gives the same array;
- a ``torch.Generator``: each call draws four 32-bit words from it (``torch.randint(0, 2**32,
  (4,), generator=g)``, so it advances as by any torch draw) and fills from
  ``fastinit.Generator(numpy.random.SeedSequence(words))``: the same torch seed gives the same
  values.  A call that fails puts the generator's state back;
- None: the default.  After :func:`fastinit.seed` it is that Generator, for every buffer.
  Before, a torch tensor draws from torch's default generator, as in ``torch.nn.init`` (so
  ``torch.manual_seed`` fixes it), and an ndarray from a Generator seeded from the operating
  system's entropy at import.

The values are a pure function of that seed and independent of the thread count.  The names of
torch's deprecated aliases (``normal``, ``xavier_uniform``, ...) call the function with a
``FutureWarning``, as torch does.

Every function also takes ``region=`` and ``shape=``: ``arr`` then holds only the block ``region``
of a tensor whose full shape is ``shape``.  Fans come from the full shape and the values equal the
same block of the full init, so tensor-parallel shards match single-device weights exactly.

Which init for which activation:

=========================== ============================= =======================
activation                  init                          gain
=========================== ============================= =======================
tanh, sigmoid, linear       ``xavier_uniform_/normal_``   ``calculate_gain(...)``
ReLU, leaky ReLU            ``kaiming_uniform_/normal_``  sqrt(2), leaky formula
SELU                        ``lecun_normal_``             1 (variance 1/fan_in)
very deep / recurrent       ``orthogonal_``               as the activation
=========================== ============================= =======================

May import: numpy, fastinit._fans, fastinit._generator, fastinit._tensors, fastinit._validate.
"""
from __future__ import annotations

import contextlib
import functools
import math
import operator
import warnings
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np

from fastinit import _tensors
from fastinit import _validate as v
from fastinit._fans import calculate_fans, calculate_gain, correct_fan
from fastinit._generator import Generator

__all__ = [
    "calculate_gain", "calculate_fans", "uniform_", "normal_", "trunc_normal_", "constant_",
    "ones_", "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "lecun_uniform_", "lecun_normal_", "orthogonal_", "sparse_", "seed",
]

# The default source of arrays; seed() replaces it, and from then on tensors use it too.
_default_generator = Generator()
_seeded = False

# An ndarray or a torch.Tensor: each function returns the object it was given.
Buffer = TypeVar("Buffer")


def seed(value: Any) -> Generator:
    """Reseed the default Generator of the init functions (like ``torch.manual_seed``).

    From then on every call with ``generator=None`` draws from it, torch tensors included (before
    the first call, those follow torch's default generator, as ``torch.nn.init`` does).  Returns
    the new default Generator.
    """
    global _default_generator, _seeded
    _default_generator = Generator(value)
    _seeded = True
    return _default_generator


def _torch_source(generator: Any, tensor: bool) -> Any:
    """The torch generator a call with ``generator`` draws from, or None (see the module
    docstring: None on a tensor means torch's default until fastinit.seed() is called)."""
    if generator is None and tensor and not _seeded:
        return _tensors.default_torch_generator()
    return generator if _tensors.is_torch_generator(generator) else None


def resolve_generator(generator: Any, *, tensor: bool = False) -> Generator:
    """The Generator that ``generator`` names for one call (see the module docstring); a torch
    generator is drawn from.  ``tensor``: the call fills a torch tensor.  For the layers built on
    these functions (``fastinit.dask.init``), which then take its stream numbers themselves."""
    torch_generator = _torch_source(generator, tensor)
    if torch_generator is not None:
        return Generator(_tensors.seed_from_torch(torch_generator))
    if generator is None:
        return _default_generator
    if isinstance(generator, Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return Generator(int(generator))
    raise TypeError(f"generator must be a fastinit.Generator, a torch.Generator, an int seed or "
                    f"None, got {type(generator).__name__}")


@contextlib.contextmanager
def _source(generator: Any, target: "_Target") -> Iterator[Generator]:
    """:func:`resolve_generator` for one call; a torch generator that was drawn from gets its
    state back if the call fails, so that a failed call leaves every stream as it was."""
    torch_generator = _torch_source(generator, target.is_tensor)
    state = None if torch_generator is None else torch_generator.get_state()
    try:
        yield resolve_generator(generator, tensor=target.is_tensor)
    except BaseException:
        if torch_generator is not None:
            torch_generator.set_state(state)
        raise


class _Target:
    """The buffer to fill, the full shape it is a block of, and the block's position.

    ``out`` is what the caller passed (an ndarray or a tensor) and is what the functions return;
    ``arr`` is what they fill: the ndarray, the tensor's own memory for a CPU tensor, or the
    (local) tensor itself where the device kernels fill it on its device (``on_device``).
    """

    def __init__(self, arr: Any, shape: Sequence[int] | None, region: Any, name: str) -> None:
        self.out = arr
        self.is_tensor = _tensors.is_tensor(arr)
        self.on_device = False
        if self.is_tensor:
            shard = _tensors.view(arr, name)
            arr = shard.array
            if shard.device is not None:
                self.on_device, arr = True, shard.device
            if shard.full_shape is not None:            # a DTensor: its placements say where
                if region is not None or (shape is not None
                                          and tuple(shape) != shard.full_shape):
                    raise ValueError(f"{name}: a DTensor gives its own global shape and region; "
                                     "do not pass shape= or region=")
                shape, region = shard.full_shape, shard.region
        elif not isinstance(arr, np.ndarray):
            raise TypeError(f"{name}: expected a numpy.ndarray or a torch.Tensor, got "
                            f"{type(arr).__name__}")
        if self.on_device:
            self.dtype: np.dtype = np.dtype(shard.dtype)     # checked by _tensors.view
            self.arr = arr
        else:
            self.dtype = v.resolve_dtype(arr.dtype, arr, name)
            self.arr = v.check_out(arr, self.dtype, name)
        self.block: tuple[int, ...] = tuple(arr.shape)
        if shape is None:
            if region is not None:
                raise ValueError(f"{name}: region= needs shape= (the full tensor's shape)")
            self.shape: tuple[int, ...] = self.block
            self.starts: tuple[int, ...] = (0,) * len(self.block)
        else:
            self.shape = tuple(operator.index(d) for d in shape)
            if region is None:
                region = tuple(slice(None) for _ in self.shape)
            self.starts, block = v.normalize_region(region, self.shape)
            if block != self.block:
                raise ValueError(f"{name}: arr has shape {self.block} but the region of "
                                 f"{self.shape} has shape {block}")
        self.region = None if shape is None else tuple(
            slice(s, e + s) for s, e in zip(self.starts, self.block))

    def index(self, axis: int) -> np.ndarray:
        """Global indices along ``axis`` of the block."""
        return np.arange(self.starts[axis], self.starts[axis] + self.block[axis])

    def assign(self, values: Any) -> None:
        """``arr[...] = values`` rounded once to its dtype (``_validate.assign``); a device
        tensor gets the same bits, computed on the host and copied."""
        if not self.on_device:
            v.assign(self.arr, values)
            return
        host = np.empty(self.block if np.ndim(values) else (), self.dtype)
        v.assign(host, values)
        _tensors.copy_to(self.arr, host)

    def done(self) -> Any:
        """What the function returns: the caller's array or tensor (marked as changed)."""
        if self.out is not self.arr and _tensors.is_tensor(self.out):
            _tensors.written(self.out)
        return self.out


def _fill(name: str, arr: Any, shape: Any, region: Any, generator: Any, method: str,
          *args: float) -> Any:
    t = _Target(arr, shape, region, name)
    with _source(generator, t) as rng:
        getattr(rng, method)(*args, size=t.shape, out=t.arr, region=t.region)
    return t.done()


# -- plain distributions --------------------------------------------------------------------------

def uniform_(arr: Buffer, a: float = 0.0, b: float = 1.0, generator: Any = None, *,
             shape: Sequence[int] | None = None, region: Any = None) -> Buffer:
    """Fill ``arr`` with values from U(a, b), never returning b.

    Parameters
    ----------
    arr : ndarray or torch.Tensor
        float32, float64, float16 or bfloat16, C-contiguous and writable, filled in place: an
        ndarray, or a CPU tensor (a parameter, a view, a DTensor's local shard) through its own
        memory.  It is returned.
    a, b : float
        Bounds, ``a <= b``.
    generator : fastinit.Generator, int or None
        Source of randomness (None: the default Generator, see :func:`seed`).
    shape, region : optional
        ``arr`` is the block ``region`` of a tensor of shape ``shape``.
    """
    return _fill("uniform_", arr, shape, region, generator, "uniform", a, b)


def normal_(arr: Buffer, mean: float = 0.0, std: float = 1.0, generator: Any = None, *,
            shape: Sequence[int] | None = None, region: Any = None) -> Buffer:
    """Fill ``arr`` with values from N(mean, std**2)."""
    return _fill("normal_", arr, shape, region, generator, "normal", mean, std)


def trunc_normal_(arr: Buffer, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Any = None, *, shape: Sequence[int] | None = None,
                  region: Any = None) -> Buffer:
    """Fill ``arr`` with N(mean, std**2) truncated to [a, b] (absolute bounds, as torch).

    Exact rejection sampling (torch samples an inverse CDF and clamps, which piles mass on the
    bounds in low precision): every value lies in [a, b], tails included.
    """
    name = "trunc_normal_"
    for label, value in (("mean", mean), ("std", std), ("a", a), ("b", b)):
        if not isinstance(value, (int, float, np.number)) or isinstance(value, bool):
            raise TypeError(f"{name}: {label} must be a real number, got {value!r}")
    mean, std, a, b = float(mean), float(std), float(a), float(b)
    if math.isnan(std) or std < 0:
        raise ValueError(f"{name}: std < 0 (or NaN); std must be >= 0")
    if not a < b:
        raise ValueError(f"{name}: a >= b (a={a}, b={b}); need a < b")
    if std == 0:
        if not a <= mean <= b:
            raise ValueError(f"{name}: std is 0 and mean={mean} lies outside [a, b]")
        # mean rounded to the dtype may leave [a, b] (a subnormal mean in float32 gives -0.0):
        # the value is mean clamped to the dtype values inside [a, b].
        t = _Target(arr, shape, region, name)
        dt = t.dtype
        lo, hi = v.inward(a, dt, "up"), v.inward(b, dt, "down")
        if lo > hi:
            raise ValueError(f"{name}: [a, b] holds no {v.dtype_name(dt)} value; widen it or "
                             "use float64")
        value = min(max(v.to_dtype(mean, dt), lo), hi)
        with _source(generator, t) as rng:
            rng.normal(value, 0.0, size=t.shape, out=t.arr, region=t.region)
        return t.done()
    return _fill(name, arr, shape, region, generator, "truncated_normal", mean, std,
                 *_standardized(name, mean, std, a, b))


def _standardized(name: str, mean: float, std: float, a: float, b: float) -> tuple[float, float]:
    """(a - mean) / std and (b - mean) / std, stepped inward by ulps until the Generator's bounds
    ``mean + std * a'`` and ``mean + std * b'`` lie inside [a, b]: rounding could otherwise put
    them an ulp outside, and the values with them."""
    with np.errstate(over="ignore"):
        lo, hi = (a - mean) / std, (b - mean) / std
    for _ in range(64):
        if mean + std * lo >= a or math.isnan(lo):
            break
        lo = math.nextafter(lo, math.inf)
    for _ in range(64):
        if mean + std * hi <= b or math.isnan(hi):
            break
        hi = math.nextafter(hi, -math.inf)
    if not (mean + std * lo >= a and mean + std * hi <= b and lo < hi):
        raise ValueError(f"{name}: std={std} is too small to resolve [a, b] = [{a}, {b}] around "
                         f"mean={mean}; use a larger std")
    return lo, hi


# -- deterministic fills --------------------------------------------------------------------------

def constant_(arr: Buffer, val: float, *, shape: Sequence[int] | None = None,
              region: Any = None) -> Buffer:
    """Fill ``arr`` with ``val``, a finite real number (torch also takes NaN and inf; fastinit's
    inits return finite values or raise)."""
    t = _Target(arr, shape, region, "constant_")
    if isinstance(val, bool) or not isinstance(val, (int, float, np.number)):
        raise TypeError(f"constant_: val must be a real number, got {val!r}")
    if not math.isfinite(val):
        raise ValueError(f"constant_: val must be finite, got {val}")
    t.assign(val)
    return t.done()


def ones_(arr: Buffer, *, shape: Sequence[int] | None = None,
          region: Any = None) -> Buffer:
    """Fill ``arr`` with 1."""
    return constant_(arr, 1.0, shape=shape, region=region)


def zeros_(arr: Buffer, *, shape: Sequence[int] | None = None,
           region: Any = None) -> Buffer:
    """Fill ``arr`` with 0."""
    return constant_(arr, 0.0, shape=shape, region=region)


def eye_(arr: Buffer, *, shape: Sequence[int] | None = None,
         region: Any = None) -> Buffer:
    """Fill the 2-D ``arr`` with the identity matrix (ones on the diagonal, as ``torch.eye``).

    Preserves the identity of the inputs in linear layers.
    """
    t = _Target(arr, shape, region, "eye_")
    if len(t.shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    t.assign(t.index(0)[:, None] == t.index(1)[None, :])
    return t.done()


def dirac_(arr: Buffer, groups: int = 1, *, shape: Sequence[int] | None = None,
           region: Any = None) -> Buffer:
    """Fill the 3-, 4- or 5-D ``arr`` with the Dirac delta, as ``torch.nn.init.dirac_``.

    Convolutional layers so initialized preserve their input; with ``groups > 1`` each group of
    output channels does.  The one sits at the kernel centre ``k // 2`` of every spatial axis.
    """
    t = _Target(arr, shape, region, "dirac_")
    if len(t.shape) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    groups = operator.index(groups)
    if groups < 1 or t.shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = t.shape[0] // groups
    min_dim = min(out_per_group, t.shape[1])
    out_ch = t.index(0)
    in_ch = t.index(1)
    # Output channel o = g * out_per_group + d gets a one at input channel d, for d < min_dim.
    d = out_ch % out_per_group
    hit = (d[:, None] == in_ch[None, :]) & (d[:, None] < min_dim)
    centre = np.ones((1, 1), dtype=bool)
    for axis in range(2, len(t.shape)):
        centre = centre[..., None] & (t.index(axis) == t.shape[axis] // 2)
    t.assign(hit.reshape(hit.shape + (1,) * (len(t.shape) - 2)) & centre)
    return t.done()


# -- variance scaling -----------------------------------------------------------------------------

def _fans_of(t: _Target) -> tuple[int, int]:
    return calculate_fans(t.shape)


def xavier_uniform_(arr: Buffer, gain: float = 1.0, generator: Any = None, *,
                    shape: Sequence[int] | None = None, region: Any = None) -> Buffer:
    """Glorot/Xavier uniform: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).

    Keeps the variance of activations and gradients about constant through tanh/sigmoid layers.

    References
    ----------
    .. [1] X. Glorot, Y. Bengio, "Understanding the difficulty of training deep feedforward
           neural networks", AISTATS (2010).
    """
    t = _Target(arr, shape, region, "xavier_uniform_")
    fan_in, fan_out = _fans_of(t)
    if fan_in + fan_out == 0:
        raise ValueError("xavier_uniform_: fan_in + fan_out is 0 (the shape has no elements)")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with _source(generator, t) as rng:
        uniform_(t.arr, -bound, bound, rng, shape=t.shape, region=t.region)
    return t.done()


def xavier_normal_(arr: Buffer, gain: float = 1.0, generator: Any = None, *,
                   shape: Sequence[int] | None = None, region: Any = None) -> Buffer:
    """Glorot/Xavier normal: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out)).

    References
    ----------
    .. [1] X. Glorot, Y. Bengio, AISTATS (2010).
    """
    t = _Target(arr, shape, region, "xavier_normal_")
    fan_in, fan_out = _fans_of(t)
    if fan_in + fan_out == 0:
        raise ValueError("xavier_normal_: fan_in + fan_out is 0 (the shape has no elements)")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    with _source(generator, t) as rng:
        normal_(t.arr, 0.0, std, rng, shape=t.shape, region=t.region)
    return t.done()


def _kaiming_std(t: _Target, a: float, mode: str, nonlinearity: str) -> float | None:
    if 0 in t.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = correct_fan(t.shape, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(arr: Buffer, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None, *,
                     shape: Sequence[int] | None = None, region: Any = None) -> Buffer:
    """He/Kaiming uniform: U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan).

    ``gain = calculate_gain(nonlinearity, a)``; ``fan`` is fan_in (keeps the forward variance)
    or fan_out (the backward one).  ``nn.Linear``'s default, ``a = sqrt(5)``, gives
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)).  A zero-element array is left as is, with a warning.

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren, J. Sun, "Delving deep into rectifiers: surpassing
           human-level performance on ImageNet classification", ICCV (2015).
    """
    t = _Target(arr, shape, region, "kaiming_uniform_")
    std = _kaiming_std(t, a, mode, nonlinearity)
    if std is None:
        return t.done()
    bound = math.sqrt(3.0) * std
    with _source(generator, t) as rng:
        uniform_(t.arr, -bound, bound, rng, shape=t.shape, region=t.region)
    return t.done()


def kaiming_normal_(arr: Buffer, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None, *,
                    shape: Sequence[int] | None = None, region: Any = None) -> Buffer:
    """He/Kaiming normal: N(0, std**2), std = gain / sqrt(fan) (see :func:`kaiming_uniform_`).

    References
    ----------
    .. [1] K. He et al., ICCV (2015).
    """
    t = _Target(arr, shape, region, "kaiming_normal_")
    std = _kaiming_std(t, a, mode, nonlinearity)
    if std is None:
        return t.done()
    with _source(generator, t) as rng:
        normal_(t.arr, 0.0, std, rng, shape=t.shape, region=t.region)
    return t.done()


def lecun_uniform_(arr: Buffer, generator: Any = None, *, shape: Sequence[int] | None = None,
                   region: Any = None) -> Buffer:
    """LeCun uniform: U(-bound, bound), bound = sqrt(3 / fan_in) (variance 1 / fan_in).

    References
    ----------
    .. [1] Y. LeCun, L. Bottou, G. Orr, K.-R. Mueller, "Efficient BackProp", Neural Networks:
           Tricks of the Trade (1998).
    """
    t = _Target(arr, shape, region, "lecun_uniform_")
    fan_in, _ = _fans_of(t)
    if fan_in == 0:
        raise ValueError("lecun_uniform_: fan_in is 0 (the shape has no elements)")
    bound = math.sqrt(3.0 / fan_in)
    with _source(generator, t) as rng:
        uniform_(t.arr, -bound, bound, rng, shape=t.shape, region=t.region)
    return t.done()


def lecun_normal_(arr: Buffer, generator: Any = None, *, shape: Sequence[int] | None = None,
                  region: Any = None) -> Buffer:
    """LeCun normal: N(0, 1 / fan_in), the init of self-normalizing (SELU) networks.

    References
    ----------
    .. [1] Y. LeCun et al., "Efficient BackProp" (1998).
    .. [2] G. Klambauer, T. Unterthiner, A. Mayr, S. Hochreiter, "Self-normalizing neural
           networks", NeurIPS (2017).
    """
    t = _Target(arr, shape, region, "lecun_normal_")
    fan_in, _ = _fans_of(t)
    if fan_in == 0:
        raise ValueError("lecun_normal_: fan_in is 0 (the shape has no elements)")
    with _source(generator, t) as rng:
        normal_(t.arr, 0.0, 1.0 / math.sqrt(fan_in), rng, shape=t.shape, region=t.region)
    return t.done()


# -- structured -----------------------------------------------------------------------------------

def orthogonal_(arr: Buffer, gain: float = 1.0, generator: Any = None, *,
                shape: Sequence[int] | None = None, region: Any = None) -> Buffer:
    """A (semi-)orthogonal matrix times ``gain``, as ``torch.nn.init.orthogonal_``.

    The array is viewed as rows = shape[0] by cols = the product of the rest.  A float64
    Gaussian matrix (transposed when rows < cols) is factored by LAPACK's QR; Q times the signs of
    R's diagonal is uniformly distributed (Haar), transposed back, times gain.  With ``region``
    the whole matrix is still factored (QR has no local form) and the block copied out.

    References
    ----------
    .. [1] A. M. Saxe, J. L. McClelland, S. Ganguli, "Exact solutions to the nonlinear dynamics
           of learning in deep linear neural networks", ICLR (2014).
    """
    t = _Target(arr, shape, region, "orthogonal_")
    if len(t.shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if not isinstance(gain, (int, float, np.number)) or not math.isfinite(gain):
        raise ValueError(f"orthogonal_: gain must be a finite number, got {gain!r}")
    v.check_in_range(gain, t.dtype, "orthogonal_: gain")       # |Q| <= 1: gain bounds it
    numel = math.prod(t.shape)
    if numel == 0:
        return t.done()
    rows = t.shape[0]
    cols = numel // rows
    with _source(generator, t) as rng:
        flat = rng.standard_normal(size=(rows, cols), dtype=np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    full = (q * gain).reshape(t.shape)
    t.assign(full if t.region is None else full[t.region])
    return t.done()


def sparse_(arr: Buffer, sparsity: float, std: float = 0.01, generator: Any = None, *,
            shape: Sequence[int] | None = None, region: Any = None) -> Buffer:
    """A sparse 2-D matrix: N(0, std**2) values with ceil(sparsity * rows) zeros per column.

    As ``torch.nn.init.sparse_``, but the zero positions also come from ``generator`` (torch
    draws them from its global RNG whatever generator is passed): column c's zeros are the rows
    with the smallest keys in column c of one ``random((rows, cols))`` call.

    References
    ----------
    .. [1] J. Martens, "Deep learning via Hessian-free optimization", ICML (2010).
    """
    t = _Target(arr, shape, region, "sparse_")
    if len(t.shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparse_: sparsity must be in [0, 1], got {sparsity}")
    rows, cols = t.shape
    num_zeros = int(math.ceil(sparsity * rows))
    col_block = slice(t.starts[1], t.starts[1] + t.block[1])
    with _source(generator, t) as rng:
        rng.normal(0.0, std, size=t.shape, out=t.arr, region=t.region)
        keys = rng.random(size=(rows, cols), region=np.s_[:, col_block])
    ranks = np.argsort(np.argsort(keys, axis=0, kind="stable"), axis=0, kind="stable")
    row_block = slice(t.starts[0], t.starts[0] + t.block[0])
    zero = ranks[row_block] < num_zeros
    if t.on_device:
        _tensors.zero_where(t.arr, zero)
    else:
        t.arr[zero] = 0                            # all-zero bits: +0.0 in every dtype
    return t.done()


# -- torch's deprecated names ---------------------------------------------------------------------

def _deprecated(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` under its old name without the underscore, warning as torch does."""
    new_name = function.__name__
    old_name = new_name[:-1]

    @functools.wraps(function)
    def deprecated(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.",
                      FutureWarning, stacklevel=2)
        return function(*args, **kwargs)

    deprecated.__name__ = deprecated.__qualname__ = old_name
    deprecated.__doc__ = f"Deprecated: use :func:`{new_name}` (warns with FutureWarning)."
    return deprecated


# The names torch.nn.init keeps with a FutureWarning (not in __all__, as in torch).
uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
