/*
 * Fused fills: the Philox rounds, the conversion to the output value and the store all happen on
 * the same registers, with no words buffer, no scratch buffer and no second copy.
 *
 * The store is plain, or non-temporal ("streaming") for buffers far larger than the last-level
 * cache.  A plain store to a line that is not in the cache first reads the line from memory (the
 * "read for ownership"), so an out-of-cache fill moves every byte twice; a streaming store writes
 * whole lines without reading them.
 *
 * Only the fills that cost little more than their words have this path: raw words and
 * float32/float64 uniforms, 4 bytes of output per Philox word.  Normal and truncated normal spend
 * several times longer computing a value than storing it, and go through the chunked kernels of
 * kernels.pxi; those stream float32 chunks from their L1 scratch (fastinit_copy_streaming).
 *
 * The values are those of the chunked kernels, bit for bit: the same words, and the same
 * `u = (w >> 8) * 2**-24` (float32) or `u = (w64 >> 11) * 2**-53` (float64) followed by
 * `min(max(shift + scale * u, lo), hi)`, one rounding per operation (no fused multiply-add).
 */
#ifndef FASTINIT_STORE_H
#define FASTINIT_STORE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "philox.h"

enum { FASTINIT_SINK_RAW = 0, FASTINIT_SINK_UNIFORM_F32 = 1, FASTINIT_SINK_UNIFORM_F64 = 2 };

/* The output map of the uniform sinks: min(max(shift + scale * u, lo), hi). */
typedef struct {
    double shift, scale, lo, hi;
} fastinit_uniform_map;

#if defined(FI_SET1)
/* The fused path exists: blocks go FASTINIT_STREAM_BLOCKS at a time; streaming stores go to an
   address that is a multiple of 64 (a whole cache line per store or pair of stores). */
#define FASTINIT_STREAM_BLOCKS FASTINIT_VEC_BLOCKS
/* With plain stores too?  The fused loop keeps the counters of FASTINIT_VEC_GROUPS registers of
   blocks and the round keys live, which fits AVX-512's 32 registers but spills from the 16 of
   SSE2 and AVX2.  Measured in cache (float32 uniform, M samples/s, fused against chunked):
   AVX-512 4250-4430 against 3610-3780, AVX2 1350-1410 against 1420-1460, SSE2 576-587 against
   680.  So only AVX-512 takes it for plain stores; the others take it for streaming stores,
   where out of cache it runs as fast as the chunked kernels and saves the lines' reads. */
#if defined(__AVX512F__) && defined(__AVX512DQ__)
#define FASTINIT_FUSED_PLAIN 1
#else
#define FASTINIT_FUSED_PLAIN 0
#endif

/* One spelling of the vector operations for every level: FI_OP(add_ps) is _mm512_add_ps,
   _mm256_add_ps or _mm_add_ps. */
#if defined(__AVX512F__) && defined(__AVX512DQ__)
typedef __m512 fi_vf32;
typedef __m512d fi_vf64;
#define FI_OP(name) _mm512_##name
#define FI_AND_SI _mm512_and_si512
#define FI_OR_SI _mm512_or_si512
#define FI_STREAM_SI _mm512_stream_si512
#define FI_CAST_SI_PD _mm512_castsi512_pd
#elif defined(__AVX2__)
typedef __m256 fi_vf32;
typedef __m256d fi_vf64;
#define FI_OP(name) _mm256_##name
#define FI_AND_SI _mm256_and_si256
#define FI_OR_SI _mm256_or_si256
#define FI_STREAM_SI _mm256_stream_si256
#define FI_CAST_SI_PD _mm256_castsi256_pd
#else
typedef __m128 fi_vf32;
typedef __m128d fi_vf64;
#define FI_OP(name) _mm_##name
#define FI_AND_SI _mm_and_si128
#define FI_OR_SI _mm_or_si128
#define FI_STREAM_SI _mm_stream_si128
#define FI_CAST_SI_PD _mm_castsi128_pd
#endif

