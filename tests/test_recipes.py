"""Init recipes: each pinned against its formula (written out here, independently of the
recipe's code), against transformers' own init where transformers implements it (GPT-2, T5),
roles read from real architectures, and the same bits on the meta device and on the CPU."""
import math

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
stats = pytest.importorskip("scipy.stats")

import fastinit.torch as ft  # noqa: E402
from fastinit.torch.recipes import RECIPES, plan, recipe, roles  # noqa: E402

D, L, V = 64, 6, 256


def _llama(width=D, layers=L, meta=True):
    config = transformers.LlamaConfig(hidden_size=width, intermediate_size=2 * width,
                                      num_hidden_layers=layers, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=V,
                                      max_position_embeddings=64, tie_word_embeddings=False)
    if not meta:
        return transformers.LlamaForCausalLM(config)
    with torch.device("meta"):
        return transformers.LlamaForCausalLM(config)


def _std(model, name):
    return float(model.get_parameter(name).double().std())


def _expected_llama_std(recipe_name, name):
    """Each recipe's formula for a Llama parameter, from its reference."""
    sigma, block = 0.02, name.split(".")[2] if name.startswith("model.layers.") else None
    residual_out = name.endswith(("o_proj.weight", "down_proj.weight"))
    if recipe_name in ("gpt2", "megatron"):            # Megatron scaled_init_method_normal
        return sigma / math.sqrt(2 * L) if residual_out else sigma
    if recipe_name == "gpt-neox":                      # small_init + wang_init
        return 2 / (L * math.sqrt(D)) if residual_out else math.sqrt(2 / (5 * D))
    if recipe_name == "small_init":
        return math.sqrt(2 / (5 * D))
    if recipe_name == "olmo":                          # trunc normal at +-3 sigma: std * 0.9866
        return sigma * _trunc_factor()
    if recipe_name in ("olmo-llama", "olmo-llama-depth"):
        if name == "model.embed_tokens.weight":
            return 1.0
        if name == "lm_head.weight":
            return D ** -0.5 * _trunc_factor()
        depth = L if recipe_name == "olmo-llama" else int(block) + 1
        scaled = name.endswith(("o_proj.weight", "down_proj.weight", "up_proj.weight"))
        return (sigma / math.sqrt(2 * depth) if scaled else sigma) * _trunc_factor()
    raise KeyError(recipe_name)


def _trunc_factor():
    """The std of a standard normal truncated to [-3, 3]."""
    a, b = -3.0, 3.0
    z = stats.norm.cdf(b) - stats.norm.cdf(a)
    return math.sqrt(1 + (a * stats.norm.pdf(a) - b * stats.norm.pdf(b)) / z)


@pytest.mark.parametrize("name", ["gpt2", "megatron", "gpt-neox", "small_init", "olmo",
                                  "olmo-llama", "olmo-llama-depth"])
def test_a_recipe_gives_every_llama_weight_its_formulas_std(name):
    model = recipe(_llama(), name, seed=0)
    for pname, p in model.named_parameters():
        if pname.endswith("norm.weight"):
            assert torch.equal(p, torch.ones_like(p)), pname
            continue
        expected = _expected_llama_std(name, pname)
        assert _std(model, pname) == pytest.approx(expected, rel=0.06), pname
        if name.startswith("olmo") and pname != "model.embed_tokens.weight":
            bound = 3 * expected / _trunc_factor()
            assert p.abs().max() <= bound * (1 + 1e-6), f"{pname} leaves +-3 std"


def test_gpt2_recipe_matches_transformers_own_gpt2_init():
    config = transformers.GPT2Config(n_embd=D, n_layer=L, n_head=4, vocab_size=V, n_positions=64)
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(config).state_dict()
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(config)
    got = recipe(model, "gpt2", seed=0).state_dict()
    for key, expected in reference.items():
        if expected.is_floating_point() and expected.numel() >= 64 and expected.std() > 0:
            p = stats.ks_2samp(expected.flatten().numpy(), got[key].flatten().numpy()).pvalue
            assert p > 1e-4, f"{key}: KS p = {p:.2g} against transformers' GPT-2 init"
        else:
            assert torch.equal(expected, got[key]), key


