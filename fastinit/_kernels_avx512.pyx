# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, embedsignature=True
"""fastinit's fill kernels compiled for x86-64 with AVX-512 (F, DQ, BW, VL).

The code is _kernels.pxi, shared by every level; fastinit/_simd.py chooses the module to use.

May import: numpy (and its C API), fastinit._bit_generator and _philox (cimport), the C
headers of the engine (_philox.h, _store.h, _select.h, _half.h, _cpu.h); nothing else of fastinit.
"""

include "_kernels.pxi"
