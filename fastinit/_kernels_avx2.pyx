# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False, embedsignature=True
"""fastinit's fill kernels compiled for x86-64 with AVX2 and FMA.

The code is _kernels.pxi, shared by every level; fastinit/_simd.py chooses the module to use.
"""

include "_kernels.pxi"
