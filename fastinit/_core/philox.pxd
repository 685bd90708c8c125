# Cython view of the Philox4x32-10 bit generator in philox.h.
from libc.stdint cimport int64_t, uint32_t, uint64_t


cdef extern from "philox.h" nogil:
    void fastinit_philox4x32_10(const uint32_t* counter, uint32_t k0, uint32_t k1,
                                uint32_t* out)
    void fastinit_philox_words(uint32_t* words, uint64_t first_block, int64_t nblocks,
                               uint64_t key, uint64_t stream)
    void fastinit_philox_listed(uint32_t* words, const uint64_t* blocks, int64_t nblocks,
                                uint64_t key, uint64_t stream)
    const char* FASTINIT_PHILOX_PATH
