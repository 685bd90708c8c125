"""Init recipes: the conventions of published models, applied to any torch model.

A recipe maps each parameter's *role* to an init of the one vocabulary (README, "Naming an
init"):

========== ==============================================================================
role       what it is
========== ==============================================================================
embedding  token (and token-type) embeddings, ``nn.Embedding``
position   learned position embeddings (``wpe``, ``position_embeddings``, ``embed_positions``)
attn_in    attention input projections: q, k, v, fused qkv, low-rank q/kv (DeepSeek's MLA)
attn_out   the attention output projection, which writes into the residual stream
mlp_in     feed-forward input projections (``gate_proj``, ``up_proj``, ``fc1``, ``c_fc``, ...)
mlp_out    the feed-forward output projection, which writes into the residual stream
router     a mixture-of-experts router (``mlp.gate``)
projection a linear layer outside the blocks: an embedding projection, a head's transform, a
           pooler
norm       LayerNorm / RMSNorm weights and biases
bias       the bias of a linear layer
lm_head    the output projection to the vocabulary (when it is not tied to the embedding)
own        left to the model's own init: convolutions, state-space parameters (Mamba's
           ``A_log``, ``D``, ``dt_proj``), class tokens, scalars (CLIP's ``logit_scale``)
========== ==============================================================================

Roles are read from the module structure and the names transformers' architectures use
(:func:`roles`).  A linear layer inside a numbered block that matches no role is a ValueError
naming it, never a silent default; ``roles=`` gives (or overrides) any parameter's role by
name.  On the meta device the model's own init runs first (for ``own`` parameters and buffers
such as rotary tables); on the CPU, ``own`` parameters are kept as they are.

The recipes, with ``L`` layers (residual blocks), width ``d`` and ``σ`` the base std (0.02):

- ``"gpt2"`` (Radford et al. 2019; ``"megatron"``: Shoeybi et al. 2019,
  ``scaled_init_method_normal``): every weight N(0, σ²), the residual outputs (``attn_out``,
  ``mlp_out``) N(0, σ² / (2L)); biases 0, norms 1.
- ``"gpt-neox"``: ``small_init`` N(0, 2 / (5d)) (Nguyen & Salazar 2019, "Transformers without
  tears") for every weight, ``wang_init`` N(0, (2 / (L √d))²) (Wang, Mesh-Transformer-JAX) for
  the residual outputs; ``"small_init"`` uses ``small_init`` everywhere.
- ``"olmo"`` (OLMo-core ``InitMethod.normal``): every weight truncated N(0, σ²) at ±3σ;
  ``"olmo-llama"`` (``InitMethod.llama``): embeddings N(0, 1), the attention output and the
  feed-forward ``up``/``down`` projections at σ / √(2L), the LM head at d^-1/2, all truncated at
  ±3 std; ``"olmo-llama-depth"`` (``llama_depth``): σ / √(2(i + 1)) for block i instead.
- ``"t5"`` (Raffel et al. 2020, Mesh TensorFlow; transformers' ``T5PreTrainedModel``): with
  factor f = 1: embeddings N(0, f²); q N(0, f² / (d · d_kv)); k, v N(0, f² / d); o N(0, f² / (h ·
  d_kv)); ``wi`` N(0, f² / d); ``wo`` N(0, f² / d_ff); an untied LM head N(0, f²).
- ``"deepnet"`` (Wang et al. 2022, DeepNet, Table 1, encoder- or decoder-only): Xavier normal
  with gain β = (8L)^-1/4 for v, the attention output and the feed-forward weights, gain 1 for q
  and k (the residual scale α = (2L)^1/4 is the model's, not the init's).
- ``"mup"`` (Yang et al. 2021, Tensor Programs V; microsoft/mup's ``mup.init.normal_`` after
  ``set_base_shapes``): a dimension is infinite where the model's shape differs from the base
  model's; a matrix-like weight (two infinite dimensions) gets σ / √(fan_in / base_fan_in), a
  vector-like one (embeddings, biases, the LM head) keeps σ, or 0 for the LM head with
  ``readout_zero_init=True``.  Only the init half: μP's output multiplier and 1/d attention
  belong to the model's forward.
- ``"lsuv"`` (Mishkin & Matas 2016, "All you need is a good init"): data-dependent; every
  weight orthogonal, then each linear layer in forward order rescaled until its output variance
  on ``batch`` is 1 (within ``tol``, at most ``iterations`` passes).

Every random fill of the parameter named N draws from ``Generator(seed,
stream=fastinit.stream_for(N))``, as in :func:`fastinit.torch.materialize`: the values depend on
(seed, N, index) only, whether the model is on the meta device or already allocated.

May import: numpy, torch, fastinit._generator, fastinit.init, fastinit.torch.hooks,
fastinit.torch.materialize.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping

import numpy as np
import torch

from fastinit import init as _init
from fastinit._generator import Generator, stream_for
from fastinit.torch.hooks import check_seed

__all__ = ["recipe", "recipe_init_fn", "plan", "roles", "RECIPES", "ROLES"]

ROLES = ("embedding", "position", "attn_in", "attn_out", "mlp_in", "mlp_out", "router",
         "projection", "norm", "bias", "lm_head", "own")

# The last name of a linear layer, by role (transformers' architectures, Megatron, OLMo).
_ATTN_IN = {"q_proj", "k_proj", "v_proj", "q_lin", "k_lin", "v_lin", "x_proj", "query", "key", "value", "c_attn", "query_key_value",
            "qkv_proj", "Wqkv", "q", "k", "v", "in_proj", "q_a_proj", "q_b_proj",
            "kv_a_proj_with_mqa", "kv_b_proj", "att_proj", "qkv", "w_q", "w_k", "w_v", "w_qkv"}
_ATTN_OUT = {"o_proj", "out_proj", "o", "w_out", "attn_out", "out_lin"}
_MLP_IN = {"pwconv1", "gate_proj", "up_proj", "fc1", "c_fc", "dense_h_to_4h", "fc_in", "w1", "w3", "wi",
           "wi_0", "wi_1", "ff_proj", "gate_up_proj", "lin1", "ffn"}
_MLP_OUT = {"pwconv2", "down_proj", "fc2", "dense_4h_to_h", "fc_out", "w2", "wo", "ff_out", "lin2"}
_ROUTER = {"gate", "router", "shared_expert_gate"}
# Linear layers a recipe leaves to the model's own init: Mamba's dt_proj (its std and bias
# follow dt_rank and the dt range, not the width).
_OWN_LINEARS = {"dt_proj"}
# Output heads of classifiers, by the model's top-level name: the lm_head role.
_HEADS = {"classifier", "head", "score", "qa_outputs"}
_LM_HEAD = {"lm_head", "embed_out", "output_projection", "decoder", "proj_out"}
_POSITION = {"wpe", "position_embeddings", "embed_positions", "pos_emb", "position_embedding"}
_ATTENTION_PARENT = re.compile(r"(^|\.)(attn|attention|self_attn|self_attention|SelfAttention|"
                               r"EncDecAttention|encoder_attn|mixer)(\.|$)")


def roles(model: torch.nn.Module, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The role of every parameter of ``model`` (its first name, for tied weights), in
    ``named_parameters`` order.  ValueError naming the first parameter no rule matches."""
    overrides = dict(overrides or {})
    for name, role in overrides.items():
        if role not in ROLES:
            raise ValueError(f"roles: {role!r} (for {name!r}) is not a role; the roles are "
                             f"{', '.join(ROLES)}")
    owners = {f"{m}.{p}" if m else p: (m, sub) for m, sub in model.named_modules()
              for p, _ in sub.named_parameters(recurse=False)}
    found: dict[str, str] = {}
    for name, _ in model.named_parameters():
        given: str | None = overrides.get(name) or _role(name, *owners[name])
        if given is None:
            owner_name, owner = owners[name]
            where = owner_name or "the root"
            raise ValueError(f"recipe: no role for parameter {name!r} (in {where}, a "
                             f"{type(owner).__name__}); give it one with "
                             f"roles={{{name!r}: ...}} (one of {', '.join(ROLES)})")
        found[name] = given
    return found


