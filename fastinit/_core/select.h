/*
 * The positions of the truncated normal's rejected samples, in order: the zeros of a flag array,
 * or the values outside [a, b].  A scalar loop stalls on the branch or on reading back what the
 * vector loops just stored; here a vector at a time is turned into a bit mask, and the indices of
 * its set bits are packed by a compress (AVX-512), a permute (AVX2) or a bit loop (SSE2).  GCC
 * cannot emit this from Cython (it does not vectorize compaction).
 */
#ifndef FASTINIT_SELECT_H
#define FASTINIT_SELECT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Which vector path: by the module's compiler flags; FASTINIT_NO_SIMD keeps the portable loops
   (as on architectures without SSE2). */
#if defined(FASTINIT_NO_SIMD)
#elif defined(__AVX512F__)
#include <immintrin.h>
#define FI_SELECT_AVX512 1
#elif defined(__AVX2__)
#include <immintrin.h>
#define FI_SELECT_AVX2 1
#elif defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define FI_SELECT_SSE2 1
#endif

static inline int fastinit_ctz(uint32_t bits)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctz(bits);
#else
    int n = 0;
    while (!(bits & 1u)) { bits >>= 1; n++; }
    return n;
#endif
}

#ifdef FI_SELECT_AVX2
/* Left-packing 8 lanes by a mask: entry b holds, one nibble each, the positions of b's set
   bits, lowest first; fastinit_select_init() fills it when the module is imported. */
static uint32_t fastinit_pack_lut[256];
static uint8_t fastinit_pack_count[256];
#endif

static inline void fastinit_select_init(void)
{
#ifdef FI_SELECT_AVX2
    for (int b = 0; b < 256; b++) {
        uint32_t packed = 0;
        int count = 0;
        for (int lane = 0; lane < 8; lane++)
            if (b & (1 << lane))
                packed |= (uint32_t)lane << (4 * count++);
        fastinit_pack_lut[b] = packed;
        fastinit_pack_count[b] = (uint8_t)count;
    }
#endif
}

/* Append i to out for each i in 0 .. n with bits (i - base) set; returns the new count. */
#define FI_APPEND_BITS(bits, base, out, m)                                                      \
    while (bits) {                                                                          \
        (out)[(m)++] = (int32_t)((base) + fastinit_ctz(bits));                                         \
        bits &= bits - 1;                                                                   \
    }

/*
 * fi_append<W>(mask, idx, out, m): append the lanes of the W-lane index vector idx whose mask bit
 * is set, lowest first, and return the new count.  Branch-free: a whole vector of indices is
 * stored at out + m (out has room for n entries) and only the set bits are counted.
 * fi_iota<W>(i) is the index vector i, i + 1, ..., i + W - 1.
 */
