"""save_initialized: a meta module's init replayed into a safetensors file, equal to
materialize + safetensors' save_model, loaded back by transformers' from_pretrained."""
import os
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")
import fastinit.torch  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file, save_model  # noqa: E402
from transformers import (BertConfig, BertModel, GPT2Config, GPT2LMHeadModel,  # noqa: E402
                          LlamaConfig, LlamaForCausalLM)

CONFIGS = {
    "llama-tied": lambda: LlamaForCausalLM(LlamaConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=300, tie_word_embeddings=True)),
    "llama": lambda: LlamaForCausalLM(LlamaConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=300, tie_word_embeddings=False)),
    "gpt2": lambda: GPT2LMHeadModel(GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=300,
                                               n_positions=64)),
    "bert": lambda: BertModel(BertConfig(hidden_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, intermediate_size=128,
                                         vocab_size=300, max_position_embeddings=64)),
    "torch-transformer": lambda: torch.nn.Sequential(
        torch.nn.Transformer(d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                             dim_feedforward=64, batch_first=True), ),
    "convnet": lambda: torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8),
                                           torch.nn.Linear(8, 4)),
}


def _meta(name):
    with torch.device("meta"):
        return CONFIGS[name]()


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("dtype", [None, torch.bfloat16], ids=["model-dtype", "bfloat16"])
def test_the_file_equals_materialize_then_save_model(tmp_path, name, dtype):
    model = _meta(name)
    before = {n: (p, p.device) for n, p in model.named_parameters()}
    path = tmp_path / "model.safetensors"
    result = fastinit.torch.save_initialized(model, path, 3, dtype=dtype)
    # The module is as it was: the same parameter objects, still on the meta device.
    assert {n: (p, p.device) for n, p in model.named_parameters()} == before
    reference = fastinit.torch.materialize(_meta(name), 3, dtype=dtype)
    save_model(reference, str(tmp_path / "reference.safetensors"))
    ours, theirs = load_file(str(path)), load_file(str(tmp_path / "reference.safetensors"))
    assert list(ours) == list(theirs)                          # names and file order
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype and torch.equal(ours[key], theirs[key]), key
    with safe_open(str(path), "pt") as f, \
            safe_open(str(tmp_path / "reference.safetensors"), "pt") as g:
        mine, reference_metadata = f.metadata(), g.metadata() or {}
    for removed, kept in reference_metadata.items():              # tied names, as save_model
        assert mine[removed] == kept
    assert mine["fastinit.seed"] == "3"
    assert result["bytes"] == sum(t.numel() * t.element_size() for t in ours.values())


@pytest.mark.parametrize("name, model_class", [("llama-tied", LlamaForCausalLM),
                                               ("gpt2", GPT2LMHeadModel)])
def test_from_pretrained_loads_it_with_the_materialized_logits(tmp_path, name, model_class):
    """The real client: a folder with config.json and model.safetensors."""
    model = _meta(name)
    fastinit.torch.save_initialized(model, tmp_path / "model.safetensors", 11)
    model.config.save_pretrained(tmp_path)
    loaded = model_class.from_pretrained(tmp_path).eval()
    reference = fastinit.torch.materialize(_meta(name), 11).eval()
    ids = torch.randint(0, 300, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, reference(ids).logits)


def test_init_fn_replaces_the_modules_init(tmp_path):
    def init_fn(module, name):
        for p in module.parameters(recurse=False):
            torch.nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04)

    model = _meta("torch-transformer")
    fastinit.torch.save_initialized(model, tmp_path / "m.safetensors", 2, init_fn=init_fn)
    reference = fastinit.torch.materialize(_meta("torch-transformer"), 2, init_fn=init_fn)
    ours = load_file(str(tmp_path / "m.safetensors"))
    for key, tensor in reference.state_dict().items():
        assert torch.equal(ours[key], tensor), key
        assert ours[key].abs().max() <= 0.04
    # A non-persistent buffer (Llama's rotary inv_freq) that init_fn leaves alone is not stored,
    # so it need not be computed.
    fastinit.torch.save_initialized(_meta("llama"), tmp_path / "l.safetensors", 2,
                                    init_fn=init_fn)
    assert "model.rotary_emb.inv_freq" not in load_file(str(tmp_path / "l.safetensors"))


def test_a_failing_init_removes_the_file_and_leaves_the_module(tmp_path):
    model = _meta("convnet")

    def init_fn(module, name):
        if name == "2":
            raise RuntimeError("boom")
        for p in module.parameters(recurse=False):
            torch.nn.init.normal_(p)

    path = tmp_path / "m.safetensors"
    with pytest.raises(RuntimeError, match="boom") as info:
        fastinit.torch.save_initialized(model, path, 0, init_fn=init_fn)
    assert "while initializing module '2'" in "".join(info.value.__notes__)
    assert list(tmp_path.iterdir()) == []
    assert all(p.is_meta for p in model.parameters()) and all(b.is_meta for b in model.buffers())


def test_bad_arguments_and_existing_files(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fastinit.torch.save_initialized(_meta("convnet"), path, 0)
    assert path.read_bytes() == b"keep"
    with pytest.raises(TypeError, match="torch.nn.Module"):
        fastinit.torch.save_initialized("model", tmp_path / "x.safetensors", 0)
    with pytest.raises(ValueError, match="meta device"):
        fastinit.torch.save_initialized(torch.nn.Linear(2, 2), tmp_path / "x.safetensors", 0)
    with pytest.raises(TypeError, match="seed"):
        fastinit.torch.save_initialized(_meta("convnet"), tmp_path / "x.safetensors", "0")
    fastinit.torch.save_initialized(_meta("convnet"), path, 0, overwrite=True)
    assert "0.weight" in load_file(str(path))


def test_the_model_is_never_all_in_memory(tmp_path):
    """A 265 MB model: each module's pages are released once its init has run, so peak RSS
    grows by about the largest tensor (64 MB), not by the model."""
    code = textwrap.dedent(f"""
        import resource, torch, fastinit.torch
        from transformers import LlamaConfig, LlamaForCausalLM
        cfg = LlamaConfig(hidden_size=512, intermediate_size=2048, num_hidden_layers=8,
                          num_attention_heads=8, vocab_size=32000, tie_word_embeddings=False)
        with torch.device("meta"):
            small = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=64,
                                     num_hidden_layers=1, num_attention_heads=4, vocab_size=64))
            model = LlamaForCausalLM(cfg)
        fastinit.torch.save_initialized(small, {str(tmp_path / 'warm.safetensors')!r}, 0)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        r = fastinit.torch.save_initialized(model, {str(tmp_path / 'm.safetensors')!r}, 0)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(after - before, r["bytes"])
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    growth, nbytes = map(int, result.stdout.split())
    assert nbytes > 250e6
    assert growth < nbytes / 3, f"peak RSS grew by {growth / 2**20:.0f} MiB for a " \
                                f"{nbytes / 2**20:.0f} MiB model"
    assert os.path.getsize(tmp_path / "m.safetensors") > nbytes
