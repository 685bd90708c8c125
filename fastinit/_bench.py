"""The side-by-side benchmark behind ``python -m fastinit bench``.

Each fill writes into a preallocated buffer (out=) so that every library is timed on the same work:
fastinit, NumPy's Generator (Ziggurat normals; a rejection loop for the truncated normal, since
NumPy has none) and, when importable, torch on one thread.  The best of ``repeats`` runs is kept
and ratios are reported against NumPy, so machines of different speed give comparable figures.
"""
from __future__ import annotations

import json
import os
import platform
import time
from typing import Callable, TextIO

import numpy as np

import fastinit


def numpy_truncated_normal(rng: np.random.Generator, out: np.ndarray, a: float = -2.0,
                           b: float = 2.0) -> np.ndarray:
    """What NumPy users write today: draw normals, redraw the ones outside [a, b]."""
    rng.standard_normal(out=out, dtype=out.dtype)
    bad = np.flatnonzero((out < a) | (out > b))
    while bad.size:
        redraw = rng.standard_normal(bad.size, dtype=out.dtype)
        out[bad] = redraw
        bad = bad[(redraw < a) | (redraw > b)]
    return out


def _best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()   # warm up: page in the buffer, load code
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _torch_fills(size: int, dtype: str):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    t = torch.empty(size, dtype=getattr(torch, dtype))
    gen = torch.Generator().manual_seed(0)
    return {
        "uniform": lambda: t.uniform_(0.0, 1.0, generator=gen),
        "normal": lambda: t.normal_(0.0, 1.0, generator=gen),
        "truncated_normal": lambda: torch.nn.init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0,
                                                                generator=gen),
    }


def run(size: int, repeats: int, dtypes: list[str]) -> dict:
    rng = fastinit.default_rng(0)
    nrng = np.random.default_rng(0)
    rows = []
    for dtype in dtypes:
        dt = np.dtype(dtype)
        ours = np.empty(size, dt)
        theirs = np.empty(size, dt)
        torch_fills = _torch_fills(size, dtype)
        cases = {
            "uniform": (lambda: rng.random(out=ours),
                        lambda: nrng.random(out=theirs, dtype=dt)),
            "normal": (lambda: rng.standard_normal(out=ours),
                       lambda: nrng.standard_normal(out=theirs, dtype=dt)),
            "truncated_normal": (lambda: rng.truncated_normal(a=-2.0, b=2.0, out=ours),
                                 lambda: numpy_truncated_normal(nrng, theirs)),
        }
        for name, (fast, numpy_fill) in cases.items():
            t_fast = _best_time(fast, repeats)
            t_numpy = _best_time(numpy_fill, repeats)
            t_torch = (_best_time(torch_fills[name], repeats) if torch_fills else None)
            rows.append({
                "fill": name, "dtype": dtype, "size": size,
                "fastinit_s": t_fast, "numpy_s": t_numpy, "torch_s": t_torch,
                "fastinit_msamples_s": size / t_fast / 1e6,
                "fastinit_gb_s": size * dt.itemsize / t_fast / 1e9,
                "vs_numpy": t_numpy / t_fast,
                "vs_torch": (t_torch / t_fast) if t_torch else None,
            })
    return {
        "machine": {"cpu": _cpu_name(), "python": platform.python_version(),
                    "numpy": np.__version__, "fastinit": fastinit.__version__,
                    "threads": 1},
        "rows": rows,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_table(result: dict) -> str:
    m = result["machine"]
    has_torch = any(r["torch_s"] is not None for r in result["rows"])
    head = (f"fastinit {m['fastinit']} vs NumPy {m['numpy']} on {m['cpu']} "
            f"({os.cpu_count()} CPUs), {m['threads']} thread, best of repeats\n")
    cols = ["fill", "dtype", "Msamples/s", "GB/s", "NumPy Ms/s", "vs NumPy"]
    if has_torch:
        cols += ["torch Ms/s", "vs torch"]
    lines = [head, "  ".join(f"{c:>16}" if i else f"{c:<17}" for i, c in enumerate(cols))]
    for r in result["rows"]:
        cells = [r["fill"], r["dtype"], f"{r['fastinit_msamples_s']:.0f}",
                 f"{r['fastinit_gb_s']:.2f}", f"{r['size'] / r['numpy_s'] / 1e6:.0f}",
                 f"{r['vs_numpy']:.2f}x"]
        if has_torch:
            cells += [f"{r['size'] / r['torch_s'] / 1e6:.0f}", f"{r['vs_torch']:.2f}x"]
        lines.append("  ".join(f"{c:>16}" if i else f"{c:<17}" for i, c in enumerate(cells)))
    return "\n".join(lines)


def main(size: int, repeats: int, dtypes: list[str], as_json: bool, stream: TextIO) -> int:
    result = run(size, repeats, dtypes)
    stream.write((json.dumps(result, indent=2) if as_json else format_table(result)) + "\n")
    return 0
