"""materialize and fast_init on transformers architectures as they are: 36 of them, built tiny
here (nothing is downloaded), compared tensor by tensor with plain construction.

A tensor that plain construction makes the same under two torch seeds is deterministic: fastinit
must give it exactly.  Any other is random: fastinit's values must follow the same distribution
(two-sample Kolmogorov-Smirnov against plain construction, fixed seeds).  Neither way may use
or advance torch's global RNG, and no parameter may be left as unwritten memory (CLIP's
``logit_scale`` is set in ``__init__`` only).
"""
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
stats = pytest.importorskip("scipy.stats")

import fastinit.torch as ft  # noqa: E402

D = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
         vocab_size=96, max_position_embeddings=64)
DEC = dict(D, num_key_value_heads=2)
VIS = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
           image_size=32, patch_size=8)
ARCHS = {
    "llama": ("LlamaConfig", "LlamaForCausalLM", DEC),
    "mistral": ("MistralConfig", "MistralForCausalLM", DEC),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", DEC),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(DEC, head_dim=8)),
    "gemma": ("GemmaConfig", "GemmaForCausalLM", dict(DEC, head_dim=8)),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", dict(DEC, head_dim=8)),
    "gemma3": ("Gemma3TextConfig", "Gemma3ForCausalLM", dict(DEC, head_dim=8)),
    "phi": ("PhiConfig", "PhiForCausalLM", D),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(DEC, pad_token_id=0, bos_token_id=1,
                                                     eos_token_id=2)),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", dict(n_embd=32, n_layer=2, n_head=4,
                                                   vocab_size=96, n_positions=64)),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", D),
    "gptj": ("GPTJConfig", "GPTJForCausalLM", dict(n_embd=32, n_layer=2, n_head=4,
                                                   vocab_size=96, n_positions=64, rotary_dim=4)),
    "opt": ("OPTConfig", "OPTForCausalLM", dict(hidden_size=32, ffn_dim=64, num_hidden_layers=2,
                                                num_attention_heads=4, vocab_size=96,
                                                max_position_embeddings=64,
                                                word_embed_proj_dim=32)),
    "falcon": ("FalconConfig", "FalconForCausalLM", dict(hidden_size=32, num_hidden_layers=2,
                                                         num_attention_heads=4, vocab_size=96)),
    "bloom": ("BloomConfig", "BloomForCausalLM", dict(hidden_size=32, n_layer=2, n_head=4,
                                                      vocab_size=96)),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", dict(DEC, num_local_experts=4,
                                                            num_experts_per_tok=2)),
    "qwen2_moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", dict(
        DEC, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
        shared_expert_intermediate_size=32)),
    "mamba": ("MambaConfig", "MambaForCausalLM", dict(hidden_size=32, num_hidden_layers=2,
                                                      vocab_size=96, state_size=8)),
    "mamba2": ("Mamba2Config", "Mamba2ForCausalLM", dict(hidden_size=32, num_hidden_layers=2,
                                                         vocab_size=96, state_size=8,
                                                         num_heads=4, head_dim=16, n_groups=1)),
    "olmo": ("OlmoConfig", "OlmoForCausalLM", DEC),
    "olmo2": ("Olmo2Config", "Olmo2ForCausalLM", DEC),
    "deepseek_v3": ("DeepseekV3Config", "DeepseekV3ForCausalLM", dict(
        DEC, moe_intermediate_size=32, n_routed_experts=4, num_experts_per_tok=2,
        n_shared_experts=1, first_k_dense_replace=1, kv_lora_rank=16, q_lora_rank=16,
        qk_rope_head_dim=4, qk_nope_head_dim=4, v_head_dim=8, n_group=1, topk_group=1)),
    "bert": ("BertConfig", "BertForMaskedLM", D),
    "roberta": ("RobertaConfig", "RobertaForMaskedLM", D),
    "distilbert": ("DistilBertConfig", "DistilBertForMaskedLM", dict(
        dim=32, hidden_dim=64, n_layers=2, n_heads=4, vocab_size=96,
        max_position_embeddings=64)),
    "albert": ("AlbertConfig", "AlbertForMaskedLM", dict(D, embedding_size=16)),
    "electra": ("ElectraConfig", "ElectraForMaskedLM", dict(D, embedding_size=16)),
    "t5": ("T5Config", "T5ForConditionalGeneration", dict(d_model=32, d_ff=64, num_layers=2,
                                                         num_heads=4, d_kv=8, vocab_size=96)),
    "bart": ("BartConfig", "BartForConditionalGeneration", dict(
        d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, vocab_size=96,
        max_position_embeddings=64)),
    "whisper": ("WhisperConfig", "WhisperForConditionalGeneration", dict(
        d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, vocab_size=96,
        num_mel_bins=16, max_source_positions=32, max_target_positions=32, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)),
    "vit": ("ViTConfig", "ViTForImageClassification", VIS),
    "convnext": ("ConvNextConfig", "ConvNextForImageClassification", dict(
        hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)),
    "resnet": ("ResNetConfig", "ResNetForImageClassification", dict(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1])),
    "clip": ("CLIPConfig", "CLIPModel", dict(
        text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, vocab_size=96, max_position_embeddings=16,
                         bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=VIS, projection_dim=16)),
    "swin": ("SwinConfig", "SwinForImageClassification", dict(
        image_size=32, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[2, 2],
        window_size=4)),
    "dinov2": ("Dinov2Config", "Dinov2Model", VIS),
}