#if defined(FI_SELECT_AVX512)
static inline __m512i fi_iota16(ptrdiff_t i)
{
    return _mm512_add_epi32(_mm512_set1_epi32((int)i),
                            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
}

static inline __m256i fi_iota8(ptrdiff_t i)
{
    return _mm256_add_epi32(_mm256_set1_epi32((int)i), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline ptrdiff_t fi_append16(uint32_t mask, __m512i idx, int32_t *out, ptrdiff_t m)
{
    _mm512_storeu_si512((void *)(out + m), _mm512_maskz_compress_epi32((__mmask16)mask, idx));
    return m + __builtin_popcount(mask);
}

static inline ptrdiff_t fi_append8(uint32_t mask, __m256i idx, int32_t *out, ptrdiff_t m)
{
    /* The avx512 level is built with AVX-512VL. */
    _mm256_storeu_si256((__m256i *)(out + m), _mm256_maskz_compress_epi32((__mmask8)mask, idx));
    return m + __builtin_popcount(mask);
}
#elif defined(FI_SELECT_AVX2)
static inline __m256i fi_iota8(ptrdiff_t i)
{
    return _mm256_add_epi32(_mm256_set1_epi32((int)i), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __m128i fi_iota4(ptrdiff_t i)
{
    return _mm_add_epi32(_mm_set1_epi32((int)i), _mm_setr_epi32(0, 1, 2, 3));
}

/* Permute the indices of the set lanes to the front (the table above). */
static inline ptrdiff_t fi_append8(uint32_t mask, __m256i idx, int32_t *out, ptrdiff_t m)
{
    const __m256i nibble = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    __m256i perm = _mm256_and_si256(
        _mm256_srlv_epi32(_mm256_set1_epi32((int)fastinit_pack_lut[mask]), nibble),
        _mm256_set1_epi32(15));
    _mm256_storeu_si256((__m256i *)(out + m), _mm256_permutevar8x32_epi32(idx, perm));
    return m + fastinit_pack_count[mask];
}

/* For a 4-bit mask the table's positions are all below 4: a permute within one 128-bit lane
   (vpermilps) packs the indices. */
static inline ptrdiff_t fi_append4(uint32_t mask, __m128i idx, int32_t *out, ptrdiff_t m)
{
    const __m128i nibble = _mm_setr_epi32(0, 4, 8, 12);
    __m128i perm = _mm_and_si128(
        _mm_srlv_epi32(_mm_set1_epi32((int)fastinit_pack_lut[mask]), nibble),
        _mm_set1_epi32(3));
    _mm_storeu_si128((__m128i *)(out + m),
                     _mm_castps_si128(_mm_permutevar_ps(_mm_castsi128_ps(idx), perm)));
    return m + fastinit_pack_count[mask];
}
#endif

/* The caller writes every flag below n before scanning (_tn_proposals_*), which gcc cannot see
   through the inlining: its -Wmaybe-uninitialized on the flags is a false positive, and zeroing
   the flags first would cost a pass over every chunk. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/* out[0 .. m) = the i in 0 .. n with flags[i] == 0, increasing; returns m.  out has room for n
   entries (the vector paths may write, but never count, entries past m). */
static inline ptrdiff_t fastinit_zeros32(const int32_t *flags, ptrdiff_t n, int32_t *out)
{
    ptrdiff_t m = 0, i = 0;
#if defined(FI_SELECT_AVX512)
    for (; i + 16 <= n; i += 16)
        m = fi_append16(_mm512_cmpeq_epi32_mask(_mm512_loadu_si512((const void *)(flags + i)),
                                                _mm512_setzero_si512()), fi_iota16(i), out, m);
#elif defined(FI_SELECT_AVX2)
    for (; i + 8 <= n; i += 8) {
        __m256i z = _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)(flags + i)),
                                       _mm256_setzero_si256());
        m = fi_append8((uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(z)), fi_iota8(i), out, m);
    }
#elif defined(FI_SELECT_SSE2)
    for (; i + 4 <= n; i += 4) {
        __m128i z = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(flags + i)),
                                    _mm_setzero_si128());
        uint32_t bits = (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(z));
        FI_APPEND_BITS(bits, i, out, m)
    }
#endif
    for (; i < n; i++) {
        out[m] = (int32_t)i;
        m += (flags[i] == 0);
    }
    return m;
}

/* As fastinit_zeros32 for 64-bit flags (the indices stay 32-bit, so a vector holds half as many
   of them as of the flags). */
static inline ptrdiff_t fastinit_zeros64(const int64_t *flags, ptrdiff_t n, int32_t *out)
{
    ptrdiff_t m = 0, i = 0;
#if defined(FI_SELECT_AVX512)
    for (; i + 8 <= n; i += 8)
        m = fi_append8(_mm512_cmpeq_epi64_mask(_mm512_loadu_si512((const void *)(flags + i)),
                                               _mm512_setzero_si512()), fi_iota8(i), out, m);
#elif defined(FI_SELECT_AVX2)
    for (; i + 4 <= n; i += 4) {
        __m256i z = _mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)(flags + i)),
                                       _mm256_setzero_si256());
        m = fi_append4((uint32_t)_mm256_movemask_pd(_mm256_castsi256_pd(z)), fi_iota4(i), out, m);
    }
#endif
    for (; i < n; i++) {
        out[m] = (int32_t)i;
        m += (flags[i] == 0);
    }
    return m;
}

/* The vector step of fastinit_map_outside32/64, in one spelling for every level: FI_SEL(op, ps)
   is _mm512_op_ps, _mm256_op_ps or _mm_op_ps; FI_OUTSIDE is the lanes' not-in-[a, b] bit mask
   and FI_APPEND_<suf> appends their indices (the helpers above). */
