"""fastinit.torch.diagnose: per-layer statistics, the flags of the classic experiments, a model left
as it was, the figure, the example and the command line (docs/torch.md, "Diagnose an init")."""
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fastinit.torch")

import fastinit

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 256


def inputs(width=WIDTH, batch=512):
    return torch.from_numpy(fastinit.Generator(1).uniform(-1, 1, (batch, width), dtype=np.float32))


def run(layers, activation, init, width=WIDTH):
    model = ft.init_mlp(ft.mlp(layers, width, activation), init, 0, activation)
    return ft.diagnose(model, inputs(width), label=init)


# -- the classic experiments (Glorot & Bengio 2010; He et al. 2015) --------------------------------

def test_xavier_keeps_tanh_activations_at_one_scale():
    # Xavier as torch applies it to tanh (gain 5/3): the std stays within 2x across 12 layers.
    d = run(12, "tanh", "xavier_normal:1.6667")
    stds = [r.activation_std for r in d.rows]
    assert max(stds) / min(stds) < 2
    assert d.flags == []
    # Glorot's own gain 1 lets it decay slowly, never 10x: no flag either.
    glorot = run(12, "tanh", "xavier_normal")
    assert glorot.flags == []
    assert glorot.rows[-1].activation_std < glorot.rows[0].activation_std


def test_standard_normal_weights_saturate_tanh():
    d = run(12, "tanh", "normal:1")
    (flag,) = d.flagged("saturation")
    assert flag.layers == [r.name for r in d.rows]
    assert all(r.saturated > 0.5 for r in d.rows)
    assert "xavier" in flag.recommended


def test_small_normal_weights_vanish():
    d = run(12, "tanh", "normal:0.01")
    kinds = [f.message.split(" std")[0] for f in d.flagged("vanishing")]
    assert kinds == ["activation", "back-propagated gradient"]
    assert d.rows[-1].activation_std < 1e-6 * d.rows[0].activation_std


def test_zeros_flag_symmetry():
    d = run(12, "tanh", "zeros")
    (flag,) = d.flagged("symmetry")
    assert len(flag.layers) == 12 and all(r.identical_rows for r in d.rows)
    assert not run(12, "tanh", "xavier_normal").flagged("symmetry")


def test_xavier_vanishes_in_a_deep_relu_net_and_he_does_not():
    xavier = run(30, "relu", "xavier_normal")
    he = run(30, "relu", "kaiming_normal")
    assert {f.message.split(" std")[0] for f in xavier.flagged("vanishing")} == {
        "activation", "back-propagated gradient"}
    assert all("kaiming" in f.recommended for f in xavier.flags)
    assert he.flags == []
    stds = [r.activation_std for r in he.rows]
    assert max(stds) / min(stds) < 10


def test_dead_relus_are_flagged():
    model = ft.mlp(4, 64, "relu")
    ft.init_mlp(model, "kaiming_normal")
    with torch.no_grad():
        model[2].bias.fill_(-100.0)          # the second layer's units never activate
    d = ft.diagnose(model, inputs(64))
    (flag,) = d.flagged("dead")
    # Every layer after it sees only zeros (and zero biases): dead too.
    assert flag.layers == ["2", "4", "6"] and d.rows[1].dead == 1.0 and d.rows[1].zeros == 1.0
    # A healthy ReLU layer is 0 on about half of its outputs, with no unit dead on every input.
    assert 0.4 < d.rows[0].zeros < 0.6 and d.rows[0].dead < 0.1


# -- the table ------------------------------------------------------------------------------------

