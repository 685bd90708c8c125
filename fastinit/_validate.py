"""Argument checks and their error messages, in one place.

Errors follow NumPy and torch for the same mistake: TypeError for a wrong type or dtype, ValueError
for a wrong value, OverflowError for a range NumPy also calls out of bounds.  Every check runs
before a buffer is touched or a stream number is taken.

May import: ml_dtypes, numpy.
"""
from __future__ import annotations

import math
import operator
import struct
from typing import Any

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16))
_HINT = "use np.float32, np.float64, np.float16 or bfloat16"
_NATIVE = frozenset(SUPPORTED_DTYPES)

# dtype=np.float32 and the like, without building a dtype from the type each call.
_DTYPE_OF_TYPE: dict[type, np.dtype] = {
    np.float32: SUPPORTED_DTYPES[0], np.float64: SUPPORTED_DTYPES[1],
    np.float16: SUPPORTED_DTYPES[2], float: SUPPORTED_DTYPES[1]}

# Regions and sizes index the counter with 64-bit integers; retries use bits 56..63
# (docs/stream.md).
MAX_ELEMENTS = 1 << 56


# torch.bfloat16 tensors reach the kernels without ml_dtypes, as uint16 views whose dtype carries
# this tag (NumPy keeps a dtype's metadata through views and reshapes).  Every bfloat16 rounding
# below is fastinit's own, so this tag and ml_dtypes' bfloat16 give the same bits.
BFLOAT16_BITS = np.dtype(np.uint16, metadata={"fastinit": "bfloat16"})

# torch dtypes given as dtype=, by name (torch itself is never imported here).
_TORCH_DTYPES = {"torch.float32": np.float32, "torch.float64": np.float64,
                 "torch.float16": np.float16, "torch.bfloat16": "bfloat16"}


def bfloat16() -> np.dtype:
    """ml_dtypes' bfloat16, imported only when asked for."""
    try:
        import ml_dtypes
    except ImportError:
        raise ImportError("bfloat16 needs the ml_dtypes package: pip install fastinit[bf16] "
                          "(or pip install ml_dtypes)") from None
    return np.dtype(ml_dtypes.bfloat16)


def is_bfloat16(dt: np.dtype) -> bool:
    """ml_dtypes' bfloat16, or the uint16 view of a torch.bfloat16 tensor (BFLOAT16_BITS)."""
    metadata: Any = dt.metadata or {}
    return dt.itemsize == 2 and (dt.name == "bfloat16" or metadata.get("fastinit") == "bfloat16")


def dtype_name(dt: np.dtype) -> str:
    """A dtype's name for messages ("bfloat16" for a torch.bfloat16 tensor's uint16 view too)."""
    return "bfloat16" if is_bfloat16(dt) else str(dt)


def is_half(dt: np.dtype) -> bool:
    """float16 or bfloat16: computed in float32, rounded to nearest-even once when stored."""
    return dt.itemsize == 2


def compute_dtype(dt: np.dtype) -> np.dtype:
    """The precision the kernels compute a dtype in."""
    return np.dtype(np.float32) if is_half(dt) else dt


def resolve_dtype(dtype: Any, out: np.ndarray | None, method: str) -> np.dtype:
    """The output dtype: ``dtype`` if given, else out's dtype, else float64."""
    if dtype is None and type(out) is np.ndarray and out.dtype in _NATIVE:
        return out.dtype                                   # the common cases, first
    if type(dtype) is type and dtype in _DTYPE_OF_TYPE:
        return _DTYPE_OF_TYPE[dtype]
    if dtype is None:
        if out is not None and isinstance(out, np.ndarray):
            dtype = out.dtype
            if is_bfloat16(dtype):
                return dtype
        else:
            return np.dtype(np.float64)
    if type(dtype).__module__ == "torch":
        dtype = _TORCH_DTYPES.get(str(dtype), dtype)
    if isinstance(dtype, str) and dtype == "bfloat16":
        if isinstance(out, np.ndarray) and is_bfloat16(out.dtype):
            return out.dtype                               # a torch.bfloat16 tensor's view
        return bfloat16()
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{method}: {dtype!r} is not a dtype; {_HINT}") from exc
    if dt.kind == "f" and dt.isnative and dt in SUPPORTED_DTYPES:
        return dt
    if is_bfloat16(dt):
        return dt
    if dt.kind == "f" and not dt.isnative and dt.newbyteorder() in SUPPORTED_DTYPES:
        raise TypeError(f"{method}: dtype {dt.str} is byte-swapped (non-native byte order); "
                        f"fill a native array and .byteswap() it, or {_HINT}")
    raise TypeError(f"{method}: unsupported dtype {dt}; {_HINT}")


