"""What an init does inside a network: per-layer activation and gradient statistics, flagged.

``fastinit.torch.diagnose(model, inputs)`` runs one forward pass and one backward pass of a scalar
loss with hooks on every leaf module that has a weight matrix, and returns a :class:`Diagnosis`:
one :class:`LayerStats` row per layer in execution order, and the :class:`Flag` s that Glorot &
Bengio (2010) and He et al. (2015) teach to look for.  The model is left exactly as it was.

Each weight layer is paired with the activation module that runs next after it (``nn.Tanh``,
``nn.ReLU``, a transformers ``ACT2FN`` module, ...) before the next weight layer; its "activation"
is that module's output, or the layer's own output when no activation follows.
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

# Activation module class names (lower case) -> the activation's family.
_FAMILIES = {
    "tanh": "tanh", "hardtanh": "tanh", "sigmoid": "sigmoid", "hardsigmoid": "sigmoid",
    "relu": "relu", "relu6": "relu", "leakyrelu": "relu", "prelu": "relu", "rrelu": "relu",
    "elu": "relu", "celu": "relu", "gelu": "relu", "geluactivation": "relu",
    "newgeluactivation": "relu", "fastgeluactivation": "relu", "quickgeluactivation": "relu",
    "gelutanh": "relu", "pytorchgelutanh": "relu", "silu": "relu", "siluactivation": "relu",
    "mish": "relu", "hardswish": "relu", "softplus": "relu", "selu": "selu",
}
# The init each family calls for, named as fastinit.init (and torch.nn.init) name it.
RECOMMENDED = {
    "tanh": "xavier_uniform_ / xavier_normal_ (Glorot), gain 5/3",
    "sigmoid": "xavier_uniform_ / xavier_normal_ (Glorot)",
    "relu": "kaiming_normal_ / kaiming_uniform_ (He), nonlinearity='relu'",
    "selu": "lecun_normal_ (LeCun)",
    "linear": "xavier_uniform_ / xavier_normal_ (Glorot) or lecun_normal_",
}
# The thresholds of the flags (docs/torch.md, "Diagnose an init").
GROWTH = 10.0           # vanishing / exploding: a std that changes by more than this across depth
SATURATION = 0.05       # more than this share of tanh/sigmoid outputs beyond |0.99| (or 0.01/0.99)
DEAD = 0.5              # more than this share of ReLU units that are 0 on every input


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
    activation: str             # the activation module after the layer, or "linear"
    activation_std: float
    saturated: float | None     # tanh/sigmoid: share of outputs beyond |0.99|
    zeros: float | None         # ReLU family: share of outputs exactly 0 (healthy: about half)
    dead: float | None          # ReLU family: share of units that are 0 on every input
    grad_output_std: float
    weight_grad_std: float
    identical_rows: bool        # some rows of the weight matrix are equal


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


_COLUMNS = ("name", "type", "fan_in", "fan_out", "weight_std", "xavier_std", "he_std",
            "lecun_std", "activation", "activation_std", "saturated", "zeros", "dead",
            "grad_output_std",
            "weight_grad_std", "identical_rows")


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

    def to_dict(self) -> dict[str, list[Any]]:
        return {c: [getattr(r, c) for r in self.rows] for c in _COLUMNS}

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
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        lines = [f"== {self.label}: {len(self.rows)} layers"]
        for i, row in enumerate([head] + body):
            lines.append("  ".join(c.ljust(w) if j < 2 or j == 8 else c.rjust(w)
                                   for j, (c, w) in enumerate(zip(row, widths))))
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines += [f"flag {f}" for f in self.flags] or ["no flags"]
        return "\n".join(lines)


def _g(x: float) -> str:
    return f"{x:.3g}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _family(module: torch.nn.Module) -> str | None:
    return _FAMILIES.get(type(module).__name__.lower())


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
            activations[layer] = (_family(module) or "linear", output.detach())

    handles = []
    try:
        for module in model.modules():
            if module in layers:
                handles.append(module.register_forward_hook(on_weight_layer))
            elif _family(module) is not None:
                handles.append(module.register_forward_hook(on_activation))
        output = model(**inputs) if isinstance(inputs, Mapping) else (
            model(*inputs) if isinstance(inputs, tuple) else model(inputs))
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
        family, act = activations.get(module, ("linear", outputs[module]))
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
            activation=family, activation_std=_stats(act), saturated=saturated, zeros=zeros,
            dead=dead,
            grad_output_std=_stats(grad) if grad is not None else 0.0,
            weight_grad_std=_stats(weight.grad) if weight.grad is not None else 0.0,
            identical_rows=_identical_rows(weight)))
    return Diagnosis(label, rows, _flags(rows))


def _flags(rows: list[LayerStats]) -> list[Flag]:
    flags = []
    families = [r.activation for r in rows if r.activation != "linear"]
    main = max(set(families), key=families.count) if families else "linear"
    first, last = rows[0], rows[-1]
    for what, a, b in (("activation std", first.activation_std, last.activation_std),
                       ("back-propagated gradient std", last.grad_output_std,
                        first.grad_output_std)):
        if len(rows) < 2 or not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
            continue
        ratio = b / a           # along the direction the signal travels
        kind = "vanishing" if ratio < 1 / GROWTH else "exploding" if ratio > GROWTH else None
        if kind:
            change = f"falls {1 / ratio:.3g}x" if kind == "vanishing" else f"grows {ratio:.3g}x"
            flags.append(Flag(kind, [first.name, last.name], f"{what} {change} across "
                              f"{len(rows)} layers ({a:.3g} -> {b:.3g})", RECOMMENDED[main]))
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
            flags.append(Flag(kind, [r.name for r in found], message,
                              RECOMMENDED["relu" if kind == "dead" else act]))
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
    """Write the figure of a diagnosis (and the runs it was compared with) to ``path``."""
    plt = _matplotlib()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for run in [diagnosis, *diagnosis.compared.values()]:
        depth = np.arange(1, len(run.rows) + 1)
        for axis, values in ((top, [r.activation_std for r in run.rows]),
                             (bottom, [r.grad_output_std for r in run.rows])):
            shown = np.array(values, dtype=float)
            label = run.label if np.any(shown > 0) else f"{run.label} (all 0: not drawn)"
            shown[shown <= 0] = np.nan          # a log axis has no 0: zero stds leave a gap
            axis.plot(depth, shown, marker="o", markersize=3, label=label)
    top.set_ylabel("activation std")
    bottom.set_ylabel("back-propagated gradient std")
    bottom.set_xlabel("layer (execution order)")
    for axis in (top, bottom):
        axis.set_yscale("log")
        axis.grid(True, which="both", alpha=0.3)
    top.legend(fontsize="small")
    bottom.legend(fontsize="small")
    top.set_title("Per-layer statistics after one forward and backward pass")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
