"""fastinit.torch.fast_init and materialize on real torch and transformers models: torch's
distributions, fans and bounds; reproducible bits; name-keyed streams; clean failures."""
import math
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from scipy import stats

import fastinit as fi

torch = pytest.importorskip("torch")
ft = pytest.importorskip("fastinit.torch")
ALPHA = 1e-6          # fixed seeds: a KS p-value this small means the distribution is wrong


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same_bits(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _assert_same_distributions(reference, candidate, min_elements=200):
    """Each float tensor: constants equal exactly, random ones pass a two-sample KS test."""
    assert reference.keys() == candidate.keys()
    checked = 0
    for name, ref in reference.items():
        got = candidate[name]
        assert got.shape == ref.shape and got.dtype == ref.dtype, name
        if not ref.is_floating_point():
            assert torch.equal(got, ref), name
            continue
        if ref.numel() > 1 and float(ref.std()) == 0:
            assert torch.equal(got, ref), f"{name}: the constant init differs"
        elif ref.numel() >= min_elements:
            p = stats.ks_2samp(ref.flatten().double().numpy(),
                               got.flatten().double().numpy()).pvalue
            assert p > ALPHA, f"{name}: KS p = {p:.2e}"
            checked += 1
    assert checked > 0


# -- fast_init on torch's own modules -------------------------------------------------------------

TORCH_MODULES = {
    "Linear": lambda: torch.nn.Linear(300, 200),
    "Conv2d": lambda: torch.nn.Conv2d(16, 32, 3),
    "Embedding": lambda: torch.nn.Embedding(500, 64, padding_idx=3),
    "LSTM": lambda: torch.nn.LSTM(32, 64, num_layers=2),
    "MultiheadAttention": lambda: torch.nn.MultiheadAttention(64, 4),
    "Transformer": lambda: torch.nn.Transformer(d_model=64, nhead=4, num_encoder_layers=2,
                                                num_decoder_layers=2, dim_feedforward=128),
}


def _build(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # nn.Transformer's nested-tensor notice
        return make()


@pytest.mark.parametrize("name", list(TORCH_MODULES))
def test_fast_init_gives_torchs_distributions_for_torch_modules(name):
    torch.manual_seed(0)
    reference = _state(_build(TORCH_MODULES[name]))
    with ft.fast_init(seed=0) as rng:
        module = _build(TORCH_MODULES[name])
    assert rng.state["stream"] > 0                # fastinit did the fills
    _assert_same_distributions(reference, _state(module))


def test_fast_init_keeps_torchs_exact_bounds():
    with ft.fast_init(seed=1):
        linear = torch.nn.Linear(400, 300)
        embedding = torch.nn.Embedding(100, 32, padding_idx=7)
        w = torch.nn.init.trunc_normal_(torch.empty(200_000), std=0.02, a=-0.04, b=0.04)
    bound = 1 / math.sqrt(400)                    # kaiming_uniform_(a=sqrt(5)): U(+-1/sqrt(fan_in))
    assert float(linear.weight.detach().abs().max()) < bound
    assert float(linear.bias.detach().abs().max()) < bound
    assert not embedding.weight[7].any()
    assert -0.04 <= float(w.min()) and float(w.max()) <= 0.04
    assert float(w.std()) == pytest.approx(0.02 * 0.8796, rel=0.02)   # truncated at 2 sigma


def test_fast_init_is_reproducible_on_any_thread_count():
    def build(n):
        with fi.threads(n), ft.fast_init(seed=5):
            return _state(torch.nn.Sequential(torch.nn.Linear(1024, 512), torch.nn.Embedding(
                4000, 128), torch.nn.Conv2d(64, 64, 5)))
    one, two = build(1), build(2)
    assert _same_bits(one, two)
    torch.set_num_threads(1)
    try:
        assert _same_bits(one, build(2))
    finally:
        torch.set_num_threads(2)


def test_fast_init_neither_uses_nor_advances_torchs_global_rng():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    with ft.fast_init(seed=0):
        torch.nn.Linear(64, 64)
        torch.empty(1000).normal_()
    assert torch.equal(before, torch.get_rng_state())


def test_an_explicit_torch_generator_falls_through_to_torch():
    expected = torch.empty(100).normal_(generator=torch.Generator().manual_seed(4))
    with ft.fast_init(seed=0) as rng:
        got = torch.empty(100).normal_(generator=torch.Generator().manual_seed(4))
    assert torch.equal(got, expected) and rng.state["stream"] == 0


def test_what_torch_would_reject_still_raises_torchs_error():
    with ft.fast_init(seed=0) as rng:
        with pytest.raises(RuntimeError):
            torch.empty(3).uniform_(1.0, 0.0)          # from > to
        with pytest.raises(RuntimeError):
            torch.empty(3).normal_(0.0, -1.0)          # std < 0
        with pytest.raises(RuntimeError, match="leaf Variable"):
            torch.nn.Parameter(torch.empty(3)).normal_()
    assert rng.state["stream"] == 0


def test_arguments_fastinit_refuses_go_to_torch_unchanged():
    """Bounds beyond float16's range: fastinit's checks refuse them before writing or taking a
    stream number, and the call goes to torch, which raises its own error."""
    t = torch.zeros(5, dtype=torch.float16)
    calls = [lambda: t.uniform_(-1e5, 1e5), lambda: t.uniform_(0, 10**400)]   # huge int too
    errors = []
    for call in calls:                           # what torch itself raises
        with pytest.raises(Exception) as info:
            call()
        errors.append((type(info.value), str(info.value)))
    with ft.fast_init(seed=0) as rng:
        for call, (exc, message) in zip(calls, errors):
            with pytest.raises(exc) as info:
                call()
            assert str(info.value) == message
    assert rng.state["stream"] == 0 and not t.any()


def test_meta_and_integer_tensors_fall_through():
    with ft.fast_init(seed=0) as rng:
        meta = torch.nn.Linear(10, 10, device="meta")
    assert meta.weight.is_meta and rng.state["stream"] == 0


def test_a_non_contiguous_tensor_gets_the_values_of_its_logical_order():
    with ft.fast_init(seed=2):
        t = torch.empty(8, 6).t()
        t.normal_(0.5, 2.0)
    expected = fi.default_rng(2).normal(0.5, 2.0, size=(6, 8), dtype=np.float32)
    assert np.array_equal(t.numpy(), expected)


def test_tensor_methods_and_nn_init_take_keyword_arguments():
    with ft.fast_init(seed=3):
        a = torch.empty(500).uniform_(**{"from": -2.0, "to": 3.0})
        b = torch.empty(500).normal_(mean=1.0, std=0.5)
        c = torch.nn.init.normal_(torch.empty(500), mean=1.0, std=0.5)
    g = fi.default_rng(3)
    assert np.array_equal(a.numpy(), g.uniform(-2.0, 3.0, 500, dtype=np.float32))
    assert np.array_equal(b.numpy(), g.normal(1.0, 0.5, 500, dtype=np.float32))
    assert np.array_equal(c.numpy(), g.normal(1.0, 0.5, 500, dtype=np.float32))


def test_hooks_are_removed_and_other_threads_are_left_alone():
    originals = (torch.Tensor.uniform_, torch.Tensor.normal_, torch.nn.init._no_grad_trunc_normal_)
    other = {}

    def other_thread():
        torch.manual_seed(9)
        other["value"] = torch.empty(50).normal_()

    with ft.fast_init(seed=0):
        assert torch.Tensor.normal_ is not originals[1]
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        with ft.fast_init(seed=1):                     # nested: the inner seed applies
            inner = torch.empty(50).normal_()
    torch.manual_seed(9)
    assert torch.equal(other["value"], torch.empty(50).normal_())
    assert np.array_equal(inner.numpy(), fi.default_rng(1).standard_normal(50, np.float32))
    assert (torch.Tensor.uniform_, torch.Tensor.normal_,
            torch.nn.init._no_grad_trunc_normal_) == originals
    assert "normal_" not in vars(torch.Tensor)


def test_fast_init_rejects_a_bad_seed():
    with pytest.raises(TypeError, match="seed"):
        with ft.fast_init(seed="zero"):
            pass


# -- fast_init and materialize on transformers models ---------------------------------------------

def _transformers_models():
    transformers = pytest.importorskip("transformers")
    return {
        "llama": (transformers.LlamaForCausalLM, transformers.LlamaConfig(
            hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=1000, tie_word_embeddings=True)),
        "gpt2": (transformers.GPT2LMHeadModel, transformers.GPT2Config(
            n_embd=128, n_layer=2, n_head=4, vocab_size=1000, n_positions=128, bos_token_id=0,
            eos_token_id=0)),
        "bert": (transformers.BertModel, transformers.BertConfig(
            hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
            vocab_size=1000)),
        "resnet": (transformers.ResNetForImageClassification, transformers.ResNetConfig(
            embedding_size=16, hidden_sizes=[32, 64], depths=[1, 1], num_labels=10)),
    }


@pytest.mark.parametrize("name", ["llama", "gpt2", "bert", "resnet"])
def test_transformers_models_get_their_own_distributions(name):
    cls, config = _transformers_models()[name]
    torch.manual_seed(0)
    reference = _state(cls(config))
    with ft.fast_init(seed=0):
        fast = cls(config)
    with ft.fast_init(seed=0):
        again = cls(config)
    with torch.device("meta"):
        meta = cls(config)
    ft.materialize(meta, seed=0)
    _assert_same_distributions(reference, _state(fast))
    _assert_same_distributions(reference, _state(meta))
    assert _same_bits(_state(fast), _state(again))


def test_materialized_llama_recomputes_its_rotary_table_and_runs():
    cls, config = _transformers_models()["llama"]
    reference = cls(config)
    with torch.device("meta"):
        model = cls(config)
    ft.materialize(model, seed=0)
    buffers = dict(model.named_buffers())
    for name, expected in reference.named_buffers():
        assert torch.equal(buffers[name], expected), name
    assert reference.lm_head.weight is reference.model.embed_tokens.weight
    assert model.lm_head.weight is model.model.embed_tokens.weight          # tied, as built
    logits = model(torch.arange(10)[None]).logits
    assert torch.isfinite(logits).all()


def test_materialize_in_bfloat16_is_the_float32_init_rounded_once():
    cls, config = _transformers_models()["llama"]
    with torch.device("meta"):
        f32, bf16 = cls(config), cls(config)
    ft.materialize(f32, seed=3)
    ft.materialize(bf16, seed=3, dtype=torch.bfloat16)
    for (name, a), (_, b) in zip(f32.named_parameters(), bf16.named_parameters()):
        assert b.dtype == torch.bfloat16
        assert torch.equal(a.to(torch.bfloat16), b), name        # normal_ and constants


# -- materialize: name-keyed streams --------------------------------------------------------------

class Block(torch.nn.Module):
    def __init__(self, width, reverse=False):
        super().__init__()
        if reverse:                               # the same names, built in the other order
            self.down = torch.nn.Linear(2 * width, width)
            self.up = torch.nn.Linear(width, 2 * width)
        else:
            self.up = torch.nn.Linear(width, 2 * width)
            self.down = torch.nn.Linear(2 * width, width)
        self.norm = torch.nn.LayerNorm(width)


class Stack(torch.nn.Module):
    def __init__(self, width=64, layers=range(4), reverse=False):
        super().__init__()
        self.embed = torch.nn.Embedding(300, width)
        self.layers = torch.nn.ModuleDict({str(i): Block(width, reverse) for i in layers})
        self.head = torch.nn.Linear(width, 300)


def _materialized(make, seed=0, **kwargs):
    with torch.device("meta"):
        module = make()
    return ft.materialize(module, seed, **kwargs)


def test_each_tensor_is_the_init_function_on_its_named_stream():
    model = _materialized(Stack, seed=11)
    for name, param in model.named_parameters():
        rng = fi.Generator(11, stream=fi.stream_for(name))
        expected = np.empty(tuple(param.shape), np.float32)
        if name == "embed.weight":
            fi.init.normal_(expected, generator=rng)
        elif name.endswith("norm.weight"):
            expected[...] = 1
        elif name.endswith("norm.bias"):
            expected[...] = 0
        elif name.endswith("weight"):
            fi.init.kaiming_uniform_(expected, a=math.sqrt(5), generator=rng)
        else:
            fan_in = model.get_parameter(name[: -len("bias")] + "weight").shape[1]
            fi.init.uniform_(expected, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in),
                             generator=rng)
        assert np.array_equal(param.detach().numpy(), expected), name


def test_values_do_not_depend_on_construction_order_or_other_modules():
    whole = _state(_materialized(Stack))
    reordered = _state(_materialized(lambda: Stack(reverse=True)))
    stage = _state(_materialized(lambda: Stack(layers=[2, 3])))    # a pipeline stage
    assert _same_bits(whole, reordered)
    assert stage.keys() < whole.keys()
    assert all(torch.equal(stage[k], whole[k]) for k in stage)


def test_materialize_is_the_same_on_any_thread_count():
    def build(n):
        with fi.threads(n):
            return _state(_materialized(lambda: Stack(width=512, layers=range(2))))
    assert _same_bits(build(1), build(2))


def test_init_fn_replaces_the_modules_own_init():
    seen = []

    def init_fn(module, name):
        seen.append(name)
        for pname, param in module.named_parameters(recurse=False):
            if pname == "weight" and param.dim() == 2:
                torch.nn.init.trunc_normal_(param, std=0.02, a=-0.04, b=0.04)
            else:
                torch.nn.init.zeros_(param)

    model = _materialized(Stack, init_fn=init_fn)
    assert seen[-1] == "" and "layers.0.up" in seen                     # children first
    w = model.layers["1"].up.weight.detach()
    assert -0.04 <= float(w.min()) and float(w.max()) <= 0.04 and float(w.std()) > 0.015
    rng = fi.Generator(0, stream=fi.stream_for("layers.1.up.weight"))
    expected = fi.init.trunc_normal_(np.empty((128, 64), np.float32), 0.0, 0.02, -0.04, 0.04,
                                     generator=rng)
    assert np.array_equal(w.detach().numpy(), expected)


# -- materialize: bad input and failures ----------------------------------------------------------

class Broken(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ok = torch.nn.Linear(4, 4)
        self.weight = torch.nn.Parameter(torch.empty(4, 4))

    def reset_parameters(self):
        raise RuntimeError("init failed here")


class NoReset(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(4))


class LostBuffer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)
        self.register_buffer("table", torch.arange(4.0), persistent=False)


def test_an_init_that_raises_names_the_module_and_leaves_it_on_meta():
    with torch.device("meta"):
        module = Broken()
    with pytest.raises(RuntimeError, match="init failed here") as info:
        ft.materialize(module, 0)
    assert "weight" in "".join(info.value.__notes__)
    assert all(p.is_meta for p in module.parameters())


@pytest.mark.parametrize("make, exc, match", [
    (NoReset, ValueError, "scale.*init_fn"),
    (LostBuffer, ValueError, "table"),
])
def test_what_no_init_code_computes_is_an_error(make, exc, match):
    with torch.device("meta"):
        module = make()
    with pytest.raises(exc, match=match):
        ft.materialize(module, 0)
    assert all(t.is_meta for t in module.state_dict().values())


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"seed": "0"}, TypeError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"seed": 0, "device": "mps"}, ValueError, "CPU and on CUDA"),
    ({"seed": 0, "dtype": torch.int32}, TypeError, "dtype"),
    ({"seed": 0, "init_fn": 3}, TypeError, "init_fn"),
    ({"seed": 0, "init_fn": lambda m, n: m}, TypeError, "return None"),
])
def test_bad_arguments_are_clear_errors(kwargs, exc, match):
    with torch.device("meta"):
        module = torch.nn.Linear(4, 4)
    with pytest.raises(exc, match=match):
        ft.materialize(module, **kwargs)
    assert module.weight.is_meta