def test_rows_follow_execution_order_with_fans_and_reference_stds():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 30), torch.nn.Tanh(), torch.nn.Linear(30, 20),
                                torch.nn.Sigmoid(), torch.nn.Linear(20, 5))
    d = ft.diagnose(model, inputs(10, 64))
    assert [(r.name, r.type, r.fan_in, r.fan_out, r.activation) for r in d.rows] == [
        ("0", "Linear", 10, 30, "tanh"), ("2", "Linear", 30, 20, "sigmoid"),
        ("4", "Linear", 20, 5, "linear")]
    r = d.rows[1]
    assert r.xavier_std == pytest.approx((2 / 50) ** 0.5)
    assert r.he_std == pytest.approx((2 / 30) ** 0.5) and r.lecun_std == pytest.approx(30 ** -0.5)
    assert r.weight_std == pytest.approx(float(model[2].weight.detach().double().std()))
    assert all(x.weight_grad_std > 0 and x.grad_output_std > 0 for x in d.rows)
    table = d.to_dict()
    assert {len(v) for v in table.values()} == {3}
    assert table["name"] == ["0", "2", "4"]
    text = str(d)
    assert "fan_in" in text and "\n0 " in text
    assert d.flags and all(f"flag {f}" in text for f in d.flags)


def test_gradients_are_the_loss_gradients():
    # One layer, loss = sum(y): dL/dy = 1 everywhere (std 0), dL/dW = sum over the batch of x.
    layer = torch.nn.Linear(4, 3)
    x = inputs(4, 32)
    d = ft.diagnose(layer, x, loss=lambda y: y.sum())
    assert d.rows[0].grad_output_std == 0.0
    expected = x.sum(0).repeat(3, 1).double().std()
    assert d.rows[0].weight_grad_std == pytest.approx(float(expected))


def test_the_model_is_left_as_it_was():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8),
                                torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 4))
    model.train()
    model[1].eval()
    model[4].weight.requires_grad_(False)                 # a frozen layer
    model[0].weight.grad = torch.full_like(model[0].weight, 7.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    flags = [p.requires_grad for p in model.parameters()]
    x = torch.from_numpy(fastinit.Generator(2).standard_normal((16, 3, 8, 8), dtype=np.float32))
    d = ft.diagnose(model, x)
    assert [r.type for r in d.rows] == ["Conv2d", "Linear"]
    assert d.rows[1].weight_grad_std > 0                  # measured although frozen
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert [m.training for m in model.modules()] == modes
    assert [p.requires_grad for p in model.parameters()] == flags
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 7.0))
    assert model[4].weight.grad is None and model[0].bias.grad is None


def test_a_transformers_model_built_from_a_small_config():
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, max_position_embeddings=64)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.from_numpy(fastinit.Generator(3).integers(0, 128, (2, 16)))
    d = ft.diagnose(model, {"input_ids": ids})
    names = [r.name for r in d.rows]
    assert names[0] == "model.embed_tokens" and names[-1] == "lm_head"
    assert "model.layers.0.mlp.gate_proj" in names
    gate = d.rows[names.index("model.layers.0.mlp.gate_proj")]
    # SiLU, named as it is: He's init calls for it, but it is never exactly 0.
    assert (gate.activation, gate.family, gate.zeros, gate.dead) == ("silu", "smooth", None, None)
    assert [b.name for b in d.blocks] == ["model.layers.0", "model.layers.1"]
    assert all(0.5 < b.attention_entropy <= 1 and b.stream_std > 0 and b.grad_std > 0
               for b in d.blocks)
    assert all(np.isfinite(r.activation_std) and r.grad_output_std > 0 for r in d.rows)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_compare_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    model = ft.init_mlp(ft.mlp(6, 32, "tanh"), "xavier_normal")
    figure = tmp_path / "diag.png"
    d = ft.diagnose(model, inputs(32), plot=figure, label="xavier", compare={
        "zeros": lambda m: ft.init_mlp(m, "zeros"),
        "small": ft.init_mlp(ft.mlp(6, 32, "tanh"), "normal:0.01")})
    assert list(d.compared) == ["zeros", "small"]
    assert d.compared["zeros"].flagged("symmetry") and d.compared["small"].flagged("vanishing")
    assert not d.flags
    assert model[0].weight.std() > 0                       # the compared copy, not the model
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and figure.stat().st_size > 10_000
    assert "== zeros" in str(d) and "== small" in str(d)


