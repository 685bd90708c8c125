# Part of kernels.pxi (included there, in order): The transforms of raw words, uniforms and normals:
# one chunk's words -> its values.

# ------------------------------------------------------------------------------------------------
# Transforms: words of one chunk -> n values at dst (n is a whole number of blocks)
# ------------------------------------------------------------------------------------------------

cdef void _raw_u32(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                   const FillParams* p) noexcept nogil:
    memcpy(dst, w, n * 4)

# The output map is fused into the loops that make the variates (one pass over the chunk); it is
# the same arithmetic as _affine_clamp.  normal() clamps to infinite bounds, which changes no
# value; a truncated_normal whose bounds no Box-Muller value can reach runs here with its own.

cdef void _uniform_f32(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                       const FillParams* p) noexcept nogil:
    cdef float* x = <float*>dst
    cdef float shift = <float>p.shift, scale = <float>p.scale
    cdef float lo = <float>p.lo, hi = <float>p.hi
    cdef float v
    cdef Py_ssize_t i
    for i in range(n):
        v = shift + scale * _u01_f32(w[i])
        v = v if v > lo else lo
        x[i] = v if v < hi else hi

cdef void _uniform_f64(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                       const FillParams* p) noexcept nogil:
    cdef double* x = <double*>dst
    cdef double v
    cdef Py_ssize_t i
    for i in range(n):
        v = p.shift + p.scale * _u01_f64(_pair64(&w[2 * i]))
        v = v if v > p.lo else p.lo
        x[i] = v if v < p.hi else p.hi

cdef inline void _normal_pairs(real* x, const uint32_t* w, Py_ssize_t pairs, real shift,
                               real scale, real lo, real hi, bint clamp) noexcept nogil:
    # Pair k from words 2k, 2k+1 (float32) or 4k .. 4k+3 (float64), through the output map.
    cdef real z0, z1, v0, v1
    cdef Py_ssize_t k
    for k in range(pairs):
        if real is float:
            _box_muller_f32(w[2 * k], w[2 * k + 1], &z0, &z1)
        else:
            _box_muller_f64(_pair64(&w[4 * k]), _pair64(&w[4 * k + 2]), &z0, &z1)
        v0 = shift + scale * z0
        v1 = shift + scale * z1
        if clamp:
            v0 = v0 if v0 > lo else lo
            v1 = v1 if v1 > lo else lo
            v0 = v0 if v0 < hi else hi
            v1 = v1 if v1 < hi else hi
        x[2 * k] = v0
        x[2 * k + 1] = v1

# normal() has infinite bounds, and shift + scale * z with finite shift and scale is never NaN,
# so the clamp changes no value there: that loop goes without it (4 of its ~75 vector
# operations per 16 pairs).  The inline helper is specialized on the constant `clamp`.

cdef inline void _normal(real* x, const uint32_t* w, Py_ssize_t n,
                         const FillParams* p) noexcept nogil:
    cdef real shift = <real>p.shift
    cdef real scale = <real>p.scale
    cdef real lo = <real>p.lo
    cdef real hi = <real>p.hi
    if lo == -INFINITY and hi == INFINITY:
        _normal_pairs(x, w, n // 2, shift, scale, lo, hi, False)
    else:
        _normal_pairs(x, w, n // 2, shift, scale, lo, hi, True)

cdef void _normal_f32(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                      const FillParams* p) noexcept nogil:
    _normal(<float*>dst, w, n, p)

cdef void _normal_f64(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                      const FillParams* p) noexcept nogil:
    _normal(<double*>dst, w, n, p)
