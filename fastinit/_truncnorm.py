"""Choosing how to sample a standard normal truncated to [a, b].

The kernels know three rejection samplers; this module picks one from (a, b) alone, once per call,
so the choice is part of the stream's definition (docs/stream.md, "Truncated normal"):

``normal``
    Box-Muller normals, kept when they fall in [a, b].  Acceptance = the mass of [a, b].
``uniform``
    Proposal x ~ U[a, b], accepted with probability exp((m**2 - x**2) / 2), m the point of [a, b]
    nearest 0.  Good for narrow intervals.
``exponential``
    Robert (1995): proposal x = a + Exp(alpha) truncated to [a, b], alpha = (a + sqrt(a**2 + 4)) / 2,
    accepted with probability exp(-((x - alpha)**2 - d**2) / 2), d = max(0, alpha - b).  Good in
    the tails, where its acceptance tends to 1: a = 8, b = 9 or a = 40, b = inf cost nothing extra.

The proposal samplers work on an interval that leans to the right (a + b >= 0); a left-leaning one
is flipped, sampled, and negated.  The method with the highest acceptance probability is chosen;
every choice accepts at least about 1/2 of its candidates.

Reference: C. P. Robert, "Simulation of truncated normal variables", Statistics and Computing 5
(1995) 121-125.

May import: fastinit._core.kernels_baseline.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple

from fastinit._core.kernels_baseline import TruncatedMethod

TN_NORMAL = TruncatedMethod.TN_NORMAL
TN_UNIFORM = TruncatedMethod.TN_UNIFORM
TN_EXPONENTIAL = TruncatedMethod.TN_EXPONENTIAL

SQRT_2PI = math.sqrt(2.0 * math.pi)


class TruncatedPlan(NamedTuple):
    method: int
    flip: bool       # sample on [-b, -a] and negate
    a: float         # bounds the kernel samples on (after the flip)
    b: float
    alpha: float     # exponential rate
    c: float         # 1 - exp(-alpha * (b - a)): the truncated exponential's mass
    d2: float        # d**2, d = max(0, alpha - b)
    m2: float        # m**2 for the uniform proposal
    width: float     # b - a


def _robert_alpha(a: float) -> float:
    # (a + sqrt(a^2 + 4)) / 2 without overflow or cancellation.
    return (a + math.hypot(a, 2.0)) / 2.0 if a >= 0 else 2.0 / (math.hypot(a, 2.0) - a)


def _exponential_terms(a: float, b: float) -> tuple[float, float, float]:
    alpha = _robert_alpha(a)
    c = 1.0 if math.isinf(b) else -math.expm1(-alpha * (b - a))
    d = max(0.0, alpha - b)
    return alpha, c, d


def _log_exponential_envelope(a: float, b: float) -> float:
    """log M for the exponential proposal: acceptance = sqrt(2 pi) * mass / M."""
    alpha, c, d = _exponential_terms(a, b)
    return -d * d / 2 + alpha * alpha / 2 - alpha * a + math.log(c / alpha)


@functools.lru_cache(maxsize=256)
def plan(a: float, b: float) -> TruncatedPlan:
    """The sampler for a standard normal truncated to [a, b]; a < b, either may be infinite.

    Cached: it is a pure function of (a, b), and init schemes call it with the same bounds.
    """
    if not a < b:
        raise ValueError(f"a >= b: got a={a}, b={b}; need a < b")
    flip = a + b < 0
    fa, fb = (-b, -a) if flip else (a, b)
    width = fb - fa

    if a < 0 < b:
        # The interval holds 0: its mass is well conditioned, compare acceptance rates directly.
        mass = 0.5 * (math.erf(b / math.sqrt(2.0)) - math.erf(a / math.sqrt(2.0)))
        best, method = mass, TN_NORMAL
        if math.isfinite(width) and SQRT_2PI * mass / width > best:
            best, method = SQRT_2PI * mass / width, TN_UNIFORM
        # A bound so far below 0 that alpha underflows to 0 (a < -1e154 or so): the exponential
        # proposal would accept nothing there, so it is no candidate.
        if math.isfinite(fa) and _robert_alpha(fa) > 0:
            acc = SQRT_2PI * mass * math.exp(-_log_exponential_envelope(fa, fb))
            if acc > best:
                best, method = acc, TN_EXPONENTIAL
    else:
        # One-sided (0 <= fa): the mass may underflow, so compare the two envelopes' logs,
        # log M_uniform - log M_exponential = log(width * alpha / c) + d^2/2 - (alpha - a)^2/2.
        method = TN_EXPONENTIAL
        if math.isfinite(width):
            alpha, c, d = _exponential_terms(fa, fb)
            if math.log(width * alpha / c) + d * d / 2 - (alpha - fa) ** 2 / 2 <= 0:
                method = TN_UNIFORM

    if method == TN_NORMAL:
        return TruncatedPlan(TN_NORMAL, False, a, b, 0.0, 0.0, 0.0, 0.0, b - a)
    alpha, c, d = _exponential_terms(fa, fb)   # fa is finite for both proposal methods
    m = 0.0 if fa <= 0 <= fb else fa
    return TruncatedPlan(method, flip, fa, fb, alpha, c, d * d, m * m, width)

