# Part of kernels.pxi (included there, in order): The truncated normal's transforms: attempt 0 from
# the call's words, batched retries.

# --- truncated normal ---------------------------------------------------------------------------
#
# Attempt 0 of sample i comes from the call's own words; a rejected sample retries with the blocks
# i + t * 2**56 (t = 1, 2, ...) of the same call, i.e. counter (i lo, i hi | t << 24, s lo, s hi),
# so every value depends on (key, stream, i) only.  The candidates a block holds are tried in
# order.  Retries are batched: the chunk's rejected samples draw their attempt-t blocks together,
# through the same vectorized Philox and transforms as attempt 0.

cdef void _tn_proposals_f32(float* x, float* ok, const uint32_t* w, Py_ssize_t m,
                            const FillParams* p) noexcept nogil:
    # Proposal k from words 2k (x) and 2k+1 (acceptance): x in [a, b], accepted when
    # 2 * E >= penalty(x), E = -log(1 - u) ~ Exp(1).  One loop per method, so each vectorizes.
    cdef float a = <float>p.a
    cdef float b = <float>p.b
    cdef float width = <float>p.width
    cdef float m2 = <float>p.m2
    cdef float c = <float>p.c
    cdef float alpha = <float>p.alpha
    cdef float d2 = <float>p.d2
    cdef float v, e2, penalty
    cdef Py_ssize_t k
    if p.method == TN_UNIFORM:
        for k in range(m):
            e2 = _scaled_log_f32(<float>1.0 - _u01_f32(w[2 * k + 1]), <float>(-2.0))
            v = a + width * _u01_f32(w[2 * k])
            penalty = v * v - m2
            x[k] = v
            ok[k] = (v <= b) & (e2 >= penalty)
    else:
        for k in range(m):
            e2 = _scaled_log_f32(<float>1.0 - _u01_f32(w[2 * k + 1]), <float>(-2.0))
            v = a - _log_f32(<float>1.0 - _u01_f32(w[2 * k]) * c) / alpha
            penalty = (v - alpha) * (v - alpha) - d2
            x[k] = v
            ok[k] = (v <= b) & (e2 >= penalty)

cdef void _tn_proposals_f64(double* x, double* ok, const uint32_t* w, Py_ssize_t m,
                            const FillParams* p) noexcept nogil:
    # Proposal k from words 4k, 4k+1 (x) and 4k+2, 4k+3 (acceptance).
    cdef double v, e2, penalty
    cdef Py_ssize_t k
    if p.method == TN_UNIFORM:
        for k in range(m):
            e2 = _scaled_log_f64(1.0 - _u01_f64(_pair64(&w[4 * k + 2])), -2.0)
            v = p.a + p.width * _u01_f64(_pair64(&w[4 * k]))
            penalty = v * v - p.m2
            x[k] = v
            ok[k] = (v <= p.b) & (e2 >= penalty)
    else:
        for k in range(m):
            e2 = _scaled_log_f64(1.0 - _u01_f64(_pair64(&w[4 * k + 2])), -2.0)
            v = p.a - _log_f64(1.0 - _u01_f64(_pair64(&w[4 * k])) * p.c) / p.alpha
            penalty = (v - p.alpha) * (v - p.alpha) - p.d2
            x[k] = v
            ok[k] = (v <= p.b) & (e2 >= penalty)

cdef void _tn_candidates(real* x, real* ok, const uint32_t* w, Py_ssize_t m,
                         const FillParams* p) noexcept nogil:
    # m candidates from the words at w, with ok[k] = 1 where candidate k is accepted: Box-Muller
    # normals inside [a, b] for the normal method, else the proposals.
    cdef real a = <real>p.a
    cdef real b = <real>p.b
    cdef Py_ssize_t k
    if p.method == TN_NORMAL:
        if real is float:
            _standard_normal_f32(x, w, m)
        else:
            _standard_normal_f64(x, w, m)
        for k in range(m):
            ok[k] = (x[k] >= a) & (x[k] <= b)
    elif real is float:
        _tn_proposals_f32(x, ok, w, m, p)
    else:
        _tn_proposals_f64(x, ok, w, m, p)

cdef Py_ssize_t _rejected(real* ok, Py_ssize_t n, int32_t* pending) noexcept nogil:
    # The positions of the zero flags (0.0 and 1.0 are all-zero and non-zero bit patterns).
    if real is float:
        return fastinit_zeros32(<int32_t*>ok, n, pending)
    else:
        return fastinit_zeros64(<int64_t*>ok, n, pending)

cdef Py_ssize_t _tn_attempt0(real* x, real* ok, const uint32_t* w, Py_ssize_t n,
                             int32_t* pending, const FillParams* p) noexcept nogil:
    # Attempt 0 of the chunk's samples, from the call's own words: every x[i] mapped (the output
    # map of _affine_clamp), and the offsets of the rejected ones, which the retries overwrite,
    # in pending.  With the normal method it is the normal stream itself (where it falls in
    # [a, b], truncated_normal and normal of the same call agree), tested by value and mapped in
    # one pass: no flags.
    cdef Py_ssize_t m
    if p.method == TN_NORMAL:
        if real is float:
            _standard_normal_f32(x, w, n)
            return fastinit_map_outside32(x, n, <float>p.a, <float>p.b, <float>p.shift,
                                          <float>p.scale, <float>p.lo, <float>p.hi, pending)
        else:
            _standard_normal_f64(x, w, n)
            return fastinit_map_outside64(x, n, p.a, p.b, p.shift, p.scale, p.lo, p.hi,
                                          pending)
    _tn_candidates(x, ok, w, n, p)
    m = _rejected(ok, n, pending)
    _affine_clamp(x, n, p)
    return m

