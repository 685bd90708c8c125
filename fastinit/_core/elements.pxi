# Part of kernels.pxi (included there, in order): Array-valued parameters: the output map per
# element, applied to a chunk in L1.

# ------------------------------------------------------------------------------------------------
# Array-valued parameters: the output map per element
# ------------------------------------------------------------------------------------------------

cdef inline void _map_run(real* x, Py_ssize_t n, const real* shift, const real* scale,
                          const real* lo, const real* hi, bint const_shift, bint const_scale,
                          bint const_bounds) noexcept nogil:
    # x[i] = min(max(shift + scale * x[i], lo), hi): the arithmetic of _affine_clamp, per element.
    # A parameter constant along the run is read once.  The callers pass literal flags, so each
    # call site compiles to its own vectorized loop.
    cdef real s0 = shift[0]
    cdef real k0 = scale[0]
    cdef real lo0 = lo[0]
    cdef real hi0 = hi[0]
    cdef real v, low, high
    cdef Py_ssize_t i
    for i in range(n):
        v = (s0 if const_shift else shift[i]) + (k0 if const_scale else scale[i]) * x[i]
        low = lo0 if const_bounds else lo[i]
        high = hi0 if const_bounds else hi[i]
        v = v if v > low else low
        x[i] = v if v < high else high

cdef void _map_elements(real* x, Py_ssize_t n, Py_ssize_t pos, const ElementMap* em) noexcept nogil:
    # x[j] = the map of block element pos + j, run by run along the last axis.  Along a run each
    # parameter is constant (broadcast), contiguous, or strided (copied into an L1 buffer).
    cdef real buffers[4][CHUNK]
    cdef const real* ptr[4]
    cdef bint const[4]
    cdef Py_ssize_t index[MAX_NDIM]
    cdef Py_ssize_t offset[4]
    cdef Py_ssize_t d, q, j, r, run, step, done = 0
    cdef Py_ssize_t last = em.ndim - 1
    if em.ndim == 0:
        for q in range(4):
            ptr[q] = <const real*>em.view[q].data
        _map_run(x, 1, ptr[0], ptr[1], ptr[2], ptr[3], True, True, True)
        return
    r = pos
    for d in range(last, -1, -1):
        index[d] = r % em.shape[d]
        r //= em.shape[d]
    for q in range(4):
        offset[q] = 0
        for d in range(em.ndim):
            offset[q] += index[d] * em.view[q].stride[d]
    while done < n:
        run = em.shape[last] - index[last]
        run = run if run < n - done else n - done
        run = run if run < CHUNK else CHUNK
        for q in range(4):
            step = em.view[q].stride[last]
            ptr[q] = (<const real*>em.view[q].data) + offset[q]
            const[q] = step == 0
            if step != 0 and step != 1:
                for j in range(run):
                    buffers[q][j] = ptr[q][j * step]
                ptr[q] = buffers[q]
        if const[2] != const[3]:
            # One bound constant, the other not: make the constant one a run too.
            q = 2 if const[2] else 3
            for j in range(run):
                buffers[q][j] = ptr[q][0]
            ptr[q] = buffers[q]
            const[q] = False
        if const[0] and const[1] and const[2]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], True, True, True)
        elif const[0] and const[1]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], True, True, False)
        elif const[0] and const[2]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], True, False, True)
        elif const[0]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], True, False, False)
        elif const[1] and const[2]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], False, True, True)
        elif const[1]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], False, True, False)
        elif const[2]:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], False, False, True)
        else:
            _map_run(x + done, run, ptr[0], ptr[1], ptr[2], ptr[3], False, False, False)
        done += run
        # The next run: advance the odometer, carrying over the axes before the last.
        index[last] += run
        for q in range(4):
            offset[q] += run * em.view[q].stride[last]
        d = last
        while d > 0 and index[d] == em.shape[d]:
            index[d] = 0
            index[d - 1] += 1
            for q in range(4):
                offset[q] += em.view[q].stride[d - 1] - em.shape[d] * em.view[q].stride[d]
            d -= 1

cdef inline void _map_chunk(void* x, Py_ssize_t n, Py_ssize_t pos, int compute_itemsize,
                            const FillParams* p) noexcept nogil:
    if p.elements == NULL or n <= 0:
        return
    if compute_itemsize == 4:
        _map_elements(<float*>x, n, pos, p.elements)
    else:
        _map_elements(<double*>x, n, pos, p.elements)
