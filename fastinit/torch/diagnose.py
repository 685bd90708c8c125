"""What an init does inside a network: per-layer activation and gradient statistics, flagged.

``fastinit.torch.diagnose(model, inputs)`` runs one forward pass and one backward pass of a scalar
loss with hooks on every leaf module that has a weight matrix, and returns a :class:`Diagnosis`:
one :class:`LayerStats` row per layer in execution order, and the :class:`Flag` s that Glorot &
Bengio (2010) and He et al. (2015) teach to look for.  The model is left exactly as it was.

Each weight layer is paired with the activation module that runs next after it (``nn.Tanh``,
``nn.ReLU``, a transformers ``ACT2FN`` module, ...) before the next weight layer; its "activation"
is that module's output, or the layer's own output when no activation follows.

May import: matplotlib, numpy, torch, fastinit._fans, fastinit._generator, fastinit._tensor_init,
fastinit.init.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch

from fastinit import init as fi_init
from fastinit._fans import calculate_fans
from fastinit._generator import Generator
from fastinit._tensor_init import TensorInit, as_initializer

# Activation module class names (lower case, without "activation") -> the activation's family.
# "relu": exact zeros, whose share and dead units are measured; "smooth": GELU, SiLU and the
# like, which call for He's init too but are never exactly 0.
_FAMILIES = {
    "tanh": "tanh", "hardtanh": "tanh", "sigmoid": "sigmoid", "hardsigmoid": "sigmoid",
    "relu": "relu", "relu6": "relu", "prelu": "relu", "rrelu": "relu", "leakyrelu": "smooth",
    "elu": "smooth", "celu": "smooth", "gelu": "smooth", "newgelu": "smooth",
    "fastgelu": "smooth", "quickgelu": "smooth", "gelutanh": "smooth", "pytorchgelutanh": "smooth",
    "accuratesilu": "smooth", "silu": "smooth", "mish": "smooth", "hardswish": "smooth",
    "softplus": "smooth", "selu": "selu",
}
# The init each family calls for, named as fastinit.init (and torch.nn.init) name it.
RECOMMENDED = {
    "tanh": "xavier_uniform_ / xavier_normal_ (Glorot), gain 5/3",
    "sigmoid": "xavier_uniform_ / xavier_normal_ (Glorot)",
    "relu": "kaiming_normal_ / kaiming_uniform_ (He), nonlinearity='relu'",
    "smooth": "kaiming_normal_ / kaiming_uniform_ (He), nonlinearity='relu'",
    "selu": "lecun_normal_ (LeCun)",
    "linear": "xavier_uniform_ / xavier_normal_ (Glorot) or lecun_normal_",
}
# The thresholds of the flags (docs/torch.md, "Diagnose an init").
GROWTH = 10.0           # vanishing / exploding: a std that changes by more than this across depth
SATURATION = 0.05       # more than this share of tanh/sigmoid outputs beyond |0.99| (or 0.01/0.99)
DEAD = 0.5              # more than this share of ReLU units that are 0 on every input
COLLAPSE = 0.1          # attention entropy below this share of log(keys): one key per query
# What a residual network's flags call for.
RESIDUAL = ("residual scaling: the recipes gpt2 / megatron (std / sqrt(2 * layers) on the "
            "residual outputs) or gpt-neox (wang_init), or a normalization in each block")
ATTENTION = ("a small std for the q and k projections (0.02, or the recipes gpt2, small_init, "
             "t5)")


@dataclasses.dataclass
class LayerStats:
    """One weight layer's statistics (``Diagnosis.rows``, in execution order).

    ``grad_output_std`` is the std of the loss's gradient with respect to the layer's output (the
    back-propagated signal); ``weight_grad_std`` that of the gradient of its weight, which can stay
    flat while the back-propagated one vanishes (Glorot & Bengio, 2010, section 4.2).  The
    ``*_std`` of Xavier, He and LeCun are what those inits give for the layer's fans.
    """

    name: str
    type: str
    fan_in: int
    fan_out: int
    weight_std: float
    xavier_std: float
    he_std: float
    lecun_std: float
    activation: str             # the activation module after the layer (silu, gelu, ...), or
    #                             "linear"
    activation_std: float
    saturated: float | None     # tanh/sigmoid: share of outputs beyond |0.99|
    zeros: float | None         # ReLU family: share of outputs exactly 0 (healthy: about half)
    dead: float | None          # ReLU family: share of units that are 0 on every input
    grad_output_std: float
    weight_grad_std: float
    identical_rows: bool        # some rows of the weight matrix are equal
    family: str = "linear"      # tanh, sigmoid, relu, smooth (GELU, SiLU, ...), selu, linear


@dataclasses.dataclass
class Flag:
    """A problem found: its kind, the layers, what was measured and the init to use."""

    kind: str                   # "vanishing", "exploding", "saturation", "dead", "symmetry"
    layers: list[str]           # the layers it concerns (first and last for depth-wide flags)
    message: str
    recommended: str

    def __str__(self) -> str:
        where = " -> ".join(self.layers) if self.kind in ("vanishing", "exploding") else (
            f"{len(self.layers)} layer{'s' * (len(self.layers) > 1)} ({_names(self.layers)})")
        return f"{self.kind}: {where}: {self.message}; use {self.recommended}"


def _names(names: list[str], shown: int = 6) -> str:
    return ", ".join(names) if len(names) <= shown else (
        ", ".join(names[:shown - 1]) + f", ..., {names[-1]}")


@dataclasses.dataclass
class BlockStats:
    """One residual block's statistics (``Diagnosis.blocks``, in execution order): a
    transformers decoder or encoder layer, a ResNet stage (the children of a ``ModuleList`` of
    one class).

    ``stream_std`` is the std of the residual stream after the block (its output), ``update``
    the std of what the block added, relative to the stream it got (``std(out - in) /
    std(in)``); ``grad_std`` the std of the back-propagated gradient at the block's output.
    ``attention_entropy`` is the attention's mean entropy over heads and queries divided by
    log(keys) (1: uniform over every key; causal attention at init sits near 0.75; 0: each query
    on one key), ``attention_logit_std`` the mean std of the attention logits within a query's
    row; both None without attention (or for a model that cannot return it).
    """

    name: str
    stream_std: float
    update: float
    grad_std: float
    attention_entropy: float | None
    attention_logit_std: float | None


_BLOCK_COLUMNS = ("name", "stream_std", "update", "grad_std", "attention_entropy",
                  "attention_logit_std")
_COLUMNS = ("name", "type", "fan_in", "fan_out", "weight_std", "xavier_std", "he_std",
            "lecun_std", "activation", "activation_std", "saturated", "zeros", "dead",
            "grad_output_std",
            "weight_grad_std", "identical_rows", "family")


@dataclasses.dataclass
class Diagnosis:
    """The result of :func:`diagnose`: ``rows`` (one :class:`LayerStats` per layer), ``flags``,
    the runs it was compared with (``compared``, label -> Diagnosis) and its ``label``.

    ``to_dict()`` gives a dict of columns that ``pandas.DataFrame`` takes; ``str()`` a table.
    """

    label: str
    rows: list[LayerStats]
    flags: list[Flag]
    compared: dict[str, Diagnosis] = dataclasses.field(default_factory=dict)
    blocks: list[BlockStats] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, list[Any]]:
        return {c: [getattr(r, c) for r in self.rows] for c in _COLUMNS}

    def blocks_dict(self) -> dict[str, list[Any]]:
        """The per-block view as columns (empty lists for a model without residual blocks)."""
        return {c: [getattr(b, c) for b in self.blocks] for c in _BLOCK_COLUMNS}

    def flagged(self, kind: str) -> list[Flag]:
        return [f for f in self.flags if f.kind == kind]

    def __str__(self) -> str:
        parts = [self._table()]
        for other in self.compared.values():
            parts.append(other._table())
        return "\n\n".join(parts)

    def _table(self) -> str:
        head = ["layer", "type", "fan_in", "fan_out", "w std", "xavier", "he", "lecun", "act",
                "act std", "satur.", "zeros", "dead", "grad std", "w grad std"]
        body = [[r.name, r.type, str(r.fan_in), str(r.fan_out), _g(r.weight_std),
                 _g(r.xavier_std), _g(r.he_std), _g(r.lecun_std), r.activation,
                 _g(r.activation_std), _pct(r.saturated), _pct(r.zeros), _pct(r.dead),
                 _g(r.grad_output_std), _g(r.weight_grad_std)] for r in self.rows]
        lines = [f"== {self.label}: {len(self.rows)} layers"
                 + (f" in {len(self.blocks)} residual blocks" if self.blocks else "")]
        if self.blocks:             # the primary view of a residual network: per block
            lines += _aligned(["block", "stream std", "update", "grad std", "attn entropy",
                               "attn logit std"],
                              [[b.name, _g(b.stream_std), _g(b.update), _g(b.grad_std),
                                _opt(b.attention_entropy), _opt(b.attention_logit_std)]
                               for b in self.blocks], left=1)
            lines.append("")
        lines += _aligned(head, body, left=2, also=8)
        lines += [f"flag {f}" for f in self.flags] or ["no flags"]
        return "\n".join(lines)


def _aligned(head: list[str], body: list[list[str]], left: int, also: int = -1) -> list[str]:
    """Rows of a table: the first ``left`` columns (and column ``also``) left-aligned."""
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = []
    for i, row in enumerate([head] + body):
        lines.append("  ".join(c.ljust(w) if j < left or j == also else c.rjust(w)
                               for j, (c, w) in enumerate(zip(row, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _opt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _g(x: float) -> str:
    return f"{x:.3g}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _activation_name(module: torch.nn.Module) -> str:
    """``SiLU`` -> ``silu``, transformers' ``NewGELUActivation`` -> ``newgelu``."""
    name = type(module).__name__.lower()
    return name[:-len("activation")] if name.endswith("activation") and name != "activation" \
        else name