_BLOCK_PATH = re.compile(r"\.\d+(\.|$)")


def _role(name: str, owner_name: str, owner: torch.nn.Module) -> str | None:
    leaf = name.rsplit(".", 1)[-1]
    last = owner_name.rsplit(".", 1)[-1]
    kind = type(owner).__name__
    linear = isinstance(owner, torch.nn.Linear) or kind == "Conv1D"     # GPT-2's Conv1D
    if "Norm" in kind or last.endswith(("norm", "layernorm", "LayerNorm")) or \
            re.fullmatch(r"ln_\d+|ln_f|final_layer_norm|layer_norm", last):
        return "norm"
    if isinstance(owner, torch.nn.Embedding):
        return "position" if last in _POSITION else "embedding"
    if leaf in ("gate_up_proj", "down_proj") and "Expert" in kind:   # fused experts: (E, out, in)
        return "mlp_in" if leaf == "gate_up_proj" else "mlp_out"
    if "Router" in kind and leaf == "weight":                     # a router without nn.Linear
        return "router"
    conv = isinstance(owner, torch.nn.modules.conv._ConvNd)
    if last in _OWN_LINEARS:
        return "own"
    if leaf == "bias" and not conv:
        return "bias"                  # a linear layer's, or a head's own (BERT's decoder bias)
    if not linear:
        return "own"          # convolutions, SSM parameters, class tokens, scalars
    if owner_name.split(".", 1)[0] in _HEADS:
        return "lm_head"                                 # a classifier's output layer
    parent = owner_name.rsplit(".", 1)[0] if "." in owner_name else ""
    if (last in _LM_HEAD and "." not in owner_name) or owner_name in (
            "cls.predictions.decoder", "lm_head.decoder", "generator_lm_head",
            "predictions.decoder"):
        return "lm_head"
    in_attention = bool(_ATTENTION_PARENT.search(parent))
    if last in _ATTN_IN:
        return "attn_in"
    if last in _ATTN_OUT or (last in ("dense", "c_proj") and in_attention):
        return "attn_out"
    if last == "c_proj" or (last in ("dense", "ffn_output") and (
            parent.endswith(".output") or last == "ffn_output") and not in_attention):
        return "mlp_out"
    if last in _MLP_OUT:
        return "mlp_out"
    if last in _MLP_IN or (last == "dense" and parent.endswith(".intermediate")):
        return "mlp_in"
    if last in _ROUTER:
        return "router"
    if not _BLOCK_PATH.search(owner_name) or last == "reduction":      # Swin's patch merging
        return "projection"   # outside the blocks: embedding projections, head transforms, poolers
    return None


