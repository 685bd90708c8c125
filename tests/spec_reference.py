"""README's normal stream, written from the README alone with NumPy array arithmetic.

Every operation below is one IEEE operation rounded in the dtype (NumPy never fuses a multiply and
an add), and the fused multiply-adds the README names are `fma` below, correctly rounded; so this
must match the kernels bit for bit.  If it does not, either the kernels or the README is wrong:
the README is the specification another implementation would follow.
"""
import numpy as np


def _two_sum(x, y):
    """s, e with s = fl(x + y) and s + e = x + y exactly (Knuth)."""
    s = x + y
    back = s - x
    return s, (x - (s - back)) + (y - back)


def _round_to_odd_sum(x, y):
    """x + y rounded to odd: exact when representable, else the odd one of its two neighbours."""
    s, e = _two_sum(x, y)
    even = (s.view(np.uint64) & np.uint64(1)) == 0
    toward = np.where(e > 0, np.inf, -np.inf)
    return np.where((e != 0) & even, np.nextafter(s, toward), s)


def _two_product(a, b):
    """p, e with p = fl(a * b) and p + e = a * b exactly (Veltkamp's split, Dekker)."""
    def split(x):
        c = 134217729.0 * x                       # 2**27 + 1
        hi = c - (c - x)
        return hi, x - hi
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def fma(a, b, c, dt):
    """a * b + c rounded once to dt (IEEE 754 fusedMultiplyAdd), elementwise.

    float32: a * b is exact in float64, and float64's sum rounded to odd, then rounded to float32,
    is the correctly rounded float32 result (53 >= 2 * 24 + 2 bits).  float64: Boldo and
    Melquiond's emulation, "Emulation of a FMA and correctly rounded sums: proved algorithms using
    rounding to odd", IEEE Trans. Computers 57 (2008): the exact product uh + ul, then
    th + tl = c + uh exactly, then fl(th + RO(tl + ul)).
    """
    a, b, c = (np.asarray(x, dtype=np.float64) for x in np.broadcast_arrays(a, b, c))
    if np.dtype(dt) == np.float32:
        return _round_to_odd_sum(a * b, c).astype(np.float32)
    uh, ul = _two_product(a, b)
    th, tl = _two_sum(c, uh)
    return th + _round_to_odd_sum(tl, ul)


def _log(u, dt):
    if dt == np.float32:
        f32 = np.float32
        bits = u.view(np.uint32)
        mant = bits & np.uint32(0x7FFFFF)
        above = mant > 0x3504F3
        e = (bits >> np.uint32(23)).astype(np.int32) - 127 + above
        m = ((mant | np.uint32(0x3F800000)) - (above.astype(np.uint32) << np.uint32(23)))
        m = m.view(np.float32)
        f = m - f32(1)
        s = f / (f32(2) + f)
        z = s * s
        t = f32(2) * s
        h = f32(1 / 9)
        for k in (7, 5, 3):                   # h = fma(h, z, 1/k), Horner
            h = fma(h, z, f32(1 / k), np.float32)
        return fma(e.astype(np.float32), f32(0.6931471805599453), fma(t, z * h, t, np.float32),
                   np.float32)
    bits = u.view(np.uint64)
    m = ((bits & np.uint64(0xFFFFFFFFFFFFF)) | np.uint64(0x3FF0000000000000)).view(np.float64)
    above = m > np.uint64(0x3FF6A09E667F3BCD).view(np.float64)
    e = (bits >> np.uint64(52)).astype(np.int64) - 1023 + above
    m = np.where(above, m / 2, m)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    t = 2.0 * s
    h = np.full_like(z, 1.0 / 19)
    for k in range(17, 1, -2):            # h = fma(h, z, 1/k), Horner
        h = fma(h, z, 1.0 / k, np.float64)
    ef = e.astype(np.float64)
    inner = fma(ef, 1.90821492927058770002e-10, fma(t, z * h, t, np.float64), np.float64)
    return fma(ef, 6.93147180369123816490e-01, inner, np.float64)


