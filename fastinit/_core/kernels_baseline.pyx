# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, embedsignature=True
"""fastinit's fill kernels compiled for the baseline of the architecture (SSE2 on x86-64).

The code is kernels.pxi, shared by every level; fastinit/_core/simd.py chooses the module to use.

May import: numpy (and its C API), fastinit._core.bit_generator and philox (cimport), the C
headers of the engine (philox.h, store.h, select.h, half.h, cpu.h); nothing else of fastinit.
"""

include "kernels.pxi"


cdef extern from "cpu.h" nogil:
    int fastinit_cpu_level()


def cpu_level():
    """The best kernel level this CPU and OS support: 0 baseline, 1 avx2, 2 avx512."""
    return fastinit_cpu_level()