# -- the model's sizes ---------------------------------------------------------------------------

def _config_value(model: torch.nn.Module, *names: str) -> int | None:
    config = getattr(model, "config", None)
    for n in names:
        value = getattr(config, n, None) if config is not None else None
        if isinstance(value, int) and value > 0:
            return value
    return None


def _layers(model: torch.nn.Module) -> int:
    """The number of residual blocks: the config's, else the longest ModuleList."""
    counted = _config_value(model, "num_hidden_layers", "n_layer", "num_layers", "n_layers")
    if counted:
        return counted
    lists = [len(m) for m in model.modules() if isinstance(m, torch.nn.ModuleList)]
    if not lists:
        raise ValueError("recipe: cannot tell the number of layers (no config, no ModuleList of "
                         "blocks); pass layers=")
    return max(lists)


def _width(model: torch.nn.Module, found: dict[str, str]) -> int:
    counted = _config_value(model, "hidden_size", "n_embd", "d_model", "dim")
    if counted:
        return counted
    for name, role in found.items():
        if role in ("attn_in", "mlp_in"):
            return int(model.get_parameter(name).shape[-1])
    raise ValueError("recipe: cannot tell the model's width; pass width=")


_BLOCK = re.compile(r"\.(\d+)\.")


def _block_index(name: str) -> int:
    match = _BLOCK.search(name)
    if match is None:
        raise ValueError(f"recipe: {name!r} is in no numbered block; llama_depth needs the "
                         "block index")
    return int(match.group(1))


# -- the recipes: (name, role, shape) -> an init of the vocabulary --------------------------------

Init = tuple[str, dict[str, float]]


def _normal(std: float) -> Init:
    return ("normal_", {"mean": 0.0, "std": std})


def _trunc(std: float) -> Init:
    return ("trunc_normal_", {"mean": 0.0, "std": std, "a": -3 * std, "b": 3 * std})


_ZERO: Init = ("zeros_", {})
_ONE: Init = ("ones_", {})


