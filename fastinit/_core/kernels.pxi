# The fill kernels, compiled once per instruction-set level: kernels_baseline.pyx,
# kernels_avx2.pyx and kernels_avx512.pyx each include this file and are built with their own
# compiler flags (setup.py); fastinit/_core/simd.py picks one at import.  The code is the same for
# every level and -ffp-contract=off keeps the compiler from fusing a*b+c, so every level produces
# the same bits: only the width of the vectors differs.  The fused multiply-adds the stream
# specifies are written out (fma, fmaf): one instruction with AVX2 and AVX-512, C's correctly
# rounded fma at the baseline, the same result.
#
# Every kernel has the shape (pointer, count, first index, parameters), where the parameters
# carry the key and the stream number: any sub-range of any call can be filled on its own, which
# is what regions, threads and out-of-core fills are built on.  Words come from philox.h;
# everything that turns words into numbers is here, in loops that GCC vectorizes (no libm calls
# in them but fma: log, sin and cos are our own polynomials).  Nothing here validates:
# _generator.py has done it before the call.  The stream is specified in docs/stream.md.

from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int32_t, int64_t, uint16_t, uint32_t, uint64_t, uintptr_t
from libc.string cimport memcpy
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.math cimport INFINITY, fma, fmaf, sqrt, sqrtf

cimport numpy as cnp
import numpy as np

from fastinit._core.bit_generator cimport Philox
from fastinit._core.philox cimport (fastinit_philox4x32_10, fastinit_philox_words,
                               fastinit_philox_listed, FASTINIT_PHILOX_PATH)


cdef extern from *:
    """
    #ifndef FASTINIT_CFLAGS
    #define FASTINIT_CFLAGS ""
    #endif
    /* AVX-512DQ converts 64-bit integers to double in one instruction (vcvtuqq2pd); below it
       the conversion is emulated with exact steps (_exact_f64), the same value for n < 2**53. */
    #ifdef __AVX512DQ__
    #define FASTINIT_HAS_U64_TO_F64 1
    #else
    #define FASTINIT_HAS_U64_TO_F64 0
    #endif
    /* The 64-bit value (p[1] << 32) | p[0] of two consecutive words: on a little-endian target
       that is the 64-bit word at p, loaded as such, so a vector loop reads whole 64-bit lanes
       instead of splitting the words into 32-bit lanes and joining them again. */
    #if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    typedef uint64_t fastinit_word_pair __attribute__((may_alias, aligned(4)));
    #define FASTINIT_PAIR64(p) (*(const fastinit_word_pair *)(p))
    #else
    #define FASTINIT_PAIR64(p) (((uint64_t)(p)[1] << 32) | (uint64_t)(p)[0])
    #endif
    /* a * b + c where the product a * b is exact (b a power of two): the fused and the unfused
       forms are then the same number, so each level takes the one it does in one instruction. */
    #ifdef __FMA__
    #define FASTINIT_EXACT_MUL_ADD_F32(a, b, c) fmaf(a, b, c)
    #define FASTINIT_EXACT_MUL_ADD_F64(a, b, c) fma(a, b, c)
    #else
    #define FASTINIT_EXACT_MUL_ADD_F32(a, b, c) ((a) * (b) + (c))
    #define FASTINIT_EXACT_MUL_ADD_F64(a, b, c) ((a) * (b) + (c))
    #endif
    """
    const char* FASTINIT_CFLAGS
    const bint FASTINIT_HAS_U64_TO_F64
    uint64_t _pair64 "FASTINIT_PAIR64"(const uint32_t* p) nogil
    float _exact_mul_add_f32 "FASTINIT_EXACT_MUL_ADD_F32"(float a, float b, float c) nogil
    double _exact_mul_add_f64 "FASTINIT_EXACT_MUL_ADD_F64"(double a, double b, double c) nogil


cdef extern from "numpy/ndarraytypes.h":
    enum: NPY_HALF


cdef extern from "half.h" nogil:
    const bint FASTINIT_HAS_F16C
    void fastinit_store_f16_f16c(uint16_t* dst, const float* src, Py_ssize_t n)


cdef extern from "select.h" nogil:
    Py_ssize_t fastinit_zeros32(const int32_t* flags, Py_ssize_t n, int32_t* out)
    Py_ssize_t fastinit_zeros64(const int64_t* flags, Py_ssize_t n, int32_t* out)
    Py_ssize_t fastinit_map_outside32(float* x, Py_ssize_t n, float a, float b, float shift,
                                      float scale, float lo, float hi, int32_t* out)
    Py_ssize_t fastinit_map_outside64(double* x, Py_ssize_t n, double a, double b,
                                      double shift, double scale, double lo, double hi,
                                      int32_t* out)
    void fastinit_select_init()


cdef extern from "store.h" nogil:
    enum:
        FASTINIT_STREAM_BLOCKS
        FASTINIT_FUSED_PLAIN
        FASTINIT_SINK_RAW
        FASTINIT_SINK_UNIFORM_F32
        FASTINIT_SINK_UNIFORM_F64
    ctypedef struct fastinit_uniform_map:
        double shift, scale, lo, hi
    void fastinit_philox_stream(char* dst, int sink, bint nontemporal, uint64_t first_block,
                                int64_t nblocks, uint64_t key, uint64_t stream,
                                const fastinit_uniform_map* m)
    bint fastinit_stream_folds_exactly(int sink, double scale)
    void fastinit_copy_streaming(char* dst, const char* src, int64_t nbytes)
    void fastinit_store_fence()

cnp.import_array()


# The kernels by job, in dependency order (each part uses only those before it).
include "params.pxi"
include "math.pxi"
include "transforms.pxi"
include "truncnorm.pxi"
include "half.pxi"
include "elements.pxi"
include "driver.pxi"
include "entry.pxi"
