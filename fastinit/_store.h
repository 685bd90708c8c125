/*
 * Streaming (non-temporal) stores for buffers much larger than the caches: the written lines go
 * to memory without being read into the cache first, which saves a read of every line and leaves
 * the caches to the kernels' working set.  The widest store the module's flags allow is used;
 * without SSE2 (non-x86) it is a plain memcpy.
 */
#ifndef FASTINIT_STORE_H
#define FASTINIT_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(FASTINIT_NO_SIMD)
/* portable code only */
#elif defined(__AVX512F__)
#include <immintrin.h>
#define FASTINIT_STREAM_BYTES 64
#define FI_STREAM(dst, src) _mm512_stream_si512((void *)(dst), _mm512_loadu_si512((const void *)(src)))
#elif defined(__AVX__)
#include <immintrin.h>
#define FASTINIT_STREAM_BYTES 32
#define FI_STREAM(dst, src) \
    _mm256_stream_si256((__m256i *)(dst), _mm256_loadu_si256((const __m256i *)(src)))
#elif defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define FASTINIT_STREAM_BYTES 16
#define FI_STREAM(dst, src) _mm_stream_si128((__m128i *)(dst), _mm_loadu_si128((const __m128i *)(src)))
#endif

/* dst[0 .. nbytes) = src[0 .. nbytes): the aligned middle with streaming stores. */
static inline void fastinit_copy_streaming(char *dst, const char *src, size_t nbytes)
{
#ifdef FI_STREAM
    size_t head = (FASTINIT_STREAM_BYTES - ((uintptr_t)dst % FASTINIT_STREAM_BYTES))
                  % FASTINIT_STREAM_BYTES;
    if (head > nbytes)
        head = nbytes;
    memcpy(dst, src, head);
    size_t i = head;
    for (; i + FASTINIT_STREAM_BYTES <= nbytes; i += FASTINIT_STREAM_BYTES)
        FI_STREAM(dst + i, src + i);
    memcpy(dst + i, src + i, nbytes - i);
#else
    memcpy(dst, src, nbytes);
#endif
}

/* Make the streaming stores visible to other threads before the fill returns. */
static inline void fastinit_store_fence(void)
{
#ifdef FI_STREAM
    _mm_sfence();
#endif
}

#endif /* FASTINIT_STORE_H */