class _Context:
    """What a recipe reads of the model: σ, and the layers and width when it needs them."""

    def __init__(self, model: torch.nn.Module, found: dict[str, str], options: dict[str, Any]):
        self.model, self.found, self.options = model, found, options
        self.sigma = float(options.pop("std", 0.02))
        self._layers, self._width = options.pop("layers", None), options.pop("width", None)

    @property
    def layers(self) -> int:
        if self._layers is None:
            self._layers = _layers(self.model)
        return self._layers

    @property
    def width(self) -> int:
        if self._width is None:
            self._width = _width(self.model, self.found)
        return self._width


def _gpt2(ctx: _Context, name: str, role: str) -> Init:
    if role in ("attn_out", "mlp_out"):
        return _normal(ctx.sigma / math.sqrt(2 * ctx.layers))
    return _normal(ctx.sigma)


def _gpt_neox(ctx: _Context, name: str, role: str, wang: bool = True) -> Init:
    small = math.sqrt(2 / (5 * ctx.width))
    if wang and role in ("attn_out", "mlp_out"):
        return _normal(2 / (ctx.layers * math.sqrt(ctx.width)))
    return _normal(small)


def _olmo(ctx: _Context, name: str, role: str, variant: str = "normal") -> Init:
    if variant == "normal":
        return _trunc(ctx.sigma)
    if role in ("embedding", "position"):
        return ("normal_", {"mean": 0.0, "std": 1.0})
    if role == "lm_head":
        return _trunc(ctx.width ** -0.5)
    # OLMo-core scales the attention output and the feed-forward w3 (up) and w2 (down).
    leaf = name.rsplit(".", 2)[-2]
    if role == "attn_out" or role == "mlp_out" or (role == "mlp_in" and leaf in ("up_proj",
                                                                               "w3")):
        depth = ctx.layers if variant == "llama" else _block_index(name) + 1
        return _trunc(ctx.sigma / math.sqrt(2 * depth))
    return _trunc(ctx.sigma)


def _t5(ctx: _Context, name: str, role: str) -> Init:
    factor = float(ctx.options.get("factor", _config_float(ctx.model, "initializer_factor", 1.0)))
    d = ctx.width
    d_kv = _config_value(ctx.model, "d_kv") or d // max(1, _heads(ctx.model))
    heads = _heads(ctx.model)
    d_ff = _config_value(ctx.model, "d_ff") or 4 * d
    leaf = name.rsplit(".", 2)[-2]
    if leaf == "relative_attention_bias":
        return _normal(factor * d ** -0.5)
    if role in ("embedding", "position"):
        return _normal(factor * 1.0)
    if role == "lm_head":
        return _normal(factor * 1.0)
    if role == "attn_in":
        return _normal(factor * (d * d_kv) ** -0.5 if leaf == "q" else factor * d ** -0.5)
    if role == "attn_out":
        return _normal(factor * (heads * d_kv) ** -0.5)
    if role == "mlp_in":
        return _normal(factor * d ** -0.5)
    if role == "mlp_out":
        return _normal(factor * d_ff ** -0.5)
    return _normal(factor * d ** -0.5)                              # router


def _heads(model: torch.nn.Module) -> int:
    return _config_value(model, "num_heads", "num_attention_heads", "n_head") or 1


def _config_float(model: torch.nn.Module, name: str, default: float) -> float:
    value = getattr(getattr(model, "config", None), name, None)
    return float(value) if isinstance(value, (int, float)) else default


def _deepnet(ctx: _Context, name: str, role: str) -> Init:
    beta = (8 * ctx.layers) ** -0.25
    leaf = name.rsplit(".", 2)[-2]
    if role == "attn_in" and leaf in ("v_proj", "value", "v", "w_v"):
        return ("xavier_normal_", {"gain": beta})
    if role in ("attn_out", "mlp_in", "mlp_out"):
        return ("xavier_normal_", {"gain": beta})
    if role in ("attn_in", "router", "lm_head"):
        return ("xavier_normal_", {"gain": 1.0})
    return _normal(ctx.sigma)                                        # embeddings


