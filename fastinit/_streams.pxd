# Cython view of fastinit/_streams.pyx, for the kernel modules' fill_out.
from libc.stdint cimport uint64_t


cdef class StreamCounter:
    cdef uint64_t next_stream
    cdef bint exhausted

    cdef int take_into(self, uint64_t* stream) except -1
