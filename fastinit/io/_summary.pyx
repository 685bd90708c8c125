# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Statistics of a block of stored values in one pass: the kernel behind ``fastinit info``.

``summarize_block(values, bfloat16)`` returns, over the finite values of a contiguous 1-D block,
their count, mean and sum of squared deviations from the mean (``m2``), min and max with how
many values equal each, and the counts of NaN, +inf and -inf.  It works in tiles of
``TILE`` values that stay in the L1 cache: a first sweep of a tile finds its sum, min and max, a
second its squared deviations from the tile's mean and the values at its min and max (a tile
holding a NaN or an infinity is summarized again, masked, by a scalar loop).
Tiles are combined in order with Chan et al.'s update, so the result depends only on the
values and their order, never on how a caller splits its work between threads (it merges
whole blocks in file order with :func:`merge`).

Sums use ``LANES`` independent float64 accumulators in a fixed order, so a vectorized build
would give the same bits.  (gcc leaves the sweeps mostly scalar in this baseline build: about
600 M values/s per thread here, faster than the files are read.)

Reference: T. F. Chan, G. H. Golub, R. J. LeVeque, "Updating formulae and a pairwise algorithm
for computing sample variances", COMPSTAT (1982).

May import: numpy (and its C API); nothing of fastinit.
"""
from libc.math cimport INFINITY
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t,
                          uint64_t)

import numpy as np

cdef enum:
    TILE = 2048     # values per tile: 16 KiB of float64s at most, in L1
    LANES = 8       # independent accumulators: one per float64 lane of AVX-512

ctypedef fused stored_t:
    float
    double
    int8_t
    int16_t
    int32_t
    int64_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t


cdef struct Summary:
    double count
    double mean
    double m2
    double lo
    double hi
    double at_lo
    double at_hi
    double nan
    double posinf
    double neginf


cdef inline double _value(const stored_t* x, Py_ssize_t i) noexcept nogil:
    return <double>x[i]


cdef void _widen_bf16(const uint16_t* words, Py_ssize_t n, float* out) noexcept nogil:
    """bfloat16 words as the float32s whose top halves they are (exact)."""
    cdef uint32_t* bits = <uint32_t*>out
    cdef Py_ssize_t i
    for i in range(n):
        bits[i] = (<uint32_t>words[i]) << 16


cdef inline void _merge(Summary* into, const Summary* part) noexcept nogil:
    """Chan et al.'s update of count, mean and m2; min, max and their counts; non-finite counts."""
    cdef double total, delta
    into.nan += part.nan
    into.posinf += part.posinf
    into.neginf += part.neginf
    if part.count == 0:
        return
    if into.count == 0:
        into.count, into.mean, into.m2 = part.count, part.mean, part.m2
        into.lo, into.hi, into.at_lo, into.at_hi = part.lo, part.hi, part.at_lo, part.at_hi
        return
    total = into.count + part.count
    delta = part.mean - into.mean
    into.mean = into.mean + delta * (part.count / total)
    into.m2 = into.m2 + part.m2 + delta * delta * (into.count * part.count / total)
    into.count = total
    if part.lo < into.lo:
        into.lo, into.at_lo = part.lo, part.at_lo
    elif part.lo == into.lo:
        into.at_lo += part.at_lo
    if part.hi > into.hi:
        into.hi, into.at_hi = part.hi, part.at_hi
    elif part.hi == into.hi:
        into.at_hi += part.at_hi


cdef void _tile(const stored_t* x, Py_ssize_t n, Summary* out) noexcept nogil:
    """The summary of ``n <= TILE`` values: the vector sweeps when every value is finite (a
    non-finite one makes the sum non-finite), else :func:`_tile_masked`."""
    cdef double s[LANES]
    cdef double lo[LANES]
    cdef double hi[LANES]
    cdef double value, mean, total = 0.0, tile_lo = INFINITY, tile_hi = -INFINITY, m2 = 0.0
    cdef double at_lo = 0.0, at_hi = 0.0, dev
    cdef Py_ssize_t i = 0, j, whole = n - n % LANES
    if whole == 0:
        _tile_masked(x, n, out)
        return
    for j in range(LANES):
        s[j], lo[j], hi[j] = 0.0, INFINITY, -INFINITY
    # Sweep 1: sum, min and max, one accumulator per lane (branch-free selects).
    while i < whole:
        for j in range(LANES):
            value = _value(x, i + j)
            s[j] += value
            lo[j] = value if value < lo[j] else lo[j]
            hi[j] = value if value > hi[j] else hi[j]
        i += LANES
    for j in range(LANES):
        total += s[j]
        tile_lo = lo[j] if lo[j] < tile_lo else tile_lo
        tile_hi = hi[j] if hi[j] > tile_hi else tile_hi
    for i in range(whole, n):
        value = _value(x, i)
        total += value
        tile_lo = value if value < tile_lo else tile_lo
        tile_hi = value if value > tile_hi else tile_hi
    if not total - total == 0.0:        # a NaN or an infinity (or an overflow): mask them
        _tile_masked(x, n, out)
        return
    mean = total / n
    # Sweep 2, over the tile still in cache: squared deviations, and the values at min and max.
    for j in range(LANES):
        s[j], lo[j], hi[j] = 0.0, 0.0, 0.0
    i = 0
    while i < whole:
        for j in range(LANES):
            value = _value(x, i + j)
            dev = value - mean
            s[j] += dev * dev
            lo[j] += <double>(value == tile_lo)
            hi[j] += <double>(value == tile_hi)
        i += LANES
    for j in range(LANES):
        m2 += s[j]
        at_lo += lo[j]
        at_hi += hi[j]
    for i in range(whole, n):
        value = _value(x, i)
        dev = value - mean
        m2 += dev * dev
        at_lo += <double>(value == tile_lo)
        at_hi += <double>(value == tile_hi)
    out.count, out.mean, out.m2 = <double>n, mean, m2
    out.lo, out.hi, out.at_lo, out.at_hi = tile_lo, tile_hi, at_lo, at_hi
    out.nan = out.posinf = out.neginf = 0.0


