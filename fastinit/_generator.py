"""The Generator: seeding, stream numbers, validation and dispatch to the kernels.

Data flows one way: seed -> key -> stream number -> kernel -> buffer.  Each call of any method
takes the next stream number (atomically, from the generator's fastinit.Philox, so concurrent
callers never share one) and then fills without holding any lock.  The value at a multi-index of
a call depends on (key, stream, shape, multi-index) only; see README.md, "The random stream".

May import: numpy, fastinit._core.bit_generator, fastinit._device, fastinit._core.kernels_baseline,
fastinit._numpy_methods, fastinit._progress, fastinit._core.simd, fastinit._tensors,
fastinit._core.threads, fastinit._truncnorm, fastinit._validate.
"""
from __future__ import annotations

import functools
import hashlib
import math
import struct
from typing import Any

import numpy as np

from fastinit import _device, _progress, _tensors
from fastinit._core import simd as _simd
from fastinit._core import threads as _threads
from fastinit import _validate as v
from fastinit._core.bit_generator import Philox, _check_int
from fastinit._core.kernels_baseline import Kind
from fastinit._numpy_methods import NumpyMethods
from fastinit._truncnorm import TN_EXPONENTIAL, TN_NORMAL
from fastinit._truncnorm import plan as _truncated_plan

_BIT_GENERATOR = "Philox4x32-10"
# Fills of buffers at least this large (twice the cache a fill can count on, read at import) are
# written with streaming stores, on any number of threads, unless the buffer is fresh memory
# (_tensors.mostly_resident): they would not stay in the caches anyway, and a plain store first
# reads every line it writes.  Smaller ones use plain stores, so the caller finds them in cache.
# Raw words and uniforms stream straight from the registers (store.h), float32 normals and
# truncated normals from each chunk's L1 scratch.  Out of cache on 1 thread, streaming measured
# +34% on an Intel Xeon (then still through a scratch copy) and +0-3% on an AMD EPYC (Zen 4)
# with the register path.
STREAMING_BYTES = 2 * _simd.usable_cache_bytes()
# progress=True shows a bar for fills of _progress.PROGRESS_BYTES and more, updated every
# PROGRESS_STEP_BYTES.
PROGRESS_STEP_BYTES = 64 << 20
# The kernels' kinds of fill as plain ints: each use of an IntEnum member costs ~0.1 us per call.
_RAW, _UNIFORM, _NORMAL, _TRUNCATED_NORMAL = (int(k) for k in (
    Kind.KIND_RAW, Kind.KIND_UNIFORM, Kind.KIND_NORMAL, Kind.KIND_TRUNCATED_NORMAL))
_NO_TRUNCATION = (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)   # method, a, b, alpha, c, d2, m2, width
# No Box-Muller value reaches this far (|z| <= sqrt(-2 ln 2**-54) = 8.652 in float64, 6.66 in
# float32): a truncated normal with a <= -9 and b >= 9 rejects nothing, so the normal kernel with
# the call's clamp computes its bits (docs/stream.md, "Truncated normal"), at the normal fill's
# speed.
# torch's default trunc_normal_(std=0.02, a=-2, b=2) is such a call: +-100 sigma.
_BOX_MULLER_REACH = 9.0
# How far the standard variates reach, by the itemsize they are computed in (docs/stream.md,
# "Normal", "Truncated normal"): Box-Muller's |z| <= sqrt(-2 ln u1_min), u1 >= 2**-32 (float32)
# or 2**-54 (float64); Robert's exponential adds at most -ln(2**-24) or -ln(2**-53) over alpha.
# A relative margin covers the rounding of log, sqrt and the polynomials.
_Z_REACH = {4: math.sqrt(64 * math.log(2)) * (1 + 1e-6),
            8: math.sqrt(108 * math.log(2)) * (1 + 1e-12)}
_EXP_REACH = {4: 24 * math.log(2) * (1 + 1e-6), 8: 53 * math.log(2) * (1 + 1e-12)}


@functools.lru_cache(maxsize=8)
def _random_params(dt: np.dtype) -> tuple:
    """random()'s kernel parameters: u clamped to the largest value below 1 of the dtype, which
    only acts for float16 and bfloat16 (their rounding could otherwise reach 1)."""
    return (0.0, 1.0, 0.0, v.largest_below(1.0, dt)) + _NO_TRUNCATION, None


