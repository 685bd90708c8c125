# Part of kernels.pxi (included there, in order): The parameter block of a call (FillParams) and the
# kernel descriptors (Kernel).

# ------------------------------------------------------------------------------------------------
# Parameters and kernel descriptors
# ------------------------------------------------------------------------------------------------

cdef enum:
    CHUNK = 1024         # samples per chunk: words and scratch stay in L1
    # A truncated normal's chunks hold 4 * CHUNK words (4096 float32 samples of the normal
    # method): its retries, about 5% of the samples at [-2, 2], are batched per chunk, and at
    # 1024 samples the batches' fixed costs were a third of the retry time.  Only the words, the
    # output and the few rejected offsets are touched, 32 KiB.
    TN_CHUNK_WORDS = 4 * CHUNK
    MAX_CHUNK = TN_CHUNK_WORDS       # the most samples a chunk holds (truncated, 1 word each)
    TN_MAX_PROPOSALS = 2 * CHUNK     # the most a proposal method's chunk holds (2+ words each)
    RETRY_BATCH = 256    # truncated-normal retry blocks computed together (a multiple of 16:
                         # the retry loops pad their blocks to one)
    MAX_ATTEMPTS = 255   # retry blocks per rejected truncated-normal sample (docs/stream.md)
    MAX_NDIM = 64

cpdef enum Kind:
    # Kinds of fill, as passed from Python.
    KIND_RAW = 0
    KIND_UNIFORM = 1
    KIND_NORMAL = 2
    KIND_TRUNCATED_NORMAL = 3

cdef enum:
    HALF_FLOAT16 = 1
    HALF_BFLOAT16 = 2

cpdef enum TruncatedMethod:
    # Truncated-normal methods (chosen in _truncnorm.py from a and b alone).
    TN_NORMAL = 0        # Box-Muller normals, rejected outside [a, b]
    TN_UNIFORM = 1       # uniform proposal on [a, b]
    TN_EXPONENTIAL = 2   # Robert (1995) exponential proposal from a

ctypedef struct FillParams:
    uint64_t key
    uint64_t stream
    # Output map: value = clamp(shift + scale * x, lo, hi); x is the standard variate.
    double shift
    double scale
    double lo
    double hi
    # Truncated normal, in standard units after the sign flip (see _truncnorm.py).
    int method
    double a
    double b
    double alpha
    double c
    double d2
    double m2
    double width
    # Write with streaming (non-temporal) stores where the kernel has a fused path (_store.h):
    # for buffers far larger than the last-level cache, where reading each destination line
    # before writing it would double the memory traffic.
    bint streaming
    # Array-valued shift, scale, lo, hi (or NULL): applied per element after the call's own map,
    # chunk by chunk while the chunk is in L1.
    const ElementMap* elements

# One array parameter over the output block: element at block multi-index (i0, i1, ...) is at
# data[i0 * stride[0] + i1 * stride[1] + ...] (strides in elements; 0 along broadcast axes).
ctypedef struct ParamView:
    const char* data
    Py_ssize_t stride[MAX_NDIM]

ctypedef struct ElementMap:
    int ndim
    Py_ssize_t shape[MAX_NDIM]    # of the output block
    ParamView view[4]             # shift, scale, lo, hi, in the compute dtype
    char constant[4][8]           # the value of a scalar parameter, which its view points at

ctypedef void (*transform_fn)(void* dst, const uint32_t* words, Py_ssize_t n, uint64_t first,
                              const FillParams* p) noexcept nogil

ctypedef struct Kernel:
    transform_fn transform
    int words_per_sample     # 1, 2 or 4; a block (4 words) always holds whole samples
    int itemsize             # of the output
    int half                 # 0; HALF_FLOAT16 or HALF_BFLOAT16: float32 transform, rounded on store
    int sink                 # the streaming path (_store.h FASTINIT_SINK_*), or -1: none
    int chunk                # samples per chunk (CHUNK; TN_CHUNK_WORDS' worth for truncated)
