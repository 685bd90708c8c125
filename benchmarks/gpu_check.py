"""The GPU check of fastinit's Triton kernels, in one run (docs/gpu.md): run it on a CUDA machine
with ``pip install -e ".[test]"`` (torch with CUDA, triton, transformers) as

    python benchmarks/gpu_check.py [--json result.json] [--quick]

1. Bit-identity of the compiled kernels with the CPU kernels, for every method and dtype at 2**24
   elements, and for a block straddling index 2**32 of a 2**33-element call.
2. Fill rates in GB/s: fastinit's uniform, normal and truncated normal against the card's write
   floor (``torch.empty(n).fill_(0)``) and torch's own ``uniform_``, ``normal_`` and
   ``nn.init.trunc_normal_`` on the same device, best of 5, timed with CUDA events.
3. ``materialize(device="cuda")`` of TinyLlama-1.1B's config against transformers' construction
   on the device.

Ratios come from this one run; nothing here asserts a speed.  It exits 1 if any bits differ.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

import fastinit as fi
import fastinit.torch as ft
from fastinit.bench.model import config_of

METHODS = {
    "uniform": lambda g, **kw: g.uniform(-0.1, 0.3, **kw),
    "normal": lambda g, **kw: g.normal(0.0, 0.02, **kw),
    "truncated [-2, 2]": lambda g, **kw: g.truncated_normal(0.0, 1.0, -2.0, 2.0, **kw),
    "truncated [0.5, inf)": lambda g, **kw: g.truncated_normal(0.0, 1.0, 0.5, math.inf, **kw),
    "truncated [8, 9]": lambda g, **kw: g.truncated_normal(0.0, 1.0, 8.0, 9.0, **kw),
    "truncated [-0.3, 0.4]": lambda g, **kw: g.truncated_normal(0.0, 1.0, -0.3, 0.4, **kw),
}
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
BITS = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def _same(device_tensor: torch.Tensor, cpu_tensor: torch.Tensor) -> bool:
    size = device_tensor.element_size()
    return torch.equal(device_tensor.cpu().view(BITS[size]), cpu_tensor.view(BITS[size]))


def identity(n: int) -> list[dict]:
    rows = []
    for name, call in METHODS.items():
        for dtype in DTYPES:
            on_gpu = call(fi.Generator(7, stream=3), out=torch.empty(n, dtype=dtype, device="cuda"))
            on_cpu = call(fi.Generator(7, stream=3), out=torch.empty(n, dtype=dtype))
            far = (2**33,)
            region = np.s_[2**32 - (1 << 20): 2**32 + (1 << 20)]
            gpu_far = call(fi.Generator(7), size=far, region=region,
                           out=torch.empty(2 << 20, dtype=dtype, device="cuda"))
            cpu_far = call(fi.Generator(7), size=far, region=region,
                           out=torch.empty(2 << 20, dtype=dtype))
            rows.append({"method": name, "dtype": str(dtype), "elements": n,
                         "identical": _same(on_gpu, on_cpu),
                         "identical_past_2**32": _same(gpu_far, cpu_far)})
            print(f"{name:24s} {str(dtype):15s} identical={rows[-1]['identical']} "
                  f"past 2**32={rows[-1]['identical_past_2**32']}", flush=True)
    return rows


def _best(fn, repeats: int = 5) -> float:
    fn()
    torch.cuda.synchronize()
    best = math.inf
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(stop) / 1e3)
    return best


def rates(n: int) -> list[dict]:
    rows = []
    for dtype in (torch.float32, torch.bfloat16):
        t = torch.empty(n, dtype=dtype, device="cuda")
        gb = t.numel() * t.element_size() / 1e9
        floor = _best(lambda: t.fill_(0))
        cases = {
            "uniform": (lambda: fi.init.uniform_(t, -0.1, 0.1, generator=0),
                        lambda: t.uniform_(-0.1, 0.1)),
            "normal": (lambda: fi.init.normal_(t, 0.0, 0.02, generator=0),
                       lambda: t.normal_(0.0, 0.02)),
            "trunc_normal [-2, 2] std 1": (
                lambda: fi.init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, generator=0),
                lambda: torch.nn.init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0)),
        }
        for name, (ours, theirs) in cases.items():
            mine, torch_s = _best(ours), _best(theirs)
            rows.append({"dtype": str(dtype), "case": name, "GB/s fastinit": gb / mine,
                         "GB/s torch": gb / torch_s, "GB/s write floor": gb / floor,
                         "of floor": floor / mine, "vs torch": torch_s / mine})
            print(f"{str(dtype):15s} {name:28s} fastinit {gb / mine:7.1f} GB/s  torch "
                  f"{gb / torch_s:7.1f} GB/s  floor {gb / floor:7.1f} GB/s  "
                  f"({floor / mine:.2f} of floor, {torch_s / mine:.2f}x torch)", flush=True)
    return rows


def model(preset: str) -> dict:
    from transformers import LlamaForCausalLM

    config = config_of(preset)
    result = {}
    for dtype in (torch.float32, torch.bfloat16):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.device("cuda"):
            built = LlamaForCausalLM(config).to(dtype)
        torch.cuda.synchronize()
        construct = time.perf_counter() - start
        del built
        torch.cuda.empty_cache()
        start = time.perf_counter()
        with torch.device("meta"):
            meta = LlamaForCausalLM(config)
        ft.materialize(meta, seed=0, device="cuda", dtype=dtype)
        torch.cuda.synchronize()
        ours = time.perf_counter() - start
        del meta
        torch.cuda.empty_cache()
        result[str(dtype)] = {"construct_s": construct, "materialize_s": ours,
                              "ratio": construct / ours}
        print(f"{preset} {dtype}: construction {construct:.2f} s, materialize {ours:.2f} s, "
              f"{construct / ours:.1f}x", flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a small model")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    print(torch.cuda.get_device_name(), "torch", torch.__version__, flush=True)
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "identity": identity(1 << (20 if args.quick else 24)),
              "rates": rates(1 << (24 if args.quick else 28)),
              "model": model("small" if args.quick else "tinyllama")}
    if args.json:
        with open(os.path.expanduser(args.json), "w") as f:
            json.dump(report, f, indent=1)
    bad = [r for r in report["identity"] if not (r["identical"] and r["identical_past_2**32"])]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