def stream_for(name: str) -> int:
    """The stream number of a named tensor: its values depend on (seed, name, index) only.

    ``s = int.from_bytes(sha256(name.encode("utf-8")).digest()[:8], "little")``: the first 8
    bytes of the SHA-256 of the UTF-8 name, little-endian.  ``Generator(seed, stream=s)`` starts
    there; torch modules (``fastinit.torch.materialize``) key each parameter and buffer by its
    fully qualified name this way, so a tensor's values do not depend on construction order or on
    which other tensors exist.  (README: "Named streams".)

    >>> import fastinit as fi
    >>> fi.stream_for("lm_head.weight") == fi.stream_for("lm_head.weight")
    True
    """
    if not isinstance(name, str):
        raise TypeError(f"a stream name must be a str, got {type(name).__name__}")
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


class Generator(NumpyMethods):
    """A NumPy-style random generator over Philox4x32-10 and fastinit's fill kernels.

    Parameters
    ----------
    seed : None, int, sequence of int, numpy.random.SeedSequence or fastinit.Philox, optional
        Entropy, read exactly as ``numpy.random.default_rng`` reads it.  The key is
        ``(k0, k1) = SeedSequence(seed).generate_state(2, np.uint32)``.  None draws fresh entropy
        from the operating system.  A ``fastinit.Philox`` becomes the generator's bit generator,
        shared, as ``numpy.random.Generator(bit_generator)`` shares its own.
    key : int, optional
        The 64-bit Philox key itself (``k0 = key & 0xffffffff``, ``k1 = key >> 32``), instead of a
        seed; for reproducing a stream recorded elsewhere.
    stream : int, optional
        The stream number of the first call (default 0); each call advances it by one.
        ``stream=fastinit.stream_for(name)`` gives a named tensor's stream.

    Notes
    -----
    Every method call, whatever its size or region, uses the next stream number, starting at 0.
    Array outputs are computed in the requested dtype directly: no float64 temporaries.  Besides
    fastinit's own methods, every other ``numpy.random.Generator`` method is here, run by NumPy's
    code on the call's stream (fastinit._numpy_methods).

    Examples
    --------
    >>> import numpy as np, fastinit as fi
    >>> rng = fi.default_rng(42)
    >>> w = rng.normal(0.0, 0.02, size=(256, 128), dtype=np.float32)
    >>> rng.uniform(-0.1, 0.1, out=w).dtype
    dtype('float32')
    """

    def __init__(self, seed: Any = None, *, key: int | None = None, stream: int = 0) -> None:
        if isinstance(seed, Philox):
            if key is not None or stream != 0:
                raise TypeError("a Philox carries its own key and stream; give no key or stream")
            self._bit_generator = seed           # shared, as numpy.random.Generator(bit_generator)
        else:
            self._bit_generator = Philox(seed, key=key, stream=stream)
            self._bit_generator._set_shared(False)      # nobody else can read it (yet)

    # -- seeding and state ------------------------------------------------------------------------

    @property
    def key(self) -> int:
        """The 64-bit Philox key (k0 in the low 32 bits, k1 in the high)."""
        return self._bit_generator.key

    @property
    def bit_generator(self) -> Philox:
        """The generator's ``fastinit.Philox``: its position is this generator's state.

        A call takes the bit generator's current stream if none of its words were read
        directly, else the next one; then the position moves to word 0 of the stream after it.
        ``numpy.random.Generator(rng.bit_generator)`` shares the state, and
        ``rng.bit_generator.state`` saves and restores it as in NumPy.
        """
        self._bit_generator._set_shared(True)    # reachable now: takes hold its lock
        return self._bit_generator

    @property
    def state(self) -> dict[str, Any]:
        """The generator's state: its key and the stream number of the next call.

        Setting it (a dict as returned) continues the stream from there.
        """
        return {"bit_generator": _BIT_GENERATOR, "key": self._bit_generator.key,
                "stream": self._bit_generator._next_stream}

    @state.setter
    def state(self, value: dict[str, Any]) -> None:
        if not isinstance(value, dict) or value.get("bit_generator") != _BIT_GENERATOR:
            raise ValueError(f"state must be a dict from Generator.state with bit_generator "
                             f"{_BIT_GENERATOR!r}")
        key = _check_int(value.get("key"), "key", 1 << 64)
        stream = value.get("stream")
        if isinstance(stream, bool) or not isinstance(stream, (int, np.integer)) \
                or not 0 <= int(stream) <= 2**64:
            raise ValueError(f"state['stream'] must be an int in [0, 2**64] (2**64: every stream "
                             f"number used), got {stream!r}")
        self._bit_generator._set_next_stream(key, int(stream))

    def spawn(self, n_children: int) -> list[Generator]:
        """Independent child generators, from ``SeedSequence.spawn`` as in NumPy.

        A generator made from ``key=K`` spawns from ``SeedSequence(K)``.
        """
        return [_restore(child) for child in self._bit_generator.spawn(n_children)]

    def __repr__(self) -> str:
        return (f"Generator({_BIT_GENERATOR}, key=0x{self.key:016x}, "
                f"stream={self._bit_generator._next_stream})")

    def __reduce__(self):
        return (_restore, (self._bit_generator,))

    # -- the fill machinery -----------------------------------------------------------------------

    def _fill(self, name: str, kind: int, size: Any, dtype: Any, out: Any, region: Any,
              make_params, arrays: tuple = (), progress: bool = False):
        """Validate, take a stream number, fill; the one path every method goes through.

        ``make_params(dt)`` validates the parameters for output dtype ``dt`` and returns
        ``(params, elements)``: the kernel parameters, and None or (with array-valued parameters,
        listed as (name, array) pairs in ``arrays``) the per-element ``(shift, scale, lo, hi)``
        arrays the kernel applies after the call's own map (``_element_params``).
        The common small calls are handed whole to the kernels' ``fill_call``.
        """
        if region is None and not arrays:
            # size and dtype, or out with or without size, scalar parameters, for one thread
            # (torch-style init, refills in a loop, small draws): checked, allocated and filled
            # in one compiled step.  The general path below would find nothing more to check, at
            # ~1-2 us of Python per call.  None: not such a call, nothing taken.
            done = _simd.kernels.fill_call(out, size, dtype, kind, self._bit_generator.key,
                                           self._bit_generator, make_params,
                                           _threads.MIN_ELEMENTS_PER_THREAD)
            if done is not None:
                return done
        tensor = on_device = None
        if out is not None and type(out) is not np.ndarray and _tensors.is_tensor(out):
            # A torch tensor: filled through a view of its own memory (or on its device by the
            # device kernels), returned itself.
            tensor, shard = out, _tensors.view(out, name)
            out = shard.array
            if shard.full_shape is not None:       # a DTensor's local shard
                if region is not None:
                    raise ValueError(f"{name}: region= cannot be given with a DTensor out (its "
                                     "placements give the region)")
                if size is not None and v.normalize_size(size) != shard.full_shape:
                    raise ValueError(f"{name}: size {size} does not match the DTensor's global "
                                     f"shape {shard.full_shape}")
                size, region = shard.full_shape, shard.region
            if shard.device is not None:
                # Its dtype is checked as an ndarray's would be, on an empty stand-in.
                on_device, out = shard.device, np.empty((0,) * shard.device.ndim, shard.dtype)
        dt = np.dtype(np.uint32) if kind == _RAW else v.resolve_dtype(dtype, out, name)
        requested = v.normalize_size(size)
        out_shape = (tuple(on_device.shape) if on_device is not None
                     else out.shape if isinstance(out, np.ndarray) else None)
        if requested is None and out is not None:
            if region is not None:
                raise ValueError(f"{name}: region= needs size= (the full shape)")
            requested = out_shape
        if requested is None and arrays:
            try:
                requested = np.broadcast_shapes(*(a.shape for _, a in arrays))
            except ValueError as exc:
                raise ValueError(f"{name}: parameters cannot be broadcast together: "
                                 f"{exc}") from None
        scalar = requested is None
        if requested is None:
            if region is not None:
                raise ValueError(f"{name}: region= needs size= (the full shape)")
            requested = ()
        shape: tuple[int, ...] = requested
        for pname, arr in arrays:
            if np.broadcast_shapes(arr.shape, shape) != shape:
                raise ValueError(f"{name}: {pname} of shape {arr.shape} does not broadcast to "
                                 f"size {shape}")
        if region is None:
            starts, block = (0,) * len(shape), shape
        else:
            starts, block = v.normalize_region(region, shape)
        if out is not None:
            out = v.check_out(out, dt, name)
            if out_shape != block:
                what = "the region's shape" if region is not None else "size"
                raise ValueError(f"{name}: out.shape {out_shape} does not match {what} {block}")

        # Validates; raises before anything changes.
        params, elements = make_params(dt)
        # Memory first: a size NumPy cannot allocate (MemoryError, more than 64 dimensions) fails
        # before a stream number is taken.
        if out is None:
            out = np.empty(block, dtype=dt)
        key, stream = self._bit_generator.key, self._bit_generator._take_stream()
        if on_device is not None:
            _device.fill(on_device, kind, shape, starts, key, stream, params, dt, elements)
        else:
            _fill_buffer(out, kind, shape, starts, key, stream, params, progress, name, elements)
        if tensor is not None:
            _tensors.written(tensor)
            return tensor
        if scalar and out.ndim == 0:
            return float(out.astype(np.float64)) if v.is_half(dt) else out.item()
        return out

    # -- methods ----------------------------------------------------------------------------------

    def random_raw(self, size: Any = None, *, out: np.ndarray | None = None,
                   region: Any = None) -> Any:
        """The call's raw Philox words ``w[0], w[1], ...`` as uint32 (docs/stream.md).

        Returns a Python int when ``size`` is None.
        """
        return self._fill("random_raw", _RAW, size, None, out, region,
                          lambda dt: ((0.0, 1.0, 0.0, 1.0) + _NO_TRUNCATION, None))

    def random(self, size: Any = None, dtype: Any = None, out: np.ndarray | None = None, *,
               region: Any = None, progress: bool = False) -> Any:
        """random(size=None, dtype=np.float64, out=None, *, region=None, progress=False)

        Floats uniform on the half-open interval [0.0, 1.0).

        float32 sample i is ``(w[i] >> 8) * 2**-24``; float64 sample i is
        ``(((w[2i+1] << 32) | w[2i]) >> 11) * 2**-53``: every representable multiple of 2**-24
        (2**-53) in [0, 1) is equally likely.

        Parameters
        ----------
        size : int or tuple of ints, optional
            Output shape; None returns a single Python float.
        dtype : {np.float64, np.float32, np.float16, "bfloat16"}, optional
            Output dtype; defaults to ``out.dtype`` when out is given, else float64.
        out : ndarray or torch.Tensor, optional
            C-contiguous, aligned, writable array of that dtype (np.memmap included) to fill in
            place; nothing is allocated.  With size, out.shape must equal it.  A contiguous
            torch tensor is filled in its own memory, a CUDA one on the GPU by the Triton
            kernels (docs/gpu.md), a DTensor as its local shard; the tensor is returned.
        region : slice or tuple of slices, optional
            Fill only this block of the full ``size``: the result equals
            ``random(size)[region]`` bit for bit, computed without the rest.
        progress : bool, optional
            Show a progress bar (bytes, rate, ETA) for fills of 256 MiB and more, when tqdm is
            installed (``fastinit[progress]``).  The values do not change.

        Returns
        -------
        float or ndarray
        """
        return self._fill("random", _UNIFORM, size, dtype, out, region,
                          lambda dt: _random_params(dt), progress=progress)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None, dtype: Any = None,
                out: np.ndarray | None = None, *, region: Any = None,
                progress: bool = False) -> Any:
        """uniform(low=0.0, high=1.0, size=None, dtype=np.float64, out=None, *, region=None, progress=False)

        Samples uniform on [low, high): ``low + (high - low) * u`` with u from :meth:`random`,
        computed in the output dtype and clamped so that the result is never below ``low`` and
        never reaches ``high``, even after rounding.

        Parameters
        ----------
        low, high : float or array_like of floats
            Bounds, finite, ``low <= high`` (``low == high`` returns ``low``).  Arrays broadcast
            against size as in NumPy.
        size, dtype, out, region, progress
            As in :meth:`random`.

        Raises
        ------
        ValueError
            NaN bounds, ``high < low``, or [low, high) holding no value of the dtype.
        OverflowError
            ``high - low`` is not finite (as NumPy).
        """
        low_a = v.as_scalar_or_array(low, "low")
        high_a = v.as_scalar_or_array(high, "high")

        def params(dt):
            if not arrays:
                return _uniform_map_scalar(low_a, high_a, dt) + _NO_TRUNCATION, None
            return ((0.0, 1.0, 0.0, 1.0) + _NO_TRUNCATION,
                    _element_params(dt, *_uniform_map(low_a, high_a, dt)))

        arrays = _array_params(("low", low_a), ("high", high_a))
        return self._fill("uniform", _UNIFORM, size, dtype, out, region, params,
                          arrays, progress=progress)

    def standard_normal(self, size: Any = None, dtype: Any = None,
                        out: np.ndarray | None = None, *, region: Any = None,
                        progress: bool = False) -> Any:
        """standard_normal(size=None, dtype=np.float64, out=None, *, region=None, progress=False)

        Samples from the standard normal distribution N(0, 1), by Box-Muller with both outputs.

        .. math:: z_{2k} = R\\cos\\theta,\\; z_{2k+1} = R\\sin\\theta,\\;
                  R = \\sqrt{-2\\ln u_1},\\; \\theta = 2\\pi u_2

        The exact construction from the words, including the polynomials, is in README.md.

        Parameters
        ----------
        size, dtype, out, region, progress
            As in :meth:`random`.
        """
        return self.normal(0.0, 1.0, size, dtype, out, region=region, progress=progress,
                           _name="standard_normal")

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None, dtype: Any = None,
               out: np.ndarray | None = None, *, region: Any = None, progress: bool = False,
               _name: str = "normal") -> Any:
        """normal(loc=0.0, scale=1.0, size=None, dtype=np.float64, out=None, *, region=None, progress=False)

        Samples from N(loc, scale**2): ``loc + scale * z`` with z from :meth:`standard_normal`,
        computed in the output dtype.

        .. math:: p(x) = \\frac{1}{\\sqrt{2\\pi}\\sigma} e^{-(x-\\mu)^2 / 2\\sigma^2}

        Parameters
        ----------
        loc : float or array_like of floats
            Mean, finite.
        scale : float or array_like of floats
            Standard deviation, finite and >= 0.
        size, dtype, out, region, progress
            As in :meth:`random`.

        Raises
        ------
        ValueError
            ``scale < 0``, or NaN or infinite loc or scale.
        """
        loc_a = v.as_scalar_or_array(loc, "loc")
        scale_a = v.as_scalar_or_array(scale, "scale")

        def params(dt):
            if not arrays:
                return _normal_params_scalar(loc_a, scale_a, dt, _name), None
            return ((0.0, 1.0, -math.inf, math.inf) + _NO_TRUNCATION,
                    _element_params(dt, *_normal_map(loc_a, scale_a, dt, _name)))

        arrays = _array_params(("loc", loc_a), ("scale", scale_a))
        return self._fill(_name, _NORMAL, size, dtype, out, region, params, arrays,
                          progress=progress)

    def truncated_normal(self, loc: Any = 0.0, scale: Any = 1.0, a: float = -2.0, b: float = 2.0,
                         size: Any = None, dtype: Any = None, out: np.ndarray | None = None, *,
                         region: Any = None, progress: bool = False) -> Any:
        """truncated_normal(loc=0.0, scale=1.0, a=-2.0, b=2.0, size=None, dtype=np.float64, out=None, *, region=None, progress=False)

        Samples from N(loc, scale**2) truncated to [loc + a*scale, loc + b*scale].

        ``a`` and ``b`` are in units of ``scale`` around ``loc``, as in ``scipy.stats.truncnorm``;
        ``a = -inf`` or ``b = inf`` leave a side open.  Sampling is exact (rejection, no clamping
        of out-of-range values), correct in the far tails (e.g. ``a = 8, b = 9``), and every
        value lies in the closed interval, after rounding to the dtype too.

        .. math:: p(x) = \\frac{\\phi((x-\\mu)/\\sigma)}{\\sigma\\,(\\Phi(b) - \\Phi(a))},
                  \\quad \\mu + a\\sigma \\le x \\le \\mu + b\\sigma

        Parameters
        ----------
        loc, scale : float or array_like of floats
            As in :meth:`normal`.
        a, b : float
            Truncation bounds in units of scale, ``a < b``; may be infinite.
        size, dtype, out, region, progress
            As in :meth:`random`.

        Raises
        ------
        ValueError
            ``a >= b``, NaN a or b, ``scale < 0``, NaN or infinite loc or scale, or an interval
            holding no value of the dtype.

        Notes
        -----
        The sampler (Box-Muller rejection, a uniform proposal, or Robert's exponential proposal) is
        chosen from (a, b) alone; README.md, "Truncated normal", gives the stream exactly.

        References
        ----------
        .. [1] C. P. Robert, "Simulation of truncated normal variables", Statistics and
               Computing 5 (1995) 121-125.
        """
        loc_a = v.as_scalar_or_array(loc, "loc")
        scale_a = v.as_scalar_or_array(scale, "scale")
        for bname, bound in (("a", a), ("b", b)):
            if type(bound) is not float and np.ndim(bound) != 0:
                raise TypeError(f"truncated_normal: {bname} must be a scalar")
        a, b = float(a), float(b)

        def params(dt):
            if not arrays:
                return _truncated_params_scalar(loc_a, scale_a, a, b, dt), None
            shift, scale_d, lo_d, hi_d, tp = _truncated_map(loc_a, scale_a, a, b, dt)
            sign = -1.0 if tp.flip else 1.0
            trunc = (tp.method, tp.a, tp.b, tp.alpha, tp.c, tp.d2, tp.m2, tp.width)
            return ((0.0, sign, -math.inf, math.inf) + trunc,
                    _element_params(dt, shift, scale_d, lo_d, hi_d))

        arrays = _array_params(("loc", loc_a), ("scale", scale_a))
        unreachable = a <= -_BOX_MULLER_REACH and b >= _BOX_MULLER_REACH
        return self._fill("truncated_normal", _NORMAL if unreachable else _TRUNCATED_NORMAL,
                          size, dtype, out, region, params, arrays, progress=progress)


