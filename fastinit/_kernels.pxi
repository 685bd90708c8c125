# The fill kernels, compiled once per instruction-set level: _kernels_baseline.pyx,
# _kernels_avx2.pyx and _kernels_avx512.pyx each include this file and are built with their own
# compiler flags (setup.py); fastinit/_simd.py picks one at import.  The code is the same for
# every level and -ffp-contract=off keeps the compiler from fusing a*b+c, so every level produces
# the same bits: only the width of the vectors differs.  The fused multiply-adds the stream
# specifies are written out (fma, fmaf): one instruction with AVX2 and AVX-512, C's correctly
# rounded fma at the baseline, the same result.
#
# Every kernel has the shape (pointer, count, first index, parameters), where the parameters
# carry the key and the stream number: any sub-range of any call can be filled on its own, which
# is what regions, threads and out-of-core fills are built on.  Words come from _philox.h;
# everything that turns words into numbers is here, in loops that GCC vectorizes (no libm calls
# in them but fma: log, sin and cos are our own polynomials).  Nothing here validates:
# _generator.py has done it before the call.  The stream is specified in README.md ("The random
# stream").

from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t, uintptr_t
from libc.string cimport memcpy
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.math cimport INFINITY, fma, fmaf, sqrt, sqrtf

cimport numpy as cnp
import numpy as np

from fastinit._bit_generator cimport Philox
from fastinit._philox cimport (fastinit_philox4x32_10, fastinit_philox_words,
                               fastinit_philox_listed, FASTINIT_PHILOX_PATH)


cdef extern from *:
    """
    #ifndef FASTINIT_CFLAGS
    #define FASTINIT_CFLAGS ""
    #endif
    """
    const char* FASTINIT_CFLAGS


cdef extern from "numpy/ndarraytypes.h":
    enum: NPY_HALF


cdef extern from "_half.h" nogil:
    const bint FASTINIT_HAS_F16C
    void fastinit_store_f16_f16c(uint16_t* dst, const float* src, Py_ssize_t n)


cdef extern from "_select.h" nogil:
    Py_ssize_t fastinit_zeros32(const int32_t* flags, Py_ssize_t n, int32_t* out)
    Py_ssize_t fastinit_zeros64(const int64_t* flags, Py_ssize_t n, int32_t* out)
    Py_ssize_t fastinit_map_outside32(float* x, Py_ssize_t n, float a, float b, float shift,
                                      float scale, float lo, float hi, int32_t* out)
    Py_ssize_t fastinit_map_outside64(double* x, Py_ssize_t n, double a, double b,
                                      double shift, double scale, double lo, double hi,
                                      int32_t* out)
    void fastinit_select_init()


cdef extern from "_store.h" nogil:
    enum:
        FASTINIT_STREAM_BLOCKS
        FASTINIT_FUSED_PLAIN
        FASTINIT_SINK_RAW
        FASTINIT_SINK_UNIFORM_F32
        FASTINIT_SINK_UNIFORM_F64
    ctypedef struct fastinit_uniform_map:
        double shift, scale, lo, hi
    void fastinit_philox_stream(char* dst, int sink, bint nontemporal, uint64_t first_block,
                                int64_t nblocks, uint64_t key, uint64_t stream,
                                const fastinit_uniform_map* m)
    bint fastinit_stream_folds_exactly(int sink, double scale)
    void fastinit_store_fence()

cnp.import_array()

# ------------------------------------------------------------------------------------------------
# Parameters and kernel descriptors
# ------------------------------------------------------------------------------------------------

cdef enum:
    CHUNK = 1024         # samples per chunk: words and scratch stay in L1
    RETRY_BATCH = 64     # truncated-normal retry blocks computed together (a multiple of 16:
                         # the retry loops pad their blocks to one)
    MAX_ATTEMPTS = 255   # retry blocks per rejected truncated-normal sample (see README)
    MAX_NDIM = 64

cpdef enum Kind:
    # Kinds of fill, as passed from Python.
    KIND_RAW = 0
    KIND_UNIFORM = 1
    KIND_NORMAL = 2
    KIND_TRUNCATED_NORMAL = 3

cdef enum:
    HALF_FLOAT16 = 1
    HALF_BFLOAT16 = 2

cpdef enum TruncatedMethod:
    # Truncated-normal methods (chosen in _truncnorm.py from a and b alone).
    TN_NORMAL = 0        # Box-Muller normals, rejected outside [a, b]
    TN_UNIFORM = 1       # uniform proposal on [a, b]
    TN_EXPONENTIAL = 2   # Robert (1995) exponential proposal from a

ctypedef struct FillParams:
    uint64_t key
    uint64_t stream
    # Output map: value = clamp(shift + scale * x, lo, hi); x is the standard variate.
    double shift
    double scale
    double lo
    double hi
    # Truncated normal, in standard units after the sign flip (see _truncnorm.py).
    int method
    double a
    double b
    double alpha
    double c
    double d2
    double m2
    double width
    # Write with streaming (non-temporal) stores where the kernel has a fused path (_store.h):
    # for buffers far larger than the last-level cache, where reading each destination line
    # before writing it would double the memory traffic.
    bint streaming
    # Array-valued shift, scale, lo, hi (or NULL): applied per element after the call's own map,
    # chunk by chunk while the chunk is in L1.
    const ElementMap* elements

# One array parameter over the output block: element at block multi-index (i0, i1, ...) is at
# data[i0 * stride[0] + i1 * stride[1] + ...] (strides in elements; 0 along broadcast axes).
ctypedef struct ParamView:
    const char* data
    Py_ssize_t stride[MAX_NDIM]

ctypedef struct ElementMap:
    int ndim
    Py_ssize_t shape[MAX_NDIM]    # of the output block
    ParamView view[4]             # shift, scale, lo, hi, in the compute dtype
    char constant[4][8]           # the value of a scalar parameter, which its view points at

ctypedef void (*transform_fn)(void* dst, const uint32_t* words, Py_ssize_t n, uint64_t first,
                              const FillParams* p) noexcept nogil

ctypedef struct Kernel:
    transform_fn transform
    int words_per_sample     # 1, 2 or 4; a block (4 words) always holds whole samples
    int itemsize             # of the output
    int half                 # 0; HALF_FLOAT16 or HALF_BFLOAT16: float32 transform, rounded on store
    int sink                 # the streaming path (_store.h FASTINIT_SINK_*), or -1: none


# ------------------------------------------------------------------------------------------------
# Bit casts and uniform conversions (README: "Uniform floats")
# ------------------------------------------------------------------------------------------------

cdef inline uint32_t _f32_bits(float x) noexcept nogil:
    cdef uint32_t u
    memcpy(&u, &x, 4)
    return u

cdef inline float _bits_f32(uint32_t u) noexcept nogil:
    cdef float x
    memcpy(&x, &u, 4)
    return x

cdef inline uint64_t _f64_bits(double x) noexcept nogil:
    cdef uint64_t u
    memcpy(&u, &x, 8)
    return u

cdef inline double _bits_f64(uint64_t u) noexcept nogil:
    cdef double x
    memcpy(&x, &u, 8)
    return x

cdef inline float _u01_f32(uint32_t w) noexcept nogil:
    # (w >> 8) * 2**-24: 24 bits, [0, 1), exact.  int32 so the conversion is a plain cvtdq2ps.
    return <float><int32_t>(w >> 8) * <float>5.9604644775390625e-08

cdef inline uint64_t _join64(uint32_t lo, uint32_t hi) noexcept nogil:
    return (<uint64_t>hi << 32) | lo