cdef void _tile_masked(const stored_t* x, Py_ssize_t n, Summary* out) noexcept nogil:
    """The summary of ``n <= TILE`` values of which some may be NaN or infinite: the finite
    ones' statistics, and the others counted."""
    cdef double value, mean, total = 0.0, count = 0.0, lo = INFINITY, hi = -INFINITY, dev
    cdef double m2 = 0.0, at_lo = 0.0, at_hi = 0.0
    cdef Py_ssize_t i
    out.nan = out.posinf = out.neginf = 0.0
    for i in range(n):
        value = _value(x, i)
        if value - value == 0.0:                 # finite
            total += value
            count += 1.0
            lo = value if value < lo else lo
            hi = value if value > hi else hi
        elif value != value:
            out.nan += 1.0
        elif value > 0:
            out.posinf += 1.0
        else:
            out.neginf += 1.0
    out.count = count
    if count == 0:
        out.mean = out.m2 = 0.0
        out.lo, out.hi, out.at_lo, out.at_hi = INFINITY, -INFINITY, 0.0, 0.0
        return
    mean = total / count
    for i in range(n):
        value = _value(x, i)
        if value - value == 0.0:
            dev = value - mean
            m2 += dev * dev
            at_lo += <double>(value == lo)
            at_hi += <double>(value == hi)
    out.mean, out.m2, out.lo, out.hi, out.at_lo, out.at_hi = mean, m2, lo, hi, at_lo, at_hi


cdef Summary _summarize(const stored_t* x, Py_ssize_t n, bint bfloat16) noexcept nogil:
    cdef Summary total, part
    cdef Py_ssize_t start = 0, count
    cdef float widened[TILE]
    total.count = total.mean = total.m2 = 0.0
    total.lo, total.hi, total.at_lo, total.at_hi = INFINITY, -INFINITY, 0.0, 0.0
    total.nan = total.posinf = total.neginf = 0.0
    while start < n:
        count = min(<Py_ssize_t>TILE, n - start)
        if stored_t is uint16_t and bfloat16:
            _widen_bf16(x + start, count, widened)
            _tile(<const float*>widened, count, &part)
        else:
            _tile(x + start, count, &part)
        _merge(&total, &part)
        start += TILE
    return total


def _as_dict(Summary s):
    return {"count": s.count, "mean": s.mean, "m2": s.m2, "lo": s.lo, "hi": s.hi,
            "at_lo": s.at_lo, "at_hi": s.at_hi, "nan": s.nan, "posinf": s.posinf,
            "neginf": s.neginf}


def _run(const stored_t[::1] values, bint bfloat16):
    cdef Summary s
    cdef Py_ssize_t n = values.shape[0]
    if n == 0:
        with nogil:
            s = _summarize(<const stored_t*>NULL, 0, bfloat16)
        return _as_dict(s)
    with nogil:
        s = _summarize(&values[0], n, bfloat16)
    return _as_dict(s)


# What _run dispatches on (Cython picks the specialization from the buffer's dtype).
_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int8, np.int16, np.int32,
                                          np.int64, np.uint8, np.uint16, np.uint32, np.uint64))


def summarize_block(values, bint bfloat16=False):
    """The summary of a contiguous 1-D array of native float32, float64 or integer values
    (``bfloat16``: uint16 words of bfloat16); the GIL is released for the pass.

    Returns a dict of ``count`` (finite values), ``mean``, ``m2``, ``lo``, ``hi``, ``at_lo``,
    ``at_hi``, ``nan``, ``posinf`` and ``neginf``.
    """
    if values.dtype not in _DTYPES or values.ndim != 1:
        raise TypeError(f"summarize_block takes a 1-D array of native float32, float64 or "
                        f"integers, got {values.ndim}-D {values.dtype}")
    if bfloat16 and values.dtype != np.uint16:
        raise TypeError("bfloat16 values are given as their uint16 words")
    return _run(values, bfloat16)


def merge(a, b):
    """The summary of two blocks' values, ``a``'s first (the order a file holds them in)."""
    cdef Summary x, y
    x.count, x.mean, x.m2, x.lo, x.hi = a["count"], a["mean"], a["m2"], a["lo"], a["hi"]
    x.at_lo, x.at_hi, x.nan, x.posinf, x.neginf = (a["at_lo"], a["at_hi"], a["nan"],
                                                   a["posinf"], a["neginf"])
    y.count, y.mean, y.m2, y.lo, y.hi = b["count"], b["mean"], b["m2"], b["lo"], b["hi"]
    y.at_lo, y.at_hi, y.nan, y.posinf, y.neginf = (b["at_lo"], b["at_hi"], b["nan"],
                                                   b["posinf"], b["neginf"])
    _merge(&x, &y)
    return _as_dict(x)