#if defined(FI_SELECT_AVX512)
#define FI_SEL(op, suf) _mm512_##op##_##suf
#define FI_VEC_ps __m512
#define FI_VEC_pd __m512d
#define FI_OUTSIDE(suf, v, va, vb)                                                            \
    ((uint32_t)(_mm512_cmp_##suf##_mask(v, va, _CMP_NGE_UQ)                                    \
                | _mm512_cmp_##suf##_mask(v, vb, _CMP_NLE_UQ)))
#define FI_APPEND_ps(mask, idx, out, m) ((m) = fi_append16(mask, idx, out, m))
#define FI_APPEND_pd(mask, idx, out, m) ((m) = fi_append8(mask, idx, out, m))
#define FI_INDEX_ps __m512i
#define FI_INDEX_pd __m256i
#define FI_FIRST_INDEX_ps fi_iota16(0)
#define FI_FIRST_INDEX_pd fi_iota8(0)
#define FI_NEXT_INDEX_ps(idx) ((idx) = _mm512_add_epi32(idx, _mm512_set1_epi32(16)))
#define FI_NEXT_INDEX_pd(idx) ((idx) = _mm256_add_epi32(idx, _mm256_set1_epi32(8)))
#elif defined(FI_SELECT_AVX2)
#define FI_SEL(op, suf) _mm256_##op##_##suf
#define FI_VEC_ps __m256
#define FI_VEC_pd __m256d
#define FI_OUTSIDE(suf, v, va, vb)                                                            \
    ((uint32_t)_mm256_movemask_##suf(_mm256_or_##suf(_mm256_cmp_##suf(v, va, _CMP_NGE_UQ),     \
                                                     _mm256_cmp_##suf(v, vb, _CMP_NLE_UQ))))
#define FI_APPEND_ps(mask, idx, out, m) ((m) = fi_append8(mask, idx, out, m))
#define FI_APPEND_pd(mask, idx, out, m) ((m) = fi_append4(mask, idx, out, m))
#define FI_INDEX_ps __m256i
#define FI_INDEX_pd __m128i
#define FI_FIRST_INDEX_ps fi_iota8(0)
#define FI_FIRST_INDEX_pd fi_iota4(0)
#define FI_NEXT_INDEX_ps(idx) ((idx) = _mm256_add_epi32(idx, _mm256_set1_epi32(8)))
#define FI_NEXT_INDEX_pd(idx) ((idx) = _mm_add_epi32(idx, _mm_set1_epi32(4)))
#elif defined(FI_SELECT_SSE2)
#define FI_SEL(op, suf) _mm_##op##_##suf
#define FI_VEC_ps __m128
#define FI_VEC_pd __m128d
#define FI_OUTSIDE(suf, v, va, vb)                                                            \
    ((uint32_t)_mm_movemask_##suf(_mm_or_##suf(_mm_cmpnge_##suf(v, va), _mm_cmpnle_##suf(v, vb))))
#define FI_APPEND_BITS_OF(mask, i, out, m)                                                    \
    do {                                                                                     \
        uint32_t bits_ = (mask);                                                             \
        FI_APPEND_BITS(bits_, i, out, m)                                                     \
    } while (0)
#define FI_APPEND_ps FI_APPEND_BITS_OF
#define FI_APPEND_pd FI_APPEND_BITS_OF
#define FI_INDEX_ps ptrdiff_t
#define FI_INDEX_pd ptrdiff_t
#define FI_FIRST_INDEX_ps 0
#define FI_FIRST_INDEX_pd 0
#define FI_NEXT_INDEX_ps(idx) ((idx) += 4)
#define FI_NEXT_INDEX_pd(idx) ((idx) += 2)
#endif

/*
 * Which steps of the output map min(max(shift + scale * v, lo), hi) can change an accepted value
 * v in [a, b] (the rejected ones are overwritten by their retries).  The others are skipped, and
 * every bit stays as it was, signed zeros included:
 * - the multiply, when scale is 1;
 * - the add, when shift is -0 (x + (-0) = x for every x; +0 would turn -0 into +0);
 * - the max and the min, when the map of [a, b]'s ends, computed with the same roundings (each
 *   step is monotonic in v), stays within [lo, hi], and neither bound is a zero (maxps/minps
 *   return their second operand on equal zeros of either sign).
 */
enum { FI_MAP_MUL = 1, FI_MAP_ADD = 2, FI_MAP_CLAMP = 4 };

#define FI_DEFINE_MAP_STEPS(name, T)                                                          \
    static inline int name(T a, T b, T shift, T scale, T lo, T hi)                            \
    {                                                                                        \
        int steps = 0;                                                                       \
        T ends[2] = {a, b};                                                                  \
        if (scale != 1) {                                                                    \
            steps |= FI_MAP_MUL;                                                             \
            ends[0] = scale * ends[0];                                                       \
            ends[1] = scale * ends[1];                                                       \
        }                                                                                    \
        if (!(shift == 0 && signbit(shift))) {                                               \
            steps |= FI_MAP_ADD;                                                             \
            ends[0] = shift + ends[0];                                                       \
            ends[1] = shift + ends[1];                                                       \
        }                                                                                    \
        if (!(ends[0] >= lo && ends[1] >= lo && ends[0] <= hi && ends[1] <= hi)              \
            || lo == 0 || hi == 0)                                                           \
            steps |= FI_MAP_CLAMP;                                                           \
        return steps;                                                                        \
    }
FI_DEFINE_MAP_STEPS(fi_map_steps32, float)
FI_DEFINE_MAP_STEPS(fi_map_steps64, double)

#ifdef FI_SEL
/* The vector loop with the steps in STEPS (a constant in each instantiation, so the compiler
   drops the others).  The lanes' indices are a vector that moves on by the lane count. */
#define FI_MAP_OUTSIDE_LOOP(T, suf, STEPS)                                                    \
    do {                                                                                     \
        for (; i + lanes <= n; i += lanes) {                                                 \
            FI_VEC_##suf v = FI_SEL(loadu, suf)(x + i);                                       \
            uint32_t mask = FI_OUTSIDE(suf, v, va, vb);                                      \
            if ((STEPS) & FI_MAP_MUL)                                                        \
                v = FI_SEL(mul, suf)(vk, v);                                                 \
            if ((STEPS) & FI_MAP_ADD)                                                        \
                v = FI_SEL(add, suf)(vs, v);                                                 \
            if ((STEPS) & FI_MAP_CLAMP)                                                      \
                v = FI_SEL(min, suf)(FI_SEL(max, suf)(v, vl), vh);                           \
            FI_SEL(storeu, suf)(x + i, v);                                                   \
            FI_APPEND_##suf(mask, index, out, m);                                            \
            FI_NEXT_INDEX_##suf(index);                                                      \
        }                                                                                    \
    } while (0)

#define FI_MAP_OUTSIDE_VECTORS(T, suf, steps_of)                                              \
    do {                                                                                     \
        const ptrdiff_t lanes = (ptrdiff_t)(sizeof(FI_VEC_##suf) / sizeof(T));               \
        const FI_VEC_##suf va = FI_SEL(set1, suf)(a), vb = FI_SEL(set1, suf)(b);              \
        const FI_VEC_##suf vs = FI_SEL(set1, suf)(shift), vk = FI_SEL(set1, suf)(scale);      \
        const FI_VEC_##suf vl = FI_SEL(set1, suf)(lo), vh = FI_SEL(set1, suf)(hi);            \
        FI_INDEX_##suf index = FI_FIRST_INDEX_##suf;                                          \
        switch (steps_of(a, b, shift, scale, lo, hi)) {                                      \
        case 0: FI_MAP_OUTSIDE_LOOP(T, suf, 0); break;                                        \
        case 1: FI_MAP_OUTSIDE_LOOP(T, suf, 1); break;                                        \
        case 2: FI_MAP_OUTSIDE_LOOP(T, suf, 2); break;                                        \
        case 3: FI_MAP_OUTSIDE_LOOP(T, suf, 3); break;                                        \
        case 4: FI_MAP_OUTSIDE_LOOP(T, suf, 4); break;                                        \
        case 5: FI_MAP_OUTSIDE_LOOP(T, suf, 5); break;                                        \
        case 6: FI_MAP_OUTSIDE_LOOP(T, suf, 6); break;                                        \
        default: FI_MAP_OUTSIDE_LOOP(T, suf, 7); break;                                       \
        }                                                                                    \
    } while (0)
#else
#define FI_MAP_OUTSIDE_VECTORS(T, suf, steps_of) do { } while (0)
#endif

/*
 * out[0 .. m) = the i in 0 .. n where x[i] is not in [a, b] (NaN included: the complement of
 * a <= x[i] <= b), increasing; returns m.  In the same pass every accepted x[i] becomes
 * min(max(shift + scale * x[i], lo), hi), the kernels' output map (_affine_clamp: one rounding
 * per operation, maxps/minps operand order); the rejected ones may or may not be mapped (their
 * retries overwrite them).  The truncated normal's attempt 0 tests its normals here directly,
 * without a pass that writes flags or a second one that maps them.
 * fastinit_map_outside32 is for float, fastinit_map_outside64 for double.
 */
#define FI_DEFINE_MAP_OUTSIDE(name, T, suf, steps_of)                                         \
    static inline ptrdiff_t name(T *x, ptrdiff_t n, T a, T b, T shift, T scale, T lo, T hi,   \
                                 int32_t *out)                                               \
    {                                                                                        \
        ptrdiff_t m = 0, i = 0;                                                              \
        FI_MAP_OUTSIDE_VECTORS(T, suf, steps_of);                                            \
        for (; i < n; i++) {                                                                 \
            T v = shift + scale * x[i];                                                      \
            out[m] = (int32_t)i;                                                             \
            m += !(x[i] >= a && x[i] <= b);                                                  \
            v = v > lo ? v : lo;                                                             \
            x[i] = v < hi ? v : hi;                                                          \
        }                                                                                    \
        return m;                                                                            \
    }
FI_DEFINE_MAP_OUTSIDE(fastinit_map_outside32, float, ps, fi_map_steps32)
FI_DEFINE_MAP_OUTSIDE(fastinit_map_outside64, double, pd, fi_map_steps64)

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif /* FASTINIT_SELECT_H */
