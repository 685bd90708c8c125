/*
 * Philox4x32-10, the counter-based bit generator of Salmon, Moraes, Dror and Shaw,
 * "Parallel random numbers: as easy as 1, 2, 3", SC11 (2011).
 *
 * This header holds only what Cython cannot say well: the 32x32->64-bit multiply of each round.
 * Everything that turns words into floats lives in kernels.pxi.
 *
 * Stream layout (the public promise, docs/stream.md): block j of call s is
 *     philox4x32_10(counter = (j & 0xffffffff, j >> 32, s & 0xffffffff, s >> 32), key = (k0, k1))
 * and yields the words w[4j], w[4j+1], w[4j+2], w[4j+3].  This is cuRAND's Philox4_32_10 layout
 * (curand_init(seed=key, subsequence=s, offset=4j)).
 */
#ifndef FASTINIT_PHILOX_H
#define FASTINIT_PHILOX_H

#include <stdint.h>
#include <string.h>

#define FASTINIT_PHILOX_M0 0xD2511F53u
#define FASTINIT_PHILOX_M1 0xCD9E8D57u
#define FASTINIT_PHILOX_W0 0x9E3779B9u
#define FASTINIT_PHILOX_W1 0xBB67AE85u

/* The vector helpers must inline into their callers, or their register arrays go through memory. */
#if defined(__GNUC__) || defined(__clang__)
#define FI_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define FI_ALWAYS_INLINE inline
#endif

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

/*
 * Vector paths.  Which one a module gets is decided by the flags it is compiled with (setup.py
 * builds the kernels once per x86-64 level and fastinit/_core/simd.py picks one at import); all
 * of them produce exactly the words of the scalar path.
 *
 * Each 64-bit lane carries one block's 32-bit word in its low half.  The unsigned 32x32->64
 * multiply (_mm*_mul_epu32) multiplies those low halves into full 64-bit products and ignores the
 * upper halves, so the garbage they accumulate never needs masking: a round is two multiplies,
 * two shifts and two three-way xors per register.  The round is a dependency chain of about
 * eight cycles, so FASTINIT_VEC_GROUPS independent registers run interleaved.
 *
 * A tail of at least FASTINIT_VEC_TAIL_BLOCKS blocks goes through one vector step, padded, rather
 * than the scalar rounds.  Measured on Zen 4 (ns): AVX-512's 32 blocks 10.5 against one scalar
 * block 12.8; AVX2's 16 blocks 48 against 4 scalar blocks 32 and 8 blocks 62; SSE2's 6 blocks 12
 * against 2 scalar blocks 17.
 */
#if defined(FASTINIT_NO_SIMD)
/* The portable path, as on architectures without SSE2 (setup.py: FASTINIT_PORTABLE=1). */
#define FASTINIT_PHILOX_PATH "scalar"
#elif defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#define FASTINIT_PHILOX_PATH "avx512"
#define FASTINIT_VEC_LANES 8
#define FASTINIT_VEC_GROUPS 4
#define FASTINIT_VEC_TAIL_BLOCKS 1
typedef __m512i fastinit_vec;
#define FI_SET1(x) _mm512_set1_epi64((long long)(x))
#define FI_ADD(a, b) _mm512_add_epi64(a, b)
#define FI_MUL(a, b) _mm512_mul_epu32(a, b)
#define FI_SRL32(a) _mm512_srli_epi64(a, 32)
#define FI_XOR3(a, b, c) _mm512_ternarylogic_epi64(a, b, c, 0x96)
#define FI_LANE_INDEX() _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0)
#define FI_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define FI_STOREU(p, v) _mm512_storeu_si512((void *)(p), v)
#elif defined(__AVX2__)
#include <immintrin.h>
#define FASTINIT_PHILOX_PATH "avx2"
#define FASTINIT_VEC_LANES 4
#define FASTINIT_VEC_GROUPS 4
#define FASTINIT_VEC_TAIL_BLOCKS 6
typedef __m256i fastinit_vec;
#define FI_SET1(x) _mm256_set1_epi64x((long long)(x))
#define FI_ADD(a, b) _mm256_add_epi64(a, b)
#define FI_MUL(a, b) _mm256_mul_epu32(a, b)
#define FI_SRL32(a) _mm256_srli_epi64(a, 32)
#define FI_XOR3(a, b, c) _mm256_xor_si256(_mm256_xor_si256(a, b), c)
#define FI_LANE_INDEX() _mm256_set_epi64x(3, 2, 1, 0)
#define FI_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define FI_STOREU(p, v) _mm256_storeu_si256((__m256i *)(p), v)
#elif defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define FASTINIT_PHILOX_PATH "sse2"
#define FASTINIT_VEC_LANES 2
#define FASTINIT_VEC_GROUPS 3
#define FASTINIT_VEC_TAIL_BLOCKS 2
typedef __m128i fastinit_vec;
#define FI_SET1(x) _mm_set1_epi64x((long long)(x))
#define FI_ADD(a, b) _mm_add_epi64(a, b)
#define FI_MUL(a, b) _mm_mul_epu32(a, b)
#define FI_SRL32(a) _mm_srli_epi64(a, 32)
#define FI_XOR3(a, b, c) _mm_xor_si128(_mm_xor_si128(a, b), c)
#define FI_LANE_INDEX() _mm_set_epi64x(1, 0)
#define FI_LOADU(p) _mm_loadu_si128((const __m128i *)(p))
#define FI_STOREU(p, v) _mm_storeu_si128((__m128i *)(p), v)
#else
#define FASTINIT_PHILOX_PATH "scalar"
#endif

