# Part of kernels.pxi (included there, in order): float16 and bfloat16 stores: float32 values
# rounded to nearest-even.

# ------------------------------------------------------------------------------------------------
# Half precision (docs/stream.md: "float16 and bfloat16"): float32 values rounded to nearest-even
# on store
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