def test_t5_recipe_matches_transformers_own_t5_init_and_its_formulas():
    d, d_kv, heads, d_ff = 32, 8, 4, 64
    config = transformers.T5Config(d_model=d, d_ff=d_ff, num_layers=2, num_heads=heads,
                                   d_kv=d_kv, vocab_size=V, tie_word_embeddings=False)
    torch.manual_seed(0)
    reference = transformers.T5ForConditionalGeneration(config).state_dict()
    with torch.device("meta"):
        model = transformers.T5ForConditionalGeneration(config)
    steps = plan(model, "t5")
    formula = {"q": (d * d_kv) ** -0.5, "k": d ** -0.5, "v": d ** -0.5, "o": (heads * d_kv) ** -0.5,
               "wi": d ** -0.5, "wo": d_ff ** -0.5}
    for pname, (role, (function, args)) in steps.items():
        leaf = pname.rsplit(".", 2)[-2]
        if leaf in formula:
            assert function == "normal_" and args["std"] == pytest.approx(formula[leaf]), pname
        elif pname.endswith(("shared.weight", "lm_head.weight")):
            assert args["std"] == 1.0, pname
    got = recipe(model, "t5", seed=0).state_dict()
    for key, expected in reference.items():
        if expected.numel() >= 64 and expected.std() > 0:
            p = stats.ks_2samp(expected.flatten().numpy(), got[key].flatten().numpy()).pvalue
            assert p > 1e-4, f"{key}: KS p = {p:.2g} against transformers' T5 init"
        else:
            assert torch.equal(expected, got[key]), key


def test_deepnet_gains_follow_deepnorm_beta():
    model = _llama()
    beta = (8 * L) ** -0.25
    for pname, (role, (function, args)) in plan(model, "deepnet").items():
        if pname.endswith(("q_proj.weight", "k_proj.weight")):
            assert (function, args["gain"]) == ("xavier_normal_", 1.0)
        elif pname.endswith(("v_proj.weight", "o_proj.weight", "gate_proj.weight",
                             "up_proj.weight", "down_proj.weight")):
            assert (function, args["gain"]) == ("xavier_normal_", beta), pname
    recipe(model, "deepnet", seed=0)
    w = model.model.layers[0].self_attn.v_proj.weight
    expected = beta * math.sqrt(2 / (w.shape[0] + w.shape[1]))
    assert _std(model, "model.layers.0.self_attn.v_proj.weight") == pytest.approx(expected,
                                                                                   rel=0.08)


def test_mup_scales_matrix_like_weights_by_the_fan_in_width_multiplier():
    base, wide = _llama(width=32), _llama(width=128)
    steps = plan(wide, "mup", base=base)
    # (inf, inf) weights: sigma / sqrt(fan_in / base_fan_in); vector-like ones keep sigma.
    assert steps["model.layers.0.self_attn.q_proj.weight"][1][1]["std"] == \
        pytest.approx(0.02 / math.sqrt(128 / 32))
    assert steps["model.layers.0.mlp.down_proj.weight"][1][1]["std"] == \
        pytest.approx(0.02 / math.sqrt(256 / 64))
    assert steps["model.embed_tokens.weight"][1][1]["std"] == 0.02
    assert steps["lm_head.weight"][1][1]["std"] == 0.02
    assert plan(wide, "mup", base=base, readout_zero_init=True)["lm_head.weight"][1][0] == \
        "zeros_"
    # At its base shapes, mup is the standard parametrization: every std is sigma.
    same = plan(_llama(width=32), "mup", base=_llama(width=32))
    assert {args.get("std", 0.02) for _, (_, args) in same.values()} == {0.02}
    recipe(wide, "mup", seed=0, base=base)
    assert _std(wide, "model.layers.1.self_attn.k_proj.weight") == pytest.approx(0.01, rel=0.06)
    with pytest.raises(ValueError, match="needs base="):
        plan(wide, "mup")


def test_lsuv_brings_every_linear_output_to_unit_variance_on_the_batch():
    model = ft.mlp(layers=8, width=64, activation="tanh")
    batch = torch.randn(512, 64, generator=torch.Generator().manual_seed(0))
    recipe(model, "lsuv", seed=0, batch=batch, tol=0.02)
    outputs = []
    hooks = [m.register_forward_hook(lambda m, a, out: outputs.append(out.detach()))
             for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        model(batch)
    for h in hooks:
        h.remove()
    assert len(outputs) == 8
    for out in outputs:
        assert out.var().item() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="needs batch="):
        recipe(ft.mlp(layers=2, width=8), "lsuv", seed=0)


