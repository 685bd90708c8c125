/*
 * Philox4x32-10, the counter-based bit generator of Salmon, Moraes, Dror and Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC11 (2011).
 *
 * This header holds only what Cython cannot say well: the 32x32->64-bit multiply of each round.
 * Everything that turns words into floats lives in _kernels.pyx.
 *
 * Stream layout (the public promise, see README.md): block j of call s is
 *     philox4x32_10(counter = (j & 0xffffffff, j >> 32, s & 0xffffffff, s >> 32), key = (k0, k1))
 * and yields the words w[4j], w[4j+1], w[4j+2], w[4j+3].  This is cuRAND's Philox4_32_10 layout
 * (curand_init(seed=key, subsequence=s, offset=4j)).
 */
#ifndef FASTINIT_PHILOX_H
#define FASTINIT_PHILOX_H

#include <stdint.h>

#define FASTINIT_PHILOX_M0 0xD2511F53u
#define FASTINIT_PHILOX_M1 0xCD9E8D57u
#define FASTINIT_PHILOX_W0 0x9E3779B9u
#define FASTINIT_PHILOX_W1 0xBB67AE85u

/* One Philox4x32-10 block: out[0..3] = philox(counter c[0..3], key (k0, k1)). */
static inline void fastinit_philox4x32_10(const uint32_t c[4], uint32_t k0, uint32_t k1,
                                          uint32_t out[4])
{
    uint32_t x0 = c[0], x1 = c[1], x2 = c[2], x3 = c[3];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)FASTINIT_PHILOX_M0 * x0;
        uint64_t p1 = (uint64_t)FASTINIT_PHILOX_M1 * x2;
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0;
        uint32_t y2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
        x1 = (uint32_t)p1;
        x3 = (uint32_t)p0;
        x0 = y0;
        x2 = y2;
        k0 += FASTINIT_PHILOX_W0;
        k1 += FASTINIT_PHILOX_W1;
    }
    out[0] = x0; out[1] = x1; out[2] = x2; out[3] = x3;
}

/* Scalar words of blocks first_block .. first_block + nblocks - 1 (the reference path). */
static inline void fastinit_philox_words_scalar(uint32_t *words, uint64_t first_block,
                                                int64_t nblocks, uint64_t key, uint64_t stream)
{
    const uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    uint32_t c[4];
    c[2] = (uint32_t)stream;
    c[3] = (uint32_t)(stream >> 32);
    for (int64_t b = 0; b < nblocks; b++) {
        uint64_t j = first_block + (uint64_t)b;
        c[0] = (uint32_t)j;
        c[1] = (uint32_t)(j >> 32);
        fastinit_philox4x32_10(c, k0, k1, words + 4 * b);
    }
}

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define FASTINIT_PHILOX_SSE2 1

/*
 * SSE2 path, part of every x86-64 CPU.  Each 64-bit lane carries one block's 32-bit word in its
 * low half; _mm_mul_epu32 multiplies those low halves into full 64-bit products and ignores the
 * upper halves, so the garbage they accumulate never needs masking.  A round is a chain of
 * multiply, shift and two xors (about 8 cycles of latency), so FASTINIT_SSE2_PAIRS independent
 * pairs of blocks run interleaved to keep the multipliers busy.
 */
#define FASTINIT_SSE2_PAIRS 4
#define FASTINIT_SSE2_BLOCKS (2 * FASTINIT_SSE2_PAIRS)

static inline void fastinit_philox_blocks_sse2(uint32_t *words, uint64_t j, uint32_t s_lo,
                                               uint32_t s_hi, const __m128i *rk0,
                                               const __m128i *rk1)
{
    const __m128i m0 = _mm_set1_epi64x(FASTINIT_PHILOX_M0);
    const __m128i m1 = _mm_set1_epi64x(FASTINIT_PHILOX_M1);
    __m128i x0[FASTINIT_SSE2_PAIRS], x1[FASTINIT_SSE2_PAIRS];
    __m128i x2[FASTINIT_SSE2_PAIRS], x3[FASTINIT_SSE2_PAIRS];
    for (int q = 0; q < FASTINIT_SSE2_PAIRS; q++) {
        uint64_t ja = j + 2 * (uint64_t)q, jb = ja + 1;
        x0[q] = _mm_set_epi64x((long long)(uint32_t)jb, (long long)(uint32_t)ja);
        x1[q] = _mm_set_epi64x((long long)(jb >> 32), (long long)(ja >> 32));
        x2[q] = _mm_set1_epi64x(s_lo);
        x3[q] = _mm_set1_epi64x(s_hi);
    }
    for (int r = 0; r < 10; r++) {
        for (int q = 0; q < FASTINIT_SSE2_PAIRS; q++) {
            __m128i p0 = _mm_mul_epu32(x0[q], m0), p1 = _mm_mul_epu32(x2[q], m1);
            x0[q] = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p1, 32), x1[q]), rk0[r]);
            x2[q] = _mm_xor_si128(_mm_xor_si128(_mm_srli_epi64(p0, 32), x3[q]), rk1[r]);
            x1[q] = p1;
            x3[q] = p0;
        }
    }
    /* Low halves of the lanes -> consecutive blocks of four words. */
    for (int q = 0; q < FASTINIT_SSE2_PAIRS; q++) {
        __m128i t0 = _mm_unpacklo_epi32(x0[q], x1[q]), t1 = _mm_unpackhi_epi32(x0[q], x1[q]);
        __m128i t2 = _mm_unpacklo_epi32(x2[q], x3[q]), t3 = _mm_unpackhi_epi32(x2[q], x3[q]);
        _mm_storeu_si128((__m128i *)(words + 8 * q), _mm_unpacklo_epi64(t0, t2));
        _mm_storeu_si128((__m128i *)(words + 8 * q + 4), _mm_unpacklo_epi64(t1, t3));
    }
}
#endif

/*
 * The words of blocks first_block .. first_block + nblocks - 1 of stream `stream`, written to
 * words[0 .. 4 * nblocks).  Blocks are independent, so any range can be produced on its own, and
 * every path produces the same words.
 */
static inline void fastinit_philox_words(uint32_t *words, uint64_t first_block, int64_t nblocks,
                                         uint64_t key, uint64_t stream)
{
    int64_t done = 0;
#ifdef FASTINIT_PHILOX_SSE2
    if (nblocks >= FASTINIT_SSE2_BLOCKS) {
        __m128i rk0[10], rk1[10];
        uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
        for (int r = 0; r < 10; r++) {
            rk0[r] = _mm_set1_epi64x(k0);
            rk1[r] = _mm_set1_epi64x(k1);
            k0 += FASTINIT_PHILOX_W0;
            k1 += FASTINIT_PHILOX_W1;
        }
        for (; done + FASTINIT_SSE2_BLOCKS <= nblocks; done += FASTINIT_SSE2_BLOCKS)
            fastinit_philox_blocks_sse2(words + 4 * done, first_block + (uint64_t)done,
                                        (uint32_t)stream, (uint32_t)(stream >> 32), rk0, rk1);
    }
#endif
    fastinit_philox_words_scalar(words + 4 * done, first_block + (uint64_t)done,
                                 nblocks - done, key, stream);
}

#endif /* FASTINIT_PHILOX_H */