def _mup(ctx: _Context, name: str, role: str) -> Init:
    base = ctx.options.get("base")
    if base is None:
        raise ValueError("recipe 'mup' needs base= (the model at its base width, on the meta "
                         "device is enough), as mup's set_base_shapes")
    try:
        base_shape = tuple(base.get_parameter(name).shape)
    except AttributeError:
        raise ValueError(f"recipe 'mup': the base model has no parameter {name!r}") from None
    shape = tuple(ctx.model.get_parameter(name).shape)
    if len(base_shape) != len(shape):
        raise ValueError(f"recipe 'mup': {name!r} has shape {shape}, its base {base_shape}")
    infinite = [s != b for s, b in zip(shape, base_shape)]
    if role == "lm_head" and ctx.options.get("readout_zero_init"):
        return _ZERO
    if len(shape) >= 2 and sum(infinite) == 2:             # matrix-like: fan_in and fan_out
        width_mult = shape[-1] / base_shape[-1]
        return _normal(ctx.sigma / math.sqrt(width_mult))
    return _normal(ctx.sigma)                               # vector-like or finite


def _orthogonal(ctx: _Context, name: str, role: str) -> Init:
    if role in ("embedding", "position"):
        return _normal(1.0)
    return ("orthogonal_", {"gain": 1.0})


RECIPES: dict[str, Callable[[_Context, str, str], Init]] = {
    "gpt2": _gpt2,
    "megatron": _gpt2,
    "gpt-neox": _gpt_neox,
    "small_init": lambda ctx, name, role: _gpt_neox(ctx, name, role, wang=False),
    "olmo": _olmo,
    "olmo-llama": lambda ctx, name, role: _olmo(ctx, name, role, "llama"),
    "olmo-llama-depth": lambda ctx, name, role: _olmo(ctx, name, role, "llama_depth"),
    "t5": _t5,
    "deepnet": _deepnet,
    "mup": _mup,
    "lsuv": _orthogonal,
}
_OPTIONS = {"std", "layers", "width", "factor", "base", "readout_zero_init", "batch", "tol",
            "iterations", "roles"}


def plan(model: torch.nn.Module, name: str, **options: Any) -> dict[str, tuple[str, Init]]:
    """What recipe ``name`` does to each parameter of ``model``: ``{parameter: (role, (init
    function, arguments))}`` (``own`` parameters are not in it), for a model on any device (meta
    included).  Nothing is filled."""
    if name not in RECIPES:
        from difflib import get_close_matches
        close = get_close_matches(str(name), RECIPES, n=3)
        raise ValueError(f"recipe: unknown recipe {name!r}"
                         + (f"; did you mean {', '.join(map(repr, close))}?" if close else
                            f"; the recipes are {', '.join(RECIPES)}"))
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise TypeError(f"recipe: unknown option {unknown[0]!r}; the options are "
                        f"{', '.join(sorted(_OPTIONS))}")
    found = roles(model, options.pop("roles", None))
    ctx = _Context(model, found, dict(options))
    result: dict[str, tuple[str, Init]] = {}
    for pname, role in found.items():
        if role == "own":
            continue                                   # the model's own init
        if role in ("norm", "bias"):            # every recipe: norms 1 (their biases 0), biases 0
            init = _ONE if role == "norm" and pname.endswith("weight") else _ZERO
        else:
            init = RECIPES[name](ctx, pname, role)
        result[pname] = (role, init)
    return result


def _fill(tensor: torch.Tensor, init: Init, key: int, name: str) -> None:
    function, args = init
    rng = Generator(key=key, stream=stream_for(name))
    target = tensor.detach()
    if function in ("zeros_", "ones_"):
        target.fill_(0.0 if function == "zeros_" else 1.0)
    elif function == "orthogonal_" and target.dim() > 2:
        for slab in target.view(-1, *target.shape[-2:]):    # fused experts: one per expert
            _init.orthogonal_(slab, gain=args.get("gain", 1.0), generator=rng)
    else:
        getattr(_init, function)(target, generator=rng, **args)


def recipe_init_fn(model: torch.nn.Module, name: str, seed: int | np.random.SeedSequence,
                   **options: Any) -> Callable[[torch.nn.Module, str], None]:
    """The recipe as :func:`fastinit.torch.materialize`'s ``init_fn``: each submodule's own init
    (for its buffers: rotary tables and the like), then its parameters by the recipe."""
    check_seed(seed, "recipe", allow_none=False)
    if name == "lsuv":
        raise ValueError("recipe 'lsuv' is data-dependent: call recipe(model, 'lsuv', seed, "
                         "batch=...) on the model")
    return _init_fn(model, name, seed, **options)


