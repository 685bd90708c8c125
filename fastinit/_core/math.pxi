# Part of kernels.pxi (included there, in order): Bit casts, uniform conversions, our log and
# sin/cos polynomials, Box-Muller and the output map: per-value inline functions the transforms'
# loops are made of.

# ------------------------------------------------------------------------------------------------
# Bit casts and uniform conversions (docs/stream.md: "Uniform")
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

cdef inline double _small_u64_to_f64(uint64_t n) noexcept nogil:
    # <double>n for n < 2**52, exactly, without a conversion instruction: n in the mantissa of
    # 2**52, minus 2**52.  SSE2 has no int64 -> double conversion and GCC cannot mix the int32 one
    # with 64-bit lanes, so this is what keeps the float64 loops vectorized at the baseline level.
    return _bits_f64(0x4330000000000000ULL | n) - 4503599627370496.0

cdef inline double _exact_f64(uint64_t n) noexcept nogil:
    # <double>n for n < 2**53, exactly: one conversion with AVX-512DQ, else its top bits times
    # 2**26 plus its low 26 bits (8 vector operations where the conversion is 1).
    if FASTINIT_HAS_U64_TO_F64:
        return <double>n
    return _small_u64_to_f64(n >> 26) * 67108864.0 + _small_u64_to_f64(n & 0x3FFFFFF)

# float64 values take two words, (lo, hi) = (w[j], w[j + 1]), as the 64-bit v = hi << 32 | lo
# (_pair64(&w[j])).

cdef inline double _u53(uint64_t v) noexcept nogil:
    # v >> 11 as a double, exactly.
    return _exact_f64(v >> 11)

cdef inline double _u01_f64(uint64_t v) noexcept nogil:
    # (v >> 11) * 2**-53: 53 bits, [0, 1), exact.
    return _u53(v) * 1.1102230246251565e-16

cdef inline float _u_open_f32(uint32_t w) noexcept nogil:
    # The Box-Muller radius uniform, (0, 1]: fl(fl(w >> 1) * 2**-31 + 2**-32).  31 bits reach the
    # tail out to |z| = 6.66 instead of 5.77 with 24 bits.  The product is exact.
    return _exact_mul_add_f32(<float><int32_t>(w >> 1), <float>4.656612873077393e-10,
                              <float>2.3283064365386963e-10)

cdef inline double _u_open_f64(uint64_t v) noexcept nogil:
    # fl((v >> 11) * 2**-53 + 2**-54), in (0, 1].  The product is exact.
    return _exact_mul_add_f64(_u53(v), 1.1102230246251565e-16, 5.551115123125783e-17)


# ------------------------------------------------------------------------------------------------
# Polynomial log and sin/cos (ours, so the loops vectorize; within 2 ulp of the true values)
# ------------------------------------------------------------------------------------------------

# A power of two k (1 or -2) times the log: k * log(x) to the last bit, for k = -2 what
# Box-Muller's radius needs without a multiplication after the log.  Scaling by a power of two
# commutes with rounding (nothing here comes near overflow or the subnormals), so k goes into the
# last two fused multiply-adds' operands: fma(k e, ln2, fma(k t, z h, k t)) = k fma(e, ln2,
# fma(t, z h, t)), zeros with their signs (k e is a float product: -2 * +0 = -0).  For float32
# that was checked on every positive normal float32 against -2 * log (and the golden hashes pin
# every method's output at every level).

cdef inline float _log_f32(float x) noexcept nogil:
    return _scaled_log_f32(x, <float>1.0)

cdef inline float _scaled_log_f32(float x, float k) noexcept nogil:
    # x = 2**e * m with m in [sqrt(2)/2, sqrt(2)); log(m) = 2 atanh(s), s = (m - 1) / (m + 1),
    # |s| <= 0.1716, so the atanh series to s**9 is exact to float32 precision.  x > 0, finite and
    # normal (every caller's x is at least 2**-32).  e and m in integer steps (as musl's logf):
    # subtracting the bits of m's lower end, 0x3F3504F4 (the first float32 above sqrt(2)/2), leaves
    # e in the top bits, a mantissa of 0x3504F4 or more carrying into them; taking e back out of x's
    # exponent leaves m.  The specification writes the denominator 2 + f with f = m - 1; f is exact
    # (Sterbenz), so m + 1 is the same sum, and it does not wait for f.
    cdef uint32_t bits = _f32_bits(x)
    cdef int32_t offset = <int32_t>(bits - <uint32_t>0x3F3504F4)
    cdef int32_t e = offset >> 23                       # arithmetic: e < 0 for x < sqrt(2)/2
    cdef float m = _bits_f32(bits - (<uint32_t>offset & <uint32_t>0xFF800000))
    cdef float s = (m - <float>1.0) / (m + <float>1.0)
    cdef float z = s * s
    cdef float t = (<float>2.0 * k) * s
    # Horner with fused multiply-adds (docs/stream.md: the order and the fusing are normative).
    cdef float h = fmaf(<float>(1.0 / 9.0), z, <float>(1.0 / 7.0))
    h = fmaf(h, z, <float>(1.0 / 5.0))
    h = fmaf(h, z, <float>(1.0 / 3.0))
    return fmaf(<float>e * k, <float>0.6931471805599453, fmaf(t, z * h, t))

cdef inline double _log_f64(double x) noexcept nogil:
    return _scaled_log_f64(x, 1.0)

cdef inline double _scaled_log_f64(double x, double k) noexcept nogil:
    # As _scaled_log_f32, with the series to s**19 and log(2) split in two so e * ln2_hi is
    # exact.  SSE2 has no 64-bit arithmetic shift, so the steps keep the exponent biased:
    # subtracting only the mantissa of m's lower end (0x3FE6A09E667F3BCE, the first double above
    # sqrt(2)/2) leaves e + 1022 in the top 12 bits, which is never negative for a normal x.
    # e is converted by _small_u64_to_f64: SSE2 has no int64 -> double.
    cdef uint64_t bits = _f64_bits(x)
    cdef uint64_t offset = bits - 0x6A09E667F3BCEULL
    cdef double m = _bits_f64(bits - (offset & 0xFFF0000000000000ULL) + 0x3FE0000000000000ULL)
    cdef double ef = (_small_u64_to_f64(offset >> 52) - 1022.0) * k
    cdef double s = (m - 1.0) / (m + 1.0)
    cdef double z = s * s
    cdef double t = (2.0 * k) * s
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
    # and the angle inside odd octants is mirrored; docs/stream.md describes it that way.)
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
# Box-Muller (docs/stream.md: "Normal")
# ------------------------------------------------------------------------------------------------

cdef inline void _box_muller_f32(uint32_t w_radius, uint32_t w_angle,
                                 float* z0, float* z1) noexcept nogil:
    cdef float s, c
    cdef float r = sqrtf(_scaled_log_f32(_u_open_f32(w_radius), <float>(-2.0)))
    _sincos_turns_f32(w_angle >> 8, &s, &c)
    z0[0] = r * c
    z1[0] = r * s

cdef inline void _box_muller_f64(uint64_t radius, uint64_t angle, double* z0,
                                 double* z1) noexcept nogil:
    cdef double s, c
    cdef double r = sqrt(_scaled_log_f64(_u_open_f64(radius), -2.0))
    _sincos_turns_f64(angle >> 11, &s, &c)
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
        _box_muller_f64(_pair64(&w[4 * k]), _pair64(&w[4 * k + 2]), &z[2 * k], &z[2 * k + 1])


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