def _family(module: torch.nn.Module) -> str | None:
    return _FAMILIES.get(_activation_name(module))


def _weight_layers(model: torch.nn.Module) -> dict[torch.nn.Module, str]:
    """The leaf modules with a weight of two or more dimensions, by module, with their names."""
    found = {}
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if (not list(module.children()) and isinstance(weight, torch.nn.Parameter)
                and weight.dim() >= 2 and module not in found):
            found[module] = name
    return found


def _weight(module: torch.nn.Module) -> torch.Tensor:
    weight = module.weight
    assert isinstance(weight, torch.Tensor)       # _weight_layers chose modules with one
    return weight


def _default_loss(output: torch.Tensor) -> torch.Tensor:
    """<output, R> / N with R standard normal (fixed, from fastinit): a random upstream gradient
    that does not depend on the init, as in He et al.'s analysis of the backward pass."""
    r = torch.from_numpy(Generator(0).standard_normal(output.numel(), dtype=np.float32))
    return (output.reshape(-1) * r.to(output.dtype)).sum() / output.numel()


def _output_tensor(output: Any) -> torch.Tensor:
    """The tensor a model returned: itself, ``.logits`` (transformers), or the first element."""
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(f"diagnose: the model returned a {type(output).__name__}; pass loss= to "
                    "turn it into a scalar")


