"""fastinit's stream as Triton kernels: docs/stream.md computed on a GPU, bit for bit.

One kernel fills a contiguous block of a call (uniform, normal or truncated normal; float32 or
float64 arithmetic; stored as float32, float64, float16 or bfloat16).  Program ``p`` fills
``BLOCK`` consecutive Philox blocks of one row of the block (a run of consecutive global indices;
see ``fastinit._device.rows``) and every sample those blocks give, as the CPU kernels do.

Every operation whose rounding matters is one the GPU does exactly:

- each float ``+``, ``-`` and ``*`` is one IEEE operation rounded to nearest-even: the launch
  passes ``enable_fp_fusion=False``, so the compiler fuses none of them into an fma;
- the fused multiply-adds the specification names are ``tl.fma`` (one ``fma.rn``);
- float32 divisions are ``tl.math.div_rn`` and square roots ``tl.math.sqrt_rn``, correctly
  rounded (float32 ``/`` and ``tl.sqrt`` may lower to approximations); float64 ones are ``/``
  and ``tl.sqrt``, which PTX only has correctly rounded (``div.rn.f64``, ``sqrt.rn.f64``);
- integer to float conversions round to nearest-even (``cvt.rn``); bfloat16 is rounded with
  integer operations (round to nearest-even at bit 16) and float16 by ``cvt.rn.f16.f32`` after a
  clamp to +-65504 (the CPU stores saturate there);
- constants are made in their dtype from the same Python doubles as the CPU kernels'
  (``tl.full``), never through a float32 literal.

Under ``TRITON_INTERPRET=1`` Triton's interpreter runs the same code on CPU tensors with NumPy
(its ``fma`` is correctly rounded too), which is how the test suite checks it without a GPU.

May import: triton.
"""
import triton
import triton.language as tl

# Uniform, normal, truncated normal: the kinds of fastinit._core.kernels_baseline.Kind.
UNIFORM = tl.constexpr(1)
NORMAL = tl.constexpr(2)
TRUNCATED = tl.constexpr(3)
# Truncated-normal methods (fastinit._truncnorm).
TN_NORMAL = tl.constexpr(0)
TN_UNIFORM = tl.constexpr(1)
# Half-precision stores.
FLOAT16 = tl.constexpr(1)
BFLOAT16 = tl.constexpr(2)
MAX_ATTEMPTS = tl.constexpr(255)

# The index of each float parameter in the params vector (fastinit._device.PARAMS).
P_SHIFT = tl.constexpr(4)
P_SCALE = tl.constexpr(5)
P_LO = tl.constexpr(6)
P_HI = tl.constexpr(7)
P_A = tl.constexpr(8)
P_B = tl.constexpr(9)
P_ALPHA = tl.constexpr(10)
P_C = tl.constexpr(11)
P_D2 = tl.constexpr(12)
P_M2 = tl.constexpr(13)
P_WIDTH = tl.constexpr(14)


@triton.jit
def _const(value: tl.constexpr, dtype: tl.constexpr):
    # ``value`` (a Python double) rounded once to ``dtype``, as a C cast of the literal does.
    return tl.full((), value, dtype)