def test_a_module_off_the_meta_device_is_refused():
    with pytest.raises(ValueError, match="meta device"):
        ft.materialize(torch.nn.Linear(4, 4), 0)


# -- memory ----------------------------------------------------------------------------------------

def test_materialize_peak_memory_is_the_model_plus_five_percent():
    """In a fresh process: the peak RSS grows by the parameters' bytes, plus at most 5%."""
    code = """
import resource, torch, fastinit.torch as ft
with torch.device("meta"):
    model = torch.nn.Sequential(*[torch.nn.Linear(2048, 2048) for _ in range(24)])
size = sum(p.numel() * p.element_size() for p in model.parameters())
ft.materialize(torch.nn.Linear(8, 8, device="meta"), 0)      # warm up the code paths
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
ft.materialize(model, 0)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(size, after - before)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    size, grown = map(int, result.stdout.split())
    assert size > 400e6
    assert grown <= 1.05 * size, f"peak grew {grown / size:.3f}x the model's size"


def test_a_transformers_model_inside_a_plain_module_gets_its_own_init():
    cls, config = _transformers_models()["llama"]

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lm = cls(config)
            self.head = torch.nn.Linear(1000, 10)

    wrapper = _materialized(Wrapper)
    embed = wrapper.lm.model.embed_tokens.weight.detach()
    assert float(embed.std()) == pytest.approx(0.02, rel=0.05)        # transformers' normal_
    assert torch.equal(wrapper.lm.model.norm.weight.detach(), torch.ones(128))
    assert float(wrapper.head.weight.detach().abs().max()) < 1 / math.sqrt(1000)   # torch's
    rng = fi.Generator(0, stream=fi.stream_for("lm.model.embed_tokens.weight"))
    assert np.array_equal(embed.numpy(), fi.init.normal_(np.empty((1000, 128), np.float32),
                                                         0.0, 0.02, generator=rng))


def test_a_failed_materialize_leaves_buffers_that_were_real_as_they_were():
    with torch.device("meta"):
        module = Broken()
    real = torch.arange(5.0)
    module.register_buffer("kept", real)                 # on the CPU, as accelerate leaves them
    with pytest.raises(RuntimeError, match="init failed here"):
        ft.materialize(module, 0)
    assert module.kept is real and torch.equal(real, torch.arange(5.0))
    assert all(p.is_meta for p in module.parameters())