cdef void _tn_retry_normal_f32(float* chosen, float* accepted, const uint32_t* rw,
                               Py_ssize_t count, float a, float b) noexcept nogil:
    # Per retry block: the first of its 4 Box-Muller candidates (words (0, 1), then (2, 3)) in
    # [a, b], else its last.  The second pair is computed only where both of the first are
    # rejected (0.2% of retries at [-2, 2]): the same choice as computing all 4.
    cdef float z0, z1, in0, in1
    cdef Py_ssize_t r
    for r in range(count):
        _box_muller_f32(rw[4 * r], rw[4 * r + 1], &z0, &z1)
        in0 = (z0 >= a) & (z0 <= b)
        in1 = (z1 >= a) & (z1 <= b)
        chosen[r] = z0 if in0 != 0 else z1
        accepted[r] = in0 + in1
    for r in range(count):
        if accepted[r] == 0:
            _box_muller_f32(rw[4 * r + 2], rw[4 * r + 3], &z0, &z1)
            in0 = (z0 >= a) & (z0 <= b)
            in1 = (z1 >= a) & (z1 <= b)
            chosen[r] = z0 if in0 != 0 else z1
            accepted[r] = in0 + in1

cdef void _truncated_normal(real* x, const uint32_t* w, Py_ssize_t n, uint64_t first,
                            const FillParams* p) noexcept nogil:
    # Candidates per sample: attempt 0 gives one; a retry block gives 4 / 32 bits per candidate:
    # float32 4 (normal method: the Box-Muller outputs of words (0, 1), (2, 3)) or 2 (proposals
    # from words (0, 1), (2, 3)); float64 2 (Box-Muller of words (0, 1 | 2, 3)) or 1 (the
    # proposal from words (0, 1 | 2, 3)).
    cdef real ok[TN_MAX_PROPOSALS]       # the proposal methods' acceptance flags
    cdef int32_t pending[MAX_CHUNK]      # samples still rejected, as offsets into x
    cdef uint64_t blocks[RETRY_BATCH]
    cdef uint32_t rw[4 * RETRY_BATCH]
    cdef real cand[2 * RETRY_BATCH]
    cdef real cand_ok[2 * RETRY_BATCH]
    cdef real chosen[RETRY_BATCH]        # per retried sample: its value, and its accepted count
    cdef real accepted[RETRY_BATCH]
    cdef Py_ssize_t i, r, base, count, padded, m, still
    cdef int words_per_candidate = (1 if p.method == TN_NORMAL else 2) * (1 if real is float
                                                                          else 2)
    cdef int per_block = 4 // words_per_candidate
    cdef real a = <real>p.a
    cdef real b = <real>p.b
    cdef real shift = <real>p.shift
    cdef real scale = <real>p.scale
    cdef real lo = <real>p.lo
    cdef real hi = <real>p.hi
    cdef real v, mapped
    cdef uint64_t t
    m = _tn_attempt0(x, ok, w, n, pending, p)
    t = 1
    while m > 0 and t <= MAX_ATTEMPTS:
        still = 0
        base = 0
        while base < m:
            count = m - base if m - base < RETRY_BATCH else RETRY_BATCH
            for r in range(count):
                blocks[r] = first + <uint64_t>pending[base + r] + (t << 56)
            # The vector loops below run on a whole number of 16 blocks: a scalar remainder of
            # up to 15 Box-Muller pairs would cost more than the vectors.  The padding repeats
            # the first block and is never scattered.
            padded = (count + 15) & ~15
            for r in range(count, padded):
                blocks[r] = blocks[0]
            fastinit_philox_listed(rw, blocks, padded, p.key, p.stream)
            # The first accepted candidate of each block, else its last one: a vector loop per
            # candidate count (the outcome is unpredictable, so no branches), then the scatter.
            if per_block == 4:
                if real is float:
                    _tn_retry_normal_f32(chosen, accepted, rw, padded, a, b)
            else:
                _tn_candidates(cand, cand_ok, rw, per_block * padded, p)
                if per_block == 2:
                    for r in range(padded):
                        chosen[r] = cand[2 * r] if cand_ok[2 * r] != 0 else cand[2 * r + 1]
                        accepted[r] = cand_ok[2 * r] + cand_ok[2 * r + 1]
                else:
                    for r in range(padded):
                        chosen[r] = cand[r]
                        accepted[r] = cand_ok[r]
            # Accepted values through the output map, in a vector loop with the map's constants
            # in registers (x may alias p for the compiler), then the scatter.
            for r in range(padded):
                v = chosen[r]
                mapped = shift + scale * v
                mapped = mapped if mapped > lo else lo
                mapped = mapped if mapped < hi else hi
                chosen[r] = mapped if accepted[r] != 0 else v
            for r in range(count):
                i = pending[base + r]
                x[i] = chosen[r]
                pending[still] = i                          # still <= base + r: in place
                still += (accepted[r] == 0)
            base += count
        m = still
        t += 1
    # Left after 255 rejections in a row (never in practice: every method accepts at least about
    # half of its candidates): clamp the last candidate, which keeps the bound promise all the same.
    for r in range(m):
        i = pending[r]
        v = a if x[i] < a else (b if x[i] > b else x[i])
        v = shift + scale * v
        v = v if v > lo else lo
        x[i] = v if v < hi else hi

cdef void _truncated_normal_f32(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                                const FillParams* p) noexcept nogil:
    _truncated_normal(<float*>dst, w, n, first, p)

cdef void _truncated_normal_f64(void* dst, const uint32_t* w, Py_ssize_t n, uint64_t first,
                                const FillParams* p) noexcept nogil:
    _truncated_normal(<double*>dst, w, n, first, p)