def check_seed(seed: Any, where: str, *, none: bool = False, sequence: bool = True,
               kind: str = "an int or a numpy.random.SeedSequence") -> Any:
    """A seed as every layer takes it: an int >= 0 (returned as a Python int), a
    ``numpy.random.SeedSequence`` when ``sequence``, None when ``none``.  TypeError for another
    type (``kind`` says what is taken), ValueError for a negative int; both name ``where``."""
    if seed is None and none:
        return None
    if sequence and isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{where}: seed must be {kind}, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{where}: seed must be >= 0, got {seed}")
    return int(seed)


def normalize_size(size: Any) -> tuple[int, ...] | None:
    """``size`` as a shape tuple (None stays None), as NumPy reads it."""
    if size is None:
        return None
    if type(size) is int and 0 <= size < MAX_ELEMENTS:
        return (size,)                                     # the common case, first
    if isinstance(size, (tuple, list)):
        dims = tuple(size)
    elif isinstance(size, np.ndarray) and size.ndim == 1:
        dims = tuple(size)                                 # NumPy takes a 1-d integer array
    else:
        dims = (size,)
    shape = []
    for d in dims:
        try:
            if isinstance(d, (bool, np.bool_)):
                raise TypeError("a bool is not a dimension")   # NumPy refuses size=True too
            d = operator.index(d)
        except TypeError as exc:
            raise TypeError(f"size must be an int or a tuple of ints, got {size!r}") from exc
        if d < 0:
            raise ValueError(f"negative dimensions are not allowed: size={size!r}")
        shape.append(d)
    if math.prod(shape) >= MAX_ELEMENTS:
        raise ValueError(f"size {tuple(shape)} has 2**56 or more elements, more than the stream "
                         "addresses")
    return tuple(shape)