@pytest.mark.parametrize("call, error", [
    (lambda: ft.diagnose("not a model", inputs()), TypeError),
    (lambda: ft.diagnose(torch.nn.Tanh(), inputs()), ValueError),
    (lambda: ft.diagnose(torch.nn.Linear(WIDTH, 2), inputs(), loss=lambda y: y), TypeError),
    (lambda: ft.diagnose(torch.nn.Linear(WIDTH, 2), inputs(), compare={"x": 3}), TypeError),
    (lambda: ft.init_mlp(ft.mlp(2, 4), "he"), ValueError),
    (lambda: ft.init_mlp(ft.mlp(2, 4), "normal:wide"), ValueError),
    (lambda: ft.init_mlp(ft.mlp(2, 4), "zeros:1"), ValueError),
    (lambda: ft.mlp(0, 4), ValueError),
    (lambda: ft.mlp(2, 4, "swish"), ValueError),
])
def test_bad_arguments(call, error):
    with pytest.raises(error):
        call()


# -- the example and the command line -------------------------------------------------------------

def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastinit", "diagnose", *args],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def test_the_example_reproduces_the_experiments(tmp_path):
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "glorot_bengio.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tanh_12_layers.png").stat().st_size > 10_000
    assert (tmp_path / "relu_30_layers.png").stat().st_size > 10_000
    tanh, relu = done.stdout.split("#### 30-layer ReLU MLP")
    assert "== zeros" in tanh and "flag symmetry" in tanh and "flag saturation" in tanh
    he = relu.split("== kaiming_normal")[1]
    assert "flag vanishing" in relu.split("== kaiming_normal")[0] and "no flags" in he


def test_cli_mlp_with_several_inits_as_json(tmp_path):
    done = _cli("--layers", "30", "--activation", "relu", "--width", "64", "--init",
                "xavier_normal", "kaiming_normal", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert list(result) == ["xavier_normal", "kaiming_normal"]
    assert [f["kind"] for f in result["xavier_normal"]["flags"]] == ["vanishing", "vanishing"]
    assert result["kaiming_normal"]["flags"] == []
    assert len(result["kaiming_normal"]["rows"]["name"]) == 30
    assert result["kaiming_normal"]["blocks"]["name"] == []         # an MLP: no residual blocks


def test_cli_transformers_config_and_plot(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("matplotlib")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "model_type": "llama", "vocab_size": 128, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}))
    figure = tmp_path / "llama.png"
    done = _cli("--config", str(config), "--seq-len", "16", "--plot", str(figure))
    assert done.returncode == 0, done.stderr
    assert "model.layers.1.mlp.down_proj" in done.stdout and "lm_head" in done.stdout
    assert figure.stat().st_size > 10_000


@pytest.mark.parametrize("args, message", [
    (["--init", "he"], "unknown init 'he'"),
    (["--config", "missing.json"], "missing.json"),
])
def test_cli_errors_are_one_line(args, message, tmp_path):
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


# -- residual networks: the per-block view, calibrated on real configs -----------------------------

def _stock(model_class, config):
    """A stock config's model under its own init (built on meta, materialized: fast)."""
    with torch.device("meta"):
        model = model_class(config)
    return ft.materialize(model, 0)


def _ids(vocab, seq=32):
    return {"input_ids": torch.from_numpy(fastinit.Generator(1).integers(0, vocab, (1, seq)))}


def _stock_configs():
    transformers = pytest.importorskip("transformers")
    return {
        "gpt2": (transformers.GPT2LMHeadModel, transformers.GPT2Config()),      # GPT-2 small
        "bert": (transformers.BertForMaskedLM, transformers.BertConfig()),      # BERT-base
    }


# The stock Llama is calibrated through the command line (below): the same build and diagnosis.
@pytest.mark.parametrize("name", ["gpt2", "bert"])
def test_stock_configs_under_their_own_init_raise_no_flag(name):
    model_class, config = _stock_configs()[name]
    d = ft.diagnose(_stock(model_class, config), _ids(config.vocab_size))
    assert len(d.blocks) == config.num_hidden_layers
    assert all(b.attention_entropy is not None and b.attention_entropy > 0.5 for b in d.blocks)
    assert d.flags == [], [str(f) for f in d.flags]


