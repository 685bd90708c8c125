"""Seed checkpoints in one process: the disk's plain write, fastinit's write_safetensors and
save_initialized, and torch's build + safetensors save_file, of the same Llama-shaped model.

The model is the ``FASTINIT_BENCH_CHECKPOINT`` preset (``small`` by default, 74 MiB in
float32; ``tinyllama`` for the 4.4 GB shape).  Each file is written to the current directory
and synced.  ``python -m fastinit bench --checkpoint`` runs each case in a fresh process and
reports the peak RSS too.
"""
import os

import pytest

from fastinit.bench import checkpoint as bench_checkpoint

PRESET = os.environ.get("FASTINIT_BENCH_CHECKPOINT", "small")
ROUNDS = 1 if PRESET != "small" else 3


@pytest.mark.benchmark(group=f"seed checkpoint ({PRESET} Llama)")
@pytest.mark.parametrize("file_dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("case", bench_checkpoint.CASES)
def test_seed_checkpoint(benchmark, tmp_path, case, file_dtype):
    if case in ("save_initialized", "torch"):
        pytest.importorskip("torch")
        pytest.importorskip("transformers")
    if case == "torch":
        pytest.importorskip("safetensors")
    path = str(tmp_path / f"{case}.safetensors")
    try:
        benchmark.pedantic(bench_checkpoint.run_case, args=(case, PRESET, file_dtype,
                                                          os.cpu_count() or 1, path),
                           rounds=ROUNDS, warmup_rounds=0, iterations=1)
    finally:
        if case == "torch":
            import torch
            torch.set_default_dtype(torch.float32)
    assert os.path.getsize(path) >= bench_checkpoint.checkpoint_bytes(PRESET, file_dtype)
