"""The ``fastinit`` command line: ``fastinit bench`` (also ``python -m fastinit bench``)."""
from __future__ import annotations

import argparse
import sys


def _positive_int(text: str) -> int:
    value = int(float(text))   # accepts 1e6
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastinit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="fastinit against NumPy (and torch) side by side")
    bench.add_argument("--size", type=_positive_int, default=1 << 24,
                       help="elements per fill (default 2**24)")
    bench.add_argument("--repeats", type=_positive_int, default=5,
                       help="timed runs per cell; the best is reported (default 5)")
    bench.add_argument("--dtype", choices=["float32", "float64", "float16", "bfloat16", "all"],
                       default=None, help="one dtype, or all four (default: float32 and float64)")
    bench.add_argument("--threads", type=_positive_int, default=None,
                       help="threads for the multithreaded column (default: all available)")
    bench.add_argument("--simd", choices=["baseline", "avx2", "avx512"], default=None,
                       help="kernel level to time (default: the best this CPU runs)")
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        from fastinit._bench import main as bench_main
        dtypes = {None: ["float32", "float64"],
                  "all": ["float32", "float64", "float16", "bfloat16"]}.get(args.dtype,
                                                                       [args.dtype])
        try:
            return bench_main(size=args.size, repeats=args.repeats, dtypes=dtypes,
                              as_json=args.json, stream=sys.stdout, threads=args.threads,
                              simd=args.simd)
        except (RuntimeError, ImportError) as exc:   # --simd avx512 on an older CPU, no ml_dtypes
            print(f"fastinit bench: error: {exc}", file=sys.stderr)
            return 2
    return 2  # pragma: no cover - argparse rejects unknown commands