def _sincos(q, nbits, dt):
    t = dt.type
    octant = q >> (nbits - 3)
    low = q & ((1 << (nbits - 3)) - 1)
    odd = (octant & 1) == 1
    r = np.where(odd, (1 << (nbits - 3)) - low, low)
    x = r.astype(dt) * t(2 * np.pi / 2**nbits)
    x2 = x * x
    fact = [1.0]
    for k in range(1, 18):
        fact.append(fact[-1] * k)
    last_s, last_c = (9, 8) if dt == np.float32 else (17, 16)
    ps = np.full_like(x, t((-1) ** ((last_s - 1) // 2) / fact[last_s]))
    for k in range(last_s - 2, 1, -2):    # ps = fma(ps, x2, (-1)**((k-1)/2) / k!), Horner
        ps = fma(ps, x2, t((-1) ** ((k - 1) // 2) / fact[k]), dt)
    pc = np.full_like(x, t((-1) ** (last_c // 2) / fact[last_c]))
    for k in range(last_c - 2, 0, -2):    # pc = fma(pc, x2, (-1)**(k/2) / k!)
        pc = fma(pc, x2, t((-1) ** (k // 2) / fact[k]), dt)
    s = fma(x * x2, ps, x, dt)
    c = fma(x2, pc, t(1), dt)
    s, c = np.where(odd, c, s), np.where(odd, s, c)
    quadrant = octant >> 1
    sin = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [s, c, -s], -c)
    cos = np.select([quadrant == 0, quadrant == 1, quadrant == 2], [c, -s, -c], s)
    return sin, cos


def standard_normal(words, dtype):
    """z[0 .. n) of a call from its Philox words, as README "Normal" specifies."""
    dt = np.dtype(dtype)
    w = np.asarray(words, dtype=np.uint64)
    if dt == np.float32:
        u1 = (w[0::2] >> 1).astype(np.float32) * np.float32(2.0**-31) + np.float32(2.0**-32)
        q, nbits = w[1::2] >> 8, 24
    else:
        x = ((w[1::4] << np.uint64(32)) | w[0::4]) >> np.uint64(11)
        u1 = x.astype(np.float64) * 2.0**-53 + 2.0**-54
        q, nbits = ((w[3::4] << np.uint64(32)) | w[2::4]) >> np.uint64(11), 53
    radius = np.sqrt(dt.type(-2) * _log(u1, dt))
    sin, cos = _sincos(q.astype(np.int64), nbits, dt)
    z = np.empty(2 * len(u1), dtype=dt)
    z[0::2] = radius * cos
    z[1::2] = radius * sin
    return z


# -- truncated normal (README, "Truncated normal") --------------------------------------------------

def _uniform01(lo_word, hi_word, dt):
    if dt == np.float32:
        return (np.asarray(lo_word, np.uint64) >> np.uint64(8)).astype(np.float32) * np.float32(2.0**-24)
    x = ((np.asarray(hi_word, np.uint64) << np.uint64(32)) | np.asarray(lo_word, np.uint64))
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _proposal(u, u_acc, plan, dt):
    """(x, accepted) of the uniform or exponential proposal, elementwise, in dtype dt."""
    t = dt.type
    one = t(1)
    e2 = t(-2) * _log(one - u_acc, dt)
    if plan.method == 1:                                     # uniform
        x = t(plan.a) + t(plan.width) * u
        penalty = x * x - t(plan.m2)
    else:                                                    # exponential
        x = t(plan.a) - _log(one - u * t(plan.c), dt) / t(plan.alpha)
        penalty = (x - t(plan.alpha)) * (x - t(plan.alpha)) - t(plan.d2)
    return x, (x <= t(plan.b)) & (e2 >= penalty)


def _retry_candidates(block, plan, dt):
    """The candidates of one retry block, in order, each with its acceptance."""
    w = np.asarray(block, np.uint64)
    t = dt.type
    if plan.method == 0:
        return [(z, bool(t(plan.a) <= z <= t(plan.b))) for z in standard_normal(w, dt)]
    if dt == np.float32:
        x, ok = _proposal(_uniform01(w[0::2], None, dt), _uniform01(w[1::2], None, dt), plan, dt)
    else:
        x, ok = _proposal(_uniform01(w[0:1], w[1:2], dt), _uniform01(w[2:3], w[3:4], dt), plan, dt)
    return list(zip(x, (bool(k) for k in ok)))


def truncated_normal(words, key, stream, plan, loc, scale, lo, hi, dtype, philox_block):
    """Values 0 .. n) of a 1-D truncated_normal call, from README alone.

    ``words`` are the call's words, ``philox_block(counter, key_words)`` gives retry blocks, and
    ``lo``/``hi`` are the dtype bounds of the output clamp.
    """
    dt = np.dtype(dtype)
    t = dt.type
    w = np.asarray(words, np.uint64)
    if plan.method == 0:
        x = standard_normal(w, dt)
        ok = (x >= t(plan.a)) & (x <= t(plan.b))
    elif dt == np.float32:
        x, ok = _proposal(_uniform01(w[0::2], None, dt), _uniform01(w[1::2], None, dt), plan, dt)
    else:
        x, ok = _proposal(_uniform01(w[0::4], w[1::4], dt), _uniform01(w[2::4], w[3::4], dt),
                          plan, dt)
    x = x.copy()
    key_words = (key & 0xFFFFFFFF, key >> 32)
    for i in np.flatnonzero(~ok):
        i = int(i)
        for attempt in range(1, 256):
            counter = (i & 0xFFFFFFFF, (i >> 32) | (attempt << 24), stream & 0xFFFFFFFF,
                       stream >> 32)
            candidates = _retry_candidates(philox_block(counter, key_words), plan, dt)
            accepted = [value for value, good in candidates if good]
            last = candidates[-1][0]
            if accepted:
                x[i] = accepted[0]
                break
        else:
            x[i] = min(max(last, t(plan.a)), t(plan.b))
    sign = t(-1) if plan.flip else t(1)
    v = t(loc) + (sign * t(scale)) * x
    v = np.where(v > t(lo), v, t(lo))
    return np.where(v < t(hi), v, t(hi)).astype(dt)