#define FI_F32_SET1 FI_OP(set1_ps)
#define FI_F64_SET1 FI_OP(set1_pd)
#define FI_F32_ADD FI_OP(add_ps)
#define FI_F32_MUL FI_OP(mul_ps)
#define FI_F32_MAX FI_OP(max_ps)
#define FI_F32_MIN FI_OP(min_ps)
#define FI_F64_ADD FI_OP(add_pd)
#define FI_F64_MUL FI_OP(mul_pd)
#define FI_F64_MAX FI_OP(max_pd)
#define FI_F64_MIN FI_OP(min_pd)
#define FI_STREAM_I(p, v) FI_STREAM_SI((void *)(p), v)
#define FI_STREAM_F32(p, v) FI_OP(stream_ps)((float *)(p), v)
#define FI_STREAM_F64(p, v) FI_OP(stream_pd)((double *)(p), v)
#define FI_F32_STOREU(p, v) FI_OP(storeu_ps)((float *)(p), v)
#define FI_F64_STOREU(p, v) FI_OP(storeu_pd)((double *)(p), v)
/* (w >> 8) as a float: 24 bits, exact. */
#define FI_F32_FROM_TOP24(v) FI_OP(cvtepi32_ps)(FI_OP(srli_epi32)(v, 8))

/* (w64 >> 11) as a double, exactly (the value has 53 bits). */
static inline fi_vf64 fi_f64_from_top53(fastinit_vec v)
{
#if defined(__AVX512F__) && defined(__AVX512DQ__)
    return _mm512_cvtepi64_pd(_mm512_srli_epi64(v, 11));
#else
    /* No 64-bit integer conversion before AVX-512DQ: the top 26 and the low 27 bits each go into
       the mantissa of 2**52, and the two are recombined exactly. */
    const fastinit_vec magic = FI_SET1(0x4330000000000000ULL);
    const fi_vf64 two52 = FI_F64_SET1(4503599627370496.0);
    fastinit_vec hi = FI_OP(srli_epi64)(v, 37);
    fastinit_vec lo = FI_AND_SI(FI_OP(srli_epi64)(v, 11), FI_SET1(0x3FFFFFF));
    fi_vf64 dhi = FI_OP(sub_pd)(FI_CAST_SI_PD(FI_OR_SI(hi, magic)), two52);
    fi_vf64 dlo = FI_OP(sub_pd)(FI_CAST_SI_PD(FI_OR_SI(lo, magic)), two52);
    return FI_F64_ADD(FI_F64_MUL(dhi, FI_F64_SET1(67108864.0)), dlo);
#endif
}

/*
 * Which steps of min(max(shift + scale * u, lo), hi) can change a value, for u in [0, u_max].
 * The others are skipped: with scale >= 0 (which uniform guarantees), shift + scale * u is
 * monotonic in u, so its range is known from its ends.  Skipping a step must leave every bit as
 * it was, signed zeros included:
 * - the add, when shift is +-0: scale * u is never -0, and x + (+-0) = x for such x;
 * - the max, when v >= shift >= lo already, unless lo is -0 (max(+0, -0) is -0 here);
 * - the min, when v <= v_max < hi, or v_max == hi != 0.
 * The multiply by the conversion's 2**-k always folds into scale: (scale * 2**-k) * n and
 * scale * (n * 2**-k) are roundings of the same real number when scale * 2**-k is exact, and the
 * caller keeps the other calls (scale below about 2**-100) on the cached path.
 */
enum { FI_ADD_SHIFT = 1, FI_MAX_LO = 2, FI_MIN_HI = 4 };

static inline int fi_uniform_steps(double shift, double scale, double lo, double hi, double v_max)
{
    int steps = 0;
    if (shift != 0.0)
        steps |= FI_ADD_SHIFT;
    if (!(scale >= 0.0 && shift >= lo && !(lo == 0.0 && signbit(lo))))
        steps |= FI_MAX_LO;
    if (!(scale >= 0.0 && (v_max < hi || (v_max == hi && hi != 0.0))))
        steps |= FI_MIN_HI;
    return steps;
}

/* One vector of words -> one vector of output, through the steps in `steps` (a constant in
   each instantiation below, so the compiler drops the others). */
#define FI_UNIFORM_VALUE(u, steps, SCALE, SHIFT, LO, HI, ADD, MUL, MAX, MIN)                   \
    do {                                                                                     \
        u = MUL(u, SCALE);                                                                   \
        if ((steps) & FI_ADD_SHIFT)                                                          \
            u = ADD(SHIFT, u);                                                               \
        if ((steps) & FI_MAX_LO)                                                             \
            u = MAX(u, LO);                                                                  \
        if ((steps) & FI_MIN_HI)                                                             \
            u = MIN(u, HI);                                                                  \
    } while (0)

