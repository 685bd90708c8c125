"""The transformer counterpart of the Glorot & Bengio reproduction: which init keeps the
residual stream flat in a deep transformer?

A GPT-2-shaped model of 48 blocks (width 256, built on the meta device: nothing is downloaded)
is diagnosed under four inits, side by side, per block: the residual stream's std after each
block, the back-propagated gradient at each block, and the attention entropy.

- ``gpt2``: N(0, 0.02²), the residual output projections at 0.02 / sqrt(2 * 48) (Radford et
  al. 2019; Megatron's scaled init);
- ``small_init``: N(0, 2 / (5d)) everywhere (Nguyen & Salazar 2019), no residual scaling;
- ``gpt-neox``: ``small_init``, and ``wang_init`` 2 / (L sqrt(d)) on the residual outputs;
- ``normal:1``: unit-variance weights, the broken init: attention collapses onto one key per
  query and the gradient explodes, and diagnose flags both.

    pip install -e ".[torch,plot]"
    python examples/transformer_init.py [output_dir]

What to see: the scaled recipes keep the stream within a small factor across 48 blocks; without
the scaling the stream grows faster with depth; unit-variance weights saturate attention.
"""
import sys
from pathlib import Path

import numpy as np
import torch
import transformers

import fastinit
from fastinit import torch as ft

SEED = 0


def build(layers: int, width: int) -> torch.nn.Module:
    config = transformers.GPT2Config(n_embd=width, n_layer=layers, n_head=max(1, width // 64),
                                     vocab_size=1024, n_positions=128)
    with torch.device("meta"):
        return transformers.GPT2LMHeadModel(config)


def unit_variance(model: torch.nn.Module) -> torch.nn.Module:
    """Every weight matrix N(0, 1): what not to do."""
    for name, p in model.named_parameters():
        if p.dim() == 2:
            fastinit.init.normal_(p, 0.0, 1.0, generator=fastinit.Generator(SEED))
    return model


def experiment(layers: int = 48, width: int = 256, seq: int = 64,
               figure: Path | None = None) -> ft.Diagnosis:
    ids = torch.from_numpy(fastinit.Generator(SEED + 1).integers(0, 1024, (2, seq)))
    runs = {name: ft.recipe(build(layers, width), name, SEED)
            for name in ("gpt2", "small_init", "gpt-neox")}
    runs["normal:1"] = unit_variance(ft.recipe(build(layers, width), "gpt2", SEED))
    main_run = runs.pop("gpt2")
    return ft.diagnose(main_run, {"input_ids": ids}, compare=runs, plot=figure,
                       label=f"gpt2 ({layers} blocks)")


def main(out: Path, layers: int = 48, width: int = 256) -> None:
    out.mkdir(parents=True, exist_ok=True)
    figure = out / "transformer_init.png"
    result = experiment(layers, width, figure=figure)
    for run in [result, *result.compared.values()]:
        first, last = run.blocks[0], run.blocks[-1]
        entropy = min(b.attention_entropy or 1.0 for b in run.blocks)
        print(f"{run.label:>20}: stream std {first.stream_std:.3g} -> {last.stream_std:.3g} "
              f"({last.stream_std / first.stream_std:.3g}x), gradient "
              f"{last.grad_std:.3g} -> {first.grad_std:.3g}, lowest attention entropy "
              f"{entropy:.3g}; flags: {', '.join(f.kind for f in run.flags) or 'none'}")
    print(f"wrote {figure}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
