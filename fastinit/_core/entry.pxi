# Part of kernels.pxi (included there, in order): Kernel selection, parameter preparation, and the
# Python entry points (fill, fill_call, philox_block) with this level's module constants.

cdef Kernel _select_kernel(int kind, int itemsize, int method, int half) except *:
    cdef Kernel k
    if half:
        # The float32 kernels compute; fill_range rounds their values into the 2-byte output.
        if kind == KIND_RAW:
            raise ValueError("raw words have no half-precision form")
        k = _select_kernel(kind, 4, method, 0)
        k.itemsize = 2
        k.half = half
        k.sink = -1
        return k
    k.itemsize = itemsize
    k.half = 0
    k.sink = -1
    if kind == KIND_RAW and itemsize == 4:
        k.transform, k.words_per_sample, k.sink = _raw_u32, 1, FASTINIT_SINK_RAW
    elif kind == KIND_UNIFORM and itemsize == 4:
        k.transform, k.words_per_sample, k.sink = _uniform_f32, 1, FASTINIT_SINK_UNIFORM_F32
    elif kind == KIND_UNIFORM and itemsize == 8:
        k.transform, k.words_per_sample, k.sink = _uniform_f64, 2, FASTINIT_SINK_UNIFORM_F64
    elif kind == KIND_NORMAL and itemsize == 4:
        k.transform, k.words_per_sample = _normal_f32, 1
    elif kind == KIND_NORMAL and itemsize == 8:
        k.transform, k.words_per_sample = _normal_f64, 2
    elif kind == KIND_TRUNCATED_NORMAL and itemsize == 4:
        k.transform = _truncated_normal_f32
        k.words_per_sample = 1 if method == TN_NORMAL else 2
    elif kind == KIND_TRUNCATED_NORMAL and itemsize == 8:
        k.transform = _truncated_normal_f64
        k.words_per_sample = 2 if method == TN_NORMAL else 4
    else:
        raise ValueError(f"no kernel for kind {kind} with itemsize {itemsize}")
    k.chunk = TN_CHUNK_WORDS // k.words_per_sample if kind == KIND_TRUNCATED_NORMAL else CHUNK
    return k


cdef int _prepare(FillParams* p, Kernel* k, cnp.ndarray out, int kind, uint64_t key,
                  uint64_t stream, tuple params, bint streaming) except -1:
    (p.shift, p.scale, p.lo, p.hi, p.method, p.a, p.b, p.alpha, p.c, p.d2, p.m2,
     p.width) = params
    p.key = key
    p.stream = stream
    p.streaming = streaming
    p.elements = NULL
    # 2-byte outputs: float16, or bfloat16 (the only other one the caller lets through).
    cdef int half = 0
    if cnp.PyArray_ITEMSIZE(out) == 2:
        half = HALF_FLOAT16 if cnp.PyArray_TYPE(out) == NPY_HALF else HALF_BFLOAT16
    k[0] = _select_kernel(kind, <int>cnp.PyArray_ITEMSIZE(out), p.method, half)
    return 0


cdef int _element_map(ElementMap* em, cnp.ndarray out, int half, tuple elements,
                      tuple shape, tuple starts) except -1:
    # The views of the array parameters over the output block (checked once, before any
    # filling).  A parameter is a float (the same for every element) or an array of the compute
    # dtype that broadcasts to the call's full shape, as NumPy aligns shapes: from the right,
    # an extent of 1 repeating.  The block starts at `starts` inside the full shape.
    cdef int compute_itemsize = 4 if half else <int>cnp.PyArray_ITEMSIZE(out)
    cdef int wanted = cnp.NPY_FLOAT if compute_itemsize == 4 else cnp.NPY_DOUBLE
    cdef cnp.ndarray view
    cdef int d, i, lead
    cdef Py_ssize_t extent, step
    cdef const char* data
    if len(elements) != 4:
        raise ValueError("elements must be (shift, scale, lo, hi)")
    em.ndim = cnp.PyArray_NDIM(out)
    for d in range(em.ndim):
        em.shape[d] = cnp.PyArray_DIM(out, d)
    for i in range(4):
        value = elements[i]
        if type(value) is float:
            if compute_itemsize == 4:
                (<float*>em.constant[i])[0] = <float>(<double>value)
            else:
                (<double*>em.constant[i])[0] = <double>value
            em.view[i].data = em.constant[i]
            for d in range(em.ndim):
                em.view[i].stride[d] = 0
            continue
        view = value
        lead = em.ndim - cnp.PyArray_NDIM(view)
        if (lead < 0 or cnp.PyArray_TYPE(view) != wanted or not cnp.PyArray_ISALIGNED(view)
                or not cnp.PyArray_ISNOTSWAPPED(view)):
            raise ValueError(f"element parameter {i} must be a float or a native "
                             f"float{8 * compute_itemsize} array of at most {em.ndim} dimensions")
        data = <const char*>cnp.PyArray_DATA(view)
        for d in range(em.ndim):
            if d < lead:
                em.view[i].stride[d] = 0
                continue
            extent = cnp.PyArray_DIM(view, d - lead)
            step = cnp.PyArray_STRIDE(view, d - lead)
            if extent == 1:
                em.view[i].stride[d] = 0
            elif extent == <Py_ssize_t>shape[d] and step % compute_itemsize == 0:
                em.view[i].stride[d] = step // compute_itemsize
                data += <Py_ssize_t>starts[d] * step
            else:
                raise ValueError(f"element parameter {i} of shape {(<object>view).shape} does "
                                 f"not broadcast to {shape}")
        em.view[i].data = data
    return 0


