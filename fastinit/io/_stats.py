"""Statistics of a tensor stored in a file, in one streaming pass of bounded memory: what
``fastinit info`` prints for ``.npy`` and ``.safetensors`` files alike."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from fastinit import _validate as v


def as_float64(values: np.ndarray, bfloat16: bool) -> np.ndarray:
    """Values as float64; ``bfloat16``: ``values`` are bfloat16's uint16 words, read exactly as
    the top halves of float32s (no ml_dtypes needed)."""
    if bfloat16:
        words = values.view(np.uint16).astype(np.uint32) << 16
        return words.view(np.float32).astype(np.float64)
    return values.astype(np.float64)


def read_blocks(path: Any, dt: np.dtype, offset: int, count: int,
                chunk_elements: int) -> Iterator[np.ndarray]:
    """``count`` values of dtype ``dt`` from byte ``offset`` of the file, as float64 blocks,
    read (not mapped) so that memory stays bounded.  OSError when the file ends early."""
    with open(path, "rb") as f:
        f.seek(offset)
        done = 0
        while done < count:
            n = min(chunk_elements, count - done)
            raw = f.read(n * dt.itemsize)
            if len(raw) != n * dt.itemsize:
                raise OSError(f"{path} is shorter than its header says (it ends {count - done} "
                              "values early): the file is truncated")
            yield as_float64(np.frombuffer(raw, dtype=np.uint16 if v.is_bfloat16(dt) else dt),
                             v.is_bfloat16(dt))
            done += n


def check_summarizable(dt: np.dtype, what: str, reads: str) -> None:
    """TypeError for dtypes that are not real numbers (complex, structured, raw bytes)."""
    if dt.kind not in "biuf" and not v.is_bfloat16(dt):
        kind = "complex numbers" if dt.kind == "c" else "not real numbers"
        raise TypeError(f"{what}: cannot summarize dtype {dt} ({kind}); {reads}")


def summarize(blocks: Callable[[], Iterable[np.ndarray]], size: int,
              on_chunk: Callable[[int], None] | None = None, itemsize: int = 8) -> dict[str, Any]:
    """``finite``, ``nan``, ``posinf``, ``neginf``, ``mean``, ``std``, ``min``, ``max``,
    ``fraction_at_min`` and ``fraction_at_max`` of ``size`` values.

    ``blocks()`` gives the values as float64 blocks; it is called twice (a second pass counts the
    values equal to min and max, where a pile-up on a bound shows).  The statistics are over the
    finite values; float64 accumulation with Chan et al.'s pairwise update of count, mean and sum
    of squared deviations, so a block's order does not matter to the precision.
    """
    count, mean, m2 = 0, 0.0, 0.0
    nan = posinf = neginf = 0
    lo, hi = math.inf, -math.inf
    for block in blocks():
        finite = np.isfinite(block)
        if not finite.all():
            nan += int(np.isnan(block).sum())
            posinf += int((block == math.inf).sum())
            neginf += int((block == -math.inf).sum())
            block = block[finite]
        if on_chunk is not None:
            on_chunk(finite.size * itemsize)
        if not block.size:
            continue
        b_count = block.size
        b_mean = float(block.mean())
        b_m2 = float(((block - b_mean) ** 2).sum())
        delta = b_mean - mean
        total = count + b_count
        mean += delta * b_count / total
        m2 += b_m2 + delta * delta * count * b_count / total
        count = total
        lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
    at_lo = at_hi = 0
    if count:
        for block in blocks():
            at_lo += int((block == lo).sum())
            at_hi += int((block == hi).sum())
    return {"finite": count, "nan": nan, "posinf": posinf, "neginf": neginf,
            "mean": mean if count else math.nan,
            "std": math.sqrt(m2 / count) if count else math.nan,
            "min": lo if count else math.nan, "max": hi if count else math.nan,
            "fraction_at_min": at_lo / size if count else math.nan,
            "fraction_at_max": at_hi / size if count else math.nan}
