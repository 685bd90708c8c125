# Cython view of fastinit/_core/bit_generator.pyx (and bit_generator.h), for the kernel modules'
# fill_call.
from libc.stdint cimport int64_t, uint32_t, uint64_t
from numpy.random cimport BitGenerator


cdef extern from "bit_generator.h" nogil:
    enum: FASTINIT_BUFFER_WORDS
    # A kernel module's Philox word function (philox.h, compiled for its SIMD level).
    ctypedef void (*fastinit_words_fn)(uint32_t* words, uint64_t first_block, int64_t nblocks,
                                       uint64_t key, uint64_t stream)
    ctypedef struct fastinit_position:
        int pos
        bint exhausted
        uint64_t key
        uint64_t stream
        uint64_t next_block
        fastinit_words_fn fill
    void fastinit_seek(fastinit_position* p, uint64_t key, uint64_t stream, uint64_t block,
                       int offset)
    bint fastinit_untouched(const fastinit_position* p)
    uint32_t fastinit_next_uint32(void* st)
    uint64_t fastinit_next_uint64(void* st)
    double fastinit_next_double(void* st)
    uint64_t fastinit_next_raw(void* st)
    void fastinit_bounded_fill32(fastinit_position* p, uint32_t off, uint32_t rng, int64_t n,
                                 uint32_t* out)
    void fastinit_bounded_fill64(fastinit_position* p, uint64_t off, uint64_t rng, int64_t n,
                                 uint64_t* out)
    void fastinit_shuffle32(fastinit_position* p, int64_t n, uint32_t* x)
    void fastinit_shuffle64(fastinit_position* p, int64_t n, uint64_t* x)


cdef class Philox(BitGenerator):
    cdef fastinit_position position
    cdef bint shared            # reachable by other code: stream taking holds the lock

    cdef int take_into(self, uint64_t* stream) except -1
    cdef int _take(self, uint64_t* stream) except -1
    cdef void _seek(self, uint64_t key, uint64_t stream, object word)
    cdef object _word(self)
    cdef void _move(self, uint64_t key, object stream, object word)
