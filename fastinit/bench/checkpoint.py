"""``python -m fastinit bench --checkpoint``: writing a seed checkpoint, side by side.

For a Llama-shaped model (TinyLlama-1.1B by default: 4.4 GB in float32, 2.2 GB in bfloat16):

- disk: the disk's own sequential write rate, a plain write of the same number of bytes in
  64 MiB blocks, then fsync: no writer can beat it;
- write_safetensors: ``fastinit.io.write_safetensors`` of the model's tensors with the inits
  transformers' Llama uses (normal std 0.02 for the linear and embedding weights, ones for the
  norms), file synced;
- save_initialized: ``fastinit.torch.save_initialized`` of the model built on the meta device
  (its own ``_init_weights``), file synced;
- torch: building the model in torch (``LlamaForCausalLM(cfg)``, its own init) and
  ``safetensors.torch.save_file(model.state_dict(), path)``, file synced.

Every case runs in a fresh process (peak RSS is the child's ``ru_maxrss``), the cases
interleaved round by round so that a slow spell of the disk does not land on one only; the best
time of each is kept.  The ``10b`` preset (19.7 GB in bfloat16) runs disk and write_safetensors
only: torch would need the model in memory.

May import: numpy, safetensors, torch, transformers, fastinit, fastinit._progress,
fastinit._core.simd, fastinit.bench.harness, fastinit.io, fastinit.torch.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any, TextIO

from fastinit.bench.harness import in_fresh_process

PRESETS: dict[str, dict[str, Any]] = {
    "tinyllama": dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                      num_attention_heads=32, num_key_value_heads=4, vocab_size=32000),
    # 9.85 B parameters: a Llama-2-13B-like width at 44 layers, 19.7 GB in bfloat16.
    "10b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=44,
                num_attention_heads=32, num_key_value_heads=8, vocab_size=32000),
    "small": dict(hidden_size=512, intermediate_size=1408, num_hidden_layers=4,
                  num_attention_heads=8, num_key_value_heads=2, vocab_size=8000),
}
CASES = ["disk", "write_safetensors", "save_initialized", "torch"]
_BLOCK = 64 << 20


def llama_spec(preset: str, dtype: str) -> dict[str, Any]:
    """The tensors of a Llama of this preset, with the inits transformers' ``_init_weights``
    gives them (no torch needed)."""
    p = PRESETS[preset]
    h, inter, kv = p["hidden_size"], p["intermediate_size"], \
        p["hidden_size"] // p["num_attention_heads"] * p["num_key_value_heads"]
    normal = ("normal_", {"std": 0.02})
    spec: dict[str, Any] = {
        "model.embed_tokens.weight": ((p["vocab_size"], h), dtype, normal),
        "lm_head.weight": ((p["vocab_size"], h), dtype, normal),
        "model.norm.weight": ((h,), dtype, "ones_"),
    }
    for i in range(p["num_hidden_layers"]):
        layer = f"model.layers.{i}."
        for name, shape in (("self_attn.q_proj", (h, h)), ("self_attn.k_proj", (kv, h)),
                            ("self_attn.v_proj", (kv, h)), ("self_attn.o_proj", (h, h)),
                            ("mlp.gate_proj", (inter, h)), ("mlp.up_proj", (inter, h)),
                            ("mlp.down_proj", (h, inter))):
            spec[layer + name + ".weight"] = (shape, dtype, normal)
        spec[layer + "input_layernorm.weight"] = ((h,), dtype, "ones_")
        spec[layer + "post_attention_layernorm.weight"] = ((h,), dtype, "ones_")
    return spec


def checkpoint_bytes(preset: str, dtype: str) -> int:
    import math

    size = 4 if dtype == "float32" else 2
    return sum(math.prod(shape) * size for shape, _, _ in llama_spec(preset, dtype).values())


def plain_write(path: str, nbytes: int) -> float:
    """Seconds to write ``nbytes`` of random bytes to a new file in 64 MiB blocks and fsync it:
    the disk's own sequential write rate, the yardstick of every writer."""
    import numpy as np

    block = np.random.default_rng(0).integers(0, 256, _BLOCK, dtype=np.uint8).tobytes()
    t0 = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    done = 0
    while done < nbytes:
        done += os.pwrite(fd, block[:min(_BLOCK, nbytes - done)], done)
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - t0


