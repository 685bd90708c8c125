# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, embedsignature=True
"""fastinit's fill kernels compiled for x86-64 with AVX2 and FMA.

The code is kernels.pxi, shared by every level; fastinit/_core/simd.py chooses the module to use.

May import: numpy (and its C API), fastinit._core.bit_generator and philox (cimport), the C
headers of the engine (philox.h, store.h, select.h, half.h, cpu.h); nothing else of fastinit.
"""

include "kernels.pxi"
