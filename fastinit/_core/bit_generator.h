/*
 * fastinit.Philox's reads through NumPy's bitgen_t: the next words of one stream, from a buffer
 * that the current SIMD level's Philox fills (fastinit/_core/bit_generator.pyx holds the rest).
 *
 * The position is word `4 * next_block - FASTINIT_BUFFER_WORDS + pos` of `stream`: buffer[]
 * ends with the words before block `next_block`, read up to pos (pos == FASTINIT_BUFFER_WORDS:
 * all, or none filled yet).  The first refill after a move fills only the last
 * FASTINIT_FIRST_WORDS of the buffer: a call that takes a few values (a scalar) then does not pay
 * for 512 words.  Here in C, not Cython, so that the
 * hot paths are plain inline functions of a few instructions: NumPy calls them once per value.
 */
#ifndef FASTINIT_BIT_GENERATOR_H
#define FASTINIT_BIT_GENERATOR_H

#include <stdint.h>

/* 128 blocks, 2 KiB: a few vector iterations of any level, and a refill (~0.2 us) that a small
 * call does not notice. */
#define FASTINIT_BUFFER_WORDS 512
#define FASTINIT_FIRST_WORDS 32

typedef void (*fastinit_words_fn)(uint32_t *words, uint64_t first_block, int64_t nblocks,
                                  uint64_t key, uint64_t stream);

typedef struct {
    uint32_t *buffer;       /* 64-byte aligned, inside storage: whole-line vector stores */
    int pos;
    int warm;               /* refilled since the last move: refills fill the whole buffer */
    int exhausted;          /* every stream number has been taken by Generator calls */
    uint64_t key;
    uint64_t stream;        /* the stream read, and the next one a call may take */
    uint64_t next_block;
    fastinit_words_fn fill;
    uint32_t storage[FASTINIT_BUFFER_WORDS + 16];
} fastinit_position;

#if defined(__GNUC__)
#define FI_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FI_NOINLINE __attribute__((noinline))
#else
#define FI_UNLIKELY(x) (x)
#define FI_NOINLINE
#endif

static void fastinit_refill(fastinit_position *p)
{
    const int words = p->warm ? FASTINIT_BUFFER_WORDS : FASTINIT_FIRST_WORDS;
    p->pos = FASTINIT_BUFFER_WORDS - words;
    p->fill(p->buffer + p->pos, p->next_block, words / 4, p->key, p->stream);
    p->next_block += (uint64_t)(words / 4);
    p->warm = 1;
}

/* Move to word `word` = 4 * block + offset of `stream` (offset in 0..3). */
static void fastinit_seek(fastinit_position *p, uint64_t key, uint64_t stream, uint64_t block,
                          int offset)
{
    p->buffer = (uint32_t *)(((uintptr_t)p->storage + 63) & ~(uintptr_t)63);
    p->key = key;
    p->stream = stream;
    p->exhausted = 0;
    p->next_block = block;
    p->pos = FASTINIT_BUFFER_WORDS;
    p->warm = 0;
    if (offset) {
        fastinit_refill(p);
        p->pos += offset;
    }
}

/* Whether no word of the current stream has been read. */
static inline int fastinit_untouched(const fastinit_position *p)
{
    return (p->next_block == 0 && p->pos == FASTINIT_BUFFER_WORDS);
}

/* The refill paths, out of line: the inline fast paths then need no stack frame. */
static FI_NOINLINE uint32_t fastinit_next_uint32_refill(fastinit_position *p)
{
    fastinit_refill(p);
    return p->buffer[p->pos++];
}

static FI_NOINLINE uint64_t fastinit_next_uint64_slow(fastinit_position *p);

static inline uint32_t fastinit_next_uint32_inline(fastinit_position *p)
{
    int pos = p->pos;
    if (FI_UNLIKELY(pos >= FASTINIT_BUFFER_WORDS))
        return fastinit_next_uint32_refill(p);
    p->pos = pos + 1;
    return p->buffer[pos];
}

/* Two words, the first in the low half: w[i] | w[i+1] << 32. */
static inline uint64_t fastinit_next_uint64_inline(fastinit_position *p)
{
    int pos = p->pos;
    if (FI_UNLIKELY(pos > FASTINIT_BUFFER_WORDS - 2))
        return fastinit_next_uint64_slow(p);
    p->pos = pos + 2;
    return (uint64_t)p->buffer[pos] | ((uint64_t)p->buffer[pos + 1] << 32);
}

static FI_NOINLINE uint64_t fastinit_next_uint64_slow(fastinit_position *p)
{
    uint64_t lo = fastinit_next_uint32_inline(p);
    return lo | ((uint64_t)fastinit_next_uint32_inline(p) << 32);
}

/* The bitgen_t functions. */
static uint32_t fastinit_next_uint32(void *st)
{
    return fastinit_next_uint32_inline((fastinit_position *)st);
}

static uint64_t fastinit_next_uint64(void *st)
{
    return fastinit_next_uint64_inline((fastinit_position *)st);
}

/* As fastinit's float64 random(): the top 53 bits of next_uint64, times 2**-53.  Through int64:
 * the value fits in 53 bits, and x86-64's baseline has no uint64 -> double instruction. */
static double fastinit_next_double(void *st)
{
    return (double)(int64_t)(fastinit_next_uint64_inline((fastinit_position *)st) >> 11)
           * (1.0 / 9007199254740992.0);
}