cdef inline double _small_u64_to_f64(uint64_t n) noexcept nogil:
    # <double>n for n < 2**52, exactly, without a conversion instruction: n in the mantissa of
    # 2**52, minus 2**52.  SSE2 has no int64 -> double conversion and GCC cannot mix the int32 one
    # with 64-bit lanes, so this is what keeps the float64 loops vectorized at the baseline level.
    return _bits_f64(0x4330000000000000ULL | n) - 4503599627370496.0

cdef inline double _exact_f64(uint64_t n) noexcept nogil:
    # <double>n for n < 2**53, exactly: its top bits times 2**26 plus its low 26 bits.
    return _small_u64_to_f64(n >> 26) * 67108864.0 + _small_u64_to_f64(n & 0x3FFFFFF)

cdef inline double _u53(uint32_t lo, uint32_t hi) noexcept nogil:
    # (hi << 32 | lo) >> 11 as a double, exactly.
    return _exact_f64(_join64(lo, hi) >> 11)

cdef inline double _u01_f64(uint32_t lo, uint32_t hi) noexcept nogil:
    # ((hi << 32 | lo) >> 11) * 2**-53: 53 bits, [0, 1), exact.
    return _u53(lo, hi) * 1.1102230246251565e-16

cdef inline float _u_open_f32(uint32_t w) noexcept nogil:
    # The Box-Muller radius uniform, (0, 1]: fl(fl(w >> 1) * 2**-31 + 2**-32).  31 bits reach the
    # tail out to |z| = 6.66 instead of 5.77 with 24 bits.
    return (<float><int32_t>(w >> 1) * <float>4.656612873077393e-10
            + <float>2.3283064365386963e-10)

cdef inline double _u_open_f64(uint32_t lo, uint32_t hi) noexcept nogil:
    # fl(((hi << 32 | lo) >> 11) * 2**-53 + 2**-54), in (0, 1].
    return _u53(lo, hi) * 1.1102230246251565e-16 + 5.551115123125783e-17


# ------------------------------------------------------------------------------------------------
# Polynomial log and sin/cos (ours, so the loops vectorize; within 2 ulp of the true values)
# ------------------------------------------------------------------------------------------------

cdef inline float _log_f32(float x) noexcept nogil:
    # x = 2**e * m with m in [sqrt(2)/2, sqrt(2)); log(m) = 2 atanh(s), s = (m - 1) / (m + 1),
    # |s| <= 0.1716, so the atanh series to s**9 is exact to float32 precision.  x > 0, finite
    # and normal (every caller's x is at least 2**-32).  e and m in integer steps (as musl's logf): subtracting the bits of m's lower
    # end, 0x3F3504F4 (the first float32 above sqrt(2)/2), leaves e in the top bits, a mantissa
    # of 0x3504F4 or more carrying into them; taking e back out of x's exponent leaves m.
    cdef uint32_t bits = _f32_bits(x)
    cdef int32_t offset = <int32_t>(bits - <uint32_t>0x3F3504F4)
    cdef int32_t e = offset >> 23                       # arithmetic: e < 0 for x < sqrt(2)/2
    cdef float m = _bits_f32(bits - (<uint32_t>offset & <uint32_t>0xFF800000))
    cdef float f = m - <float>1.0
    cdef float s = f / (<float>2.0 + f)
    cdef float z = s * s
    cdef float t = <float>2.0 * s
    # Horner with fused multiply-adds (README: the order and the fusing are normative).
    cdef float h = fmaf(<float>(1.0 / 9.0), z, <float>(1.0 / 7.0))
    h = fmaf(h, z, <float>(1.0 / 5.0))
    h = fmaf(h, z, <float>(1.0 / 3.0))
    return fmaf(<float>e, <float>0.6931471805599453, fmaf(t, z * h, t))

cdef inline double _log_f64(double x) noexcept nogil:
    # As _log_f32, with the series to s**19 and log(2) split in two so e * ln2_hi is exact.
    # SSE2 has no 64-bit arithmetic shift, so the steps keep the exponent biased: subtracting
    # only the mantissa of m's lower end (0x3FE6A09E667F3BCE, the first double above
    # sqrt(2)/2) leaves e + 1022 in the top 12 bits, which is never negative for a normal x.
    # e is converted by _small_u64_to_f64: SSE2 has no int64 -> double.
    cdef uint64_t bits = _f64_bits(x)
    cdef uint64_t offset = bits - 0x6A09E667F3BCEULL
    cdef double m = _bits_f64(bits - (offset & 0xFFF0000000000000ULL) + 0x3FE0000000000000ULL)
    cdef double ef = _small_u64_to_f64(offset >> 52) - 1022.0
    cdef double f = m - 1.0
    cdef double s = f / (2.0 + f)
    cdef double z = s * s
    cdef double t = 2.0 * s
    cdef double h = fma(1.0 / 19.0, z, 1.0 / 17.0)
    h = fma(h, z, 1.0 / 15.0)
    h = fma(h, z, 1.0 / 13.0)
    h = fma(h, z, 1.0 / 11.0)
    h = fma(h, z, 1.0 / 9.0)
    h = fma(h, z, 1.0 / 7.0)
    h = fma(h, z, 1.0 / 5.0)
    h = fma(h, z, 1.0 / 3.0)
    return fma(ef, 6.93147180369123816490e-01,
               fma(ef, 1.90821492927058770002e-10, fma(t, z * h, t)))

cdef inline void _quadrant_map_f32(float s, float c, uint32_t q, float* sin_out,
                                   float* cos_out) noexcept nogil:
    # sin and cos of q * pi/2 + x from s = sin x, c = cos x: swap for odd q, then flip signs
    # (sin negated for q = 2, 3; cos for q = 1, 2: bit 1 of q and of q + 1; higher bits of q
    # are ignored).  Bit operations, so the loop has no branches (selects would branch in the
    # scalar loops of the baseline level, which has no fused multiply-add to vectorize with).
    cdef uint32_t swap = (<uint32_t>0) - (q & 1)
    cdef uint32_t sb = _f32_bits(s)
    cdef uint32_t cb = _f32_bits(c)
    cdef uint32_t t = (sb ^ cb) & swap
    sin_out[0] = _bits_f32((sb ^ t) ^ ((q << 30) & <uint32_t>0x80000000))
    cos_out[0] = _bits_f32((cb ^ t) ^ (((q + 1) << 30) & <uint32_t>0x80000000))

cdef inline void _sincos_turns_f32(uint32_t k, float* sin_out, float* cos_out) noexcept nogil:
    # sin and cos of 2*pi*k / 2**24 for a 24-bit k.  The reduction is exact integer work:
    # k = q * 2**22 + r with q the nearest quadrant and |r| <= 2**21, so the polynomials only see
    # x = 2*pi*r / 2**24 in [-pi/4, pi/4].  (Equivalently: the top three bits of k pick an octant
    # and the angle inside odd octants is mirrored; the README describes it that way.)
    cdef uint32_t qf = (k + 0x200000) >> 22
    cdef int32_t r = <int32_t>k - <int32_t>(qf << 22)
    cdef float x = <float>r * <float>3.7450702829239286e-07      # 2*pi / 2**24
    cdef float x2 = x * x
    cdef float hs = fmaf(<float>(1.0 / 362880.0), x2, <float>(-1.0 / 5040.0))
    hs = fmaf(hs, x2, <float>(1.0 / 120.0))
    hs = fmaf(hs, x2, <float>(-1.0 / 6.0))
    cdef float hc = fmaf(<float>(1.0 / 40320.0), x2, <float>(-1.0 / 720.0))
    hc = fmaf(hc, x2, <float>(1.0 / 24.0))
    hc = fmaf(hc, x2, <float>(-0.5))
    _quadrant_map_f32(fmaf(x * x2, hs, x), fmaf(x2, hc, <float>1.0), qf, sin_out, cos_out)