#ifdef FI_SET1
#define FASTINIT_VEC_BLOCKS (FASTINIT_VEC_LANES * FASTINIT_VEC_GROUPS)

/*
 * The words of the blocks in the low halves of the lanes of x0..x3, in block order, as two
 * vectors of 32-bit words: out[0] holds the first half of the blocks, out[1] the second.  Within
 * each 128-bit chunk, unpacking gives a = (block 2k: w0 w1 w2 w3) and b = (block 2k+1); the
 * wider paths then put the chunks back in block order.
 */
static FI_ALWAYS_INLINE void fastinit_blocks_in_order(fastinit_vec x0, fastinit_vec x1,
                                                     fastinit_vec x2, fastinit_vec x3,
                                                     fastinit_vec out[2])
{
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    /* Two-source permutes across the whole register: (w0, w1) and (w2, w3) of each block, then
       the pairs interleaved; four shuffles where the in-lane unpacks take eight. */
    const __m512i pairs = _mm512_set_epi32(30, 14, 28, 12, 26, 10, 24, 8, 22, 6, 20, 4, 18, 2,
                                           16, 0);
    const __m512i lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    __m512i a = _mm512_permutex2var_epi32(x0, pairs, x1);   /* (w0, w1) of blocks 0..7 */
    __m512i b = _mm512_permutex2var_epi32(x2, pairs, x3);   /* (w2, w3) of blocks 0..7 */
    out[0] = _mm512_permutex2var_epi64(a, lo, b);
    out[1] = _mm512_permutex2var_epi64(a, hi, b);
#elif defined(__AVX2__)
    __m256i t0 = _mm256_unpacklo_epi32(x0, x1), t1 = _mm256_unpackhi_epi32(x0, x1);
    __m256i t2 = _mm256_unpacklo_epi32(x2, x3), t3 = _mm256_unpackhi_epi32(x2, x3);
    __m256i a = _mm256_unpacklo_epi64(t0, t2);       /* blocks 0, 2 */
    __m256i b = _mm256_unpacklo_epi64(t1, t3);       /* blocks 1, 3 */
    out[0] = _mm256_permute2x128_si256(a, b, 0x20);
    out[1] = _mm256_permute2x128_si256(a, b, 0x31);
#else
    __m128i t0 = _mm_unpacklo_epi32(x0, x1), t1 = _mm_unpackhi_epi32(x0, x1);
    __m128i t2 = _mm_unpacklo_epi32(x2, x3), t3 = _mm_unpackhi_epi32(x2, x3);
    out[0] = _mm_unpacklo_epi64(t0, t2);
    out[1] = _mm_unpacklo_epi64(t1, t3);
#endif
}