def fill(cnp.ndarray out not None, int kind, tuple shape, tuple starts, uint64_t key,
         uint64_t stream, tuple params, Py_ssize_t begin=0, Py_ssize_t end=-1,
         bint streaming=False, tuple elements=None):
    """Fill elements ``begin .. end`` (flat, C order) of ``out``, the block of call (key, stream)
    whose full shape is ``shape``; ``end = -1`` means to the end.

    ``out`` is C-contiguous, aligned and writable with the block's shape, which starts at
    ``starts`` inside ``shape`` (all checked by the caller).  ``params`` is
    ``(shift, scale, lo, hi, method, a, b, alpha, c, d2, m2, width)``.  ``elements``, if given,
    is the per-element ``(shift, scale, lo, hi)``, each a float or an array in the compute dtype
    (float32 for 2-byte outputs, any strides) that broadcasts to ``shape``; the kernels apply
    ``min(max(shift + scale * x, lo), hi)`` in the compute dtype after ``params``' own map.
    Disjoint element ranges can be filled from several threads at once: the GIL is released while
    filling.
    """
    cdef FillParams p
    cdef Kernel k
    cdef ElementMap em
    cdef Py_ssize_t nd = len(shape)
    cdef Py_ssize_t size = cnp.PyArray_SIZE(out)
    cdef Py_ssize_t full[MAX_NDIM]
    cdef Py_ssize_t start[MAX_NDIM]
    cdef Py_ssize_t extent[MAX_NDIM]
    cdef Py_ssize_t stride[MAX_NDIM]
    cdef Py_ssize_t index[MAX_NDIM]
    cdef Py_ssize_t d, j, run, r, offset, take, rest
    cdef int half
    cdef uint64_t flat
    cdef char* base = <char*>cnp.PyArray_DATA(out)

    if nd > MAX_NDIM or len(starts) != nd or cnp.PyArray_NDIM(out) != nd:
        raise ValueError("shape, starts and out must have the same number of dimensions")
    if end < 0:
        end = size
    if not 0 <= begin <= end <= size:
        raise ValueError(f"element range {begin}..{end} is not inside 0..{size}")
    _prepare(&p, &k, out, kind, key, stream, params, streaming)
    if elements is not None:
        _element_map(&em, out, k.half, elements, shape, starts)
        p.elements = &em
    if begin == end:
        return
    if nd == 0:
        with nogil:
            fill_range(base, 1, 0, 0, &k, &p)
        return

    for d in range(nd):
        full[d] = shape[d]
        start[d] = starts[d]
        extent[d] = cnp.PyArray_DIM(out, d)
    # Row-major element strides of the full shape.
    run = 1
    for d in range(nd - 1, -1, -1):
        stride[d] = run
        run *= full[d]
    # Trailing axes the block spans completely merge into one contiguous run of the full array;
    # the axes before j are walked run by run.
    j = nd - 1
    while j > 0 and start[j] == 0 and extent[j] == full[j]:
        j -= 1
    run = extent[j] * stride[j]
    # The odometer of the run holding element `begin`.
    r = begin // run
    offset = begin - r * run
    for d in range(j - 1, -1, -1):
        index[d] = r % extent[d]
        r //= extent[d]

    with nogil:
        while begin < end:
            flat = <uint64_t>(start[j] * stride[j])
            for d in range(j):
                flat += <uint64_t>((start[d] + index[d]) * stride[d])
            rest = run - offset
            take = rest if rest < end - begin else end - begin
            fill_range(base + begin * k.itemsize, take, flat + <uint64_t>offset, begin, &k, &p)
            begin += take
            offset = 0
            # Next run: advance the odometer over the axes before j.
            d = j - 1
            while d >= 0:
                index[d] += 1
                if index[d] < extent[d]:
                    break
                index[d] = 0
                d -= 1
        if p.streaming:
            fastinit_store_fence()


cdef int _float_typenum(object dtype) except -2:
    # The type number of dtype=None (float64), np.float16/32/64 or their np.dtype; -1 for
    # anything else (strings, bfloat16, byte-swapped: the general path handles them).
    if dtype is None:
        return cnp.NPY_DOUBLE
    if type(dtype) is not cnp.dtype:
        if dtype is np.float32:
            return cnp.NPY_FLOAT
        if dtype is np.float64 or dtype is float:
            return cnp.NPY_DOUBLE
        if dtype is np.float16:
            return NPY_HALF
        return -1
    if not (<cnp.dtype>dtype).isnative:
        return -1
    typenum = (<cnp.dtype>dtype).type_num
    return typenum if _is_float_typenum(typenum) else -1