cdef inline void _quadrant_map_f64(double s, double c, uint64_t q, double* sin_out,
                                   double* cos_out) noexcept nogil:
    cdef uint64_t swap = (<uint64_t>0) - (q & 1)
    cdef uint64_t sb = _f64_bits(s)
    cdef uint64_t cb = _f64_bits(c)
    cdef uint64_t t = (sb ^ cb) & swap
    sin_out[0] = _bits_f64((sb ^ t) ^ ((q & 2) << 62))
    cos_out[0] = _bits_f64((cb ^ t) ^ (((q + 1) & 2) << 62))

cdef inline void _sincos_turns_f64(uint64_t k, double* sin_out, double* cos_out) noexcept nogil:
    # As _sincos_turns_f32 for a 53-bit k: k = q * 2**51 + r, |r| <= 2**50, Taylor to x**17.
    cdef uint64_t qf = (k + 0x4000000000000ULL) >> 51
    # r + 2**50 = k + 2**50 - q * 2**51 is in [0, 2**51): convert it (exactly) and remove 2**50.
    cdef uint64_t shifted = k + 0x4000000000000ULL - (qf << 51)
    cdef double x = (_exact_f64(shifted) - 1125899906842624.0) * 6.975736996017264e-16  # 2pi/2**53
    cdef double x2 = x * x
    cdef double hs = fma(1.0 / 355687428096000.0, x2, -1.0 / 1307674368000.0)
    hs = fma(hs, x2, 1.0 / 6227020800.0)
    hs = fma(hs, x2, -1.0 / 39916800.0)
    hs = fma(hs, x2, 1.0 / 362880.0)
    hs = fma(hs, x2, -1.0 / 5040.0)
    hs = fma(hs, x2, 1.0 / 120.0)
    hs = fma(hs, x2, -1.0 / 6.0)
    cdef double hc = fma(1.0 / 20922789888000.0, x2, -1.0 / 87178291200.0)
    hc = fma(hc, x2, 1.0 / 479001600.0)
    hc = fma(hc, x2, -1.0 / 3628800.0)
    hc = fma(hc, x2, 1.0 / 40320.0)
    hc = fma(hc, x2, -1.0 / 720.0)
    hc = fma(hc, x2, 1.0 / 24.0)
    hc = fma(hc, x2, -0.5)
    _quadrant_map_f64(fma(x * x2, hs, x), fma(x2, hc, 1.0), qf & 3, sin_out, cos_out)


# ------------------------------------------------------------------------------------------------
# Box-Muller (README: "Normal")
# ------------------------------------------------------------------------------------------------

cdef inline void _box_muller_f32(uint32_t w_radius, uint32_t w_angle,
                                 float* z0, float* z1) noexcept nogil:
    cdef float s, c
    cdef float r = sqrtf(<float>(-2.0) * _log_f32(_u_open_f32(w_radius)))
    _sincos_turns_f32(w_angle >> 8, &s, &c)
    z0[0] = r * c
    z1[0] = r * s

cdef inline void _box_muller_f64(uint32_t r_lo, uint32_t r_hi, uint32_t a_lo, uint32_t a_hi,
                                 double* z0, double* z1) noexcept nogil:
    cdef double s, c
    cdef double r = sqrt(-2.0 * _log_f64(_u_open_f64(r_lo, r_hi)))
    _sincos_turns_f64(_join64(a_lo, a_hi) >> 11, &s, &c)
    z0[0] = r * c
    z1[0] = r * s

