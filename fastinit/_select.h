/*
 * The positions of the zeros of a flag array (the truncated normal's rejected samples), in order.
 * A scalar loop over the flags stalls on the branch or on reading back what the vector loops just
 * stored; here the flags are read a vector at a time, turned into a bit mask, and only the set
 * bits are visited.  GCC cannot emit this from Cython (it does not vectorize compaction).
 */
#ifndef FASTINIT_SELECT_H
#define FASTINIT_SELECT_H

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

/* The caller writes every flag below n before scanning (_tn_candidates), which gcc cannot see
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
    /* Branch-free: compress the indices of the zero flags in a register, store all 16. */
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (; i + 16 <= n; i += 16) {
        __mmask16 zero = _mm512_cmpeq_epi32_mask(_mm512_loadu_si512((const void *)(flags + i)),
                                                 _mm512_setzero_si512());
        __m512i idx = _mm512_add_epi32(_mm512_set1_epi32((int)i), iota);
        _mm512_storeu_si512((void *)(out + m), _mm512_maskz_compress_epi32(zero, idx));
        m += __builtin_popcount((unsigned)zero);
    }
#elif defined(FI_SELECT_AVX2)
    /* Branch-free: permute the indices of the zero flags to the front (table above). */
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i nibble = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    for (; i + 8 <= n; i += 8) {
        __m256i z = _mm256_cmpeq_epi32(_mm256_loadu_si256((const __m256i *)(flags + i)),
                                       _mm256_setzero_si256());
        uint32_t bits = (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(z));
        __m256i perm = _mm256_and_si256(
            _mm256_srlv_epi32(_mm256_set1_epi32((int)fastinit_pack_lut[bits]), nibble),
            _mm256_set1_epi32(15));
        __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)i), iota);
        _mm256_storeu_si256((__m256i *)(out + m), _mm256_permutevar8x32_epi32(idx, perm));
        m += fastinit_pack_count[bits];
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
#if defined(FI_SELECT_AVX512) && defined(__AVX512VL__)
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (; i + 8 <= n; i += 8) {
        __mmask8 zero = _mm512_cmpeq_epi64_mask(_mm512_loadu_si512((const void *)(flags + i)),
                                                _mm512_setzero_si512());
        __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)i), iota);
        _mm256_storeu_si256((__m256i *)(out + m), _mm256_maskz_compress_epi32(zero, idx));
        m += __builtin_popcount((unsigned)zero);
    }
#elif defined(FI_SELECT_AVX512)
    for (; i + 8 <= n; i += 8) {
        uint32_t bits = _mm512_cmpeq_epi64_mask(_mm512_loadu_si512((const void *)(flags + i)),
                                                _mm512_setzero_si512());
        FI_APPEND_BITS(bits, i, out, m)
    }
#elif defined(FI_SELECT_AVX2)
    /* The same table as fastinit_zeros32: for a 4-bit mask its positions are all below 4, so a
       permute within one 128-bit lane (vpermilps) packs the indices. */
    const __m128i iota = _mm_setr_epi32(0, 1, 2, 3);
    const __m128i nibble = _mm_setr_epi32(0, 4, 8, 12);
    for (; i + 4 <= n; i += 4) {
        __m256i z = _mm256_cmpeq_epi64(_mm256_loadu_si256((const __m256i *)(flags + i)),
                                       _mm256_setzero_si256());
        uint32_t bits = (uint32_t)_mm256_movemask_pd(_mm256_castsi256_pd(z));
        __m128i perm = _mm_and_si128(
            _mm_srlv_epi32(_mm_set1_epi32((int)fastinit_pack_lut[bits]), nibble),
            _mm_set1_epi32(3));
        __m128i idx = _mm_add_epi32(_mm_set1_epi32((int)i), iota);
        _mm_storeu_si128((__m128i *)(out + m),
                         _mm_castps_si128(_mm_permutevar_ps(_mm_castsi128_ps(idx), perm)));
        m += fastinit_pack_count[bits];
    }
#endif
    for (; i < n; i++) {
        out[m] = (int32_t)i;
        m += (flags[i] == 0);
    }
    return m;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif /* FASTINIT_SELECT_H */