/* The ten rounds on FASTINIT_VEC_GROUPS registers of blocks, in place. */
static FI_ALWAYS_INLINE void fastinit_philox_rounds(fastinit_vec *x0, fastinit_vec *x1,
                                                   fastinit_vec *x2, fastinit_vec *x3,
                                                   const fastinit_vec *rk0,
                                                   const fastinit_vec *rk1)
{
    const fastinit_vec m0 = FI_SET1(FASTINIT_PHILOX_M0), m1 = FI_SET1(FASTINIT_PHILOX_M1);
    for (int r = 0; r < 10; r++) {
        for (int g = 0; g < FASTINIT_VEC_GROUPS; g++) {
            fastinit_vec p0 = FI_MUL(x0[g], m0), p1 = FI_MUL(x2[g], m1);
            x0[g] = FI_XOR3(FI_SRL32(p1), x1[g], rk0[r]);
            x2[g] = FI_XOR3(FI_SRL32(p0), x3[g], rk1[r]);
            x1[g] = p1;
            x3[g] = p0;
        }
    }
}

/* The ten rounds on FASTINIT_VEC_GROUPS registers of blocks, then their words to `words`. */
static inline void fastinit_philox_rounds_vec(uint32_t *words, fastinit_vec *x0, fastinit_vec *x1,
                                              fastinit_vec *x2, fastinit_vec *x3,
                                              const fastinit_vec *rk0, const fastinit_vec *rk1)
{
    fastinit_vec ordered[2];
    fastinit_philox_rounds(x0, x1, x2, x3, rk0, rk1);
    for (int g = 0; g < FASTINIT_VEC_GROUPS; g++) {
        fastinit_blocks_in_order(x0[g], x1[g], x2[g], x3[g], ordered);
        FI_STOREU(words + 4 * FASTINIT_VEC_LANES * g, ordered[0]);
        FI_STOREU(words + 4 * FASTINIT_VEC_LANES * g + 2 * FASTINIT_VEC_LANES, ordered[1]);
    }
}

/* Lane l of group g starts as block number j[g][l]: counter word 0 in the low half (the high
   half is ignored by the multiply), word 1 = the block number's high half. */
#define FI_START(x0, x1, x2, x3, g, jv, stream)                                                 \
    do {                                                                                     \
        x0[g] = (jv);                                                                        \
        x1[g] = FI_SRL32(jv);                                                                \
        x2[g] = FI_SET1((uint32_t)(stream));                                                 \
        x3[g] = FI_SET1((uint32_t)((stream) >> 32));                                         \
    } while (0)

/* FASTINIT_VEC_BLOCKS consecutive blocks starting at block j. */
static inline void fastinit_philox_blocks_vec(uint32_t *words, uint64_t j, uint64_t stream,
                                              const fastinit_vec *rk0, const fastinit_vec *rk1)
{
    fastinit_vec x0[FASTINIT_VEC_GROUPS], x1[FASTINIT_VEC_GROUPS];
    fastinit_vec x2[FASTINIT_VEC_GROUPS], x3[FASTINIT_VEC_GROUPS];
    for (int g = 0; g < FASTINIT_VEC_GROUPS; g++) {
        fastinit_vec jv = FI_ADD(FI_SET1(j + (uint64_t)g * FASTINIT_VEC_LANES), FI_LANE_INDEX());
        FI_START(x0, x1, x2, x3, g, jv, stream);
    }
    fastinit_philox_rounds_vec(words, x0, x1, x2, x3, rk0, rk1);
}

/* FASTINIT_VEC_BLOCKS blocks with the given block numbers. */
static inline void fastinit_philox_listed_vec(uint32_t *words, const uint64_t *blocks,
                                              uint64_t stream, const fastinit_vec *rk0,
                                              const fastinit_vec *rk1)
{
    fastinit_vec x0[FASTINIT_VEC_GROUPS], x1[FASTINIT_VEC_GROUPS];
    fastinit_vec x2[FASTINIT_VEC_GROUPS], x3[FASTINIT_VEC_GROUPS];
    for (int g = 0; g < FASTINIT_VEC_GROUPS; g++) {
        fastinit_vec jv = FI_LOADU(blocks + g * FASTINIT_VEC_LANES);
        FI_START(x0, x1, x2, x3, g, jv, stream);
    }
    fastinit_philox_rounds_vec(words, x0, x1, x2, x3, rk0, rk1);
}

