"""``python -m fastinit bench --model``: initializing a whole transformers model, side by side.

For a Llama-shaped model (TinyLlama-1.1B by default) in float32 and bfloat16, same thread count:

- (a) transformers' own construction, ``LlamaForCausalLM(cfg)``, against the same under
  ``fastinit.torch.fast_init``;
- (b) built on the meta device, then ``to_empty`` + every module's ``reset_parameters()`` (torch's
  way) against ``fastinit.torch.materialize``;
- (c) ``trunc_normal_(std=0.02)`` over every weight matrix of a ready model, torch against
  fastinit, at +-2 sigma (a=-0.04, b=0.04) and at torch's default bounds (a=-2, b=2).

Every case runs in a fresh process, so each pays for the memory it first touches the same way.
A fresh page costs a fault; on a virtual machine whose balloon reports free pages to the host
(Firecracker's, here: freed memory goes back to the host in 8 MiB blocks within seconds), the
host must back it again too, at a rate that moves a lot between runs.  So every case runs twice:

- cold: memory as a fresh process finds it, what a user sees the first time;
- warm: the process first touches and frees the model's bytes (untimed), so the case finds
  memory the host still backs: the steady state of a machine without page reporting.

The floor row measures first touch alone: ``fill_(0)`` of the model's bytes, on transparent huge
pages as fastinit's fills use them.  materialize's time is split into fastinit's fills (kernels
and the first touch of what they fill) and the rest (to_empty, the model's own init code).  The cases run in ``rounds`` interleaved rounds (one process
per case and round) and the best time of each is kept.  (c) runs once, warm, in one process.
Only the operation is timed, not the imports.  Ratios come from this one run.

May import: torch, transformers, fastinit, fastinit._progress, fastinit._tensors,
fastinit.bench.harness, fastinit.torch, fastinit.torch.hooks.
"""
from __future__ import annotations

import json
import time
from typing import Any, TextIO

from fastinit.bench.harness import in_fresh_process

PRESETS: dict[str, dict[str, int]] = {
    # TinyLlama-1.1B's shape: 1.10 B parameters.
    "tinyllama": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                      num_attention_heads=32, num_key_value_heads=4, vocab_size=32000),
    # A 20 M-parameter model of the same family, for quick runs and the tests.
    "small": dict(hidden_size=512, intermediate_size=1408, num_hidden_layers=4,
                  num_attention_heads=8, num_key_value_heads=2, vocab_size=8000),
}
CASES = ["floor", "construct", "fast_init", "reset_parameters", "materialize", "trunc_normal"]


def config_of(preset: str) -> Any:
    from transformers import LlamaConfig
    return LlamaConfig(**PRESETS[preset])