static uint64_t fastinit_next_raw(void *st)
{
    return fastinit_next_uint32_inline((fastinit_position *)st);
}

/*
 * Bounded integers by Lemire's nearly divisionless method (D. Lemire, "Fast random integer
 * generation in an interval", ACM TOMACS 29 (2019); arXiv:1805.10941), taking words in the order
 * NumPy's random_bounded_uint32_fill / random_bounded_uint64_fill take them with
 * use_masked=False: the same integers as numpy.random.Generator(philox).integers, without an
 * indirect call per value.  `rng` is the inclusive width high - low; values are off + [0, rng].
 */
static inline uint32_t fastinit_lemire32(fastinit_position *p, uint32_t rng, uint32_t threshold)
{
    const uint32_t excl = rng + 1;
    uint64_t m = (uint64_t)fastinit_next_uint32_inline(p) * excl;
    while ((uint32_t)m < threshold)         /* threshold < excl: Lemire's leftover test */
        m = (uint64_t)fastinit_next_uint32_inline(p) * excl;
    return (uint32_t)(m >> 32);
}

/* A 32-bit width, values into 32-bit (int32) or 64-bit (int64) outputs: NumPy takes one word
 * a try in both. */
#define FASTINIT_BOUNDED_FILL32(name, type)                                                      \
    static void name(fastinit_position *p, type off, uint32_t rng, int64_t n, type *out)        \
    {                                                                                            \
        int64_t i;                                                                               \
        if (rng == 0) {                                                                          \
            for (i = 0; i < n; i++)                                                              \
                out[i] = off;                                                                    \
        } else if (rng == 0xFFFFFFFFu) {          /* every value: one word each */               \
            for (i = 0; i < n; i++)                                                              \
                out[i] = off + fastinit_next_uint32_inline(p);                                   \
        } else {                                                                                 \
            const uint32_t threshold = (UINT32_MAX - rng) % (rng + 1);                           \
            for (i = 0; i < n; i++)                                                              \
                out[i] = off + fastinit_lemire32(p, rng, threshold);                             \
        }                                                                                        \
    }
FASTINIT_BOUNDED_FILL32(fastinit_bounded_fill32, uint32_t)
FASTINIT_BOUNDED_FILL32(fastinit_bounded_fill32_wide, uint64_t)

/* The high 64 bits of x * y; the low ones in *low. */
static inline uint64_t fastinit_mulhi64(uint64_t x, uint64_t y, uint64_t *low)
{
#if defined(__SIZEOF_INT128__)
    __uint128_t m = (__uint128_t)x * y;
    *low = (uint64_t)m;
    return (uint64_t)(m >> 64);
#else
    uint64_t x0 = x & 0xFFFFFFFFu, x1 = x >> 32, y0 = y & 0xFFFFFFFFu, y1 = y >> 32;
    uint64_t w0 = x0 * y0, t = x1 * y0 + (w0 >> 32), w1 = (t & 0xFFFFFFFFu) + x0 * y1;
    *low = x * y;
    return x1 * y1 + (t >> 32) + (w1 >> 32);
#endif
}

static void fastinit_bounded_fill64(fastinit_position *p, uint64_t off, uint64_t rng,
                                    int64_t n, uint64_t *out)
{
    int64_t i;
    if (rng <= 0xFFFFFFFFu) {
        fastinit_bounded_fill32_wide(p, off, (uint32_t)rng, n, out);
    } else if (rng == UINT64_MAX) {
        for (i = 0; i < n; i++)
            out[i] = off + fastinit_next_uint64_inline(p);
    } else {
        const uint64_t excl = rng + 1, threshold = (UINT64_MAX - rng) % excl;
        for (i = 0; i < n; i++) {
            uint64_t low, high = fastinit_mulhi64(fastinit_next_uint64_inline(p), excl, &low);
            while (low < threshold)
                high = fastinit_mulhi64(fastinit_next_uint64_inline(p), excl, &low);
            out[i] = off + high;
        }
    }
}

/*
 * A Fisher-Yates shuffle with NumPy's draws (numpy.random.Generator.shuffle of a 1-d array, and
 * its random_interval): for i = n-1 down to 1, j is the first word (i < 2**32) or word pair
 * (wider), masked to the smallest all-ones mask >= i, that is <= i; then x[i] and x[j] swap.
 */
static inline uint64_t fastinit_interval(fastinit_position *p, uint64_t max)
{
    uint64_t mask = max, value;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (max <= 0xFFFFFFFFu) {
        while ((value = (fastinit_next_uint32_inline(p) & mask)) > max)
            ;
    } else {
        while ((value = (fastinit_next_uint64_inline(p) & mask)) > max)
            ;
    }
    return value;
}

#define FASTINIT_SHUFFLE(name, type)                                                             \
    static void name(fastinit_position *p, int64_t n, type *x)                                  \
    {                                                                                            \
        for (int64_t i = n - 1; i >= 1; i--) {                                                  \
            int64_t j = (int64_t)fastinit_interval(p, (uint64_t)i);                             \
            type t = x[j];                                                                       \
            x[j] = x[i];                                                                         \
            x[i] = t;                                                                            \
        }                                                                                        \
    }
FASTINIT_SHUFFLE(fastinit_shuffle32, uint32_t)
FASTINIT_SHUFFLE(fastinit_shuffle64, uint64_t)

#endif
