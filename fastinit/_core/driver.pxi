# Part of kernels.pxi (included there, in order): The chunk driver and the region walk: any range of
# any call, chunk by chunk.

# ------------------------------------------------------------------------------------------------
# The chunk driver and the region walk
# ------------------------------------------------------------------------------------------------

cdef void _fill_chunked(char* out, Py_ssize_t n, uint64_t first, Py_ssize_t pos,
                        const Kernel* k, const FillParams* p) noexcept nogil:
    # Work goes by chunks of whole Philox blocks; a chunk that covers only part of the range (its
    # first block starts before `first`, or its last block runs past the end) is computed into an
    # L1 scratch buffer and the needed part copied out, and so is every chunk of a streaming fill
    # (p.streaming), whose copy is non-temporal.  Array parameters are applied to each
    # chunk while it is in L1 (pos: the block-flat index of out[0]).
    cdef uint32_t words[4 * CHUNK]               # a chunk's words: k.chunk * words_per_sample
    cdef double scratch[2 * CHUNK]               # a chunk's samples: k.chunk * itemsize bytes
    cdef int64_t per_block = 4 // k.words_per_sample
    cdef uint64_t end = first + <uint64_t>n
    cdef uint64_t start = first - first % <uint64_t>per_block
    cdef uint64_t stop, stop_aligned, copy_from
    cdef int64_t m
    cdef int compute_itemsize = 4 if k.half else k.itemsize
    while start < end:
        stop = start + k.chunk if start + k.chunk < end else end
        stop_aligned = (stop + per_block - 1) // per_block * per_block
        m = <int64_t>(stop_aligned - start)
        fastinit_philox_words(words, start * k.words_per_sample // 4,
                              m * k.words_per_sample // 4, p.key, p.stream)
        copy_from = start if start > first else first
        if k.half:
            # float32 values into the L1 scratch, then rounded once into the 2-byte output.
            k.transform(scratch, words, m, start, p)
            _map_chunk((<float*>scratch) + (copy_from - start), <Py_ssize_t>(stop - copy_from),
                       pos + <Py_ssize_t>(copy_from - first), compute_itemsize, p)
            _store_half(<uint16_t*>(out + (copy_from - first) * 2),
                        (<float*>scratch) + (copy_from - start), <Py_ssize_t>(stop - copy_from),
                        k.half)
        elif start >= first and stop_aligned == stop and not (p.streaming and k.itemsize == 4):
            k.transform(out + (start - first) * k.itemsize, words, m, start, p)
            _map_chunk(out + (start - first) * k.itemsize, m, pos + <Py_ssize_t>(start - first),
                       compute_itemsize, p)
        else:
            # Through the L1 scratch: a partial chunk, or a float32 chunk of a streaming fill.
            # Streaming only float32: out of cache on one thread (Intel Xeon) it made normal
            # fills 9% faster and truncated ones 6%, but float64 normal 4% slower (its plain
            # stores cost it about 4%, the copy about 6%).
            k.transform(scratch, words, m, start, p)
            _map_chunk((<char*>scratch) + (copy_from - start) * k.itemsize,
                       <Py_ssize_t>(stop - copy_from), pos + <Py_ssize_t>(copy_from - first),
                       compute_itemsize, p)
            if p.streaming and k.itemsize == 4:
                fastinit_copy_streaming(out + (copy_from - first) * k.itemsize,
                                        (<char*>scratch) + (copy_from - start) * k.itemsize,
                                        (stop - copy_from) * k.itemsize)
            else:
                memcpy(out + (copy_from - first) * k.itemsize,
                       (<char*>scratch) + (copy_from - start) * k.itemsize,
                       (stop - copy_from) * k.itemsize)
        start = stop_aligned


cdef void fill_range(char* out, Py_ssize_t n, uint64_t first, Py_ssize_t pos, const Kernel* k,
                     const FillParams* p) noexcept nogil:
    """Fill out[0 .. n) with samples first .. first + n - 1 of the call described by p; out[0] is
    element pos of the output block (C order), which array parameters are indexed by.

    Kernels with a fused path (raw words, uniforms: _store.h) write the whole Philox groups of the
    range from the registers, with streaming stores if p.streaming (below AVX-512: only then);
    the ends of the range, and every other kernel, go through the chunked kernels.
    """
    cdef int64_t per_block = 4 // k.words_per_sample
    cdef int64_t group = FASTINIT_STREAM_BLOCKS * per_block     # samples per fused step
    cdef uintptr_t address = <uintptr_t>out
    cdef Py_ssize_t head, body
    cdef fastinit_uniform_map m
    if (k.sink >= 0 and group > 0 and n >= group and address % k.itemsize == 0
            and (p.streaming or FASTINIT_FUSED_PLAIN)
            and p.elements == NULL and fastinit_stream_folds_exactly(k.sink, p.scale)):
        # The fused part starts a block; streaming stores also want a 64-byte address, and moving
        # 64 bytes on keeps (first + head) % per_block, so there is one chance to align both.
        head = <Py_ssize_t>((per_block - first % per_block) % per_block)
        if p.streaming:
            head = <Py_ssize_t>((64 - address % 64) % 64) // k.itemsize
        if head < n and (first + <uint64_t>head) % <uint64_t>per_block == 0:
            body = (n - head) // group * group
            if body > 0:
                m.shift, m.scale, m.lo, m.hi = p.shift, p.scale, p.lo, p.hi
                _fill_chunked(out, head, first, pos, k, p)
                fastinit_philox_stream(out + head * k.itemsize, k.sink, p.streaming,
                                       (first + <uint64_t>head) // <uint64_t>per_block,
                                       body // per_block, p.key, p.stream, &m)
                _fill_chunked(out + (head + body) * k.itemsize, n - head - body,
                              first + <uint64_t>(head + body), pos + head + body, k, p)
                return
    _fill_chunked(out, n, first, pos, k, p)
