/*
 * float32 -> float16 with the F16C instruction (vcvtps2ph), round to nearest-even, saturating at
 * +-65504 like the portable converter in kernels.pxi (which the baseline module uses and which
 * gives the same bits).  Only the modules compiled with -mf16c (avx2, avx512) have it.
 */
#ifndef FASTINIT_HALF_H
#define FASTINIT_HALF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__F16C__) && !defined(FASTINIT_NO_SIMD)
#include <immintrin.h>
#define FASTINIT_HAS_F16C 1

static inline __m128i fastinit_f16c8(__m256 x)
{
    const __m256 max = _mm256_set1_ps(65504.0f);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), max)), max);
    return _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static inline void fastinit_store_f16_f16c(uint16_t *dst, const float *src, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), fastinit_f16c8(_mm256_loadu_ps(src + i)));
    if (i < n) {
        float tail[8] = {0};
        uint16_t out[8];
        memcpy(tail, src + i, (size_t)(n - i) * sizeof(float));
        _mm_storeu_si128((__m128i *)out, fastinit_f16c8(_mm256_loadu_ps(tail)));
        memcpy(dst + i, out, (size_t)(n - i) * sizeof(uint16_t));
    }
}
#else
#define FASTINIT_HAS_F16C 0
static inline void fastinit_store_f16_f16c(uint16_t *dst, const float *src, ptrdiff_t n)
{
    (void)dst; (void)src; (void)n;      /* never called: FASTINIT_HAS_F16C is 0 */
}
#endif

#endif /* FASTINIT_HALF_H */