@pytest.mark.parametrize("name", sorted(set(RECIPES) - {"mup", "lsuv"}))
def test_the_same_bits_on_meta_and_on_the_cpu_and_torchs_rng_untouched(name):
    before = torch.random.get_rng_state()
    on_meta = recipe(_llama(layers=2), name, seed=3).state_dict()
    assert torch.equal(before, torch.random.get_rng_state())
    torch.manual_seed(0)
    allocated = recipe(_llama(layers=2, meta=False), name, seed=3).state_dict()
    other = recipe(_llama(layers=2), name, seed=4).state_dict()
    assert all(torch.equal(on_meta[k], allocated[k]) for k in on_meta)
    assert not torch.equal(on_meta["model.layers.0.mlp.up_proj.weight"],
                           other["model.layers.0.mlp.up_proj.weight"])


def test_a_parameter_without_a_role_is_named_and_roles_override():
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mystery = torch.nn.Linear(8, 8)

    model = torch.nn.Sequential(torch.nn.ModuleList([Block(), Block()]))
    with pytest.raises(ValueError, match=r"no role for parameter '0\.0\.mystery\.weight'"):
        roles(model)
    given = {f"0.{i}.mystery.weight": "mlp_in" for i in range(2)}
    assert roles(model, given)["0.1.mystery.weight"] == "mlp_in"
    with pytest.raises(ValueError, match="is not a role"):
        roles(model, {"0.0.mystery.weight": "sideways"})
    with pytest.raises(ValueError, match="did you mean 'gpt2'"):
        plan(_llama(), "gtp2")


ARCHITECTURES = {
    "LlamaForCausalLM": ("LlamaConfig", {}),
    "GPT2LMHeadModel": ("GPT2Config", dict(n_embd=32, n_layer=2, n_head=4)),
    "GPTNeoXForCausalLM": ("GPTNeoXConfig", {}),
    "OPTForCausalLM": ("OPTConfig", dict(ffn_dim=64, word_embed_proj_dim=32)),
    "MixtralForCausalLM": ("MixtralConfig", dict(num_local_experts=4)),
    "BertForMaskedLM": ("BertConfig", {}),
    "T5ForConditionalGeneration": ("T5Config", dict(d_model=32, d_ff=64, num_heads=4,
                                                    num_layers=2, d_kv=8)),
    "BartForConditionalGeneration": ("BartConfig", dict(
        d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64)),
    "MambaForCausalLM": ("MambaConfig", dict(state_size=8)),
    "ViTForImageClassification": ("ViTConfig", dict(image_size=32, patch_size=8)),
}


@pytest.mark.parametrize("model_class", ARCHITECTURES)
def test_roles_are_read_from_real_architectures(model_class):
    config_class, extra = ARCHITECTURES[model_class]
    kwargs = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, vocab_size=V, **extra)
    with torch.device("meta"):
        model = getattr(transformers, model_class)(getattr(transformers, config_class)(**kwargs))
    found = roles(model)
    assert {"attn_in", "attn_out"} <= set(found.values())
    outputs = [n for n, r in found.items() if r in ("attn_out", "mlp_out")]
    assert outputs and all(".0." in n or ".1." in n for n in outputs)   # inside the blocks
    recipe(model, "gpt2", seed=0)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_the_cli_compares_recipes_side_by_side(tmp_path, capsys):
    import json

    from fastinit import cli

    config = tmp_path / "llama.json"
    config.write_text(json.dumps({"model_type": "llama", "hidden_size": 32,
                                  "intermediate_size": 64, "num_hidden_layers": 2,
                                  "num_attention_heads": 4, "num_key_value_heads": 2,
                                  "vocab_size": 64}))
    assert cli.main(["diagnose", "--config", str(config), "--recipe", "gpt2", "small_init",
                     "--seq-len", "8", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert set(runs) == {"recipe gpt2", "recipe small_init"}
    assert runs["recipe gpt2"]["rows"] != runs["recipe small_init"]["rows"]
    assert cli.main(["diagnose", "--config", str(config), "--recipe", "mup"]) == 2
    assert "needs a base model" in capsys.readouterr().err