@contextlib.contextmanager
def _untouched(model: torch.nn.Module) -> Iterator[None]:
    """Run the block in eval mode with every weight requiring grad, then put back the training
    modes, requires_grad flags, .grad tensors and buffers as they were.  (The passes do not
    write to parameters; buffers are copied, since some modules update theirs in a forward.)"""
    modes = {m: m.training for m in model.modules()}
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    grads = [p.grad for p in params]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        model.eval()
        for p in params:
            p.grad = None
            p.requires_grad_(True)
        yield
    finally:
        with torch.no_grad():
            for p, flag, grad in zip(params, flags, grads):
                p.requires_grad_(flag)
                p.grad = grad
            for b, value in buffers:
                b.copy_(value)
        for m, mode in modes.items():
            m.train(mode)


def _stats(x: torch.Tensor) -> float:
    return float(x.detach().double().std()) if x.numel() > 1 else 0.0


def _dead_units(values: torch.Tensor, layer: torch.nn.Module) -> float:
    """The share of a ReLU's units that output 0 for every input of the batch: a healthy ReLU
    outputs 0 on about half its inputs, a dead unit on all of them.  A unit is a channel
    (dimension 1) after a convolution, a feature (the last dimension) otherwise."""
    if values.dim() < 2:
        return float((values == 0).all())
    axis = 1 if isinstance(layer, torch.nn.modules.conv._ConvNd) else values.dim() - 1
    units = values.movedim(axis, 0).reshape(values.shape[axis], -1)
    return float((units == 0).all(dim=1).double().mean())


def _identical_rows(weight: torch.Tensor) -> bool:
    rows = weight.detach().reshape(weight.shape[0], -1)
    return rows.shape[0] > 1 and torch.unique(rows, dim=0).shape[0] < rows.shape[0]


