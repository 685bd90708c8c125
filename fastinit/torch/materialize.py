"""materialize: allocate and initialize a module built on the meta device, each tensor on the
stream of its name; and the init-running helpers save_initialized shares.

May import: numpy, torch, fastinit._device, fastinit.torch.hf, fastinit.torch.hooks.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np
import torch

from fastinit import _device
from fastinit.torch.hf import init_transformers, pretrained_class
from fastinit.torch.hooks import FLOATS, Named, active, check_seed, identity, local

__all__ = ["materialize", "check_module_args", "check_computed", "first_names", "run_init",
           "mark_unwritten", "unwritten", "recover_unwritten"]

# A NaN no init code writes, by its bits: what an unwritten parameter still holds at its first
# and last element after the init code ran.
_SENTINEL = {torch.float32: (torch.int32, 0x7FC5A5A5),
             torch.float64: (torch.int64, 0x7FF8A5A5A5A5A5A5),
             torch.float16: (torch.int16, 0x7E5A), torch.bfloat16: (torch.int16, 0x7FDA)}


def materialize(module: torch.nn.Module, seed: int | np.random.SeedSequence, *,
                device: Any = "cpu", dtype: torch.dtype | None = None,
                init_fn: Callable[[torch.nn.Module, str], None] | None = None) -> torch.nn.Module:
    """Allocate and initialize a module built on the meta device, keyed by parameter names.

    ``materialize(model, seed)`` gives every parameter and buffer on the meta device CPU storage
    (``to_empty``, untouched, so that the filling threads touch the memory first) and runs the
    module's own init on it:

    - a transformers model: its ``_init_weights`` through ``init_weights()`` (which also ties
      the weights and recomputes rotary tables);
    - any other module: ``reset_parameters()`` (or ``_reset_parameters()``) of every submodule,
      children first, as during construction;
    - or ``init_fn(module, name)`` on every submodule, children first, instead (``name`` is the
      submodule's qualified name, "" for the root); it fills in place and returns None.

    Random fills of the tensor named N (its fully qualified name, the first one for tied
    weights) draw from ``Generator(seed, stream=fastinit.stream_for(N))``: its values depend
    only on (seed, N, index), not on construction order or on which other modules exist.  A
    temporary (``orthogonal_``'s Gaussian) or a slice draws from the stream of the name of the
    module being initialized.

    Parameters
    ----------
    module : torch.nn.Module
        Built under ``torch.device("meta")``; its parameters must all be on the meta device
        (buffers may already be on the CPU, as ``accelerate.init_empty_weights`` leaves them).
    seed : int or numpy.random.SeedSequence
    device : "cpu" or a CUDA device
        Where the tensors are allocated and filled.  On a CUDA device (``pip install
        'fastinit[gpu]'``) fastinit's Triton kernels fill each parameter where it lives, with no
        host copy of the model, and the values equal the CPU's bit for bit.
    dtype : torch.dtype, optional
        Floating-point parameters and buffers are made this dtype (e.g. torch.bfloat16) before
        they are filled, so they are filled directly in it.
    init_fn : callable, optional
        ``init_fn(module, name) -> None``, replacing the module's own init.

    Returns
    -------
    torch.nn.Module
        ``module`` itself, on ``device`` and initialized.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, a module with parameters off the meta device, a submodule with parameters
        but no ``reset_parameters`` (pass ``init_fn``), or a float buffer no init code computed.
        If the init code raises, its exception propagates with a note naming the module and its
        parameters, and every tensor of ``module`` is put back on the meta device: nothing
        half-initialized is left looking ready.
    """
    check_module_args(module, seed, dtype, init_fn, "materialize")
    device = torch.device(device)
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"materialize: fastinit fills on the CPU and on CUDA devices, not on "
                         f"{str(device)!r}; materialize on the CPU and move the module with "
                         f".to({str(device)!r})")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"materialize: device {str(device)!r} is not available here "
                               "(torch.cuda.is_available() is False); use device='cpu'")
        _device.check_available(device, "materialize")

    if dtype is not None:
        module.to(dtype)                      # floating-point tensors only; cheap on meta
    real_buffers = {(m, n): b for m in module.modules() for n, b in m._buffers.items()
                    if b is not None and not b.is_meta}
    module.to_empty(device=device)
    for (owner, name), buffer in real_buffers.items():
        owner._buffers[name] = buffer.to(device)
    fresh_buffers = [(n, b) for n, b in module.named_buffers()
                     if all(b is not r for r in real_buffers.values())]
    for _, buffer in fresh_buffers:
        # NaN marks a float buffer that no init code computes; integers start at 0.
        buffer.fill_(math.nan if buffer.is_floating_point() else 0)

    marked = mark_unwritten(module.named_parameters())

    session = Named(seed, first_names(module))
    try:
        with active(session), torch.no_grad():
            run_init(module, session, init_fn)
            recover_unwritten(module, unwritten(marked), "materialize")
        check_computed(fresh_buffers, "materialize")
    except BaseException as exc:
        failed = session.module_name
        owned = [f"{failed}.{n}" if failed else n
                 for n, _ in module.get_submodule(failed).named_parameters(recurse=False)]
        exc.add_note(f"fastinit.torch.materialize: while initializing module {failed!r}"
                     + (f" (parameters {', '.join(owned)})" if owned else "")
                     + "; the module was put back on the meta device")
        module.to_empty(device="meta")
        for (owner, name), buffer in real_buffers.items():
            owner._buffers[name] = buffer            # as it was before the call
        raise
    return module


def check_module_args(module: Any, seed: Any, dtype: Any, init_fn: Any, where: str) -> None:
    """The checks materialize and save_initialized share: a module on the meta device, a seed,
    a floating dtype, a callable init_fn."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{where}: expected a torch.nn.Module, got {type(module).__name__}")
    check_seed(seed, where, allow_none=False)
    if dtype is not None and (not isinstance(dtype, torch.dtype) or dtype not in FLOATS):
        raise TypeError(f"{where}: dtype must be one of {', '.join(map(str, FLOATS))}, "
                        f"got {dtype!r}")
    if init_fn is not None and not callable(init_fn):
        raise TypeError(f"{where}: init_fn must be callable, got {type(init_fn).__name__}")
    off_meta = [n for n, p in module.named_parameters() if not p.is_meta]
    if off_meta:
        raise ValueError(f"{where}: the module's parameters must be on the meta device "
                         f"(build it under torch.device('meta')); {off_meta[0]!r} is on "
                         f"{module.get_parameter(off_meta[0]).device}")


def mark_unwritten(tensors: Iterable[tuple[str, torch.Tensor]]) -> list[tuple[str, torch.Tensor]]:
    """Put the sentinel NaN in the first and last element of each float tensor: two writes, not a
    pass over the memory (the filling threads still touch it first)."""
    marked = []
    for name, tensor in tensors:
        tensor = local(tensor)                              # a DTensor: this rank's shard
        if tensor.dtype in _SENTINEL and tensor.numel() and tensor.is_contiguous():
            as_int, bits = _SENTINEL[tensor.dtype]
            flat = tensor.detach().view(-1).view(as_int)
            flat[0] = flat[-1] = bits
            marked.append((name, tensor))
    return marked


def unwritten(marked: list[tuple[str, torch.Tensor]]) -> list[str]:
    """The marked tensors whose first or last element still holds the sentinel: no init code
    wrote them (a parameter replaced by the init code is a new tensor, written)."""
    names = []
    for name, tensor in marked:
        as_int, bits = _SENTINEL[tensor.dtype]
        flat = tensor.detach().view(-1).view(as_int)
        if int(flat[0]) == bits or int(flat[-1]) == bits:
            names.append(name)
    return names


def recover_unwritten(module: torch.nn.Module, names: list[str], where: str) -> None:
    """Give each parameter no init code wrote the value its constructor gives it, or raise.

    A value set in ``__init__`` (CLIP's ``nn.Parameter(torch.tensor(logit_scale_init_value))``)
    is lost on the meta device.  For a module that keeps its ``config`` (transformers' models and
    many of their parts), the nearest such owner is built again from it with every random and
    uninitialized factory on the meta device and only the factories of data (``torch.tensor``,
    ``zeros``, ``ones``, ``full``, ``arange``, ...) on the CPU: cheap, and torch's global RNG
    is not advanced.  A parameter that is not recovered is a ValueError naming it; never
    unwritten memory."""
    lost = []
    for name in names:
        value = _constructor_value(module, name)
        if value is None:
            lost.append(name)
        else:
            module.get_parameter(name).copy_(value)
    if lost:
        raise ValueError(f"{where}: parameter{'s' if len(lost) > 1 else ''} {', '.join(lost)} "
                         "were not written by the module's init code, and the value the "
                         "constructor gave them is lost on the meta device; write them in "
                         "reset_parameters() or init_fn=, or build the module on the CPU")


def _constructor_value(module: torch.nn.Module, name: str) -> torch.Tensor | None:
    """The value the constructor of the nearest owner with a ``config`` gives ``name``."""
    parts = name.split(".")
    for depth in range(len(parts) - 1, -1, -1):
        owner = module.get_submodule(".".join(parts[:depth]))
        config = getattr(owner, "config", None)
        if config is None:
            continue
        try:
            with torch.random.fork_rng(devices=[]), _DataFactoriesOnCPU(), torch.no_grad():
                rebuilt = type(owner)(config)
            value = rebuilt.get_parameter(".".join(parts[depth:]))
        except Exception:                                    # noqa: BLE001 - not recoverable
            return None
        return None if value.is_meta else value.detach()
    return None


class _DataFactoriesOnCPU(torch.overrides.TorchFunctionMode):
    """Factories of data on the CPU, every other factory (empty, rand, ...) on meta."""

    DATA = {torch.tensor, torch.as_tensor, torch.scalar_tensor, torch.zeros, torch.ones,
            torch.full, torch.arange, torch.linspace, torch.logspace, torch.eye}
    OTHERS = {torch.empty, torch.empty_strided, torch.rand, torch.randn, torch.randint,
              torch.randperm}

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = dict(kwargs or {})
        if kwargs.get("device") is None and (func in self.DATA or func in self.OTHERS):
            kwargs["device"] = "cpu" if func in self.DATA else "meta"
        return func(*args, **kwargs)


def check_computed(buffers: list[tuple[str, torch.Tensor]], where: str) -> None:
    """ValueError for a float buffer still NaN after the init code: none of it computed it."""
    for name, buffer in buffers:
        if buffer.is_floating_point() and torch.isnan(buffer).any():
            raise ValueError(f"{where}: buffer {name!r} was not computed by the module's init "
                             "code (a non-persistent buffer made in __init__ is lost on the meta "
                             "device); compute it in reset_parameters() or pass init_fn=")


def first_names(module: torch.nn.Module) -> dict[tuple, str]:
    """Each tensor's memory and its first name (the name its random fills are keyed by)."""
    names: dict[tuple, str] = {}
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        if tensor.numel():
            names.setdefault(identity(tensor), name)
    return names


def run_init(module: torch.nn.Module, session: Named,
              init_fn: Callable[[torch.nn.Module, str], None] | None) -> None:
    """Run the module's init (or init_fn) with ``session.module_name`` naming the submodule
    whose code runs, for temporaries and for error messages."""
    if init_fn is not None:
        for name, sub in _post_order(module):
            session.module_name = name
            result = init_fn(sub, name)
            if result is not None:
                raise TypeError(f"materialize: init_fn must fill the module's tensors in place "
                                f"and return None; it returned a {type(result).__name__} for "
                                f"module {name!r}")
            session.after_module(sub)
        return
    _reset(module, "", session, pretrained_class())


def _reset(module: torch.nn.Module, name: str, session: Named, pretrained: Any) -> None:
    """The module's own init, children first: a transformers model (or one inside another
    module) by its init_weights(), any other module by reset_parameters()."""
    if pretrained is not None and isinstance(module, pretrained):
        init_transformers(module, name, session, pretrained)
        return
    for child_name, child in module.named_children():
        _reset(child, f"{name}.{child_name}" if name else child_name, session, pretrained)
    own = [n for n, _ in module.named_parameters(recurse=False)]
    reset = getattr(module, "reset_parameters", None) or getattr(module, "_reset_parameters",
                                                                 None)
    session.module_name = name
    if callable(reset):
        reset()
        session.after_module(module)
    elif own:
        full = [f"{name}.{n}" if name else n for n in own]
        raise ValueError(f"materialize: module {name!r} ({type(module).__name__}) has "
                         f"parameters {full} but no reset_parameters(); pass init_fn= to "
                         "initialize them")


def _post_order(module: torch.nn.Module, prefix: str = "") -> list[tuple[str, torch.nn.Module]]:
    """(name, module), each module after its children, as construction initializes them (a
    parent's reset, like nn.Transformer's, overrides its children's)."""
    order: list[tuple[str, torch.nn.Module]] = []
    for child_name, child in module.named_children():
        order += _post_order(child, f"{prefix}.{child_name}" if prefix else child_name)
    order.append((prefix, module))
    return order
