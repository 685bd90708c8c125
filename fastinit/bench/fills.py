"""The side-by-side benchmark behind ``python -m fastinit bench``.

Each fill writes into a preallocated buffer (out=) so that every library is timed on the same work:
fastinit on one thread and on all of them, NumPy's Generator (Ziggurat normals; a rejection loop
for the truncated normal, since NumPy has none), torch on one thread when importable, and
``a.fill(0)`` on the same buffer as the memory-bandwidth yardstick.  The contenders of a row run
in turn, round after round, and the best of ``repeats`` runs of each is kept; ratios are
reported, so machines of different speed give comparable figures.

A second table times the NumPy methods that fastinit runs through NumPy's own code over
``fastinit.Philox`` (``integers``, ``permutation`` and two distributions) against
``numpy.random.default_rng`` (PCG64) and torch's equivalents, all on one thread.

May import: numpy, torch, fastinit, fastinit._progress, fastinit._core.simd, fastinit._validate.
"""
from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

import fastinit
from fastinit import _validate
from fastinit._progress import Progress

# The NumPy-method table's sample count: an allocation per call, as those methods make, and
# a permutation of 2**24 elements would take seconds per round.
NUMPY_METHODS_SIZE = 1 << 22


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


def _best_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The best of ``repeats`` runs of each function, taken in turn (one run of each per round),
    so that a slow spell of a shared machine slows every contender alike."""
    for fn in fns.values():
        fn()   # warm up: page in the buffers, load code
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _on_threads(fn: Callable[[], object], n: int) -> Callable[[], None]:
    def run() -> None:
        with fastinit.threads(n):
            fn()
    return run


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


def numpy_fills(nrng: np.random.Generator, out: np.ndarray) -> dict:
    """NumPy's way to each fill; float16/bfloat16 (which NumPy cannot draw) through a float32
    array and a cast, as NumPy users do."""
    if out.dtype.itemsize != 2:
        return {"uniform": lambda: nrng.random(out=out, dtype=out.dtype),
                "normal": lambda: nrng.standard_normal(out=out, dtype=out.dtype),
                "truncated_normal": lambda: numpy_truncated_normal(nrng, out)}
    tmp = np.empty(out.shape, np.float32)

    def cast(fill):
        def run():
            fill()
            out[...] = tmp
        return run
    return {"uniform": cast(lambda: nrng.random(out=tmp, dtype=np.float32)),
            "normal": cast(lambda: nrng.standard_normal(out=tmp, dtype=np.float32)),
            "truncated_normal": cast(lambda: numpy_truncated_normal(nrng, tmp))}


def numpy_method_cases(size: int) -> dict[str, tuple[Callable, Callable | None]]:
    """name -> (the call on a generator, torch's equivalent on one thread or None)."""
    torch: Any              # the module, or None without it
    try:
        import torch
    except ImportError:
        torch = None
    cases: dict[str, tuple[Callable, Callable | None]] = {}

    def add(name, call, torch_call=None):
        cases[name] = (call, torch_call if torch is not None else None)

    gen = torch.Generator().manual_seed(0) if torch is not None else None
    add("integers int32 [0, 1000)", lambda g: g.integers(0, 1000, size, dtype=np.int32),
        lambda: torch.randint(0, 1000, (size,), dtype=torch.int32, generator=gen))
    add("integers int64 [0, 2**40)", lambda g: g.integers(0, 2**40, size, dtype=np.int64),
        lambda: torch.randint(0, 2**40, (size,), dtype=torch.int64, generator=gen))
    add("permutation", lambda g: g.permutation(size),
        lambda: torch.randperm(size, generator=gen))
    add("standard_exponential", lambda g: g.standard_exponential(size),
        lambda: torch.empty(size, dtype=torch.float64).exponential_(generator=gen))
    add("gamma(2.0)", lambda g: g.gamma(2.0, 1.0, size), None)
    return cases


# Every method of numpy.random.Generator (and fastinit's truncated_normal), called as users call
# it for about SMALL_CALL_SIZE values.  Calls that name a dtype or out= use the forms NumPy has.
SMALL_CALL_SIZE = 1000


def small_call_cases(n: int = SMALL_CALL_SIZE) -> dict[str, Callable[[Any], object]]:
    """name -> a call for about ``n`` values, valid on fastinit and NumPy generators alike
    (truncated_normal: NumPy's rejection loop, what NumPy users write)."""
    f32, f64 = np.empty(n, np.float32), np.empty(n, np.float64)
    ints = np.arange(n)
    cov = np.array([[1.0, 0.5], [0.5, 2.0]])

    def truncated(g):
        if isinstance(g, fastinit.Generator):
            return g.truncated_normal(0.0, 0.02, -2.0, 2.0, out=f32)
        return numpy_truncated_normal(g, f32)

    return {
        "random(dtype=float32, out=)": lambda g: g.random(dtype=np.float32, out=f32),
        "random(out=float64)": lambda g: g.random(out=f64),
        "random(out=float32)": lambda g: g.random(out=f32) if isinstance(
            g, fastinit.Generator) else g.random(dtype=np.float32, out=f32),
        "random(n)": lambda g: g.random(n),
        "random(n, float32)": lambda g: g.random(n, np.float32),
        "uniform(-1, 1, n)": lambda g: g.uniform(-1, 1, n),
        "standard_normal(n)": lambda g: g.standard_normal(n),
        "standard_normal(dtype=float32, out=)": lambda g: g.standard_normal(dtype=np.float32,
                                                                             out=f32),
        "normal(0, 0.02, n)": lambda g: g.normal(0, 0.02, n),
        "truncated_normal(out=float32)": truncated,
        "integers(0, 1000, n)": lambda g: g.integers(0, 1000, n),
        "integers(0, 1000, n, int32)": lambda g: g.integers(0, 1000, n, np.int32),
        "permutation(n)": lambda g: g.permutation(n),
        "shuffle(n)": lambda g: g.shuffle(ints),
        "permuted(n)": lambda g: g.permuted(ints),
        "choice(n, n)": lambda g: g.choice(n, n),
        "bytes(n)": lambda g: g.bytes(n),
        "standard_exponential(n)": lambda g: g.standard_exponential(n),
        "exponential(2.0, n)": lambda g: g.exponential(2.0, n),
        "standard_gamma(2.0, n)": lambda g: g.standard_gamma(2.0, n),
        "gamma(2.0, 1.0, n)": lambda g: g.gamma(2.0, 1.0, n),
        "beta(2.0, 3.0, n)": lambda g: g.beta(2.0, 3.0, n),
        "chisquare(3.0, n)": lambda g: g.chisquare(3.0, n),
        "f(3.0, 4.0, n)": lambda g: g.f(3.0, 4.0, n),
        "standard_t(5.0, n)": lambda g: g.standard_t(5.0, n),
        "standard_cauchy(n)": lambda g: g.standard_cauchy(n),
        "lognormal(0.0, 1.0, n)": lambda g: g.lognormal(0.0, 1.0, n),
        "laplace(0.0, 1.0, n)": lambda g: g.laplace(0.0, 1.0, n),
        "logistic(0.0, 1.0, n)": lambda g: g.logistic(0.0, 1.0, n),
        "gumbel(0.0, 1.0, n)": lambda g: g.gumbel(0.0, 1.0, n),
        "rayleigh(1.0, n)": lambda g: g.rayleigh(1.0, n),
        "weibull(1.5, n)": lambda g: g.weibull(1.5, n),
        "pareto(3.0, n)": lambda g: g.pareto(3.0, n),
        "power(3.0, n)": lambda g: g.power(3.0, n),
        "wald(1.0, 1.0, n)": lambda g: g.wald(1.0, 1.0, n),
        "vonmises(0.0, 4.0, n)": lambda g: g.vonmises(0.0, 4.0, n),
        "triangular(0, 1, 2, n)": lambda g: g.triangular(0.0, 1.0, 2.0, n),
        "noncentral_chisquare(3, 2, n)": lambda g: g.noncentral_chisquare(3.0, 2.0, n),
        "noncentral_f(3, 4, 2, n)": lambda g: g.noncentral_f(3.0, 4.0, 2.0, n),
        "binomial(10, 0.3, n)": lambda g: g.binomial(10, 0.3, n),
        "negative_binomial(5, 0.5, n)": lambda g: g.negative_binomial(5, 0.5, n),
        "poisson(4.0, n)": lambda g: g.poisson(4.0, n),
        "geometric(0.3, n)": lambda g: g.geometric(0.3, n),
        "hypergeometric(20, 30, 10, n)": lambda g: g.hypergeometric(20, 30, 10, n),
        "logseries(0.6, n)": lambda g: g.logseries(0.6, n),
        "zipf(2.0, n)": lambda g: g.zipf(2.0, n),
        "multinomial(10, [.2, .3, .5], n/3)": lambda g: g.multinomial(10, [0.2, 0.3, 0.5],
                                                                      n // 3),
        "multivariate_hypergeometric(n/3)": lambda g: g.multivariate_hypergeometric(
            [10, 10, 10], 6, n // 3),
        "dirichlet([1, 1, 1], n/3)": lambda g: g.dirichlet([1.0, 1.0, 1.0], n // 3),
        "multivariate_normal(2-d, n/2)": lambda g: g.multivariate_normal([0.0, 0.0], cov,
                                                                         n // 2),
    }


def run_small_calls(repeats: int, calls_per_timing: int = 200) -> list[dict]:
    """Time every small call on fastinit.Generator and numpy.random.default_rng (1 thread)."""
    rng, nrng = fastinit.default_rng(0), np.random.default_rng(0)
    rows = []
    with fastinit.threads(1):
        for name, call in small_call_cases().items():
            def many(g, call=call):
                def run() -> None:
                    for _ in range(calls_per_timing):
                        call(g)
                return run
            best = _best_times({"fastinit": many(rng), "numpy": many(nrng)}, repeats)
            rows.append({"call": name, "size": SMALL_CALL_SIZE,
                         "fastinit_us": best["fastinit"] / calls_per_timing * 1e6,
                         "numpy_us": best["numpy"] / calls_per_timing * 1e6,
                         "vs_numpy": best["numpy"] / best["fastinit"]})
    return rows


def format_small_calls(rows: list[dict]) -> str:
    lines = [(f"Small calls, about {SMALL_CALL_SIZE:,} values each, time per call on 1 thread, "
              "against numpy.random.default_rng (truncated_normal: NumPy's rejection loop)"), "",
             f"{'call':<36}  {'fastinit us':>11}  {'NumPy us':>9}  {'vs NumPy':>9}"]
    for r in rows:
        lines.append(f"{r['call']:<36}  {r['fastinit_us']:>11.2f}  {r['numpy_us']:>9.2f}  "
                     f"{r['vs_numpy']:>8.2f}x")
    slower = [r["call"] for r in rows if r["vs_numpy"] < 1]
    lines += ["", f"{len(rows) - len(slower)} of {len(rows)} calls at or under NumPy's time"
              + (f"; slower: {', '.join(slower)}" if slower else "")]
    return "\n".join(lines)


def run_numpy_methods(size: int, repeats: int, bar: Progress | None = None) -> list[dict]:
    """Time NumPy's methods on fastinit.Generator against numpy.random.default_rng and torch
    (``bar``: one step per method)."""
    rng, nrng = fastinit.default_rng(0), np.random.default_rng(0)
    rows = []
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        pass
    for name, (call, torch_call) in numpy_method_cases(size).items():
        if bar is not None:
            bar.update(0, name)
        contenders = {"fastinit": lambda: call(rng), "numpy": lambda: call(nrng)}
        if torch_call is not None:
            contenders["torch"] = torch_call
        best = _best_times(contenders, repeats)
        t_torch = best.get("torch")
        rows.append({
            "method": name, "size": size, "fastinit_s": best["fastinit"],
            "numpy_s": best["numpy"], "torch_s": t_torch,
            "fastinit_msamples_s": size / best["fastinit"] / 1e6,
            "numpy_msamples_s": size / best["numpy"] / 1e6,
            "torch_msamples_s": size / t_torch / 1e6 if t_torch else None,
            "vs_numpy": best["numpy"] / best["fastinit"],
            "vs_torch": t_torch / best["fastinit"] if t_torch else None,
        })
        if bar is not None:
            bar.update(1)
    return rows


def format_numpy_methods(rows: list[dict]) -> str:
    if not rows:
        return ""
    has_torch = any(r["torch_s"] is not None for r in rows)
    lines = [f"NumPy's methods on fastinit.Generator, {rows[0]['size']:,} samples each (NumPy's "
             "code over fastinit.Philox; integers and permutation compiled with NumPy's "
             "algorithms), against numpy.random.default_rng (PCG64)"
             + (" and torch, on 1 thread" if has_torch else ", on 1 thread"), ""]
    cols = [("method", 26), ("fastinit", 9), ("NumPy", 7), ("vs NumPy", 9)]
    if has_torch:
        cols += [("torch", 7), ("vs torch", 9)]
    lines.append("  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                           for i, (c, w) in enumerate(cols)))
    lines.append("  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(
        [("", 26), ("Ms/s", 9), ("Ms/s", 7)])))
    for r in rows:
        cells = [r["method"], f"{r['fastinit_msamples_s']:.0f}", f"{r['numpy_msamples_s']:.0f}",
                 f"{r['vs_numpy']:.2f}x"]
        if has_torch:
            cells += ([f"{r['torch_msamples_s']:.0f}", f"{r['vs_torch']:.2f}x"]
                      if r["torch_s"] else ["-", "-"])
        lines.append("  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                               for i, (c, (_, w)) in enumerate(zip(cells, cols))))
    return "\n".join(lines)


def _torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return str(torch.__version__)


def run(size: int, repeats: int, dtypes: list[str], threads: int | None = None,
        simd: str | None = None, progress: bool = False) -> dict:
    """Time every fill and dtype: fastinit on 1 and on ``threads`` threads, NumPy, torch (one
    thread, when importable) and ``a.fill(0)`` on the same buffer.  Returns a JSON-able dict.
    ``progress``: one step per row on stderr (:class:`fastinit._progress.Progress`)."""
    from fastinit._core import simd as _simd

    threads = threads or fastinit.get_num_threads()
    level = simd or _simd.level
    rows: list[dict] = []
    bar = Progress(3 * len(dtypes) + len(numpy_method_cases(1)), progress, "bench", "steps")
    try:
        with _simd.using_level(level):
            _run_rows(rows, bar, size, repeats, dtypes, threads)
            with fastinit.threads(1):
                numpy_rows = run_numpy_methods(min(size, NUMPY_METHODS_SIZE), repeats, bar)
    finally:
        bar.close()
    return _result(rows, numpy_rows, size, repeats, threads, level)


def _run_rows(rows: list[dict], bar: Progress, size: int, repeats: int, dtypes: list[str],
              threads: int) -> None:
    rng = fastinit.default_rng(0)
    nrng = np.random.default_rng(0)
    for dtype in dtypes:
        dt = _validate.resolve_dtype(dtype, None, "bench")
        ours = np.empty(size, dt)
        theirs = np.empty(size, dt)
        torch_fills = _torch_fills(size, dtype)
        theirs_fills = numpy_fills(nrng, theirs)
        # The raw-word limit: Philox's words for the row on 1 thread (one word per sample,
        # two for float64), stored as random_raw stores them.
        words = np.empty(size * (2 if dt.itemsize == 8 else 1), np.uint32)
        cases = {
            "uniform": (lambda: rng.random(out=ours), theirs_fills["uniform"]),
            "normal": (lambda: rng.standard_normal(out=ours), theirs_fills["normal"]),
            "truncated_normal": (lambda: rng.truncated_normal(a=-2.0, b=2.0, out=ours),
                                 theirs_fills["truncated_normal"]),
        }
        for name, (fast, numpy_fill) in cases.items():
            bar.update(0, f"{name} {dtype}")
            # memset is the buffer's bytes set to zero: ml_dtypes' bfloat16 fill(0) goes
            # through a slow per-element cast (measured here: 5 GB/s against 25-30).
            contenders = {"one": _on_threads(fast, 1), "numpy": numpy_fill,
                          "memset": lambda: theirs.view(np.uint8).fill(0),
                          "raw": _on_threads(lambda: rng.random_raw(out=words), 1)}
            if threads > 1:
                contenders["all"] = _on_threads(fast, threads)
            if torch_fills:
                contenders["torch"] = torch_fills[name]
            best = _best_times(contenders, repeats)
            t_one, t_numpy, t_memset = best["one"], best["numpy"], best["memset"]
            t_raw = best["raw"]
            t_all = best.get("all", t_one)
            t_torch = best.get("torch")
            nbytes = size * dt.itemsize
            rows.append({
                "fill": name, "dtype": dtype, "size": size,
                "fastinit_1_thread_s": t_one, "fastinit_threads_s": t_all,
                "numpy_s": t_numpy, "torch_s": t_torch, "memset_s": t_memset,
                "raw_words_s": t_raw,
                "fastinit_1_thread_msamples_s": size / t_one / 1e6,
                "fastinit_threads_msamples_s": size / t_all / 1e6,
                "fastinit_threads_gb_s": nbytes / t_all / 1e9,
                "numpy_msamples_s": size / t_numpy / 1e6,
                "torch_msamples_s": size / t_torch / 1e6 if t_torch else None,
                "memset_gb_s": nbytes / t_memset / 1e9,
                "raw_limit_msamples_s": size / t_raw / 1e6,
                "vs_raw_words": t_raw / t_one,
                "vs_numpy": t_numpy / t_one,
                "vs_torch": t_torch / t_one if t_torch else None,
                "threads_vs_memset": t_memset / t_all,
            })
            bar.update(1)


def _result(rows: list[dict], numpy_rows: list[dict], size: int, repeats: int, threads: int,
            level: str) -> dict:
    from fastinit._core import simd as _simd

    return {
        "machine": {"cpu": _cpu_name(), "cores": fastinit.get_num_threads(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "torch": _torch_version(), "fastinit": fastinit.__version__,
                    "simd": level, "simd_available": _simd.available_levels(),
                    "threads": threads, "repeats": repeats},
        "rows": rows,
        "numpy_methods": numpy_rows,
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
    n = m["threads"]
    has_torch = any(r["torch_s"] is not None for r in result["rows"])
    size = result["rows"][0]["size"] if result["rows"] else 0
    many = f"{n} thread{'s' if n > 1 else ''}"
    head = [
        f"fastinit {m['fastinit']} on {m['cpu']}: SIMD {m['simd']} (runs here: "
        f"{', '.join(m['simd_available'])}), {many}",
        f"{size:,} elements per fill, best of {m['repeats']}; NumPy {m['numpy']}"
        + (f", torch {m['torch']} on 1 thread" if has_torch else ", torch not installed")
        + "; ratios from fastinit on 1 thread, except vs memset (the same buffer's bytes set "
          f"to 0, against fastinit on {many})",
        "limits: raw words = the row's Philox words (1 per sample, 2 for float64) as random_raw "
        "stores them, on 1 thread; memset = the buffer's bytes set to 0",
        "Ms/s: millions of samples per second; GB/s: bytes written per second",
        "",
    ]
    cols = [("fill", 17), ("dtype", 8), ("1 thread", 9)]
    if n > 1:
        cols.append((f"{n} threads", 10))
    cols += [(f"GB/s ({n} thr)", 12), ("NumPy", 7), ("vs NumPy", 9)]
    if has_torch:
        cols += [("torch", 7), ("vs torch", 9)]
    cols += [("raw words", 10), ("vs raw", 7), ("memset GB/s", 12), ("vs memset", 10)]
    lines = head + ["  ".join(f"{c:<{w}}" if i < 2 else f"{c:>{w}}"
                              for i, (c, w) in enumerate(cols))]
    lines.append("  ".join(f"{c:<{w}}" if i < 2 else f"{c:>{w}}" for i, (c, w) in enumerate(
        [("", 17), ("", 8), ("Ms/s", 9)] + ([("Ms/s", 10)] if n > 1 else []) + [("", 12),
                                                                                 ("Ms/s", 7)]
        + [("", 9)] + ([("Ms/s", 7), ("", 9)] if has_torch else []) + [("Ms/s", 10)])))
    for r in result["rows"]:
        cells = [r["fill"], r["dtype"], f"{r['fastinit_1_thread_msamples_s']:.0f}"]
        if n > 1:
            cells.append(f"{r['fastinit_threads_msamples_s']:.0f}")
        cells += [f"{r['fastinit_threads_gb_s']:.1f}", f"{r['numpy_msamples_s']:.0f}",
                  f"{r['vs_numpy']:.2f}x"]
        if has_torch:
            cells += [f"{r['torch_msamples_s']:.0f}", f"{r['vs_torch']:.2f}x"]
        cells += [f"{r['raw_limit_msamples_s']:.0f}", f"{r['vs_raw_words']:.2f}x",
                  f"{r['memset_gb_s']:.1f}", f"{r['threads_vs_memset']:.2f}x"]
        lines.append("  ".join(f"{c:<{w}}" if i < 2 else f"{c:>{w}}"
                               for i, (c, (_, w)) in enumerate(zip(cells, cols))))
    return "\n".join(lines)


def main(size: int, repeats: int, dtypes: list[str], as_json: bool, stream: TextIO,
         threads: int | None = None, simd: str | None = None, progress: bool = False) -> int:
    result = run(size, repeats, dtypes, threads=threads, simd=simd, progress=progress)
    if as_json:
        stream.write(json.dumps(result, indent=2) + "\n")
    else:
        stream.write(format_table(result) + "\n\n" + format_numpy_methods(result["numpy_methods"])
                     + "\n")
    return 0