def check_out(out: Any, dtype: np.dtype, method: str) -> np.ndarray:
    """An out= buffer must be an ndarray of exactly ``dtype``, C-contiguous, aligned, writable."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{method}: out must be a numpy.ndarray (np.memmap is fine), "
                        f"got {type(out).__name__}")
    if out.dtype != dtype:
        hint = (" (it is byte-swapped: use out.byteswap().view(out.dtype.newbyteorder()))"
                if out.dtype.newbyteorder() == dtype else "")
        raise TypeError(f"{method}: supplied output array has the wrong type: expected "
                        f"{dtype_name(dtype)}, got {dtype_name(out.dtype)}{hint}")
    flags = out.flags
    if flags.carray:                     # C-contiguous, aligned and writeable: the common case
        return out
    if not flags.c_contiguous:
        raise ValueError(f"{method}: out must be C-contiguous; pass np.ascontiguousarray(out) "
                         "and copy back, or fill a contiguous buffer")
    if not flags.aligned:
        raise ValueError(f"{method}: out is not aligned to its dtype; allocate it with np.empty")
    if not flags.writeable:
        raise ValueError(f"{method}: out is read-only; pass a writable array")
    return out


def normalize_region(region: Any, shape: tuple[int, ...]) -> tuple[tuple[int, ...],
                                                                    tuple[int, ...]]:
    """``region`` (a slice, or a tuple of step-1 slices, one per axis) as (starts, extents)."""
    if isinstance(region, slice):
        region = (region,)
    if not isinstance(region, tuple):
        raise TypeError(f"region must be a slice or a tuple of slices (np.s_[...]), "
                        f"got {type(region).__name__}")
    if len(region) != len(shape):
        raise ValueError(f"region has {len(region)} slice(s) but size has {len(shape)} "
                         f"dimension(s); give one slice per dimension")
    starts, extents = [], []
    for axis, (sl, dim) in enumerate(zip(region, shape)):
        if not isinstance(sl, slice):
            raise TypeError(f"region[{axis}] must be a slice, got {type(sl).__name__}")
        if sl.step not in (None, 1):
            raise ValueError(f"region[{axis}] has step {sl.step}; regions must be contiguous "
                             "blocks (step 1)")
        start = 0 if sl.start is None else operator.index(sl.start)
        stop = dim if sl.stop is None else operator.index(sl.stop)
        start = start + dim if start < 0 else start
        stop = stop + dim if stop < 0 else stop
        if not 0 <= start <= stop <= dim:
            raise ValueError(f"region[{axis}] = {sl} lies outside 0..{dim} "
                             "(or stops before it starts)")
        starts.append(start)
        extents.append(stop - start)
    return tuple(starts), tuple(extents)


def as_scalar_or_array(value: Any, name: str) -> float | np.ndarray:
    """A Python float for scalars, a float64 array for array-likes."""
    if type(value) is float:             # the common case, without building an array
        return value
    if type(value) is int and -2**53 <= value <= 2**53:      # exact as a float
        return float(value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real number or an array of them, got {arr.dtype}")
    if arr.ndim == 0:
        return float(arr)
    return arr.astype(np.float64)


# float32 rounds values at or beyond this magnitude to infinity (float32 max plus half an ulp).
_F32_OVERFLOW = 2.0**128 - 2.0**103


_F32 = struct.Struct("<f")
_I32 = struct.Struct("<i")


def to_dtype(x: float, dt: np.dtype) -> float:
    """A Python float rounded to ``dt`` (nearest-even; +-inf past the range), without warnings."""
    if dt.itemsize == 8:
        return x
    if dt.itemsize == 4:
        if abs(x) >= _F32_OVERFLOW:
            return math.copysign(math.inf, x)
        return _F32.unpack(_F32.pack(x))[0]
    return float(round_array(np.float64(x), dt))


def round_array(values: Any, dt: np.dtype) -> np.ndarray:
    """Float64 values rounded to ``dt`` once (nearest-even, +-inf past the range), as float64."""
    values = np.asarray(values, np.float64)
    if is_bfloat16(dt):
        return _round_bfloat16(values)
    with np.errstate(over="ignore"):
        return values.astype(dt).astype(np.float64)


def _round_bfloat16(x: np.ndarray) -> np.ndarray:
    """Round float64 to bfloat16 (8 significant bits, float32's exponent range) in one step.

    x is scaled by the power of two that makes its last kept bit the units, rounded half to
    even (np.rint), and scaled back; both scalings are exact.  Subnormals keep the fixed
    spacing 2**-133.  (Going through float32 first could round twice.)
    """
    with np.errstate(over="ignore", invalid="ignore"):
        _, e = np.frexp(x)
        k = np.maximum(e - 8, -133)
        y = np.ldexp(np.rint(np.ldexp(x, -k)), k)
        return np.where(np.abs(y) >= 2.0**128, np.copysign(np.inf, x), y)


def next_array(d: Any, dt: np.dtype, up: bool) -> np.ndarray:
    """The ``dt`` values next to the ``dt`` values ``d`` (float64), upwards or downwards."""
    d = np.asarray(d, np.float64)
    toward = np.inf if up else -np.inf
    if not is_bfloat16(dt):
        with np.errstate(over="ignore"):
            return np.nextafter(d.astype(dt), np.array(toward).astype(dt)).astype(np.float64)
    # bfloat16 values are the float32 values whose low 16 bits are 0: step the top 16 bits,
    # which are sign-magnitude like any IEEE format.
    top = d.astype(np.float32).view(np.uint32) >> 16
    sign, magnitude = top >> 15, top & 0x7FFF
    grows = (sign == 0) == up
    with np.errstate(over="ignore"):          # 0 - 1 wraps; that case is replaced below
        stepped = np.where(grows, magnitude + 1, magnitude - 1)
    bits = ((sign << 15) | stepped) << 16
    bits = np.where(magnitude == 0, np.uint32(0x00010000 if up else 0x80010000), bits)
    result = bits.astype(np.uint32).view(np.float32).astype(np.float64)
    return np.where(d == toward, d, result)


def assign(target: np.ndarray, values: Any) -> None:
    """``target[...] = values`` rounded once to target's dtype (nearest-even), bfloat16 included.

    For the deterministic inits (constant, eye, dirac, orthogonal) and the one rounding of
    float32 results into 2-byte outputs.
    """
    check_in_range(values, target.dtype, "a value")
    if is_bfloat16(target.dtype):
        exact = round_array(values, target.dtype).astype(np.float32)    # exact: bfloat16 values
        np.copyto(target.view(np.uint16), (exact.view(np.uint32) >> 16).astype(np.uint16))
    else:
        with np.errstate(over="ignore"):
            np.copyto(target, values, casting="unsafe")


def check_in_range(values: Any, dt: np.dtype, what: str) -> None:
    """OverflowError when a finite value would round to +-inf in ``dt`` (float16 included: only
    the kernels' float16 stores saturate)."""
    values = np.asarray(values, np.float64)
    with np.errstate(invalid="ignore"):
        overflow = np.isinf(round_array(values, dt)) & np.isfinite(values)
    if np.any(overflow):
        raise OverflowError(f"{what} {float(values[overflow].flat[0])!r} exceeds the "
                            f"{dtype_name(dt)} range; use a wider dtype")


def _next(d: float, dt: np.dtype, up: bool) -> float:
    """The ``dt`` value next to the ``dt`` value ``d``, upwards or downwards (like nextafter)."""
    toward = math.inf if up else -math.inf
    if dt.itemsize == 8 or d == toward:
        return math.nextafter(d, toward)
    if dt.itemsize == 2:
        return float(next_array(d, dt, up))
    if d == 0:
        return math.copysign(2.0**-149, toward)
    bits = _I32.unpack(_F32.pack(d))[0]          # sign-magnitude: step the magnitude
    bits += 1 if (d > 0) == up else -1
    return _F32.unpack(_I32.pack(bits))[0]


def check_loc_scale(loc: Any, scale: Any, dt: np.dtype,
                    name: str) -> tuple[Any, Any]:
    """loc finite, scale finite and >= 0, both representable in ``dt``; returned rounded to the
    compute dtype (Python floats for floats, float64 arrays of its values for arrays)."""
    if not all_finite(loc):
        raise ValueError(f"{name}: loc must be finite (it is NaN or inf)")
    if any_of(scale != scale) or any_of(scale < 0):
        raise ValueError(f"{name}: scale < 0 (or NaN); scale must be >= 0")
    if not all_finite(scale):
        raise ValueError(f"{name}: scale must be finite")
    if not (all_finite(rounded(loc, dt)) and all_finite(rounded(scale, dt))):
        raise ValueError(f"{name}: loc or scale exceed the {dtype_name(dt)} range")
    cdt = compute_dtype(dt)
    return rounded(loc, cdt), rounded(scale, cdt)


# Elementwise primitives that take a Python float or an array alike, so that each distribution's
# parameter check is written once for scalars and arrays (a float stays a float: the per-call path
# costs no NumPy call).

def rounded(x: Any, dt: np.dtype) -> Any:
    """``x`` rounded once to ``dt`` (nearest-even, +-inf past the range): to_dtype or round_array."""
    return to_dtype(x, dt) if type(x) is float else round_array(x, dt)


def any_of(condition: Any) -> bool:
    """Whether a comparison's result holds anywhere (a bool for floats, an array otherwise)."""
    return condition if type(condition) is bool else bool(np.any(condition))


def all_finite(x: Any) -> bool:
    """Whether every value is finite (not NaN or +-inf)."""
    return math.isfinite(x) if type(x) is float else bool(np.all(np.isfinite(x)))


def where(condition: Any, x: Any, y: Any) -> Any:
    """``x`` where condition holds, else ``y``: np.where, or a plain choice for a bool."""
    if type(condition) is bool:
        return x if condition else y
    return np.where(condition, x, y)


def inward(values: Any, dt: np.dtype, direction: str) -> Any:
    """The ``dt`` value nearest each value on its inner side, elementwise.

    direction "up": the smallest dt value >= value; "down": the largest dt value <= value.  Bounds
    rounded this way can never let a rounding in the output dtype leave a documented interval.
    A Python float gives a Python float.
    """
    if isinstance(values, float):
        d = to_dtype(values, dt)
        if direction == "up":
            return _next(d, dt, up=True) if d < values else d
        return _next(d, dt, up=False) if d > values else d
    exact = np.asarray(values, np.float64)
    rounded = round_array(exact, dt)
    if direction == "up":
        return np.where(rounded < exact, next_array(rounded, dt, up=True), rounded)
    return np.where(rounded > exact, next_array(rounded, dt, up=False), rounded)


def largest_below(values: Any, dt: np.dtype) -> Any:
    """The largest ``dt`` value strictly below each value, elementwise (floats stay floats)."""
    if isinstance(values, float):
        d = to_dtype(values, dt)
        return _next(d, dt, up=False) if d >= values else d
    exact = np.asarray(values, np.float64)
    rounded = round_array(exact, dt)
    return np.where(rounded >= exact, next_array(rounded, dt, up=False), rounded)