/* One uniform sink, for T = F32 or F64: convert, map, store (streaming or plain). */
#define FI_UNIFORM_SINK(T, vtype, convert, p, word, steps, m)                                \
    do {                                                                                     \
        vtype u = convert(word);                                                             \
        FI_UNIFORM_VALUE(u, steps, (m)[0], (m)[1], (m)[2], (m)[3], FI_##T##_ADD,             \
                         FI_##T##_MUL, FI_##T##_MAX, FI_##T##_MIN);                          \
        if (nontemporal)                                                                     \
            FI_STREAM_##T(p, u);                                                             \
        else                                                                                 \
            FI_##T##_STOREU(p, u);                                                           \
    } while (0)

/*
 * Blocks first_block .. first_block + nblocks - 1 of (key, stream), converted by `sink` and
 * stored to dst, 16 bytes per block, with streaming stores if `nontemporal` (dst is then a
 * multiple of 64).  nblocks is a multiple of FASTINIT_STREAM_BLOCKS.  The max/min are the kernels'
 * `v > lo ? v : lo` and `v < hi ? v : hi` (what maxps/minps compute, operand order included).
 */
static FI_ALWAYS_INLINE void
fi_philox_stream_steps(char *dst, const int sink, const int steps, const int nontemporal,
                       uint64_t first_block, int64_t nblocks, uint64_t key, uint64_t stream,
                       const fastinit_uniform_map *map)
{
    fastinit_vec rk0[10], rk1[10];
    fastinit_vec x0[FASTINIT_VEC_GROUPS], x1[FASTINIT_VEC_GROUPS];
    fastinit_vec x2[FASTINIT_VEC_GROUPS], x3[FASTINIT_VEC_GROUPS];
    fastinit_vec words[2];
    const size_t vec_bytes = sizeof(fastinit_vec);
    /* (scale, shift, lo, hi), scale times the conversion's 2**-24 (float32) or 2**-53
       (float64), exactly. */
    const fi_vf32 map32[4] = {FI_F32_SET1((float)map->scale * 5.9604644775390625e-08f),
                              FI_F32_SET1((float)map->shift), FI_F32_SET1((float)map->lo),
                              FI_F32_SET1((float)map->hi)};
    const fi_vf64 map64[4] = {FI_F64_SET1(map->scale * 1.1102230246251565e-16),
                              FI_F64_SET1(map->shift), FI_F64_SET1(map->lo),
                              FI_F64_SET1(map->hi)};
    fastinit_round_keys(rk0, rk1, key);
    for (int64_t done = 0; done < nblocks; done += FASTINIT_VEC_BLOCKS) {
        uint64_t j = first_block + (uint64_t)done;
        for (int g = 0; g < FASTINIT_VEC_GROUPS; g++) {
            fastinit_vec jv = FI_ADD(FI_SET1(j + (uint64_t)g * FASTINIT_VEC_LANES),
                                     FI_LANE_INDEX());
            FI_START(x0, x1, x2, x3, g, jv, stream);
        }
        fastinit_philox_rounds(x0, x1, x2, x3, rk0, rk1);
        for (int g = 0; g < FASTINIT_VEC_GROUPS; g++) {
            fastinit_blocks_in_order(x0[g], x1[g], x2[g], x3[g], words);
            for (int h = 0; h < 2; h++) {
                char *p = dst + (size_t)(16 * done) + (size_t)(2 * g + h) * vec_bytes;
                if (sink == FASTINIT_SINK_RAW) {
                    if (nontemporal)
                        FI_STREAM_I(p, words[h]);
                    else
                        FI_STOREU(p, words[h]);
                } else if (sink == FASTINIT_SINK_UNIFORM_F32) {
                    FI_UNIFORM_SINK(F32, fi_vf32, FI_F32_FROM_TOP24, p, words[h], steps, map32);
                } else {
                    FI_UNIFORM_SINK(F64, fi_vf64, fi_f64_from_top53, p, words[h], steps, map64);
                }
            }
        }
    }
}

#define FI_STREAM_CASE(sink, steps)                                                          \
    case steps:                                                                              \
        fi_philox_stream_steps(dst, sink, steps, nontemporal, first_block, nblocks, key,     \
                               stream, map);                                                 \
        return;

#define FI_STREAM_ALL_STEPS(sink)                                                            \
    switch (steps) {                                                                         \
        FI_STREAM_CASE(sink, 0) FI_STREAM_CASE(sink, 1) FI_STREAM_CASE(sink, 2)              \
        FI_STREAM_CASE(sink, 3) FI_STREAM_CASE(sink, 4) FI_STREAM_CASE(sink, 5)              \
        FI_STREAM_CASE(sink, 6) FI_STREAM_CASE(sink, 7)                                      \
    }

/* Whether the fused path computes this uniform's values (see above): scale * 2**-k exact. */
static inline int fastinit_stream_folds_exactly(int sink, double scale)
{
    if (sink == FASTINIT_SINK_UNIFORM_F32) {
        float s = (float)scale * 5.9604644775390625e-08f;
        return s * 16777216.0f == (float)scale;
    }
    if (sink == FASTINIT_SINK_UNIFORM_F64)
        return (scale * 1.1102230246251565e-16) * 9007199254740992.0 == scale;
    return 1;
}

/* The fused fill: the steps of the output map are worked out once, before the loop. */
static inline void fastinit_philox_stream(char *dst, int sink, int nontemporal,
                                          uint64_t first_block, int64_t nblocks, uint64_t key,
                                          uint64_t stream, const fastinit_uniform_map *map)
{
    int steps;
    if (sink == FASTINIT_SINK_RAW) {
        fi_philox_stream_steps(dst, FASTINIT_SINK_RAW, 0, nontemporal, first_block, nblocks, key,
                               stream, map);
    } else if (sink == FASTINIT_SINK_UNIFORM_F32) {
        /* The largest value: u_max = 1 - 2**-24, in float32 arithmetic as the kernel does it. */
        float v_max = (float)map->shift + (float)map->scale * (1.0f - 5.9604644775390625e-08f);
        steps = fi_uniform_steps((float)map->shift, (float)map->scale, (float)map->lo,
                                 (float)map->hi, v_max);
        FI_STREAM_ALL_STEPS(FASTINIT_SINK_UNIFORM_F32)
    } else {
        double v_max = map->shift + map->scale * (1.0 - 1.1102230246251565e-16);
        steps = fi_uniform_steps(map->shift, map->scale, map->lo, map->hi, v_max);
        FI_STREAM_ALL_STEPS(FASTINIT_SINK_UNIFORM_F64)
    }
}
#else
/* Portable build: no fused path (the caller uses the chunked kernels). */
#define FASTINIT_STREAM_BLOCKS 0
#define FASTINIT_FUSED_PLAIN 0
static inline int fastinit_stream_folds_exactly(int sink, double scale)
{
    (void)sink; (void)scale;
    return 0;
}
static inline void fastinit_philox_stream(char *dst, int sink, int nontemporal,
                                          uint64_t first_block, int64_t nblocks, uint64_t key,
                                          uint64_t stream, const fastinit_uniform_map *map)
{
    (void)dst; (void)sink; (void)nontemporal; (void)first_block; (void)nblocks;
    (void)key; (void)stream; (void)map;
}
#endif

/*
 * Copy nbytes from an L1 scratch buffer to dst, the whole 64-byte lines of dst with streaming
 * stores and the partial lines at either end with plain ones.  The chunked kernels' float32
 * chunks (normal, truncated normal, ...) go through it in streaming fills (_generator.py,
 * STREAMING_BYTES): a chunk is computed in L1 and leaves without its lines being read first.
 */
static inline void fastinit_copy_streaming(char *dst, const char *src, int64_t nbytes)
{
#if defined(FI_SET1)
    int64_t head = (int64_t)((64 - (uintptr_t)dst % 64) % 64);
    int64_t i, j;
    if (head > nbytes)
        head = nbytes;
    memcpy(dst, src, (size_t)head);
    for (i = head; i + 64 <= nbytes; i += 64)
        for (j = 0; j < 64; j += (int64_t)sizeof(fastinit_vec))
            FI_STREAM_I(dst + i + j, FI_LOADU(src + i + j));
    memcpy(dst + i, src + i, (size_t)(nbytes - i));
#else
    memcpy(dst, src, (size_t)nbytes);
#endif
}

/* Make the streaming stores visible to other threads before the fill returns. */
static inline void fastinit_store_fence(void)
{
#if defined(FI_SET1)
    _mm_sfence();
#endif
}

#endif /* FASTINIT_STORE_H */