def run_case(case: str, preset: str, dtype: str, threads: int, path: str) -> float:
    """One case in this process; the seconds it took (the file synced)."""
    import fastinit

    fastinit.set_num_threads(threads)
    if case == "disk":
        return plain_write(path, checkpoint_bytes(preset, dtype))
    if case == "write_safetensors":
        from fastinit.io import write_safetensors

        spec = llama_spec(preset, dtype)
        t0 = time.perf_counter()
        write_safetensors(path, spec, 0, overwrite=True)
        return time.perf_counter() - t0
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.set_num_threads(threads)
    cfg = LlamaConfig(**PRESETS[preset], tie_word_embeddings=False)
    if case == "save_initialized":
        import fastinit.torch

        t0 = time.perf_counter()
        with torch.device("meta"):
            model = LlamaForCausalLM(cfg)
        fastinit.torch.save_initialized(model, path, 0, dtype=getattr(torch, dtype),
                                        overwrite=True)
        return time.perf_counter() - t0
    from safetensors.torch import save_file

    t0 = time.perf_counter()
    torch.set_default_dtype(getattr(torch, dtype))    # built in the dtype, as a user would
    model = LlamaForCausalLM(cfg)
    save_file(model.state_dict(), path)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
    return time.perf_counter() - t0


def _in_fresh_process(case: str, preset: str, dtype: str, threads: int,
                      directory: str) -> dict[str, float]:
    path = os.path.join(directory, f"{case}.safetensors")
    try:
        seconds, peak = in_fresh_process(__name__, "run_case", case, preset, dtype, threads, path,
                                         what=f"bench --checkpoint {case}")
    finally:
        if os.path.exists(path):
            os.unlink(path)                      # every case writes a new file
    return {"seconds": seconds, "peak_rss": peak}


def run(preset: str, dtypes: list[str], threads: int, rounds: int = 1,
        directory: str | None = None, progress: bool = False) -> dict[str, Any]:
    from fastinit._core import simd as _simd
    from fastinit._progress import Progress

    cases = CASES if preset != "10b" else ["disk", "write_safetensors"]
    directory = directory or tempfile.mkdtemp(prefix="fastinit-bench-", dir=".")
    results: dict[str, Any] = {"preset": preset, "threads": threads,
                               "simd": _simd.level, "rounds": rounds, "dtypes": {}}
    bar = Progress(len(dtypes) * rounds * len(cases), progress, f"bench --checkpoint {preset}",
                   "processes")
    try:
        for dtype in dtypes:
            best: dict[str, dict[str, float]] = {}
            for _ in range(rounds):
                for case in cases:
                    bar.update(0, f"{case} {dtype}")
                    r = _in_fresh_process(case, preset, dtype, threads, directory)
                    if case not in best or r["seconds"] < best[case]["seconds"]:
                        best[case] = r
                    bar.update(1)
            results["dtypes"][dtype] = {"bytes": checkpoint_bytes(preset, dtype), "cases": best}
    finally:
        bar.close()
        if not os.listdir(directory):
            os.rmdir(directory)
    return results


def format_table(result: dict[str, Any]) -> str:
    from fastinit._progress import format_bytes

    lines = [f"seed checkpoint of a {result['preset']} Llama, {result['threads']} threads, "
             f"kernels {result['simd']}, best of {result['rounds']} (each case a fresh process, "
             "file synced)"]
    for dtype, r in result["dtypes"].items():
        cases, nbytes = r["cases"], r["bytes"]
        disk = cases["disk"]["seconds"]
        lines.append(f"{dtype}: {format_bytes(nbytes)}")
        lines.append(f"  {'case':<18} {'seconds':>8} {'GB/s':>6} {'of disk':>8} "
                     f"{'vs torch':>9} {'peak RSS':>10}")
        for case, c in cases.items():
            vs_torch = (f"{cases['torch']['seconds'] / c['seconds']:.2f}x"
                        if "torch" in cases else "-")
            lines.append(f"  {case:<18} {c['seconds']:8.2f} {nbytes / c['seconds'] / 1e9:6.2f} "
                         f"{disk / c['seconds']:8.0%} {vs_torch:>9} "
                         f"{format_bytes(c['peak_rss']):>10}")
    return "\n".join(lines)


def main(preset: str, dtypes: list[str], threads: int, as_json: bool, stream: TextIO,
         rounds: int = 1, progress: bool = False) -> int:
    result = run(preset, dtypes, threads, rounds, progress=progress)
    print(json.dumps(result) if as_json else format_table(result), file=stream)
    return 0
