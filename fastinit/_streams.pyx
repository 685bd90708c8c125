# cython: language_level=3, embedsignature=True
"""A Generator's stream numbers: every call takes the next one, atomically, without a lock.

take() reads and advances a C integer while holding the GIL and never lets it go in between, so
two Python threads can never be handed the same number.  A threading.Lock around a Python int did
the same at about 0.3 us per call, a fifth of a 1,000-element fill.  (This module does not declare
itself free-threading compatible, so a free-threaded CPython keeps the GIL on when it is imported.)
"""
from libc.stdint cimport uint64_t

cdef uint64_t _LAST = 0xFFFFFFFFFFFFFFFF


cdef class StreamCounter:
    """The next stream number, in [0, 2**64]; 2**64 means every number has been used."""

    def __init__(self, value=0):
        self.value = value

    @property
    def value(self):
        """The number the next take() returns (2**64 once they are all used)."""
        return (1 << 64) if self.exhausted else self.next_stream

    @value.setter
    def value(self, value):
        value = int(value)
        if not 0 <= value <= (1 << 64):
            raise ValueError(f"a stream counter holds [0, 2**64] (2**64: all used), got {value}")
        self.exhausted = value == (1 << 64)
        self.next_stream = 0 if self.exhausted else value

    cdef int take_into(self, uint64_t* stream) except -1:
        if self.exhausted:
            raise OverflowError("this generator has used all 2**64 stream numbers")
        stream[0] = self.next_stream
        if self.next_stream == _LAST:
            self.exhausted = True
        else:
            self.next_stream += 1
        return 0

    def take(self):
        """Return the next stream number and advance past it."""
        cdef uint64_t stream
        self.take_into(&stream)
        return stream

    def __reduce__(self):
        return (StreamCounter, (self.value,))