# -- helpers --------------------------------------------------------------------------------------

def _restore(bit_generator: Philox) -> Generator:
    """A Generator that alone holds ``bit_generator`` (unpickled or spawned for it)."""
    gen = Generator(bit_generator)
    bit_generator._set_shared(False)
    return gen


# The exact bytes of scalar parameters, part of the cache keys below: 0.0 == -0.0 (so they hash
# alike), but they are different parameters.  One pack is cheaper than a copysign per value.
_BITS2 = struct.Struct("<2d").pack
_BITS4 = struct.Struct("<4d").pack


def _streams(out: np.ndarray) -> bool:
    """Whether a fill of ``out`` uses streaming stores (see STREAMING_BYTES)."""
    return (out.nbytes >= STREAMING_BYTES and out.flags.c_contiguous
            and _tensors.mostly_resident(out.ctypes.data, out.nbytes))


def _fill_buffer(out: np.ndarray, kind: int, shape: tuple[int, ...], starts: tuple[int, ...],
                 key: int, stream: int, params: tuple, progress: bool, name: str,
                 elements: tuple | None = None) -> None:
    """Run the kernels of the current SIMD level over ``out``: on the calling thread for small
    fills, split over the thread pool for large ones (streaming stores beyond STREAMING_BYTES),
    in steps under a progress bar when asked."""
    kernels = _simd.kernels
    total = out.size
    streaming = _streams(out)
    if total < _threads.MIN_ELEMENTS_PER_THREAD:
        kernels.fill(out, kind, shape, starts, key, stream, params, 0, -1, streaming, elements)
        return

    def fill_range(begin: int, end: int) -> None:
        kernels.fill(out, kind, shape, starts, key, stream, params, begin, end, streaming,
                     elements)

    if progress and out.nbytes >= _progress.PROGRESS_BYTES:
        _fill_with_progress(fill_range, total, out.itemsize, name)
    else:
        _threads.run(fill_range, total)