static inline void fastinit_round_keys(fastinit_vec *rk0, fastinit_vec *rk1, uint64_t key)
{
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int r = 0; r < 10; r++) {
        rk0[r] = FI_SET1(k0);
        rk1[r] = FI_SET1(k1);
        k0 += FASTINIT_PHILOX_W0;
        k1 += FASTINIT_PHILOX_W1;
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
#ifdef FI_SET1
    if (nblocks >= FASTINIT_VEC_TAIL_BLOCKS) {
        fastinit_vec rk0[10], rk1[10];
        fastinit_round_keys(rk0, rk1, key);
        for (; done + FASTINIT_VEC_BLOCKS <= nblocks; done += FASTINIT_VEC_BLOCKS)
            fastinit_philox_blocks_vec(words + 4 * done, first_block + (uint64_t)done, stream,
                                       rk0, rk1);
        if (nblocks - done >= FASTINIT_VEC_TAIL_BLOCKS) {
            /* A short tail (a fill's last chunk, fastinit.Philox's first refill after a move)
               through one padded vector step; the extra blocks are computed and dropped. */
            uint32_t tail[4 * FASTINIT_VEC_BLOCKS];
            fastinit_philox_blocks_vec(tail, first_block + (uint64_t)done, stream, rk0, rk1);
            memcpy(words + 4 * done, tail, (size_t)(4 * (nblocks - done)) * sizeof(uint32_t));
            done = nblocks;
        }
    }
#endif
    fastinit_philox_words_scalar(words + 4 * done, first_block + (uint64_t)done,
                                 nblocks - done, key, stream);
}

/*
 * The words of the blocks with numbers blocks[0 .. nblocks) of stream `stream`, block b's four
 * words at words[4b ..].  The truncated normal's retries use it: retry t of sample i is block
 * i + t * 2**56 (docs/stream.md, "Truncated normal").
 */
static inline void fastinit_philox_listed(uint32_t *words, const uint64_t *blocks,
                                          int64_t nblocks, uint64_t key, uint64_t stream)
{
    int64_t done = 0;
    const uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    uint32_t c[4];
#ifdef FI_SET1
    if (nblocks >= FASTINIT_VEC_BLOCKS) {
        fastinit_vec rk0[10], rk1[10];
        fastinit_round_keys(rk0, rk1, key);
        for (; done + FASTINIT_VEC_BLOCKS <= nblocks; done += FASTINIT_VEC_BLOCKS)
            fastinit_philox_listed_vec(words + 4 * done, blocks + done, stream, rk0, rk1);
    }
    if (nblocks - done >= FASTINIT_VEC_TAIL_BLOCKS) {
        /* A short tail still goes through the vector path, padded (see FASTINIT_VEC_TAIL_BLOCKS):
           the scalar rounds are one long dependency chain. */
        uint64_t padded[FASTINIT_VEC_BLOCKS];
        uint32_t tail[4 * FASTINIT_VEC_BLOCKS];
        fastinit_vec rk0[10], rk1[10];
        int64_t rest = nblocks - done;
        fastinit_round_keys(rk0, rk1, key);
        for (int64_t b = 0; b < FASTINIT_VEC_BLOCKS; b++)
            padded[b] = blocks[done + (b < rest ? b : rest - 1)];
        fastinit_philox_listed_vec(tail, padded, stream, rk0, rk1);
        memcpy(words + 4 * done, tail, (size_t)(4 * rest) * sizeof(uint32_t));
        done = nblocks;
    }
#endif
    c[2] = (uint32_t)stream;
    c[3] = (uint32_t)(stream >> 32);
    for (; done < nblocks; done++) {
        c[0] = (uint32_t)blocks[done];
        c[1] = (uint32_t)(blocks[done] >> 32);
        fastinit_philox4x32_10(c, k0, k1, words + 4 * done);
    }
}

#endif /* FASTINIT_PHILOX_H */