def _init_fn(model: torch.nn.Module, name: str, seed: Any,
             **options: Any) -> Callable[[torch.nn.Module, str], None]:
    steps = plan(model, name, **options)
    key = Generator(seed).key
    root = model

    def init_fn(module: torch.nn.Module, qualified: str) -> None:
        # Every module's own init first (own parameters, buffers such as rotary tables; a
        # parent's, like GPT-2's, may rewrite its children's), then, at the root, which comes
        # last, every parameter of the plan.
        own_init: Any = getattr(root, "_init_weights", None) if hasattr(root, "config") else None
        reset: Any = getattr(module, "reset_parameters", None)
        if callable(own_init):
            own_init(module)
        elif callable(reset):
            reset()
        tie: Any = getattr(root, "tie_weights", None)
        if module is root:
            if callable(tie):
                tie()
            for full, (_, init) in steps.items():
                _fill(root.get_parameter(full), init, key, full)
    return init_fn


def recipe(model: torch.nn.Module, name: str, seed: int | np.random.SeedSequence,
           **options: Any) -> torch.nn.Module:
    """Initialize ``model`` by recipe ``name`` (see the module docstring for the recipes and
    their formulas).

    Parameters
    ----------
    model : torch.nn.Module
        On the meta device (it is materialized, as :func:`fastinit.torch.materialize` with the
        recipe as ``init_fn``) or on the CPU (its parameters are filled in place, buffers kept).
    name : str
        ``"gpt2"``, ``"megatron"``, ``"gpt-neox"``, ``"small_init"``, ``"olmo"``,
        ``"olmo-llama"``, ``"olmo-llama-depth"``, ``"t5"``, ``"deepnet"``, ``"mup"``, ``"lsuv"``.
    seed : int or numpy.random.SeedSequence
    **options
        ``std`` (σ, 0.02), ``layers`` and ``width`` (read from the config or the structure
        otherwise), ``roles`` (``{parameter name: role}``), ``factor`` (t5), ``base`` and
        ``readout_zero_init`` (mup), ``batch``, ``tol`` (0.05) and ``iterations`` (10) (lsuv).

    Returns
    -------
    torch.nn.Module
        ``model``, initialized.

    Raises
    ------
    ValueError
        An unknown recipe, a parameter without a role (named), a missing ``base`` or ``batch``.
    """
    from fastinit.torch.materialize import materialize

    check_seed(seed, "recipe", allow_none=False)
    batch = options.pop("batch", None)
    tol, iterations = float(options.pop("tol", 0.05)), int(options.pop("iterations", 10))
    if name == "lsuv" and batch is None:
        raise ValueError("recipe 'lsuv' needs batch= (inputs the model takes), to scale each "
                         "layer to unit output variance")
    on_meta = any(p.is_meta for p in model.parameters())
    if on_meta:
        # lsuv: its orthogonal start here, its data-dependent scaling below.
        materialize(model, seed, init_fn=_init_fn(model, name, seed, **options))
    else:
        steps = plan(model, name, **options)
        key = Generator(seed).key
        with torch.no_grad():
            for pname, (_, init) in steps.items():
                _fill(model.get_parameter(pname), init, key, pname)
    if name == "lsuv":
        _lsuv(model, batch, tol, iterations)
    return model


def _lsuv(model: torch.nn.Module, batch: Any, tol: float, iterations: int) -> None:
    """Mishkin & Matas (2016), Algorithm 1: each linear layer, in the order the forward pass
    reaches it, is divided by the std of its output on ``batch`` until that variance is within
    ``tol`` of 1."""
    order: list[Any] = []
    outputs: dict[torch.nn.Module, torch.Tensor] = {}

    def record(module: torch.nn.Module, args: Any, output: Any) -> None:
        if module not in outputs:
            order.append(module)
        if isinstance(output, torch.Tensor):
            outputs[module] = output.detach()

    linears: list[Any] = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    handles = [m.register_forward_hook(record) for m in linears]
    try:
        with torch.no_grad():
            _forward(model, batch)
            for layer in list(order):
                for _ in range(iterations):
                    std = float(outputs[layer].float().std())
                    if not math.isfinite(std) or std == 0 or abs(std ** 2 - 1) < tol:
                        break
                    layer.weight.div_(std)
                    if layer.bias is not None:
                        layer.bias.div_(std)
                    _forward(model, batch)
    finally:
        for handle in handles:
            handle.remove()


def _forward(model: torch.nn.Module, batch: Any) -> Any:
    if isinstance(batch, Mapping):
        return model(**batch)
    return model(batch)