def _model(name):
    config_class, model_class, kwargs = ARCHS[name]
    return getattr(transformers, model_class), getattr(transformers, config_class)(**kwargs)


def _plain(name, torch_seed):
    cls, config = _model(name)
    torch.manual_seed(torch_seed)
    return cls(config).state_dict()


def _fastinit(name, how, seed=0):
    """The state dict, and whether torch's global RNG was left as it was."""
    cls, config = _model(name)
    before = torch.random.get_rng_state()
    if how == "fast_init":
        with ft.fast_init(seed=seed):
            model = cls(config)
    else:
        with torch.device("meta"):
            model = cls(config)
        ft.materialize(model, seed)
    return model.state_dict(), torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("how", ["materialize", "fast_init"])
@pytest.mark.parametrize("name", sorted(ARCHS))
def test_every_tensor_matches_plain_construction(name, how):
    reference, other_seed = _plain(name, 0), _plain(name, 1)
    got, rng_kept = _fastinit(name, how)
    assert rng_kept, "torch's global RNG was used"
    assert sorted(got) == sorted(reference)
    for key, expected in reference.items():
        value = got[key]
        assert value.shape == expected.shape and value.dtype == expected.dtype, key
        if not expected.is_floating_point() or torch.equal(expected, other_seed[key]):
            assert torch.equal(value, expected), f"{key}: deterministic, and not the same"
        else:
            assert torch.isfinite(value).all(), f"{key}: not finite"
            if expected.numel() >= 32:
                p = stats.ks_2samp(expected.flatten().double().numpy(),
                                   value.flatten().double().numpy()).pvalue
                assert p > 1e-4, f"{key}: KS p = {p:.2g} against plain construction"


@pytest.mark.parametrize("how", ["materialize", "fast_init"])
@pytest.mark.parametrize("name", ["mamba", "mamba2", "vit", "clip"])
def test_the_weights_depend_on_fastinits_seed_alone(name, how):
    torch.manual_seed(0)
    first, _ = _fastinit(name, how)
    torch.manual_seed(12345)
    again, _ = _fastinit(name, how)
    other, _ = _fastinit(name, how, seed=1)
    assert all(torch.equal(first[k], again[k]) for k in first)
    random = [k for k in first if first[k].is_floating_point() and first[k].numel() > 1
              and not torch.equal(first[k], other[k])]
    assert random, "no tensor depends on fastinit's seed"
    # The tensors drawn with torch.rand / torch.randn in the model's own code among them.
    drawn = {"mamba": "dt_proj.bias", "mamba2": "dt_bias", "vit": "cls_token",
             "clip": "class_embedding"}[name]
    assert any(k.endswith(drawn) for k in random), (drawn, random)
