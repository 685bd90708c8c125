"""docs/stream.md's uniform, normal and truncated-normal streams, written from that page alone
with NumPy array arithmetic (the truncated normal's plan and output bounds included).

Every operation below is one IEEE operation rounded in the dtype (NumPy never fuses a multiply and
an add), and the fused multiply-adds the page names are `fma` below, correctly rounded; so this
must match the kernels bit for bit.  If it does not, either the kernels or the page is wrong:
the page is the specification another implementation would follow.
"""
import math
from typing import NamedTuple

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
    """z[0 .. n) of a call from its Philox words, as docs/stream.md "Normal" specifies."""
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


# -- truncated normal (docs/stream.md, "Truncated normal") ----------------------------------------

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


class Plan(NamedTuple):
    method: int          # 0 normal, 1 uniform, 2 exponential
    flip: bool
    a: float
    b: float
    alpha: float
    c: float
    d2: float
    m2: float
    width: float


def plan(a, b):
    """docs/stream.md "The per-call constants", in float64, in the order written there."""
    flip = a + b < 0
    fa, fb = (-b, -a) if flip else (a, b)
    width = fb - fa

    def terms(x, y):
        alpha = (x + math.hypot(x, 2)) / 2 if x >= 0 else 2 / (math.hypot(x, 2) - x)
        c = 1.0 if math.isinf(y) else -math.expm1(-alpha * (y - x))
        return alpha, c, max(0.0, alpha - y)

    if a < 0 < b:
        mass = 0.5 * (math.erf(b / math.sqrt(2)) - math.erf(a / math.sqrt(2)))
        method, best = 0, mass
        if math.isfinite(width) and math.sqrt(2 * math.pi) * mass / width > best:
            method, best = 1, math.sqrt(2 * math.pi) * mass / width
        if math.isfinite(fa):
            alpha, c, d = terms(fa, fb)
            if alpha > 0:
                log_m = -d * d / 2 + alpha * alpha / 2 - alpha * fa + math.log(c / alpha)
                if math.sqrt(2 * math.pi) * mass * math.exp(-log_m) > best:
                    method = 2
    else:
        method = 2
        if math.isfinite(width):
            alpha, c, d = terms(fa, fb)
            if math.log(width * alpha / c) + d * d / 2 - (alpha - fa) ** 2 / 2 <= 0:
                method = 1
    if method == 0:
        return Plan(0, False, a, b, 0.0, 0.0, 0.0, 0.0, b - a)
    alpha, c, d = terms(fa, fb)
    m = 0.0 if fa <= 0 <= fb else fa
    return Plan(method, flip, fa, fb, alpha, c, d * d, m * m, width)


def inward_bounds(loc, scale, a, b, dtype):
    """docs/stream.md "The output bounds": (lo, hi) in the dtype."""
    t = np.dtype(dtype).type
    lo_real = loc + scale * a if scale > 0 else loc
    hi_real = loc + scale * b if scale > 0 else loc
    lo, hi = t(lo_real), t(hi_real)
    # float(): NumPy compares a float32 with a Python float in float32 (NEP 50).
    if float(lo) < lo_real:
        lo = np.nextafter(lo, t(np.inf))
    if float(hi) > hi_real:
        hi = np.nextafter(hi, t(-np.inf))
    return lo, hi


def uniform(words, low, high, dtype):
    """docs/stream.md "Uniform": clamp(fl(low + fl((high - low) * u)), L, H) in the dtype, and
    "Parameters a call refuses" for uniform (the exception type it names is raised).

    float16 (docs/stream.md "float16 and bfloat16") computes in float32 and rounds the clamped
    float32 value once; L and H are float16 values found from the float64 bounds.
    """
    dt = np.dtype(dtype)
    cdt = np.dtype(np.float32) if dt == np.float16 else dt
    t, ct = dt.type, cdt.type
    if math.isnan(low) or math.isnan(high):
        raise ValueError("NaN bound")
    width = high - low                                # float64, then rounded once
    if not math.isfinite(width):
        raise OverflowError("high - low is not finite")
    if width < 0:
        raise ValueError("high < low")
    with np.errstate(over="ignore"):
        if not (np.isfinite(t(low)) and np.isfinite(t(high)) and np.isfinite(ct(width))):
            raise OverflowError("a bound or the width beyond the dtype's range")
    w = np.asarray(words, np.uint64)
    u = _uniform01(w, None, cdt) if cdt == np.float32 else _uniform01(w[0::2], w[1::2], cdt)
    if low == high:
        return np.full(u.shape, t(low))
    # float(): NumPy compares a float32 with a Python float in float32 (NEP 50).
    smallest = t(low)                                # L: the smallest dtype value >= low
    if float(smallest) < low:
        smallest = np.nextafter(smallest, t(np.inf))
    largest = t(high)                                # H: the largest dtype value < high
    if float(largest) >= high:
        largest = np.nextafter(largest, t(-np.inf))
    if smallest > largest:
        raise ValueError("[low, high) holds no dtype value")
    v = ct(low) + ct(width) * u
    v = np.where(v > ct(smallest), v, ct(smallest))
    return np.where(v < ct(largest), v, ct(largest)).astype(dt)


def truncated_normal(words, key, stream, plan, loc, scale, lo, hi, dtype, philox_block):
    """Values 0 .. n) of a 1-D truncated_normal call, from docs/stream.md alone.

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