def test_unit_variance_weights_collapse_attention_and_are_flagged():
    model_class, config = _stock_configs()["gpt2"]
    model = _stock(model_class, config)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 1)
    d = ft.diagnose(model, _ids(config.vocab_size))
    collapse = d.flagged("collapse")
    assert collapse and len(collapse[0].layers) == config.n_layer
    assert max(b.attention_entropy for b in d.blocks) < 0.1


def test_a_zero_init_transformer_is_flagged_for_symmetry():
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                                      num_attention_heads=4, num_key_value_heads=2,
                                      vocab_size=128)
    model = _stock(transformers.LlamaForCausalLM, config)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.zero_()
    assert ft.diagnose(model, _ids(128)).flagged("symmetry")


class _Residual(torch.nn.Module):
    def __init__(self, width, scale, rng):
        super().__init__()
        self.fc1, self.fc2, self.scale = torch.nn.Linear(width, width), \
            torch.nn.Linear(width, width), scale
        for fc in (self.fc1, self.fc2):                 # He init, each weight its own draw
            fastinit.init.kaiming_normal_(fc.weight, nonlinearity="relu", generator=rng)
            torch.nn.init.zeros_(fc.bias)

    def forward(self, x):
        return x + self.scale * self.fc2(torch.relu(self.fc1(x)))


class _Stack(torch.nn.Module):
    """A deep residual stack without normalization."""

    def __init__(self, blocks, width, scale):
        super().__init__()
        rng = fastinit.Generator(0)
        self.layers = torch.nn.ModuleList(_Residual(width, scale, rng) for _ in range(blocks))

    def forward(self, x):
        for block in self.layers:
            x = block(x)
        return x


def test_a_deep_stack_without_residual_scaling_is_flagged_and_with_it_is_not():
    x = torch.from_numpy(fastinit.Generator(2).standard_normal((256, 64), dtype=np.float32))
    unscaled = ft.diagnose(_Stack(32, 64, 1.0), x)
    growth = unscaled.blocks[-1].stream_std / unscaled.blocks[0].stream_std
    assert growth > 1000 and [f.kind for f in unscaled.flags if f.kind == "exploding"]
    assert "residual stream" in str(unscaled.flagged("exploding")[0])
    scaled = ft.diagnose(_Stack(32, 64, 1 / math.sqrt(32)), x)
    assert not scaled.flagged("exploding") and not scaled.flagged("vanishing")
    assert scaled.blocks[-1].stream_std / scaled.blocks[0].stream_std < 3


def test_the_cli_on_a_stock_llama_config_gives_no_false_flag(tmp_path):
    pytest.importorskip("transformers")
    config = tmp_path / "llama.json"                # SmolLM-135M's: a published Llama, 30 blocks
    config.write_text(json.dumps({
        "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
        "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
        "vocab_size": 49152, "max_position_embeddings": 2048, "tie_word_embeddings": True}))
    done = subprocess.run([sys.executable, "-m", "fastinit", "diagnose", "--config",
                           str(config), "--batch", "1", "--seq-len", "32", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)["model's own init"]
    assert run["blocks"]["name"] == [f"model.layers.{i}" for i in range(30)]
    assert all(entropy > 0.5 for entropy in run["blocks"]["attention_entropy"])
    assert run["flags"] == []


def test_recipes_compared_per_block_in_a_figure_with_labelled_blocks(tmp_path):
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location(
        "transformer_init", ROOT / "examples" / "transformer_init.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    d = example.experiment(layers=6, width=64, seq=16, figure=tmp_path / "t.png")
    assert list(d.compared) == ["small_init", "gpt-neox", "normal:1"]
    assert [b.name for b in d.blocks] == [f"transformer.h.{i}" for i in range(6)]
    assert d.compared["normal:1"].flagged("collapse") and not d.flags
    assert (tmp_path / "t.png").stat().st_size > 10_000