def _fill_with_progress(fill_range, total: int, itemsize: int, name: str) -> None:
    """Fill 0..total in steps of PROGRESS_STEP_BYTES (each step threaded) under a tqdm bar."""
    bar = _progress.Progress(total * itemsize, True, name)
    step = max(_threads.ALIGN_ELEMENTS, PROGRESS_STEP_BYTES // itemsize)
    try:
        for begin in range(0, total, step):
            end = min(begin + step, total)
            _threads.run(lambda lo, hi: fill_range(begin + lo, begin + hi), end - begin)
            bar.update((end - begin) * itemsize)
    finally:
        bar.close()


# One check per distribution: each function below validates its parameters and computes the
# kernel's map for Python floats (the per-call path, cached) and arrays (elementwise) alike, with
# _validate's primitives that take either; so a scalar and a one-element array give the same bits.

def _uniform_map(low: Any, high: Any, dt: np.dtype) -> tuple[Any, Any, Any, Any]:
    """uniform's (shift, scale, lo, hi) for [low, high) in ``dt`` (docs/stream.md, "Uniform").

    ``high - low`` is taken in float64 and rounded once to the compute dtype; ``low`` and ``high``
    must be values the dtype can hold (a bound beyond float16's +-65504 is an OverflowError:
    clamping it would pile the mass beyond onto 65504), and ``high - low`` a value the compute
    dtype can hold (float32 for float16 and bfloat16).
    """
    if v.any_of(low != low) or v.any_of(high != high):
        raise ValueError("uniform: low and high must not be NaN")
    with np.errstate(over="ignore", invalid="ignore"):
        width = high - low
    if not v.all_finite(width):
        raise OverflowError("uniform: range exceeds valid bounds: high - low must be finite")
    if v.any_of(width < 0):
        raise ValueError("uniform: high - low < 0; need low <= high")
    cdt = v.compute_dtype(dt)
    low_d, high_d, scale = v.rounded(low, dt), v.rounded(high, dt), v.rounded(width, cdt)
    for what, value, in_dt in (("low", low_d, dt), ("high", high_d, dt),
                               ("high - low", scale, cdt)):
        if not v.all_finite(value):
            raise OverflowError(f"uniform: {what} exceeds the {v.dtype_name(in_dt)} range "
                                f"(+-{v.largest_below(math.inf, in_dt):.6g}); use a wider dtype "
                                "or a narrower interval")
    empty = width == 0                       # low == high: every value is low in the dtype
    lo_in = v.where(empty, low_d, v.inward(low, dt, "up"))
    hi_ex = v.where(empty, low_d, v.largest_below(high, dt))
    if v.any_of(lo_in > hi_ex):
        raise ValueError(f"uniform: [low, high) holds no {v.dtype_name(dt)} value; "
                         "widen the interval or use float64")
    return v.rounded(low, cdt), scale, lo_in, hi_ex


def _uniform_map_scalar(low: float, high: float, dt: np.dtype) -> tuple[float, float, float, float]:
    """_uniform_map for scalar bounds, cached: initializers call it with the same bounds for
    layer after layer.  Invalid input raises, and errors are not cached."""
    return _uniform_map_cached(low, high, dt, _BITS2(low, high))


@functools.lru_cache(maxsize=256)
def _uniform_map_cached(low: float, high: float, dt: np.dtype,
                        bits: bytes) -> tuple[float, float, float, float]:
    return _uniform_map(low, high, dt)


def _normal_map(loc: Any, scale: Any, dt: np.dtype, name: str) -> tuple[Any, Any, Any, Any]:
    """normal's (shift, scale, lo, hi): loc and scale checked and rounded to the compute dtype;
    OverflowError where ``loc + scale * z`` could leave the dtype's range."""
    shift, scale_d = v.check_loc_scale(loc, scale, dt, name)
    reach = _Z_REACH[v.compute_dtype(dt).itemsize]
    _check_overflow(name, dt, loc, scale, -reach, reach, -math.inf, math.inf)
    return shift, scale_d, -math.inf, math.inf


def _normal_params_scalar(loc: float, scale: float, dt: np.dtype, name: str) -> tuple:
    """The kernel parameters of normal for scalar loc and scale."""
    return _normal_params_cached(loc, scale, dt, name, _BITS2(loc, scale))


@functools.lru_cache(maxsize=256)
def _normal_params_cached(loc: float, scale: float, dt: np.dtype, name: str,
                          bits: bytes) -> tuple:
    return _normal_map(loc, scale, dt, name) + _NO_TRUNCATION


def _check_overflow(name: str, dt: np.dtype, loc: Any, scale: Any, x_lo: float, x_hi: float,
                    lo_d: Any, hi_d: Any) -> None:
    """OverflowError unless every output is finite.

    The standard variate stays in [x_lo, x_hi], so ``loc + scale * x`` stays in
    [min(loc + scale * x_lo), max(loc + scale * x_hi)]; only a side the clamp leaves open
    (lo_d = -inf, hi_d = inf) can overflow.  float16 saturates at +-65504 instead (docs/stream.md).
    """
    if dt == np.float16:
        return
    top = v.largest_below(math.inf, dt)
    loc, scale = np.asarray(loc, np.float64), np.asarray(scale, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        high = np.where(np.asarray(hi_d) == np.inf, loc + scale * x_hi, -np.inf)
        low = np.where(np.asarray(lo_d) == -np.inf, loc + scale * x_lo, np.inf)
    if np.any(high > top) or np.any(low < -top):
        raise OverflowError(f"{name}: loc + scale * z reaches beyond the {v.dtype_name(dt)} "
                            f"range (|z| reaches {max(-x_lo, x_hi):.3g} here); use a wider "
                            "dtype or a smaller scale")


def _truncated_reach(tp: Any, dt: np.dtype) -> tuple[float, float]:
    """The range [x_lo, x_hi] the truncated-normal variate of plan ``tp`` can take."""
    size = v.compute_dtype(dt).itemsize
    if tp.method == TN_NORMAL:
        return max(tp.a, -_Z_REACH[size]), min(tp.b, _Z_REACH[size])
    lo, hi = tp.a, tp.b
    if tp.method == TN_EXPONENTIAL:
        hi = min(hi, tp.a + _EXP_REACH[size] / tp.alpha)
    return (-hi, -lo) if tp.flip else (lo, hi)


_EMPTY_TRUNCATION = ("truncated_normal: [loc + a*scale, loc + b*scale] holds no {dt} value; "
                     "widen it or use float64")


# The samplers square standardized values (x**2 - m**2 in the uniform proposal) in the precision
# they compute in: finite bounds beyond these cannot be sampled in it (and the interval lies so far
# out that the distribution is a point on its near bound for every practical purpose).
_STANDARD_LIMIT = {4: 1e18, 8: 1e150}


def _check_truncation(a: float, b: float) -> None:
    if math.isnan(a) or math.isnan(b):
        raise ValueError("truncated_normal: a and b must not be NaN")
    if not a < b:
        raise ValueError(f"truncated_normal: a >= b (a={a}, b={b}); need a < b")


def _check_proposal_range(tp: Any, dt: np.dtype) -> None:
    """The proposal samplers compute with their finite bounds (the normal method only compares
    with them): refuse bounds their arithmetic cannot represent in the compute precision."""
    if tp.method == TN_NORMAL:
        return
    limit = _STANDARD_LIMIT[v.compute_dtype(dt).itemsize]
    far = [x for x in (tp.a, tp.b) if math.isfinite(x) and abs(x) > limit]
    if far:
        raise ValueError(f"truncated_normal: a bound {abs(far[0]):.3g} standard deviations from "
                         f"loc is beyond what {v.dtype_name(dt)} sampling represents (at most "
                         f"{limit:.0e}); use float64, a larger scale or an open bound")


def _truncated_map(loc: Any, scale: Any, a: float, b: float,
                   dt: np.dtype) -> tuple[Any, Any, Any, Any, Any]:
    """truncated_normal's (shift, scale, lo, hi, plan) (docs/stream.md, "Truncated normal").

    ``lo``/``hi`` are the dtype values nearest ``loc + a*scale`` and ``loc + b*scale`` on their
    inner sides, from the caller's float64 loc and scale (not their rounded values).
    """
    _check_truncation(a, b)
    shift, scale_d = v.check_loc_scale(loc, scale, dt, "truncated_normal")
    with np.errstate(over="ignore", invalid="ignore"):
        lo_real = v.where(scale > 0, loc + scale * a, loc)
        hi_real = v.where(scale > 0, loc + scale * b, loc)
    lo_d, hi_d = v.inward(lo_real, dt, "up"), v.inward(hi_real, dt, "down")
    if v.any_of(lo_d > hi_d) or v.any_of(lo_d == math.inf) or v.any_of(hi_d == -math.inf):
        raise ValueError(_EMPTY_TRUNCATION.format(dt=v.dtype_name(dt)))
    tp = _truncated_plan(a, b)
    _check_proposal_range(tp, dt)
    _check_overflow("truncated_normal", dt, loc, scale, *_truncated_reach(tp, dt), lo_d, hi_d)
    return shift, scale_d, lo_d, hi_d, tp


def _truncated_params_scalar(loc: float, scale: float, a: float, b: float,
                             dt: np.dtype) -> tuple:
    """The kernel parameters of truncated_normal for scalar loc and scale."""
    return _truncated_params_cached(loc, scale, a, b, dt, _BITS4(loc, scale, a, b))


@functools.lru_cache(maxsize=256)
def _truncated_params_cached(loc: float, scale: float, a: float, b: float, dt: np.dtype,
                             bits: bytes) -> tuple:
    shift, scale_d, lo_d, hi_d, tp = _truncated_map(loc, scale, a, b, dt)
    sign = -1.0 if tp.flip else 1.0
    return (shift, sign * scale_d, lo_d, hi_d, tp.method, tp.a, tp.b, tp.alpha, tp.c, tp.d2,
            tp.m2, tp.width)


def _array_params(*named: tuple[str, Any]) -> tuple[tuple[str, np.ndarray], ...]:
    """The (name, array) pairs among the parameters that are arrays."""
    return tuple([(name, val) for name, val in named if type(val) is not float])


def _element_params(dt, shift, scale, lo, hi) -> tuple[Any, ...]:
    """The per-element (shift, scale, lo, hi) of array parameters, as the kernels take them.

    Arrays are cast once to the compute dtype (float32 for float16 and bfloat16) at their own
    shape; the kernels broadcast them against the call's shape (and region) themselves and apply
    ``min(max(shift + scale * x, lo), hi)`` to each chunk while it is in L1: the arithmetic of the
    scalar path, element by element, with no array of the output's size.
    """
    cdt = v.compute_dtype(dt)
    return tuple(float(p) if np.ndim(p) == 0 else np.asarray(p).astype(cdt)
                 for p in (shift, scale, lo, hi))