cdef void _standard_normal_f32(float* z, const uint32_t* w, Py_ssize_t n) noexcept nogil:
    # Pair k = samples 2k, 2k+1 from words 2k (radius) and 2k+1 (angle).
    cdef Py_ssize_t k
    for k in range(n // 2):
        _box_muller_f32(w[2 * k], w[2 * k + 1], &z[2 * k], &z[2 * k + 1])

cdef void _standard_normal_f64(double* z, const uint32_t* w, Py_ssize_t n) noexcept nogil:
    # Pair k = samples 2k, 2k+1 from words 4k, 4k+1 (radius) and 4k+2, 4k+3 (angle).
    cdef Py_ssize_t k
    for k in range(n // 2):
        _box_muller_f64(w[4 * k], w[4 * k + 1], w[4 * k + 2], w[4 * k + 3],
                        &z[2 * k], &z[2 * k + 1])


# ------------------------------------------------------------------------------------------------
# The output map, shared by every distribution
# ------------------------------------------------------------------------------------------------

ctypedef fused real:
    float
    double

cdef void _affine_clamp(real* x, Py_ssize_t n, const FillParams* p) noexcept nogil:
    # x = min(max(shift + scale * x, lo), hi), in the output precision.  lo and hi are values of
    # the output dtype chosen in Python so that no rounding can leave the documented interval.
    cdef real shift = <real>p.shift
    cdef real scale = <real>p.scale
    cdef real lo = <real>p.lo
    cdef real hi = <real>p.hi
    cdef real v
    cdef Py_ssize_t i
    for i in range(n):
        v = shift + scale * x[i]
        v = v if v > lo else lo
        x[i] = v if v < hi else hi


# ------------------------------------------------------------------------------------------------
# Transforms: words of one chunk -> n values at dst (n is a whole number of blocks)
# ------------------------------------------------------------------------------------------------

cdef void _raw_u32(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                   const FillParams* p) noexcept nogil:
    memcpy(dst, w, n * 4)

# The output map is fused into the loops that make the variates (one pass over the chunk); it is
# the same arithmetic as _affine_clamp.  normal() clamps to infinite bounds, which changes no
# value; a truncated_normal whose bounds no Box-Muller value can reach runs here with its own.

cdef void _uniform_f32(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                       const FillParams* p) noexcept nogil:
    cdef float* x = <float*>dst
    cdef float shift = <float>p.shift, scale = <float>p.scale
    cdef float lo = <float>p.lo, hi = <float>p.hi
    cdef float v
    cdef Py_ssize_t i
    for i in range(n):
        v = shift + scale * _u01_f32(w[i])
        v = v if v > lo else lo
        x[i] = v if v < hi else hi

cdef void _uniform_f64(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                       const FillParams* p) noexcept nogil:
    cdef double* x = <double*>dst
    cdef double v
    cdef Py_ssize_t i
    for i in range(n):
        v = p.shift + p.scale * _u01_f64(w[2 * i], w[2 * i + 1])
        v = v if v > p.lo else p.lo
        x[i] = v if v < p.hi else p.hi

cdef inline void _normal_pairs_f32(float* x, const uint32_t* w, Py_ssize_t pairs, float shift,
                                   float scale, float lo, float hi, bint clamp) noexcept nogil:
    cdef float z0, z1, v0, v1
    cdef Py_ssize_t k
    for k in range(pairs):
        _box_muller_f32(w[2 * k], w[2 * k + 1], &z0, &z1)
        v0 = shift + scale * z0
        v1 = shift + scale * z1
        if clamp:
            v0 = v0 if v0 > lo else lo
            v1 = v1 if v1 > lo else lo
            v0 = v0 if v0 < hi else hi
            v1 = v1 if v1 < hi else hi
        x[2 * k] = v0
        x[2 * k + 1] = v1

cdef inline void _normal_pairs_f64(double* x, const uint32_t* w, Py_ssize_t pairs, double shift,
                                   double scale, double lo, double hi, bint clamp) noexcept nogil:
    cdef double z0, z1, v0, v1
    cdef Py_ssize_t k
    for k in range(pairs):
        _box_muller_f64(w[4 * k], w[4 * k + 1], w[4 * k + 2], w[4 * k + 3], &z0, &z1)
        v0 = shift + scale * z0
        v1 = shift + scale * z1
        if clamp:
            v0 = v0 if v0 > lo else lo
            v1 = v1 if v1 > lo else lo
            v0 = v0 if v0 < hi else hi
            v1 = v1 if v1 < hi else hi
        x[2 * k] = v0
        x[2 * k + 1] = v1

# normal() has infinite bounds, and shift + scale * z with finite shift and scale is never NaN,
# so the clamp changes no value there: that loop goes without it (4 of its ~75 vector
# operations per 16 pairs).  The inline helper is specialized on the constant `clamp`.

cdef void _normal_f32(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                      const FillParams* p) noexcept nogil:
    cdef float shift = <float>p.shift, scale = <float>p.scale
    cdef float lo = <float>p.lo, hi = <float>p.hi
    if lo == -INFINITY and hi == INFINITY:
        _normal_pairs_f32(<float*>dst, w, n // 2, shift, scale, lo, hi, False)
    else:
        _normal_pairs_f32(<float*>dst, w, n // 2, shift, scale, lo, hi, True)

cdef void _normal_f64(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                      const FillParams* p) noexcept nogil:
    if p.lo == -INFINITY and p.hi == INFINITY:
        _normal_pairs_f64(<double*>dst, w, n // 2, p.shift, p.scale, p.lo, p.hi, False)
    else:
        _normal_pairs_f64(<double*>dst, w, n // 2, p.shift, p.scale, p.lo, p.hi, True)


# --- truncated normal ---------------------------------------------------------------------------
#
# Attempt 0 of sample i comes from the call's own words; a rejected sample retries with the blocks
# i + t * 2**56 (t = 1, 2, ...) of the same call, i.e. counter (i lo, i hi | t << 24, s lo, s hi),
# so every value depends on (key, stream, i) only.  The candidates a block holds are tried in
# order.  Retries are batched: the chunk's rejected samples draw their attempt-t blocks together,
# through the same vectorized Philox and transforms as attempt 0.

cdef void _tn_proposals_f32(float* x, float* ok, const uint32_t* w, Py_ssize_t m,
                            const FillParams* p) noexcept nogil:
    # Proposal k from words 2k (x) and 2k+1 (acceptance): x in [a, b], accepted when
    # 2 * E >= penalty(x), E = -log(1 - u) ~ Exp(1).  One loop per method, so each vectorizes.
    cdef float a = <float>p.a
    cdef float b = <float>p.b
    cdef float width = <float>p.width
    cdef float m2 = <float>p.m2
    cdef float c = <float>p.c
    cdef float alpha = <float>p.alpha
    cdef float d2 = <float>p.d2
    cdef float v, e2, penalty
    cdef Py_ssize_t k
    if p.method == TN_UNIFORM:
        for k in range(m):
            e2 = <float>(-2.0) * _log_f32(<float>1.0 - _u01_f32(w[2 * k + 1]))
            v = a + width * _u01_f32(w[2 * k])
            penalty = v * v - m2
            x[k] = v
            ok[k] = (v <= b) & (e2 >= penalty)
    else:
        for k in range(m):
            e2 = <float>(-2.0) * _log_f32(<float>1.0 - _u01_f32(w[2 * k + 1]))
            v = a - _log_f32(<float>1.0 - _u01_f32(w[2 * k]) * c) / alpha
            penalty = (v - alpha) * (v - alpha) - d2
            x[k] = v
            ok[k] = (v <= b) & (e2 >= penalty)

cdef void _tn_proposals_f64(double* x, double* ok, const uint32_t* w, Py_ssize_t m,
                            const FillParams* p) noexcept nogil:
    # Proposal k from words 4k, 4k+1 (x) and 4k+2, 4k+3 (acceptance).
    cdef double v, e2, penalty
    cdef Py_ssize_t k
    if p.method == TN_UNIFORM:
        for k in range(m):
            e2 = -2.0 * _log_f64(1.0 - _u01_f64(w[4 * k + 2], w[4 * k + 3]))
            v = p.a + p.width * _u01_f64(w[4 * k], w[4 * k + 1])
            penalty = v * v - p.m2
            x[k] = v
            ok[k] = (v <= p.b) & (e2 >= penalty)
    else:
        for k in range(m):
            e2 = -2.0 * _log_f64(1.0 - _u01_f64(w[4 * k + 2], w[4 * k + 3]))
            v = p.a - _log_f64(1.0 - _u01_f64(w[4 * k], w[4 * k + 1]) * p.c) / p.alpha
            penalty = (v - p.alpha) * (v - p.alpha) - p.d2
            x[k] = v
            ok[k] = (v <= p.b) & (e2 >= penalty)

cdef void _tn_candidates(real* x, real* ok, const uint32_t* w, Py_ssize_t m,
                         const FillParams* p) noexcept nogil:
    # m candidates from the words at w, with ok[k] = 1 where candidate k is accepted: Box-Muller
    # normals inside [a, b] for the normal method, else the proposals.
    cdef real a = <real>p.a
    cdef real b = <real>p.b
    cdef Py_ssize_t k
    if p.method == TN_NORMAL:
        if real is float:
            _standard_normal_f32(x, w, m)
        else:
            _standard_normal_f64(x, w, m)
        for k in range(m):
            ok[k] = (x[k] >= a) & (x[k] <= b)
    elif real is float:
        _tn_proposals_f32(x, ok, w, m, p)
    else:
        _tn_proposals_f64(x, ok, w, m, p)

cdef Py_ssize_t _rejected(real* ok, Py_ssize_t n, int32_t* pending) noexcept nogil:
    # The positions of the zero flags (0.0 and 1.0 are all-zero and non-zero bit patterns).
    if real is float:
        return fastinit_zeros32(<int32_t*>ok, n, pending)
    else:
        return fastinit_zeros64(<int64_t*>ok, n, pending)

cdef Py_ssize_t _tn_attempt0(real* x, real* ok, const uint32_t* w, Py_ssize_t n,
                             int32_t* pending, const FillParams* p) noexcept nogil:
    # Attempt 0 of the chunk's samples, from the call's own words: every x[i] mapped (the output
    # map of _affine_clamp), and the offsets of the rejected ones, which the retries overwrite,
    # in pending.  With the normal method it is the normal stream itself (where it falls in
    # [a, b], truncated_normal and normal of the same call agree), tested by value and mapped in
    # one pass: no flags.
    cdef Py_ssize_t m
    if p.method == TN_NORMAL:
        if real is float:
            _standard_normal_f32(x, w, n)
            return fastinit_map_outside32(x, n, <float>p.a, <float>p.b, <float>p.shift,
                                          <float>p.scale, <float>p.lo, <float>p.hi, pending)
        else:
            _standard_normal_f64(x, w, n)
            return fastinit_map_outside64(x, n, p.a, p.b, p.shift, p.scale, p.lo, p.hi,
                                          pending)
    _tn_candidates(x, ok, w, n, p)
    m = _rejected(ok, n, pending)
    _affine_clamp(x, n, p)
    return m

cdef void _tn_retry_normal_f32(float* chosen, float* accepted, const uint32_t* rw,
                               Py_ssize_t count, float a, float b) noexcept nogil:
    # Per retry block: the first of its 4 Box-Muller candidates (words (0, 1), then (2, 3)) in
    # [a, b], else its last.  The second pair is computed only where both of the first are
    # rejected (0.2% of retries at [-2, 2]): the same choice as computing all 4.
    cdef float z0, z1, in0, in1
    cdef Py_ssize_t r
    for r in range(count):
        _box_muller_f32(rw[4 * r], rw[4 * r + 1], &z0, &z1)
        in0 = (z0 >= a) & (z0 <= b)
        in1 = (z1 >= a) & (z1 <= b)
        chosen[r] = z0 if in0 != 0 else z1
        accepted[r] = in0 + in1
    for r in range(count):
        if accepted[r] == 0:
            _box_muller_f32(rw[4 * r + 2], rw[4 * r + 3], &z0, &z1)
            in0 = (z0 >= a) & (z0 <= b)
            in1 = (z1 >= a) & (z1 <= b)
            chosen[r] = z0 if in0 != 0 else z1
            accepted[r] = in0 + in1

cdef void _truncated_normal(real* x, const uint32_t* w, Py_ssize_t n, uint64_t first,
                            const FillParams* p) noexcept nogil:
    # Candidates per sample: attempt 0 gives one; a retry block gives 4 / 32 bits per candidate:
    # float32 4 (normal method: the Box-Muller outputs of words (0, 1), (2, 3)) or 2 (proposals
    # from words (0, 1), (2, 3)); float64 2 (Box-Muller of words (0, 1 | 2, 3)) or 1 (the
    # proposal from words (0, 1 | 2, 3)).
    cdef real ok[CHUNK]
    cdef int32_t pending[CHUNK]          # samples still rejected, as offsets into x
    cdef uint64_t blocks[RETRY_BATCH]
    cdef uint32_t rw[4 * RETRY_BATCH]
    cdef real cand[2 * RETRY_BATCH]
    cdef real cand_ok[2 * RETRY_BATCH]
    cdef real chosen[RETRY_BATCH]        # per retried sample: its value, and its accepted count
    cdef real accepted[RETRY_BATCH]
    cdef Py_ssize_t i, r, base, count, padded, m, still
    cdef int words_per_candidate = (1 if p.method == TN_NORMAL else 2) * (1 if real is float
                                                                          else 2)
    cdef int per_block = 4 // words_per_candidate
    cdef real a = <real>p.a
    cdef real b = <real>p.b
    cdef real shift = <real>p.shift
    cdef real scale = <real>p.scale
    cdef real lo = <real>p.lo
    cdef real hi = <real>p.hi
    cdef real v, mapped
    cdef uint64_t t
    m = _tn_attempt0(x, ok, w, n, pending, p)
    t = 1
    while m > 0 and t <= MAX_ATTEMPTS:
        still = 0
        base = 0
        while base < m:
            count = m - base if m - base < RETRY_BATCH else RETRY_BATCH
            for r in range(count):
                blocks[r] = first + <uint64_t>pending[base + r] + (t << 56)
            # The vector loops below run on a whole number of 16 blocks: a scalar remainder of
            # up to 15 Box-Muller pairs would cost more than the vectors.  The padding repeats
            # the first block and is never scattered.
            padded = (count + 15) & ~15
            for r in range(count, padded):
                blocks[r] = blocks[0]
            fastinit_philox_listed(rw, blocks, padded, p.key, p.stream)
            # The first accepted candidate of each block, else its last one: a vector loop per
            # candidate count (the outcome is unpredictable, so no branches), then the scatter.
            if per_block == 4:
                if real is float:
                    _tn_retry_normal_f32(chosen, accepted, rw, padded, a, b)
            else:
                _tn_candidates(cand, cand_ok, rw, per_block * padded, p)
                if per_block == 2:
                    for r in range(padded):
                        chosen[r] = cand[2 * r] if cand_ok[2 * r] != 0 else cand[2 * r + 1]
                        accepted[r] = cand_ok[2 * r] + cand_ok[2 * r + 1]
                else:
                    for r in range(padded):
                        chosen[r] = cand[r]
                        accepted[r] = cand_ok[r]
            # Accepted values through the output map, in a vector loop with the map's constants
            # in registers (x may alias p for the compiler), then the scatter.
            for r in range(padded):
                v = chosen[r]
                mapped = shift + scale * v
                mapped = mapped if mapped > lo else lo
                mapped = mapped if mapped < hi else hi
                chosen[r] = mapped if accepted[r] != 0 else v
            for r in range(count):
                i = pending[base + r]
                x[i] = chosen[r]
                pending[still] = i                          # still <= base + r: in place
                still += (accepted[r] == 0)
            base += count
        m = still
        t += 1
    # Left after 255 rejections in a row (never in practice: every method accepts at least about
    # half of its candidates): clamp the last candidate, which keeps the bound promise all the same.
    for r in range(m):
        i = pending[r]
        v = a if x[i] < a else (b if x[i] > b else x[i])
        v = shift + scale * v
        v = v if v > lo else lo
        x[i] = v if v < hi else hi

cdef void _truncated_normal_f32(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                                const FillParams* p) noexcept nogil:
    _truncated_normal(<float*>dst, w, n, first, p)

cdef void _truncated_normal_f64(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                                const FillParams* p) noexcept nogil:
    _truncated_normal(<double*>dst, w, n, first, p)


# ------------------------------------------------------------------------------------------------
# Half precision (README: "float16 and bfloat16"): float32 values rounded to nearest-even on store
# ------------------------------------------------------------------------------------------------

cdef inline uint16_t _f32_to_f16(float f) noexcept nogil:
    # IEEE binary16, round to nearest-even, branch-free so the store loop vectorizes.  Magnitudes
    # that would round to infinity saturate at 65504 (the largest float16) instead.
    cdef uint32_t x = _f32_bits(f)
    cdef uint32_t sign = (x >> 16) & 0x8000
    cdef uint32_t a = x & 0x7FFFFFFF
    # Normal results: rebias the exponent (-112 << 23), add half an ulp minus one plus the kept
    # bit's oddness (ties to even), drop 13 mantissa bits.
    cdef uint32_t normal = (a + 0xC8000FFFU + ((a >> 13) & 1)) >> 13
    # Subnormal results (|f| < 2**-14): adding 0.5 makes the float unit do the rounding; the
    # mantissa then holds the float16 subnormal's bits.
    cdef uint32_t subnormal = _f32_bits(_bits_f32(a) + <float>0.5) - 0x3F000000
    cdef uint32_t h = subnormal if a < 0x38800000 else normal
    h = 0x7BFF if a >= 0x477FF000 else h         # 65520 and above would round to infinity
    return <uint16_t>(h | sign)

cdef inline uint16_t _f32_to_bf16(float f) noexcept nogil:
    # bfloat16 is float32's top half: round to nearest-even at bit 16 (no NaN ever reaches here).
    cdef uint32_t b = _f32_bits(f)
    return <uint16_t>((b + 0x7FFF + ((b >> 16) & 1)) >> 16)

cdef void _store_half(uint16_t* dst, const float* src, Py_ssize_t n, int half) noexcept nogil:
    cdef Py_ssize_t i
    if half == HALF_FLOAT16 and FASTINIT_HAS_F16C:
        fastinit_store_f16_f16c(dst, src, n)         # the same bits, one instruction per 8
    elif half == HALF_FLOAT16:
        for i in range(n):
            dst[i] = _f32_to_f16(src[i])
    else:
        for i in range(n):
            dst[i] = _f32_to_bf16(src[i])


# ------------------------------------------------------------------------------------------------
# Array-valued parameters: the output map per element
# ------------------------------------------------------------------------------------------------

cdef inline void _map_run(real* x, Py_ssize_t n, const real* shift, const real* scale,
                          const real* lo, const real* hi, bint const_shift, bint const_scale,
                          bint const_bounds) noexcept nogil:
    # x[i] = min(max(shift + scale * x[i], lo), hi): the arithmetic of _affine_clamp, per element.
    # A parameter constant along the run is read once.  The callers pass literal flags, so each
    # call site compiles to its own vectorized loop.
    cdef real s0 = shift[0]
    cdef real k0 = scale[0]
    cdef real lo0 = lo[0]
    cdef real hi0 = hi[0]
    cdef real v, low, high
    cdef Py_ssize_t i
    for i in range(n):
        v = (s0 if const_shift else shift[i]) + (k0 if const_scale else scale[i]) * x[i]
        low = lo0 if const_bounds else lo[i]
        high = hi0 if const_bounds else hi[i]
        v = v if v > low else low
        x[i] = v if v < high else high

cdef void _map_elements(real* x, Py_ssize_t n, Py_ssize_t pos, const ElementMap* em) noexcept nogil:
    # x[j] = the map of block element pos + j, run by run along the last axis.  Along a run each
    # parameter is constant (broadcast), contiguous, or strided (copied into an L1 buffer).
    cdef real buffers[4][CHUNK]
    cdef const real* ptr[4]
    cdef bint const[4]
    cdef Py_ssize_t index[MAX_NDIM]
    cdef Py_ssize_t offset[4]
    cdef Py_ssize_t d, q, j, r, run, step, done = 0
    cdef Py_ssize_t last = em.ndim - 1
    if em.ndim == 0:
        for q in range(4):
            ptr[q] = <const real*>em.view[q].data
        _map_run(x, 1, ptr[0], ptr[1], ptr[2], ptr[3], True, True, True)
        return
    r = pos
    for d in range(last, -1, -1):
        index[d] = r % em.shape[d]
        r //= em.shape[d]
    for q in range(4):
        offset[q] = 0
        for d in range(em.ndim):
            offset[q] += index[d] * em.view[q].stride[d]
    while done < n:
        run = em.shape[last] - index[last]
        run = run if run < n - done else n - done
        run = run if run < CHUNK else CHUNK
        for q in range(4):
            step = em.view[q].stride[last]
            ptr[q] = (<const real*>em.view[q].data) + offset[q]
            const[q] = step == 0
            if step != 0 and step != 1:
                for j in range(run):
                    buffers[q][j] = ptr[q][j * step]
                ptr[q] = buffers[q]
        if const[2] != const[3]:
            # One bound constant, the other not: make the constant one a run too.
            q = 2 if const[2] else 3
            for j in range(run):
                buffers[q][j] = ptr[q][0]
            ptr[q] = buffers[q]
            const[q] = False
        if const[0] and const[1] and const[2]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], True, True, True)
        elif const[0] and const[1]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], True, True, False)
        elif const[0] and const[2]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], True, False, True)
        elif const[0]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], True, False, False)
        elif const[1] and const[2]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], False, True, True)
        elif const[1]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], False, True, False)
        elif const[2]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], False, False, True)
        else:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], False, False, False)
        done += run
        # The next run: advance the odometer, carrying over the axes before the last.
        index[last] += run
        for q in range(4):
            offset[q] += run * em.view[q].stride[last]
        d = last
        while d > 0 and index[d] == em.shape[d]:
            index[d] = 0
            index[d - 1] += 1
            for q in range(4):
                offset[q] += em.view[q].stride[d - 1] - em.shape[d] * em.view[q].stride[d]
            d -= 1