@triton.jit
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 (Salmon et al., SC11) of the counters (c0, c1, c2, c3) under key (k0, k1)."""
    m0 = _const(0xD2511F53, tl.uint32)
    m1 = _const(0xCD9E8D57, tl.uint32)
    for _ in tl.static_range(10):
        hi0 = tl.umulhi(c0, m0)
        lo0 = c0 * m0
        hi1 = tl.umulhi(c2, m1)
        lo1 = c2 * m1
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0 = k0 + _const(0x9E3779B9, tl.uint32)
        k1 = k1 + _const(0xBB67AE85, tl.uint32)
    return c0, c1, c2, c3


# -- words to uniforms (docs/stream.md, "Uniform", "Normal") -------------------------------------

@triton.jit
def _u01_f32(w):
    return (w >> 8).to(tl.float32) * _const(2.0 ** -24, tl.float32)


@triton.jit
def _u53(lo, hi):
    return (((hi.to(tl.uint64) << 32) | lo.to(tl.uint64)) >> 11).to(tl.float64)


@triton.jit
def _u01_f64(lo, hi):
    return _u53(lo, hi) * _const(2.0 ** -53, tl.float64)


@triton.jit
def _u_open_f32(w):
    return (w >> 1).to(tl.float32) * _const(2.0 ** -31, tl.float32) + _const(2.0 ** -32,
                                                                               tl.float32)


@triton.jit
def _u_open_f64(lo, hi):
    return _u53(lo, hi) * _const(2.0 ** -53, tl.float64) + _const(2.0 ** -54, tl.float64)


# -- log, sin and cos: the specification's polynomials -------------------------------------------

@triton.jit
def _log_f32(x):
    bits = x.to(tl.uint32, bitcast=True)
    mant = bits & 0x7FFFFF
    above = mant > 0x3504F3                               # m >= sqrt(2): halve it
    e = (bits >> 23).to(tl.int32) - 127 + above.to(tl.int32)
    m = ((mant | 0x3F800000) - (above.to(tl.uint32) << 23)).to(tl.float32, bitcast=True)
    f = m - _const(1.0, tl.float32)
    s = tl.math.div_rn(f, _const(2.0, tl.float32) + f)
    z = s * s
    t = _const(2.0, tl.float32) * s
    h = tl.fma(_const(1.0 / 9.0, tl.float32), z, _const(1.0 / 7.0, tl.float32))
    h = tl.fma(h, z, _const(1.0 / 5.0, tl.float32))
    h = tl.fma(h, z, _const(1.0 / 3.0, tl.float32))
    return tl.fma(e.to(tl.float32), _const(0.6931471805599453, tl.float32),
                  tl.fma(t, z * h, t))


@triton.jit
def _log_f64(x):
    bits = x.to(tl.uint64, bitcast=True)
    m1 = ((bits & _const(0xFFFFFFFFFFFFF, tl.uint64)) | _const(0x3FF0000000000000, tl.uint64)
          ).to(tl.float64, bitcast=True)                  # [1, 2)
    above = m1 > _const(1.4142135623730951, tl.float64)
    one = _const(1.0, tl.float64)
    m = m1 * tl.where(above, _const(0.5, tl.float64), one)
    ef = (bits >> 52).to(tl.float64) - (_const(1023.0, tl.float64)
                                         - tl.where(above, one, _const(0.0, tl.float64)))
    f = m - one
    s = f / (_const(2.0, tl.float64) + f)
    z = s * s
    t = _const(2.0, tl.float64) * s
    h = tl.fma(_const(1.0 / 19.0, tl.float64), z, _const(1.0 / 17.0, tl.float64))
    h = tl.fma(h, z, _const(1.0 / 15.0, tl.float64))
    h = tl.fma(h, z, _const(1.0 / 13.0, tl.float64))
    h = tl.fma(h, z, _const(1.0 / 11.0, tl.float64))
    h = tl.fma(h, z, _const(1.0 / 9.0, tl.float64))
    h = tl.fma(h, z, _const(1.0 / 7.0, tl.float64))
    h = tl.fma(h, z, _const(1.0 / 5.0, tl.float64))
    h = tl.fma(h, z, _const(1.0 / 3.0, tl.float64))
    return tl.fma(ef, _const(6.93147180369123816490e-01, tl.float64),
                  tl.fma(ef, _const(1.90821492927058770002e-10, tl.float64),
                         tl.fma(t, z * h, t)))


@triton.jit
def _sincos_turns_f32(k):
    # sin, cos of 2*pi*k / 2**24 (k 24 bits): k = q * 2**22 + r, |r| <= 2**21, polynomials on
    # x = 2*pi*r / 2**24, then the quadrant by bit operations (as fastinit/_core/kernels.pxi).
    qf = (k + 0x200000) >> 22
    r = k.to(tl.int32, bitcast=True) - (qf << 22).to(tl.int32, bitcast=True)
    x = r.to(tl.float32) * _const(3.7450702829239286e-07, tl.float32)
    x2 = x * x
    hs = tl.fma(_const(1.0 / 362880.0, tl.float32), x2, _const(-1.0 / 5040.0, tl.float32))
    hs = tl.fma(hs, x2, _const(1.0 / 120.0, tl.float32))
    hs = tl.fma(hs, x2, _const(-1.0 / 6.0, tl.float32))
    hc = tl.fma(_const(1.0 / 40320.0, tl.float32), x2, _const(-1.0 / 720.0, tl.float32))
    hc = tl.fma(hc, x2, _const(1.0 / 24.0, tl.float32))
    hc = tl.fma(hc, x2, _const(-0.5, tl.float32))
    sb = tl.fma(x * x2, hs, x).to(tl.uint32, bitcast=True)
    cb = tl.fma(x2, hc, _const(1.0, tl.float32)).to(tl.uint32, bitcast=True)
    q = qf & 3
    swap = _const(0, tl.uint32) - (q & 1)
    t = (sb ^ cb) & swap
    sin = ((sb ^ t) ^ ((q & 2) << 30)).to(tl.float32, bitcast=True)
    cos = ((cb ^ t) ^ (((q + 1) & 2) << 30)).to(tl.float32, bitcast=True)
    return sin, cos


@triton.jit
def _sincos_turns_f64(k):
    # As _sincos_turns_f32 for a 53-bit k: k = q * 2**51 + r, |r| <= 2**50, Taylor to x**17.
    half = _const(0x4000000000000, tl.uint64)
    qf = (k + half) >> 51
    shifted = k + half - (qf << 51)
    x = (shifted.to(tl.float64) - _const(1125899906842624.0, tl.float64)) * _const(
        6.975736996017264e-16, tl.float64)
    x2 = x * x
    hs = tl.fma(_const(1.0 / 355687428096000.0, tl.float64), x2,
                _const(-1.0 / 1307674368000.0, tl.float64))
    hs = tl.fma(hs, x2, _const(1.0 / 6227020800.0, tl.float64))
    hs = tl.fma(hs, x2, _const(-1.0 / 39916800.0, tl.float64))
    hs = tl.fma(hs, x2, _const(1.0 / 362880.0, tl.float64))
    hs = tl.fma(hs, x2, _const(-1.0 / 5040.0, tl.float64))
    hs = tl.fma(hs, x2, _const(1.0 / 120.0, tl.float64))
    hs = tl.fma(hs, x2, _const(-1.0 / 6.0, tl.float64))
    hc = tl.fma(_const(1.0 / 20922789888000.0, tl.float64), x2,
                _const(-1.0 / 87178291200.0, tl.float64))
    hc = tl.fma(hc, x2, _const(1.0 / 479001600.0, tl.float64))
    hc = tl.fma(hc, x2, _const(-1.0 / 3628800.0, tl.float64))
    hc = tl.fma(hc, x2, _const(1.0 / 40320.0, tl.float64))
    hc = tl.fma(hc, x2, _const(-1.0 / 720.0, tl.float64))
    hc = tl.fma(hc, x2, _const(1.0 / 24.0, tl.float64))
    hc = tl.fma(hc, x2, _const(-0.5, tl.float64))
    sb = tl.fma(x * x2, hs, x).to(tl.uint64, bitcast=True)
    cb = tl.fma(x2, hc, _const(1.0, tl.float64)).to(tl.uint64, bitcast=True)
    q = qf & 3
    swap = _const(0, tl.uint64) - (q & 1)
    t = (sb ^ cb) & swap
    sin = ((sb ^ t) ^ ((q & 2) << 62)).to(tl.float64, bitcast=True)
    cos = ((cb ^ t) ^ (((q + 1) & 2) << 62)).to(tl.float64, bitcast=True)
    return sin, cos


@triton.jit
def _box_muller_f32(w_radius, w_angle):
    r = tl.math.sqrt_rn(_const(-2.0, tl.float32) * _log_f32(_u_open_f32(w_radius)))
    s, c = _sincos_turns_f32(w_angle >> 8)
    return r * c, r * s


@triton.jit
def _box_muller_f64(r_lo, r_hi, a_lo, a_hi):
    r = tl.sqrt(_const(-2.0, tl.float64) * _log_f64(_u_open_f64(r_lo, r_hi)))
    s, c = _sincos_turns_f64(((a_hi.to(tl.uint64) << 32) | a_lo.to(tl.uint64)) >> 11)
    return r * c, r * s


# -- the truncated normal's proposals (docs/stream.md, "Truncated normal") ------------------------

@triton.jit
def _proposal(u, u_acc, a, b, alpha, c, d2, m2, width, METHOD: tl.constexpr, F64: tl.constexpr):
    # (x, accepted) of the uniform or exponential proposal from uniforms u and u_acc.
    if F64:
        one = _const(1.0, tl.float64)
        e2 = _const(-2.0, tl.float64) * _log_f64(one - u_acc)
    else:
        one = _const(1.0, tl.float32)
        e2 = _const(-2.0, tl.float32) * _log_f32(one - u_acc)
    if METHOD == TN_UNIFORM:
        x = a + width * u
        penalty = x * x - m2
    else:
        if F64:
            x = a - _log_f64(one - u * c) / alpha
        else:
            x = a - tl.math.div_rn(_log_f32(one - u * c), alpha)
        penalty = (x - alpha) * (x - alpha) - d2
    return x, (x <= b) & (e2 >= penalty)


@triton.jit
def _interleave2(v0, v1, BLOCK: tl.constexpr):
    return tl.reshape(tl.join(v0, v1), [2 * BLOCK])


@triton.jit
def _interleave4(v0, v1, v2, v3, BLOCK: tl.constexpr):
    # join stacks on a new last axis: [j, m, k] = (v0, v2 | v1, v3)[k][m], i.e. v0 v1 v2 v3.
    return tl.reshape(tl.join(tl.join(v0, v2), tl.join(v1, v3)), [4 * BLOCK])


@triton.jit
def _clamp(v, lo, hi):
    v = tl.where(v > lo, v, lo)
    return tl.where(v < hi, v, hi)


@triton.jit
def fill_kernel(out_ptr, rows_ptr, params_ptr, shift_ptr, scale_ptr, lo_ptr, hi_ptr,
                row_len, tiles,
                KIND: tl.constexpr, METHOD: tl.constexpr, F64: tl.constexpr,
                HALF: tl.constexpr, ELEMENTS: tl.constexpr, SPB: tl.constexpr,
                BLOCK: tl.constexpr):
    """Fill ``BLOCK`` Philox blocks' worth of samples of one row.

    Row ``r`` holds the global indices ``rows[r] .. rows[r] + row_len`` and is stored from
    ``out[r * row_len]``; ``tiles`` programs cover a row.  ``params`` holds the key and stream
    words and the output map (fastinit._device.PARAMS), rounded to the compute dtype; the
    ``*_ptr`` of array-valued parameters, with ELEMENTS, the per-element map in the block's
    shape.  SPB is the samples one Philox block gives (docs/stream.md).
    """
    CT: tl.constexpr = tl.float64 if F64 else tl.float32
    pid = tl.program_id(0).to(tl.int64)
    row = pid // tiles
    tile = pid - row * tiles
    g0 = tl.load(rows_ptr + row)
    first = g0 // SPB + tile * BLOCK
    j = first + tl.arange(0, BLOCK).to(tl.int64)
    k0 = tl.load(params_ptr).to(tl.uint32)
    k1 = tl.load(params_ptr + 1).to(tl.uint32)
    s0 = tl.load(params_ptr + 2).to(tl.uint32)
    s1 = tl.load(params_ptr + 3).to(tl.uint32)
    shift = tl.load(params_ptr + P_SHIFT).to(CT)
    scale = tl.load(params_ptr + P_SCALE).to(CT)
    lo = tl.load(params_ptr + P_LO).to(CT)
    hi = tl.load(params_ptr + P_HI).to(CT)
    zero = tl.zeros([BLOCK], tl.uint32)
    w0, w1, w2, w3 = philox4x32_10((j & 0xFFFFFFFF).to(tl.uint32), (j >> 32).to(tl.uint32),
                                   zero + s0, zero + s1, k0, k1)
    gi = first * SPB + tl.arange(0, SPB * BLOCK).to(tl.int64)     # the samples' global indices

    if KIND == UNIFORM:
        if F64:
            x = _interleave2(_u01_f64(w0, w1), _u01_f64(w2, w3), BLOCK)
        else:
            x = _interleave4(_u01_f32(w0), _u01_f32(w1), _u01_f32(w2), _u01_f32(w3), BLOCK)
        v = _clamp(shift + scale * x, lo, hi)
    elif KIND == NORMAL:
        if F64:
            z0, z1 = _box_muller_f64(w0, w1, w2, w3)
            x = _interleave2(z0, z1, BLOCK)
        else:
            z0, z1 = _box_muller_f32(w0, w1)
            z2, z3 = _box_muller_f32(w2, w3)
            x = _interleave4(z0, z1, z2, z3, BLOCK)
        v = _clamp(shift + scale * x, lo, hi)
    else:
        a = tl.load(params_ptr + P_A).to(CT)
        b = tl.load(params_ptr + P_B).to(CT)
        alpha = tl.load(params_ptr + P_ALPHA).to(CT)
        c = tl.load(params_ptr + P_C).to(CT)
        d2 = tl.load(params_ptr + P_D2).to(CT)
        m2 = tl.load(params_ptr + P_M2).to(CT)
        width = tl.load(params_ptr + P_WIDTH).to(CT)
        # Attempt 0, from the call's own words.
        if METHOD == TN_NORMAL:
            if F64:
                z0, z1 = _box_muller_f64(w0, w1, w2, w3)
                x = _interleave2(z0, z1, BLOCK)
            else:
                z0, z1 = _box_muller_f32(w0, w1)
                z2, z3 = _box_muller_f32(w2, w3)
                x = _interleave4(z0, z1, z2, z3, BLOCK)
            ok = (x >= a) & (x <= b)
        elif F64:
            x, ok = _proposal(_u01_f64(w0, w1), _u01_f64(w2, w3), a, b, alpha, c, d2, m2, width,
                              METHOD, F64)
        else:
            x0, ok0 = _proposal(_u01_f32(w0), _u01_f32(w1), a, b, alpha, c, d2, m2, width,
                                METHOD, F64)
            x1, ok1 = _proposal(_u01_f32(w2), _u01_f32(w3), a, b, alpha, c, d2, m2, width,
                                METHOD, F64)
            x = _interleave2(x0, x1, BLOCK)
            ok = _interleave2(ok0, ok1, BLOCK)
        # Retries: attempt t of sample i is block i + t * 2**56 of the call; its candidates in
        # order, the first accepted wins.
        pending = ok == 0
        zeros = tl.zeros([SPB * BLOCK], tl.uint32)
        t = tl.full((), 1, tl.int64)
        while (t <= MAX_ATTEMPTS) & (tl.max(pending.to(tl.int32), 0) > 0):
            r0, r1, r2, r3 = philox4x32_10(
                (gi & 0xFFFFFFFF).to(tl.uint32),
                ((gi >> 32) | (t << 24)).to(tl.uint32),
                zeros + s0, zeros + s1, k0, k1)
            if METHOD == TN_NORMAL:
                if F64:
                    y0, y1 = _box_muller_f64(r0, r1, r2, r3)
                    in0 = (y0 >= a) & (y0 <= b)
                    in1 = (y1 >= a) & (y1 <= b)
                    candidate = tl.where(in0, y0, y1)
                    accepted = in0 | in1
                else:
                    y0, y1 = _box_muller_f32(r0, r1)
                    y2, y3 = _box_muller_f32(r2, r3)
                    in0 = (y0 >= a) & (y0 <= b)
                    in1 = (y1 >= a) & (y1 <= b)
                    in2 = (y2 >= a) & (y2 <= b)
                    in3 = (y3 >= a) & (y3 <= b)
                    candidate = tl.where(in0, y0, tl.where(in1, y1, tl.where(in2, y2, y3)))
                    accepted = in0 | in1 | in2 | in3
            elif F64:
                candidate, accepted = _proposal(_u01_f64(r0, r1), _u01_f64(r2, r3), a, b, alpha,
                                                c, d2, m2, width, METHOD, F64)
            else:
                y0, in0 = _proposal(_u01_f32(r0), _u01_f32(r1), a, b, alpha, c, d2, m2, width,
                                    METHOD, F64)
                y1, in1 = _proposal(_u01_f32(r2), _u01_f32(r3), a, b, alpha, c, d2, m2, width,
                                    METHOD, F64)
                candidate = tl.where(in0, y0, y1)
                accepted = in0 | in1
            x = tl.where(pending, candidate, x)
            pending = pending & (accepted == 0)
            t += 1
        # After 255 rejections in a row (never in practice), the last candidate, clamped.
        x = tl.where(pending, _clamp(x, a, b), x)
        v = _clamp(shift + scale * x, lo, hi)

    inside = (gi >= g0) & (gi < g0 + row_len)
    local = row * row_len + (gi - g0)
    if ELEMENTS:
        v = _clamp(tl.load(shift_ptr + local, mask=inside, other=0.0)
                   + tl.load(scale_ptr + local, mask=inside, other=0.0) * v,
                   tl.load(lo_ptr + local, mask=inside, other=0.0),
                   tl.load(hi_ptr + local, mask=inside, other=0.0))
    if HALF == FLOAT16:
        limit = _const(65504.0, tl.float32)
        tl.store(out_ptr + local, _clamp(v, -limit, limit).to(tl.float16), mask=inside)
    elif HALF == BFLOAT16:
        bits = v.to(tl.uint32, bitcast=True)
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        tl.store(out_ptr + local, rounded.to(tl.uint16).to(tl.int16, bitcast=True), mask=inside)
    else:
        tl.store(out_ptr + local, v, mask=inside)
