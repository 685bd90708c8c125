"""Whole-model init in one process: transformers' construction, fast_init and meta +
materialize side by side, and trunc_normal_ over every weight, torch against fastinit.

The model is a Llama of the ``FASTINIT_BENCH_MODEL`` preset (``small`` by default, 20 M
parameters; ``tinyllama`` for the 1.1 B shape).  ``python -m fastinit bench --model`` runs each
case in a fresh process instead, which is what a user sees the first time; here memory freed by
one round is reused by the next.
"""
import os

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
ft = pytest.importorskip("fastinit.torch")

import fastinit as fi  # noqa: E402
from fastinit.bench import model as bench_model  # noqa: E402

PRESET = os.environ.get("FASTINIT_BENCH_MODEL", "small")
CONFIG = bench_model.config_of(PRESET)
ROUNDS = 1 if PRESET == "tinyllama" else 3


def _meta_model():
    with torch.device("meta"):
        return transformers.LlamaForCausalLM(CONFIG)


@pytest.mark.benchmark(group=f"model init ({PRESET} Llama, float32)")
@pytest.mark.parametrize("how", ["transformers", "fast_init", "materialize"])
def test_model_init(benchmark, how):
    def build():
        if how == "transformers":
            return transformers.LlamaForCausalLM(CONFIG)
        if how == "fast_init":
            with ft.fast_init(seed=0):
                return transformers.LlamaForCausalLM(CONFIG)
        return ft.materialize(_meta_model(), seed=0)

    model = benchmark.pedantic(build, rounds=ROUNDS, warmup_rounds=0, iterations=1)
    assert float(model.model.embed_tokens.weight.detach().std()) == pytest.approx(0.02, rel=0.05)


@pytest.mark.benchmark(group=f"trunc_normal_ at +-2 sigma over every weight ({PRESET} Llama)")
@pytest.mark.parametrize("library", ["torch", "fastinit"])
def test_trunc_normal_over_all_weights(benchmark, library):
    weights = [p for p in ft.materialize(_meta_model(), seed=0).parameters() if p.dim() == 2]
    rng = fi.default_rng(0)

    def fill():
        for w in weights:
            if library == "torch":
                with torch.no_grad():
                    torch.nn.init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04)
            else:
                fi.init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04, generator=rng)

    benchmark.pedantic(fill, rounds=ROUNDS, warmup_rounds=0, iterations=1)
    assert all(-0.04 <= float(w.detach().min()) and float(w.detach().max()) <= 0.04
               for w in weights)