cdef inline bint _is_float_typenum(int typenum) noexcept:
    # The float types the kernels write: float32, float64 and float16.
    return typenum == cnp.NPY_FLOAT or typenum == cnp.NPY_DOUBLE or typenum == NPY_HALF


cdef int _shape_of(object size, cnp.npy_intp* dims) except -2:
    # The number of dimensions of size (an int or a tuple of ints, each >= 0) with its extents in
    # dims; -1 when it is anything else (the general path validates it).
    cdef Py_ssize_t nd, d
    cdef object extent
    if type(size) is int:
        if size < 0 or size > PY_SSIZE_T_MAX:
            return -1
        dims[0] = <cnp.npy_intp>size
        return 1
    if type(size) is not tuple:
        return -1
    nd = len(<tuple>size)
    if nd > 32:
        return -1
    for d in range(nd):
        extent = (<tuple>size)[d]
        if type(extent) is not int or extent < 0 or extent > PY_SSIZE_T_MAX:
            return -1
        dims[d] = <cnp.npy_intp>extent
    return <int>nd


def fill_call(object out, object size, object dtype, int kind, uint64_t key, Philox streams,
              object make_params, Py_ssize_t max_elements):
    """The common calls in one compiled step: check the arguments, allocate, take a stream
    number, fill.

    Handles ``out=`` alone or with a matching ``size`` or ``dtype``, and ``size=`` (an int or a
    tuple of ints) with ``dtype`` None, np.float16, np.float32, np.float64 or their np.dtype, for
    fewer than ``max_elements`` elements (larger fills go to the thread pool).  ``out`` must be an
    exact ndarray of native float16, float32 or float64, C-contiguous, aligned and writable.
    ``make_params(dtype)`` validates the scalar parameters and returns
    ``(params, None)`` (see ``fill``) before anything changes.  Returns the filled array, or None,
    having taken and changed nothing, for any other call (raw words, regions, array parameters,
    scalar results, other dtypes, bad arguments): the caller then takes the general path, which
    raises the right error.
    """
    cdef cnp.ndarray arr
    cdef int typenum, nd, d
    cdef cnp.npy_intp dims[32]
    cdef Py_ssize_t count
    if kind == KIND_RAW:
        return None
    if out is not None:
        if type(out) is not cnp.ndarray:
            return None
        arr = <cnp.ndarray>out
        typenum = cnp.PyArray_TYPE(arr)
        if (not cnp.PyArray_ISCARRAY(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)
                or not _is_float_typenum(typenum)
                or (dtype is not None and _float_typenum(dtype) != typenum)):
            return None
        if size is not None:
            nd = _shape_of(size, dims)
            if nd != cnp.PyArray_NDIM(arr):
                return None
            for d in range(nd):
                if dims[d] != cnp.PyArray_DIM(arr, d):
                    return None
        if cnp.PyArray_SIZE(arr) >= max_elements:
            return None
    else:
        typenum = _float_typenum(dtype)
        nd = _shape_of(size, dims) if size is not None else -1
        if typenum < 0 or nd < 0:
            return None
        count = 1
        for d in range(nd):
            if dims[d] >= max_elements:
                return None
            count *= dims[d]
            if count >= max_elements:
                return None
        params, _ = make_params(cnp.PyArray_DescrFromType(typenum))
        arr = cnp.PyArray_EMPTY(nd, dims, typenum, 0)
        return _fill_whole(arr, kind, key, streams, params)
    params, _ = make_params(out.dtype)
    return _fill_whole(arr, kind, key, streams, params)


cdef cnp.ndarray _fill_whole(cnp.ndarray arr, int kind, uint64_t key, Philox streams,
                             tuple params):
    cdef FillParams p
    cdef Kernel k
    cdef uint64_t stream
    cdef Py_ssize_t count = cnp.PyArray_SIZE(arr)
    streams.take_into(&stream)
    _prepare(&p, &k, arr, kind, key, stream, params, False)
    if count:
        with nogil:
            fill_range(<char*>cnp.PyArray_DATA(arr), count, 0, 0, &k, &p)
    return arr


def philox_block(counter, key):
    """Philox4x32-10 of one block: ``counter`` is 4 words, ``key`` is 2 words; returns 4 words."""
    cdef uint32_t c[4]
    cdef uint32_t out[4]
    cdef int i
    for i in range(4):
        c[i] = counter[i]
    fastinit_philox4x32_10(c, key[0], key[1], out)
    return (out[0], out[1], out[2], out[3])


fastinit_select_init()

# This level's Philox words for fastinit.Philox, the numpy.random.BitGenerator.
PHILOX_WORDS = PyCapsule_New(<void*>fastinit_philox_words, b"fastinit.philox_words", NULL)
# Which Philox path this module was compiled with ("avx512", "avx2", "sse2" or "scalar").
PHILOX_PATH = FASTINIT_PHILOX_PATH.decode()
# The compiler flags this module was built with.
CFLAGS = FASTINIT_CFLAGS.decode()