def _blocks(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The residual blocks: the children of each outermost ``ModuleList`` of two or more
    modules of one class with parameters (decoder and encoder layers, ResNet stages)."""
    found: list[tuple[str, torch.nn.Module]] = []

    def visit(prefix: str, module: torch.nn.Module) -> None:
        for name, child in module.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(child, torch.nn.ModuleList) and len(child) >= 2 and \
                    len({type(c) for c in child}) == 1 and any(True for _ in child.parameters()):
                found.extend((f"{full}.{i}", c) for i, c in enumerate(child))
            else:
                visit(full, child)
    visit("", model)
    return found


def _hidden(value: Any) -> torch.Tensor | None:
    """The hidden states in a block's input or output: the tensor, or its first element."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


@contextlib.contextmanager
def _eager_attention(model: torch.nn.Module) -> Iterator[bool]:
    """A transformers model with its attention probabilities returned (the eager
    implementation, for the pass); yields whether the model can return them."""
    config = getattr(model, "config", None)
    setter = getattr(model, "set_attn_implementation", None)
    if config is None or not callable(setter):
        yield False
        return
    before = getattr(config, "_attn_implementation", None)
    try:
        if before != "eager":
            setter("eager")
    except (ValueError, AttributeError, TypeError):       # an architecture without eager
        yield False
        return
    try:
        yield True
    finally:
        if before not in (None, "eager"):
            setter(before)


def _attention_stats(probabilities: torch.Tensor) -> tuple[float, float]:
    """(entropy / log(keys), logit std within a row) of attention probabilities (..., Q, K),
    averaged over the batch, the heads and the queries."""
    p = probabilities.detach().double()
    keys = p.shape[-1]
    entropy = -(p * p.clamp_min(1e-300).log()).sum(-1)
    relative = float(entropy.mean() / math.log(keys)) if keys > 1 else 1.0
    # log p is the logit up to a constant per row, over the keys it does not mask (p > 0).
    logp = torch.where(p > 0, p.clamp_min(1e-300).log(), torch.nan)
    centred = logp - torch.nanmean(logp, dim=-1, keepdim=True)
    std = torch.sqrt(torch.nanmean(centred ** 2, dim=-1))
    return relative, float(torch.nanmean(std)) if torch.isfinite(std).any() else 0.0


def _run(model: torch.nn.Module, inputs: Any, loss: Callable | None, label: str) -> Diagnosis:
    layers = _weight_layers(model)
    if not layers:
        raise ValueError("diagnose: the model has no leaf module with a weight matrix "
                         "(nn.Linear, nn.Conv*, nn.Embedding, ...)")
    order: list[torch.nn.Module] = []             # weight layers, in execution order
    outputs: dict[torch.nn.Module, torch.Tensor] = {}
    activations: dict[torch.nn.Module, tuple[str, torch.Tensor]] = {}
    grads: dict[torch.nn.Module, torch.Tensor] = {}
    last: list[torch.nn.Module | None] = [None]

    def on_weight_layer(module, args, output):
        if module in outputs or not isinstance(output, torch.Tensor):
            return                                # a layer called twice: its first call counts
        order.append(module)
        outputs[module] = output.detach()
        last[0] = module
        if output.requires_grad:
            output.register_hook(lambda g, m=module: grads.setdefault(m, g.detach()))

    def on_activation(module, args, output):
        layer = last[0]
        if layer is not None and layer not in activations and isinstance(output, torch.Tensor):
            activations[layer] = (_activation_name(module), output.detach())

    blocks = _blocks(model)
    block_in: dict[torch.nn.Module, torch.Tensor] = {}
    block_out: dict[torch.nn.Module, torch.Tensor] = {}
    block_grads: dict[torch.nn.Module, torch.Tensor] = {}

    def on_block_input(module, args, kwargs):
        hidden = _hidden(args) if args else _hidden(kwargs.get("hidden_states"))
        if hidden is not None and module not in block_in:
            block_in[module] = hidden.detach()

    def on_block_output(module, args, output):
        hidden = _hidden(output)
        if hidden is None or module in block_out:
            return
        block_out[module] = hidden.detach()
        if hidden.requires_grad:
            hidden.register_hook(lambda g, m=module: block_grads.setdefault(m, g.detach()))

    handles = []
    attentions: list[torch.Tensor] = []
    try:
        for module in model.modules():
            if module in layers:
                handles.append(module.register_forward_hook(on_weight_layer))
            elif _family(module) is not None:
                handles.append(module.register_forward_hook(on_activation))
        for _, block in blocks:
            handles.append(block.register_forward_pre_hook(on_block_input, with_kwargs=True))
            handles.append(block.register_forward_hook(on_block_output))
        with _eager_attention(model) if blocks and isinstance(inputs, Mapping) else \
                contextlib.nullcontext(False) as returns_attention:
            kwargs = dict(inputs) if isinstance(inputs, Mapping) else {}
            if returns_attention:
                kwargs["output_attentions"] = True
            output = model(**kwargs) if isinstance(inputs, Mapping) else (
                model(*inputs) if isinstance(inputs, tuple) else model(inputs))
        for field in ("attentions", "encoder_attentions", "decoder_attentions"):
            found = getattr(output, field, None)
            if isinstance(found, (tuple, list)):
                attentions += [a for a in found if isinstance(a, torch.Tensor)]
        value = (loss or (lambda out: _default_loss(_output_tensor(out))))(output)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise TypeError("diagnose: loss must return a scalar tensor")
        value.backward()
    finally:
        for h in handles:
            h.remove()

    rows = []
    for module in order:
        weight = _weight(module)
        fan_in, fan_out = calculate_fans(tuple(weight.shape))
        activation, act = activations.get(module, ("linear", outputs[module]))
        family = _FAMILIES.get(activation, "linear")
        values = act.double()
        saturated = zeros = dead = None
        if family == "tanh":
            saturated = float((values.abs() > 0.99).double().mean())
        elif family == "sigmoid":
            saturated = float(((values < 0.01) | (values > 0.99)).double().mean())
        elif family == "relu":
            zeros = float((values == 0).double().mean())
            dead = _dead_units(values, module)
        grad = grads.get(module)
        rows.append(LayerStats(
            name=layers[module], type=type(module).__name__, fan_in=fan_in, fan_out=fan_out,
            weight_std=_stats(weight), xavier_std=math.sqrt(2.0 / (fan_in + fan_out)),
            he_std=math.sqrt(2.0 / fan_in), lecun_std=math.sqrt(1.0 / fan_in),
            activation=activation, activation_std=_stats(act), saturated=saturated, zeros=zeros,
            dead=dead, family=family,
            grad_output_std=_stats(grad) if grad is not None else 0.0,
            weight_grad_std=_stats(weight.grad) if weight.grad is not None else 0.0,
            identical_rows=_identical_rows(weight)))
    ran = [(name, b) for name, b in blocks if b in block_out and b in block_in]
    with_attention = len(attentions) == len(ran)        # one attention map per block
    block_rows = []
    for i, (name, block) in enumerate(ran):
        entropy = logit_std = None
        if with_attention:
            entropy, logit_std = _attention_stats(attentions[i])
        x, y = block_in[block].double(), block_out[block].double()
        stream_in = _stats(x)
        update = _stats(y - x) / stream_in if stream_in > 0 and x.shape == y.shape else math.nan
        grad = block_grads.get(block)
        block_rows.append(BlockStats(name, _stats(y), update,
                                     _stats(grad) if grad is not None else 0.0, entropy,
                                     logit_std))
    return Diagnosis(label, rows, _flags(rows, block_rows), blocks=block_rows)


def _depth_flags(what: str, first: str, last: str, a: float, b: float, count: int,
                 unit: str, recommended: str, expected: float = 1.0) -> list[Flag]:
    """A vanishing or exploding flag when ``b / a`` (along the signal) passes GROWTH times the
    ``expected`` growth, or falls below ``1 / GROWTH``."""
    if count < 2 or not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        return []
    ratio = b / a
    kind = "vanishing" if ratio < 1 / GROWTH else "exploding" if ratio > GROWTH * expected \
        else None
    if kind is None:
        return []
    change = f"falls {1 / ratio:.3g}x" if kind == "vanishing" else f"grows {ratio:.3g}x"
    return [Flag(kind, [first, last], f"{what} {change} across {count} {unit} ({a:.3g} -> "
                 f"{b:.3g})", recommended)]


def _flags(rows: list[LayerStats], blocks: list[BlockStats] | None = None) -> list[Flag]:
    flags = []
    families = [r.family for r in rows if r.family != "linear"]
    main = max(set(families), key=families.count) if families else "linear"
    if blocks:
        # A residual network is not a chain of its layers: the signal that must neither
        # vanish nor explode is the residual stream, block after block, and its gradient.
        # Each block adds its update to the stream: L updates of one size add up to
        # sqrt(L) times one, the growth of a healthy residual sum (and of its gradient, going
        # back).  The flags fire 10x beyond that: blocks that multiply the stream.
        first, last = blocks[0], blocks[-1]
        summed = math.sqrt(len(blocks))
        flags += _depth_flags("the residual stream's std", first.name, last.name,
                              first.stream_std, last.stream_std, len(blocks), "blocks",
                              RESIDUAL, summed)
        flags += _depth_flags("the back-propagated gradient std", last.name, first.name,
                              last.grad_std, first.grad_std, len(blocks), "blocks", RESIDUAL,
                              summed)
        collapsed = [b for b in blocks if b.attention_entropy is not None
                     and b.attention_entropy < COLLAPSE]
        if collapsed:
            lowest = min(b.attention_entropy for b in collapsed)            # type: ignore
            flags.append(Flag("collapse", [b.name for b in collapsed],
                              f"attention entropy down to {lowest:.3g} of its maximum: each "
                              "query attends to one key (attention logits too large)",
                              ATTENTION))
    else:
        first_row, last_row = rows[0], rows[-1]
        flags += _depth_flags("activation std", first_row.name, last_row.name,
                              first_row.activation_std, last_row.activation_std, len(rows),
                              "layers", RECOMMENDED[main])
        flags += _depth_flags("back-propagated gradient std", last_row.name, first_row.name,
                              last_row.grad_output_std, first_row.grad_output_std, len(rows),
                              "layers", RECOMMENDED[main])
    # Per-layer problems: one flag per kind and activation, listing its layers.
    checks = (
        ("saturation", lambda r: r.saturated is not None and r.saturated > SATURATION,
         lambda r: r.saturated, "of {act} outputs are saturated (beyond |0.99|)"),
        ("dead", lambda r: r.dead is not None and r.dead > DEAD,
         lambda r: r.dead, "of the units output 0 on every input (dead ReLUs)"),
        ("symmetry", lambda r: r.identical_rows, None,
         ("the weight matrix has identical rows (a zero or constant init): its units receive "
          "the same gradients and stay identical")))
    for kind, hit, share, text in checks:
        for act in dict.fromkeys(r.activation for r in rows):
            found = [r for r in rows if r.activation == act and hit(r)]
            if not found:
                continue
            message = text.format(act=act)
            if share is not None:
                lo, hi = min(share(r) for r in found), max(share(r) for r in found)
                amount = f"{100 * lo:.1f}%" if lo == hi else f"{100 * lo:.1f}-{100 * hi:.1f}%"
                message = f"{amount} {message}"
            family = next(r.family for r in found)
            flags.append(Flag(kind, [r.name for r in found], message,
                              RECOMMENDED["relu" if kind == "dead" else family]))
    return flags


def diagnose(model: torch.nn.Module, inputs: Any, *,
             loss: Callable[[Any], torch.Tensor] | None = None, plot: Any = None,
             compare: Mapping[str, Any] | None = None, label: str = "model") -> Diagnosis:
    """diagnose(model, inputs, *, loss=None, plot=None, compare=None, label="model")

    Per-layer activation and gradient statistics of one forward and one backward pass, with
    vanishing, exploding, saturated, dead and symmetric layers flagged.

    Parameters
    ----------
    model : torch.nn.Module
        Any module (an MLP, a CNN, a transformers model).  Its parameters, buffers, ``.grad``,
        ``requires_grad`` flags and training modes are left exactly as they were; the passes run
        in eval mode (no dropout, BatchNorm on its running statistics).
    inputs : tensor, tuple or dict
        ``model(inputs)``, ``model(*inputs)`` or ``model(**inputs)``.
    loss : callable, optional
        ``loss(output) -> scalar tensor``.  The default is ``<y, R> / N`` for the output tensor
        ``y`` (``.logits`` of a transformers output) and R standard normal from a fixed seed: a
        random upstream gradient that does not depend on the init.
    plot : str or path, optional
        Write a figure there: per-layer activation std and back-propagated gradient std on log
        axes, one line per run.  Needs matplotlib (``pip install fastinit[plot]``).
    compare : dict, optional
        ``label -> model`` or ``label -> init``, where an init is a function applied to a deep
        copy of ``model`` (``init(copy)``): the same architecture under other inits, diagnosed
        alike, in ``Diagnosis.compared`` and in the figure.
    label : str
        This run's name in the table and the figure.

    Returns
    -------
    Diagnosis
        ``rows`` (one :class:`LayerStats` per weight layer, in execution order), ``flags``
        (each :class:`Flag` with the init the layer's activation calls for) and ``compared``.

    Notes
    -----
    Flags: *vanishing* / *exploding* when the activation std from the first layer to the last,
    or the back-propagated gradient std from the last layer to the first, changes by more than
    10x; *saturation* when more than 5% of a tanh/sigmoid layer's outputs lie beyond |0.99|
    (sigmoid: below 0.01 or above 0.99); *dead* when more than 50% of a ReLU layer's units are
    0 on every input of the batch (dead units: a healthy ReLU is 0 on about half of its inputs,
    so a share of zero outputs cannot tell); *symmetry* when a weight matrix has identical rows.
    Xavier's std is ``sqrt(2 / (fan_in + fan_out))``, He's ``sqrt(2 / fan_in)``, LeCun's
    ``sqrt(1 / fan_in)``.

    References
    ----------
    .. [1] X. Glorot, Y. Bengio, "Understanding the difficulty of training deep feedforward
           neural networks", AISTATS (2010).
    .. [2] K. He, X. Zhang, S. Ren, J. Sun, "Delving deep into rectifiers", ICCV (2015).

    Examples
    --------
    >>> import torch, fastinit.torch as ft
    >>> mlp = torch.nn.Sequential(*[m for _ in range(4) for m in (torch.nn.Linear(64, 64),
    ...                                                           torch.nn.Tanh())])
    >>> d = ft.diagnose(mlp, torch.randn(128, 64))
    >>> len(d.rows)
    4
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"diagnose: model must be a torch.nn.Module, got {type(model).__name__}")
    others = {}
    for name, other in (compare or {}).items():
        if isinstance(other, torch.nn.Module):
            others[name] = other
        elif callable(other):
            others[name] = copy.deepcopy(model)
            with torch.no_grad():
                other(others[name])
        else:
            raise TypeError(f"diagnose: compare[{name!r}] must be a module or an init function, "
                            f"got {type(other).__name__}")
    if plot is not None:
        _matplotlib()                              # fail before the passes, not after
    with _untouched(model):
        result = _run(model, inputs, loss, label)
    for name, other in others.items():
        with _untouched(other):
            result.compared[name] = _run(other, inputs, loss, name)
    if plot is not None:
        draw(result, plot)
    return result


# -- the classic experiment's networks ------------------------------------------------------------

ACTIVATIONS: dict[str, type[torch.nn.Module] | None] = {
    "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU,
    "selu": torch.nn.SELU, "gelu": torch.nn.GELU, "linear": None}
def mlp(layers: int, width: int, activation: str = "tanh") -> torch.nn.Sequential:
    """``layers`` blocks of ``nn.Linear(width, width)`` and the activation (``"linear"``: none),
    the network of Glorot & Bengio's and He et al.'s experiments."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers must be a positive int, got {layers!r}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    blocks: list[torch.nn.Module] = []
    make_activation = ACTIVATIONS[activation]
    for _ in range(layers):
        blocks.append(torch.nn.Linear(width, width))
        if make_activation is not None:
            blocks.append(make_activation())
    return torch.nn.Sequential(*blocks)


def init_mlp(model: torch.nn.Module, init: Any, seed: int = 0,
             nonlinearity: str = "relu") -> torch.nn.Module:
    """Initialize every ``nn.Linear`` weight of ``model`` by ``init``, biases to 0, from
    fastinit's stream of ``seed``; returns model.

    ``init`` is any form of naming an init (README, "Naming an init"): ``"normal:0.01"`` is
    N(0, 0.01**2), ``"xavier_normal:1.667"`` has gain 5/3, ``"kaiming_normal"`` is torch's
    ``kaiming_normal_``, ``"he_normal"`` Keras' HeNormal.  A torch function fills each weight as
    torch stores it, (out, in), with torch's fans; ``nonlinearity`` goes to the kaiming
    functions given neither ``a`` nor a nonlinearity (``kaiming_normal`` under tanh: gain 5/3).  A Keras/JAX
    initializer or a distribution draws each weight as the Keras kernel (in, out), so that its
    fans are Keras', and stores it transposed.
    """
    obj = as_initializer(init, f"init {init!r}")
    generator = Generator(seed)
    form = getattr(obj, "form", None)
    if form is not None and form.kind == "function":
        args = dict(form.args)
        if form.name.startswith("kaiming") and not {"a", "nonlinearity"} & set(args):
            # torch's gain table has no GELU: He's ReLU gain is the usual choice for it.
            args["nonlinearity"] = {"gelu": "relu"}.get(nonlinearity, nonlinearity)
        function = getattr(fi_init, form.name)
        if "generator" in inspect.signature(function).parameters:
            args["generator"] = generator
        return _each_linear(model, lambda weight: function(weight, **args))
    return _each_kernel(model, obj, generator)


def _each_linear(model: torch.nn.Module, fill: Callable[[torch.Tensor], Any]) -> torch.nn.Module:
    """``fill`` every ``nn.Linear`` weight of ``model`` in order, its bias to 0."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                fill(module.weight)
                if module.bias is not None:
                    module.bias.zero_()
    return model


def _each_kernel(model: torch.nn.Module, obj: Any, generator: Any) -> torch.nn.Module:
    """Every ``nn.Linear`` weight by the initializer ``obj``, biases to 0.

    Keras' fans read a kernel as (in, out); torch stores (out, in).  Each weight is therefore
    drawn as the (in, out) kernel, one stream of ``generator`` per layer, and stored transposed,
    so fan_in is the layer's input width as in Keras.
    """
    spec = TensorInit(obj)

    def fill(weight: torch.Tensor) -> None:
        kernel = np.empty(weight.shape[::-1], np.float32)          # (in, out)
        spec.fill(kernel, kernel.shape, None, generator)
        weight.copy_(torch.from_numpy(kernel.T))

    return _each_linear(model, fill)


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError("diagnose(plot=...) needs matplotlib: pip install fastinit[plot]") \
            from None
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    return plt


def draw(diagnosis: Diagnosis, path: Any) -> None:
    """Write the figure of a diagnosis (and the runs it was compared with) to ``path``: per
    block for a residual network (stream std, back-propagated gradient std, attention entropy,
    the x axis labelled with the blocks), per layer otherwise."""
    plt = _matplotlib()
    runs = [diagnosis, *diagnosis.compared.values()]
    by_block = bool(diagnosis.blocks)
    panels = ([("residual stream std", "stream_std", True),
               ("back-propagated gradient std", "grad_std", True)]
              + ([("attention entropy / log(keys)", "attention_entropy", False)]
                 if any(b.attention_entropy is not None for b in diagnosis.blocks) else [])
              if by_block else
              [("activation std", "activation_std", True),
               ("back-propagated gradient std", "grad_output_std", True)])
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 2.6 * len(panels) + 1.5), sharex=True)
    for run in runs:
        items = run.blocks if by_block else run.rows
        depth = np.arange(1, len(items) + 1)
        for axis, (_, field, log) in zip(axes, panels):
            shown = np.array([getattr(item, field) if getattr(item, field) is not None
                              else np.nan for item in items], dtype=float)
            label = run.label
            if log:
                label = run.label if np.any(shown > 0) else f"{run.label} (all 0: not drawn)"
                shown[shown <= 0] = np.nan      # a log axis has no 0: zero stds leave a gap
            axis.plot(depth, shown, marker="o", markersize=3, label=label)
    for axis, (ylabel, _, log) in zip(axes, panels):
        axis.set_ylabel(ylabel)
        if log:
            axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="small")
    if by_block:
        names = [b.name for b in diagnosis.blocks]
        step = max(1, len(names) // 16)                 # at most 16 labels
        axes[-1].set_xticks(np.arange(1, len(names) + 1)[::step])
        axes[-1].set_xticklabels([_short_block(n) for n in names[::step]], rotation=45,
                                 ha="right", fontsize="small")
        axes[-1].set_xlabel("residual block")
        axes[0].set_title("Per-block statistics after one forward and backward pass")
    else:
        axes[-1].set_xlabel("layer (execution order)")
        axes[0].set_title("Per-layer statistics after one forward and backward pass")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _short_block(name: str) -> str:
    """``model.layers.12`` -> ``layers.12``; ``model.encoder.layer.3`` -> ``encoder.layer.3``."""
    parts = name.split(".")
    return ".".join(parts[-3:] if len(parts) > 3 and parts[-3] in ("encoder", "decoder")
                    else parts[-2:])