cdef inline void _map_chunk(void* x, Py_ssize_t n, Py_ssize_t pos, int compute_itemsize,
                            const FillParams* p) noexcept nogil:
    if p.elements == NULL or n <= 0:
        return
    if compute_itemsize == 4:
        _map_elements(<float*>x, n, pos, p.elements)
    else:
        _map_elements(<double*>x, n, pos, p.elements)


# ------------------------------------------------------------------------------------------------
# The chunk driver and the region walk
# ------------------------------------------------------------------------------------------------

cdef void _fill_chunked(char* out, Py_ssize_t n, uint64_t first, Py_ssize_t pos,
                        const Kernel* k, const FillParams* p) noexcept nogil:
    # Work goes by chunks of whole Philox blocks; a chunk that covers only part of the range (its
    # first block starts before `first`, or its last block runs past the end) is computed into an
    # L1 scratch buffer and the needed part copied out.  Array parameters are applied to each
    # chunk while it is in L1 (pos: the block-flat index of out[0]).
    cdef uint32_t words[4 * CHUNK]
    cdef double scratch[CHUNK]                   # CHUNK samples of up to 8 bytes
    cdef int64_t per_block = 4 // k.words_per_sample
    cdef uint64_t end = first + <uint64_t>n
    cdef uint64_t start = first - first % <uint64_t>per_block
    cdef uint64_t stop, stop_aligned, copy_from
    cdef int64_t m
    cdef int compute_itemsize = 4 if k.half else k.itemsize
    while start < end:
        stop = start + CHUNK if start + CHUNK < end else end
        stop_aligned = (stop + per_block - 1) // per_block * per_block
        m = <int64_t>(stop_aligned - start)
        fastinit_philox_words(words, start * k.words_per_sample // 4,
                              m * k.words_per_sample // 4, p.key, p.stream)
        copy_from = start if start > first else first
        if k.half:
            # float32 values into the L1 scratch, then rounded once into the 2-byte output.
            k.transform(scratch, words, m, start, p)
            _map_chunk((<float*>scratch) + (copy_from - start), <Py_ssize_t>(stop - copy_from),
                       pos + <Py_ssize_t>(copy_from - first), compute_itemsize, p)
            _store_half(<uint16_t*>(out + (copy_from - first) * 2),
                        (<float*>scratch) + (copy_from - start), <Py_ssize_t>(stop - copy_from),
                        k.half)
        elif start >= first and stop_aligned == stop:
            k.transform(out + (start - first) * k.itemsize, words, m, start, p)
            _map_chunk(out + (start - first) * k.itemsize, m, pos + <Py_ssize_t>(start - first),
                       compute_itemsize, p)
        else:
            k.transform(scratch, words, m, start, p)
            memcpy(out + (copy_from - first) * k.itemsize,
                   (<char*>scratch) + (copy_from - start) * k.itemsize,
                   (stop - copy_from) * k.itemsize)
            _map_chunk(out + (copy_from - first) * k.itemsize, <Py_ssize_t>(stop - copy_from),
                       pos + <Py_ssize_t>(copy_from - first), compute_itemsize, p)
        start = stop_aligned


cdef void fill_range(char* out, Py_ssize_t n, uint64_t first, Py_ssize_t pos, const Kernel* k,
                     const FillParams* p) noexcept nogil:
    """Fill out[0 .. n) with samples first .. first + n - 1 of the call described by p; out[0] is
    element pos of the output block (C order), which array parameters are indexed by.

    Kernels with a fused path (raw words, uniforms: _store.h) write the whole Philox groups of the
    range from the registers, with streaming stores if p.streaming (below AVX-512: only then);
    the ends of the range, and every other kernel, go through the chunked kernels.
    """
    cdef int64_t per_block = 4 // k.words_per_sample
    cdef int64_t group = FASTINIT_STREAM_BLOCKS * per_block     # samples per fused step
    cdef uintptr_t address = <uintptr_t>out
    cdef Py_ssize_t head, body
    cdef fastinit_uniform_map m
    if (k.sink >= 0 and group > 0 and n >= group and address % k.itemsize == 0
            and (p.streaming or FASTINIT_FUSED_PLAIN)
            and p.elements == NULL and fastinit_stream_folds_exactly(k.sink, p.scale)):
        # The fused part starts a block; streaming stores also want a 64-byte address, and moving
        # 64 bytes on keeps (first + head) % per_block, so there is one chance to align both.
        head = <Py_ssize_t>((per_block - first % per_block) % per_block)
        if p.streaming:
            head = <Py_ssize_t>((64 - address % 64) % 64) // k.itemsize
        if head < n and (first + <uint64_t>head) % <uint64_t>per_block == 0:
            body = (n - head) // group * group
            if body > 0:
                m.shift, m.scale, m.lo, m.hi = p.shift, p.scale, p.lo, p.hi
                _fill_chunked(out, head, first, pos, k, p)
                fastinit_philox_stream(out + head * k.itemsize, k.sink, p.streaming,
                                       (first + <uint64_t>head) // <uint64_t>per_block,
                                       body // per_block, p.key, p.stream, &m)
                _fill_chunked(out + (head + body) * k.itemsize, n - head - body,
                              first + <uint64_t>(head + body), pos + head + body, k, p)
                return
    _fill_chunked(out, n, first, pos, k, p)


cdef Kernel _select_kernel(int kind, int itemsize, int method, int half) except *:
    cdef Kernel k
    if half:
        # The float32 kernels compute; fill_range rounds their values into the 2-byte output.
        if kind == KIND_RAW:
            raise ValueError("raw words have no half-precision form")
        k = _select_kernel(kind, 4, method, 0)
        k.itemsize = 2
        k.half = half
        k.sink = -1
        return k
    k.itemsize = itemsize
    k.half = 0
    k.sink = -1
    if kind == KIND_RAW and itemsize == 4:
        k.transform, k.words_per_sample, k.sink = _raw_u32, 1, FASTINIT_SINK_RAW
    elif kind == KIND_UNIFORM and itemsize == 4:
        k.transform, k.words_per_sample, k.sink = _uniform_f32, 1, FASTINIT_SINK_UNIFORM_F32
    elif kind == KIND_UNIFORM and itemsize == 8:
        k.transform, k.words_per_sample, k.sink = _uniform_f64, 2, FASTINIT_SINK_UNIFORM_F64
    elif kind == KIND_NORMAL and itemsize == 4:
        k.transform, k.words_per_sample = _normal_f32, 1
    elif kind == KIND_NORMAL and itemsize == 8:
        k.transform, k.words_per_sample = _normal_f64, 2
    elif kind == KIND_TRUNCATED_NORMAL and itemsize == 4:
        k.transform = _truncated_normal_f32
        k.words_per_sample = 1 if method == TN_NORMAL else 2
    elif kind == KIND_TRUNCATED_NORMAL and itemsize == 8:
        k.transform = _truncated_normal_f64
        k.words_per_sample = 2 if method == TN_NORMAL else 4
    else:
        raise ValueError(f"no kernel for kind {kind} with itemsize {itemsize}")
    return k


cdef int _prepare(FillParams* p, Kernel* k, cnp.ndarray out, int kind, uint64_t key,
                  uint64_t stream, tuple params, bint streaming) except -1:
    (p.shift, p.scale, p.lo, p.hi, p.method, p.a, p.b, p.alpha, p.c, p.d2, p.m2,
     p.width) = params
    p.key = key
    p.stream = stream
    p.streaming = streaming
    p.elements = NULL
    # 2-byte outputs: float16, or bfloat16 (the only other one the caller lets through).
    cdef int half = 0
    if cnp.PyArray_ITEMSIZE(out) == 2:
        half = HALF_FLOAT16 if cnp.PyArray_TYPE(out) == NPY_HALF else HALF_BFLOAT16
    k[0] = _select_kernel(kind, <int>cnp.PyArray_ITEMSIZE(out), p.method, half)
    return 0


cdef int _element_map(ElementMap* em, cnp.ndarray out, int half, tuple elements,
                      tuple shape, tuple starts) except -1:
    # The views of the array parameters over the output block (checked once, before any
    # filling).  A parameter is a float (the same for every element) or an array of the compute
    # dtype that broadcasts to the call's full shape, as NumPy aligns shapes: from the right,
    # an extent of 1 repeating.  The block starts at `starts` inside the full shape.
    cdef int compute_itemsize = 4 if half else <int>cnp.PyArray_ITEMSIZE(out)
    cdef int wanted = cnp.NPY_FLOAT if compute_itemsize == 4 else cnp.NPY_DOUBLE
    cdef cnp.ndarray view
    cdef int d, i, lead
    cdef Py_ssize_t extent, step
    cdef const char* data
    if len(elements) != 4:
        raise ValueError("elements must be (shift, scale, lo, hi)")
    em.ndim = cnp.PyArray_NDIM(out)
    for d in range(em.ndim):
        em.shape[d] = cnp.PyArray_DIM(out, d)
    for i in range(4):
        value = elements[i]
        if type(value) is float:
            if compute_itemsize == 4:
                (<float*>em.constant[i])[0] = <float>(<double>value)
            else:
                (<double*>em.constant[i])[0] = <double>value
            em.view[i].data = em.constant[i]
            for d in range(em.ndim):
                em.view[i].stride[d] = 0
            continue
        view = value
        lead = em.ndim - cnp.PyArray_NDIM(view)
        if (lead < 0 or cnp.PyArray_TYPE(view) != wanted or not cnp.PyArray_ISALIGNED(view)
                or not cnp.PyArray_ISNOTSWAPPED(view)):
            raise ValueError(f"element parameter {i} must be a float or a native "
                             f"float{8 * compute_itemsize} array of at most {em.ndim} dimensions")
        data = <const char*>cnp.PyArray_DATA(view)
        for d in range(em.ndim):
            if d < lead:
                em.view[i].stride[d] = 0
                continue
            extent = cnp.PyArray_DIM(view, d - lead)
            step = cnp.PyArray_STRIDE(view, d - lead)
            if extent == 1:
                em.view[i].stride[d] = 0
            elif extent == <Py_ssize_t>shape[d] and step % compute_itemsize == 0:
                em.view[i].stride[d] = step // compute_itemsize
                data += <Py_ssize_t>starts[d] * step
            else:
                raise ValueError(f"element parameter {i} of shape {(<object>view).shape} does "
                                 f"not broadcast to {shape}")
        em.view[i].data = data
    return 0


def fill(cnp.ndarray out not None, int kind, tuple shape, tuple starts, uint64_t key,
         uint64_t stream, tuple params, Py_ssize_t begin=0, Py_ssize_t end=-1,
         bint streaming=False, tuple elements=None):
    """Fill elements ``begin .. end`` (flat, C order) of ``out``, the block of call (key, stream)
    whose full shape is ``shape``; ``end = -1`` means to the end.

    ``out`` is C-contiguous, aligned and writable with the block's shape, which starts at
    ``starts`` inside ``shape`` (all checked by the caller).  ``params`` is
    ``(shift, scale, lo, hi, method, a, b, alpha, c, d2, m2, width)``.  ``elements``, if given,
    is the per-element ``(shift, scale, lo, hi)``, each a float or an array in the compute dtype
    (float32 for 2-byte outputs, any strides) that broadcasts to ``shape``; the kernels apply
    ``min(max(shift + scale * x, lo), hi)`` in the compute dtype after ``params``' own map.
    Disjoint element ranges can be filled from several threads at once: the GIL is released while
    filling.
    """
    cdef FillParams p
    cdef Kernel k
    cdef ElementMap em
    cdef Py_ssize_t nd = len(shape)
    cdef Py_ssize_t size = cnp.PyArray_SIZE(out)
    cdef Py_ssize_t full[MAX_NDIM]
    cdef Py_ssize_t start[MAX_NDIM]
    cdef Py_ssize_t extent[MAX_NDIM]
    cdef Py_ssize_t stride[MAX_NDIM]
    cdef Py_ssize_t index[MAX_NDIM]
    cdef Py_ssize_t d, j, run, r, offset, take, rest
    cdef int half
    cdef uint64_t flat
    cdef char* base = <char*>cnp.PyArray_DATA(out)

    if nd > MAX_NDIM or len(starts) != nd or cnp.PyArray_NDIM(out) != nd:
        raise ValueError("shape, starts and out must have the same number of dimensions")
    if end < 0:
        end = size
    if not 0 <= begin <= end <= size:
        raise ValueError(f"element range {begin}..{end} is not inside 0..{size}")
    _prepare(&p, &k, out, kind, key, stream, params, streaming)
    if elements is not None:
        _element_map(&em, out, k.half, elements, shape, starts)
        p.elements = &em
    if begin == end:
        return
    if nd == 0:
        with nogil:
            fill_range(base, 1, 0, 0, &k, &p)
        return

    for d in range(nd):
        full[d] = shape[d]
        start[d] = starts[d]
        extent[d] = cnp.PyArray_DIM(out, d)
    # Row-major element strides of the full shape.
    run = 1
    for d in range(nd - 1, -1, -1):
        stride[d] = run
        run *= full[d]
    # Trailing axes the block spans completely merge into one contiguous run of the full array;
    # the axes before j are walked run by run.
    j = nd - 1
    while j > 0 and start[j] == 0 and extent[j] == full[j]:
        j -= 1
    run = extent[j] * stride[j]
    # The odometer of the run holding element `begin`.
    r = begin // run
    offset = begin - r * run
    for d in range(j - 1, -1, -1):
        index[d] = r % extent[d]
        r //= extent[d]

    with nogil:
        while begin < end:
            flat = <uint64_t>(start[j] * stride[j])
            for d in range(j):
                flat += <uint64_t>((start[d] + index[d]) * stride[d])
            rest = run - offset
            take = rest if rest < end - begin else end - begin
            fill_range(base + begin * k.itemsize, take, flat + <uint64_t>offset, begin, &k, &p)
            begin += take
            offset = 0
            # Next run: advance the odometer over the axes before j.
            d = j - 1
            while d >= 0:
                index[d] += 1
                if index[d] < extent[d]:
                    break
                index[d] = 0
                d -= 1
        if p.streaming:
            fastinit_store_fence()


cdef int _float_typenum(object dtype) except -2:
    # The type number of dtype=None (float64), np.float16/32/64 or their np.dtype; -1 for
    # anything else (strings, bfloat16, byte-swapped: the general path handles them).
    if dtype is None:
        return cnp.NPY_DOUBLE
    if type(dtype) is not cnp.dtype:
        if dtype is np.float32:
            return cnp.NPY_FLOAT
        if dtype is np.float64 or dtype is float:
            return cnp.NPY_DOUBLE
        if dtype is np.float16:
            return NPY_HALF
        return -1
    if not (<cnp.dtype>dtype).isnative:
        return -1
    typenum = (<cnp.dtype>dtype).type_num
    return typenum if _is_float_typenum(typenum) else -1


cdef inline bint _is_float_typenum(int typenum) noexcept:
    # The float types the kernels write: float32, float64 and float16.
    return typenum == cnp.NPY_FLOAT or typenum == cnp.NPY_DOUBLE or typenum == NPY_HALF


cdef int _shape_of(object size, cnp.npy_intp* dims) except -2:
    # The number of dimensions of size (an int or a tuple of ints, each >= 0) with its extents in
    # dims; -1 when it is anything else (the general path validates it).
    cdef Py_ssize_t nd, d
    cdef object extent
    if type(size) is int:
        if size < 0 or size > PY_SSIZE_T_MAX:
            return -1
        dims[0] = <cnp.npy_intp>size
        return 1
    if type(size) is not tuple:
        return -1
    nd = len(<tuple>size)
    if nd > 32:
        return -1
    for d in range(nd):
        extent = (<tuple>size)[d]
        if type(extent) is not int or extent < 0 or extent > PY_SSIZE_T_MAX:
            return -1
        dims[d] = <cnp.npy_intp>extent
    return <int>nd


def fill_call(object out, object size, object dtype, int kind, uint64_t key, Philox streams,
              object make_params, Py_ssize_t max_elements):
    """The common calls in one compiled step: check the arguments, allocate, take a stream
    number, fill.

    Handles ``out=`` alone or with a matching ``size`` or ``dtype``, and ``size=`` (an int or a
    tuple of ints) with ``dtype`` None, np.float16, np.float32, np.float64 or their np.dtype, for
    fewer than ``max_elements`` elements (larger fills go to the thread pool).  ``out`` must be an
    exact ndarray of native float16, float32 or float64, C-contiguous, aligned and writable.
    ``make_params(dtype)`` validates the scalar parameters and returns
    ``(params, None)`` (see ``fill``) before anything changes.  Returns the filled array, or None,
    having taken and changed nothing, for any other call (raw words, regions, array parameters,
    scalar results, other dtypes, bad arguments): the caller then takes the general path, which
    raises the right error.
    """
    cdef cnp.ndarray arr
    cdef int typenum, nd, d
    cdef cnp.npy_intp dims[32]
    cdef Py_ssize_t count
    if kind == KIND_RAW:
        return None
    if out is not None:
        if type(out) is not cnp.ndarray:
            return None
        arr = <cnp.ndarray>out
        typenum = cnp.PyArray_TYPE(arr)
        if (not cnp.PyArray_ISCARRAY(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)
                or not _is_float_typenum(typenum)
                or (dtype is not None and _float_typenum(dtype) != typenum)):
            return None
        if size is not None:
            nd = _shape_of(size, dims)
            if nd != cnp.PyArray_NDIM(arr):
                return None
            for d in range(nd):
                if dims[d] != cnp.PyArray_DIM(arr, d):
                    return None
        if cnp.PyArray_SIZE(arr) >= max_elements:
            return None
    else:
        typenum = _float_typenum(dtype)
        nd = _shape_of(size, dims) if size is not None else -1
        if typenum < 0 or nd < 0:
            return None
        count = 1
        for d in range(nd):
            if dims[d] >= max_elements:
                return None
            count *= dims[d]
            if count >= max_elements:
                return None
        params, _ = make_params(cnp.PyArray_DescrFromType(typenum))
        arr = cnp.PyArray_EMPTY(nd, dims, typenum, 0)
        return _fill_whole(arr, kind, key, streams, params)
    params, _ = make_params(out.dtype)
    return _fill_whole(arr, kind, key, streams, params)


cdef cnp.ndarray _fill_whole(cnp.ndarray arr, int kind, uint64_t key, Philox streams,
                             tuple params):
    cdef FillParams p
    cdef Kernel k
    cdef uint64_t stream
    cdef Py_ssize_t count = cnp.PyArray_SIZE(arr)
    streams.take_into(&stream)
    _prepare(&p, &k, arr, kind, key, stream, params, False)
    if count:
        with nogil:
            fill_range(<char*>cnp.PyArray_DATA(arr), count, 0, 0, &k, &p)
    return arr


def philox_block(counter, key):
    """Philox4x32-10 of one block: ``counter`` is 4 words, ``key`` is 2 words; returns 4 words."""
    cdef uint32_t c[4]
    cdef uint32_t out[4]
    cdef int i
    for i in range(4):
        c[i] = counter[i]
    fastinit_philox4x32_10(c, key[0], key[1], out)
    return (out[0], out[1], out[2], out[3])


fastinit_select_init()

# This level's Philox words for fastinit.Philox, the numpy.random.BitGenerator.
PHILOX_WORDS = PyCapsule_New(<void*>fastinit_philox_words, b"fastinit.philox_words", NULL)
# Which Philox path this module was compiled with ("avx512", "avx2", "sse2" or "scalar").
PHILOX_PATH = FASTINIT_PHILOX_PATH.decode()
# The compiler flags this module was built with.
CFLAGS = FASTINIT_CFLAGS.decode()