def _touch(nbytes: int) -> None:
    """Allocate ``nbytes`` on transparent huge pages, as fastinit's fills use them, and write
    them once."""
    import torch

    from fastinit import _tensors

    memory = torch.empty(nbytes // 4)
    _tensors._advise_huge_pages(memory.data_ptr(), nbytes)
    memory.fill_(0.0)


def run_case(case: str, preset: str, dtype_name: str, threads: int,
          warm: bool = False) -> dict[str, float]:
    """One case, timed in this process; returns {label: seconds}.

    ``warm``: first touch and free the model's bytes, untimed, so that the case finds memory the
    host already backs (see the module docstring).
    """
    import torch
    from transformers import LlamaForCausalLM

    import fastinit
    import fastinit.torch as ft

    torch.set_num_threads(threads)
    fastinit.set_num_threads(threads)
    dtype = getattr(torch, dtype_name)
    cfg = config_of(preset)
    with torch.device("meta"):
        meta = LlamaForCausalLM(cfg).to(dtype)
    nbytes = sum(p.numel() * p.element_size() for p in meta.parameters())
    if warm:
        _touch(nbytes)
    t0 = time.perf_counter()
    if case == "floor":
        _touch(nbytes)
    elif case in ("construct", "fast_init"):
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            if case == "construct":
                LlamaForCausalLM(cfg)
            else:
                with ft.fast_init(seed=0):
                    LlamaForCausalLM(cfg)
        finally:
            torch.set_default_dtype(previous)
    elif case == "reset_parameters":
        meta.to_empty(device="cpu")
        with torch.no_grad():
            for module in meta.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
    elif case == "materialize":
        fills = _timed_fills()
        ft.materialize(meta, seed=0, dtype=dtype)
        total = time.perf_counter() - t0
        return {case: total, "materialize_fills": fills[0]}
    elif case == "trunc_normal":
        return _trunc_normal_case(meta, dtype)
    return {case: time.perf_counter() - t0}


def _timed_fills() -> list[float]:
    """Where materialize's time goes: the seconds spent in fastinit's fills (the kernels and
    the first touch of the memory they fill), summed into the returned list by a wrapper of the
    hooks' fill (this benchmark process only).  The rest is to_empty and the model's own init
    code around the fills."""
    from fastinit.torch import hooks

    spent = [0.0]
    fill = hooks._fill

    def timed(tensor: Any, how: Any) -> bool:
        t0 = time.perf_counter()
        try:
            return fill(tensor, how)
        finally:
            spent[0] += time.perf_counter() - t0
    hooks._fill = timed
    return spent


def _trunc_normal_case(meta: Any, dtype: Any) -> dict[str, float]:
    """(c): trunc_normal_(std=0.02) over every weight matrix of a ready model, torch and
    fastinit in turn on the same (already touched) memory."""
    import torch

    import fastinit
    import fastinit.torch as ft

    ft.materialize(meta, seed=0, dtype=dtype)
    weights = [p for p in meta.parameters() if p.dim() == 2]
    times = {}
    for label, (a, b) in {"2sigma": (-0.04, 0.04), "default": (-2.0, 2.0)}.items():
        t0 = time.perf_counter()
        with torch.no_grad():
            for w in weights:
                torch.nn.init.trunc_normal_(w, std=0.02, a=a, b=b)
        times[f"torch_{label}"] = time.perf_counter() - t0
        rng = fastinit.default_rng(0)
        t0 = time.perf_counter()
        for w in weights:
            fastinit.init.trunc_normal_(w, std=0.02, a=a, b=b, generator=rng)
        times[f"fastinit_{label}"] = time.perf_counter() - t0
        lo = min(float(w.detach().min()) for w in weights)
        hi = max(float(w.detach().max()) for w in weights)
        if not a <= lo <= hi <= b:                       # the output, checked in the benchmark
            raise AssertionError(f"trunc_normal_ left [{a}, {b}]: [{lo}, {hi}]")
    return times


# What every case imports, imported once by the fork server.  transformers loads its model code
# lazily: without the Llama module here each case would import it again (about 2 s).
_PRELOAD = ("torch", "transformers", "transformers.models.llama.modeling_llama", "fastinit.torch")


def _in_fresh_process(case: str, preset: str, dtype: str, threads: int,
                      warm: bool) -> dict[str, float]:
    seconds, _ = in_fresh_process(__name__, "run_case", case, preset, dtype, threads, warm,
                                  what=f"bench --model {case} {dtype}",
                                  preload=_PRELOAD)
    return seconds


def run(preset: str, dtypes: list[str], threads: int, rounds: int = 1,
        progress: bool = False) -> dict:
    """Every case and dtype, each in a fresh process, cold and warm, best of ``rounds``
    interleaved rounds ((c) once, warm); a JSON-able dict.  ``progress``: one step per process
    on stderr."""
    import torch

    import fastinit
    from fastinit._progress import Progress

    plan = [(dtype, memory, case) for dtype in dtypes for memory in ("cold", "warm")
            for round_ in range(rounds) for case in CASES
            if not (case == "trunc_normal" and (round_ > 0 or memory == "cold"))]
    times: dict[tuple[str, str], dict[str, float]] = {}
    bar = Progress(len(plan), progress, f"bench --model {preset}", "processes")
    try:
        for dtype, memory, case in plan:
            bar.update(0, f"{case} {dtype} {memory}")
            result = _in_fresh_process(case, preset, dtype, threads, memory == "warm")
            best = times.setdefault((dtype, memory), {})
            for label, seconds in result.items():
                best[label] = min(seconds, best.get(label, float("inf")))
            bar.update(1)
    finally:
        bar.close()
    rows = [{"dtype": dtype, "memory": memory, "seconds": best}
            for (dtype, memory), best in times.items()]
    cfg = PRESETS[preset]
    return {"machine": {"fastinit": fastinit.__version__, "torch": str(torch.__version__),
                        "threads": threads, "rounds": rounds},
            "model": {"preset": preset, "config": cfg, "parameters": parameter_count(preset)},
            "rows": rows}


def parameter_count(preset: str) -> int:
    import torch
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        return sum(p.numel() for p in LlamaForCausalLM(config_of(preset)).parameters())


def format_table(result: dict) -> str:
    m, model = result["machine"], result["model"]
    n = m["threads"]
    lines = [f"fastinit {m['fastinit']}, torch {m['torch']}: a {model['preset']} Llama "
             f"({model['parameters'] / 1e9:.2f} B parameters), {n} thread{'s' if n > 1 else ''} "
             "for torch and fastinit alike; each case in a fresh process, best of "
             f"{m['rounds']} round{'s' if m['rounds'] > 1 else ''}, seconds; cold: memory as "
             "a fresh process finds it; warm: the model's bytes touched and freed first", ""]
    for row in result["rows"]:
        t = row["seconds"]
        construct = t["construct"]
        trunc = [] if "torch_2sigma" not in t else [
            ("(c) trunc_normal_ +-2 sigma, torch", t["torch_2sigma"], None),
            ("(c) trunc_normal_ +-2 sigma, fastinit", t["fastinit_2sigma"],
             f"{t['torch_2sigma'] / t['fastinit_2sigma']:.1f}x torch"),
            ("(c) trunc_normal_ a=-2, b=2, torch", t["torch_default"], None),
            ("(c) trunc_normal_ a=-2, b=2, fastinit", t["fastinit_default"],
             f"{t['torch_default'] / t['fastinit_default']:.1f}x torch"),
        ]
        entries = [
            ("first touch of the model's memory (fill_(0)): the floor", t["floor"], None),
            ("(a) transformers' construction", construct, None),
            ("(a) the same under fastinit.torch.fast_init", t["fast_init"],
             f"{construct / t['fast_init']:.2f}x construction"),
            ("(b) meta, to_empty + reset_parameters()", t["reset_parameters"],
             f"{construct / t['reset_parameters']:.2f}x construction"),
            ("(b) meta, fastinit.torch.materialize", t["materialize"],
             f"{construct / t['materialize']:.2f}x construction, "
             f"{t['reset_parameters'] / t['materialize']:.2f}x reset_parameters"),
        ] + ([("    of which fastinit's fills (kernels and first touch)", t["materialize_fills"],
               f"{t['materialize_fills'] / t['floor']:.2f}x the floor"),
              ("    of which to_empty and the model's own init code",
               t["materialize"] - t["materialize_fills"], None)]
             if "materialize_fills" in t else []) + trunc
        lines.append(f"{row['dtype']}, {row['memory']} memory:")
        for label, seconds, ratio in entries:
            lines.append(f"  {label:<58} {seconds:8.2f} s" + (f"   {ratio}" if ratio else ""))
        lines.append("")
    return "\n".join(lines).rstrip()


def main(preset: str, dtypes: list[str], threads: int, as_json: bool, stream: TextIO,
         rounds: int = 1, progress: bool = False) -> int:
    result = run(preset, dtypes, threads, rounds, progress)
    stream.write((json.dumps(result, indent=2) if as_json else format_table(result)) + "\n")
    return 0

