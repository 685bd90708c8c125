"""torch integration: fast, reproducible init of torch tensors and whole models.

- :func:`fast_init`: a context manager under which existing model code (``nn.Linear(...)``,
  ``LlamaForCausalLM(cfg)``, ...) initializes its CPU tensors with fastinit's kernels, with the
  distributions, bounds and fans torch would use for the same calls.
- :func:`materialize`: allocate and initialize a module built on the meta device, each parameter
  and buffer keyed by its fully qualified name (values depend on (seed, name, index) only).
- DTensor parameters are filled as their local shards, equal to the same block of the unsharded
  init; ``fastinit.init`` functions take DTensors directly.
- :func:`save_initialized`: a module's own init written straight into a safetensors file.
- :func:`diagnose`: per-layer activation and gradient statistics of a model under its init, with
  vanishing, exploding, saturated, dead and symmetric layers flagged (fastinit/_diagnose.py).

torch is imported when this module is imported (``import fastinit`` does not import it):
``pip install fastinit[torch]``.

What the hooks take over, while a :func:`fast_init` block or a :func:`materialize` call runs on
the calling thread:

- ``Tensor.uniform_(a, b)`` and ``Tensor.normal_(mean, std)``: every ``torch.nn.init`` function
  that draws through them (``uniform_``, ``normal_``, ``xavier_*``, ``kaiming_*``, ``orthogonal_``'s
  Gaussian, ``sparse_``'s values) and any model code calling them directly or on ``.data``;
- ``torch.nn.init.trunc_normal_`` (through ``torch.nn.init._no_grad_trunc_normal_``, which every
  reference to ``trunc_normal_`` calls, transformers' included): exact rejection sampling, every
  value in [a, b].

A call falls through to torch unchanged when it passes an explicit ``generator=`` (it asked for
that generator's stream), when the tensor is not a CPU float32/float64/float16/bfloat16 strided
tensor (meta tensors included), when autograd would record the in-place op (a leaf that
requires grad outside ``torch.no_grad()``), or when torch would reject its arguments (so that
torch's own error is raised).  ``torch.randn``, ``torch.rand``, ``Tensor.random_``,
``bernoulli_``, ``exponential_``, ``log_normal_``, ``cauchy_``, ``geometric_`` and
``torch.randperm`` are not taken over.
"""
from __future__ import annotations

import contextlib
import json
import math
import threading
from typing import Any, Callable, Iterator

import numpy as np
import torch

from fastinit import _tensors
from fastinit import init as _init
from fastinit._diagnose import Diagnosis, Flag, LayerStats, diagnose, init_mlp, mlp
from fastinit._generator import Generator, stream_for

__all__ = ["fast_init", "materialize", "save_initialized", "diagnose", "Diagnosis", "LayerStats",
           "Flag", "mlp", "init_mlp"]

_FLOATS = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
# What save_initialized stores, with the NumPy dtype of its bytes.
_STORED = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
           torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32",
           torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool"}


# -- which generator fills a tensor ---------------------------------------------------------------

class _Sequential:
    """fast_init: one Generator; each call it handles takes its next stream number, so the same
    seed and the same model code give the same bits."""

    def __init__(self, seed: Any) -> None:
        self.rng = Generator(seed)

    def generator_for(self, tensor: torch.Tensor) -> Generator:
        return self.rng


class _Named:
    """materialize: the tensor named N draws from ``Generator(seed, stream=stream_for(N))``.

    A tensor is recognized by its memory (data pointer, shape, dtype), so ``param``, ``param.data``
    and ``param.detach()`` are the same tensor.  Anything else (a temporary such as
    ``orthogonal_``'s Gaussian matrix, a slice of a parameter) draws from the stream of the name
    of the module whose init is running.  Each name's generator advances with each fill, so a
    tensor filled twice gets fresh values the second time, the same on every run.
    """

    def __init__(self, seed: Any, names: dict[tuple, str],
                 after_module: Callable[[torch.nn.Module], None] | None = None) -> None:
        self.key = Generator(seed).key
        self.names = names
        self.module_name = ""
        self.generators: dict[str, Generator] = {}
        # Called when a module's init code has run (save_initialized releases its pages).
        self.after_module = after_module or (lambda module: None)

    def generator_for(self, tensor: torch.Tensor) -> Generator:
        name = self.names.get(_identity(tensor), self.module_name)
        rng = self.generators.get(name)
        if rng is None:
            rng = self.generators[name] = Generator(key=self.key, stream=stream_for(name))
        return rng


def _identity(tensor: torch.Tensor) -> tuple:
    local = tensor.to_local() if _is_dtensor(tensor) else tensor
    return (local.data_ptr(), tuple(local.shape), local.dtype)


def _is_dtensor(tensor: Any) -> bool:
    dtensor = _tensors._dtensor_type()
    return dtensor is not None and isinstance(tensor, dtensor)


# -- the hooks ------------------------------------------------------------------------------------

_local = threading.local()          # .sessions: this thread's stack of active sessions
_install_lock = threading.Lock()
_installed = 0                      # sessions active in all threads; hooks are in while > 0
_originals: dict[str, Any] = {}


def _session() -> Any:
    stack = getattr(_local, "sessions", None)
    return stack[-1] if stack else None


def _takes(tensor: Any, generator: Any) -> bool:
    """Whether fastinit fills this call (see the module docstring for what falls through)."""
    if generator is not None or not isinstance(tensor, torch.Tensor):
        return False
    local = tensor.to_local() if _is_dtensor(tensor) else tensor
    if local.device.type != "cpu" or local.layout != torch.strided or local.dtype not in _FLOATS:
        return False
    return not (tensor.requires_grad and torch.is_grad_enabled())


def _fill(tensor: torch.Tensor, fill: Callable[[Any, Generator], Any]) -> bool:
    """``fill(target, generator)`` on the tensor, or on a contiguous copy that is then copied
    back (values in the tensor's logical C order, as for a contiguous one).

    False when fastinit refuses the arguments (e.g. bounds beyond float16's range): its checks
    run before anything is written or a stream number is taken, so the call can go to torch.
    """
    rng = _session().generator_for(tensor)
    target = tensor if tensor.is_contiguous() or _is_dtensor(tensor) else torch.empty(
        tensor.shape, dtype=tensor.dtype)
    try:
        fill(target, rng)
    except (ValueError, OverflowError, TypeError):
        return False
    if target is not tensor:
        with torch.no_grad():
            tensor.copy_(target)
    return True


def _uniform_(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    low = args[0] if len(args) > 0 else kwargs.pop("from", 0.0)
    high = args[1] if len(args) > 1 else kwargs.pop("to", 1.0)
    generator = kwargs.pop("generator", None)
    if (_session() is not None and not kwargs and len(args) <= 2 and _takes(self, generator)
            and _real(low) and _real(high) and low <= high
            and math.isfinite(float(high) - float(low))
            and _fill(self, lambda t, rng: _init.uniform_(t, float(low), float(high),
                                                          generator=rng))):
        return self
    return _originals["uniform_"](self, *args, **_restore_kwargs(kwargs, args, low, high,
                                                                  generator, ("from", "to")))


def _normal_(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    mean = args[0] if len(args) > 0 else kwargs.pop("mean", 0.0)
    std = args[1] if len(args) > 1 else kwargs.pop("std", 1.0)
    generator = kwargs.pop("generator", None)
    if (_session() is not None and not kwargs and len(args) <= 2 and _takes(self, generator)
            and _real(mean) and _real(std) and math.isfinite(float(mean))
            and 0 <= float(std) < math.inf
            and _fill(self, lambda t, rng: _init.normal_(t, float(mean), float(std),
                                                         generator=rng))):
        return self
    return _originals["normal_"](self, *args, **_restore_kwargs(kwargs, args, mean, std,
                                                                 generator, ("mean", "std")))


def _restore_kwargs(kwargs: dict, args: tuple, first: Any, second: Any, generator: Any,
                    names: tuple[str, str]) -> dict:
    """The keyword arguments of a call that falls through, as the caller gave them."""
    if len(args) < 1:
        kwargs[names[0]] = first
    if len(args) < 2:
        kwargs[names[1]] = second
    if generator is not None:
        kwargs["generator"] = generator
    return kwargs


def _no_grad_trunc_normal_(tensor: torch.Tensor, mean: float, std: float, a: float, b: float,
                           generator: Any = None) -> torch.Tensor:
    if (_session() is not None and _takes(tensor, generator)
            and all(_real(x) for x in (mean, std, a, b)) and float(std) > 0 and a < b
            and all(math.isfinite(float(x)) for x in (mean, std))
            and _fill(tensor, lambda t, rng: _init.trunc_normal_(
                t, float(mean), float(std), float(a), float(b), generator=rng))):
        return tensor
    return _originals["_no_grad_trunc_normal_"](tensor, mean, std, a, b, generator=generator)


def _real(x: Any) -> bool:
    """A Python int or float that converts to a float that is not NaN."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return not math.isnan(float(x))
    except OverflowError:                    # an int beyond float's range
        return False


_HOOKS = {
    "uniform_": (torch.Tensor, _uniform_),
    "normal_": (torch.Tensor, _normal_),
    "_no_grad_trunc_normal_": (torch.nn.init, _no_grad_trunc_normal_),
}


@contextlib.contextmanager
def _active(session: Any) -> Iterator[Any]:
    """Install the hooks (once, for all threads) and make ``session`` this thread's."""
    global _installed
    with _install_lock:
        if _installed == 0:
            for name, (owner, hook) in _HOOKS.items():
                _originals[name] = getattr(owner, name)
                _originals["own " + name] = name in vars(owner)
                setattr(owner, name, hook)
        _installed += 1
    stack = getattr(_local, "sessions", None)
    if stack is None:
        stack = _local.sessions = []
    stack.append(session)
    try:
        yield session
    finally:
        stack.pop()
        with _install_lock:
            _installed -= 1
            if _installed == 0:
                for name, (owner, _) in _HOOKS.items():
                    if _originals["own " + name]:
                        setattr(owner, name, _originals[name])
                    else:
                        delattr(owner, name)        # torch.Tensor inherits it from TensorBase


def _check_seed(seed: Any, where: str, allow_none: bool) -> None:
    if seed is None and allow_none:
        return
    if isinstance(seed, np.random.SeedSequence):
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{where}: seed must be an int or a numpy.random.SeedSequence, got "
                        f"{type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{where}: seed must be >= 0, got {seed}")


# -- public API -----------------------------------------------------------------------------------

@contextlib.contextmanager
def fast_init(seed: int | np.random.SeedSequence | None = None) -> Iterator[Generator]:
    """Context manager: model code inside initializes CPU tensors with fastinit's kernels.

    >>> import torch, fastinit.torch
    >>> with fastinit.torch.fast_init(seed=0):
    ...     layer = torch.nn.Linear(1024, 1024)       # kaiming_uniform_(a=sqrt(5)), by fastinit

    Every ``torch.nn.init`` function and ``Tensor.uniform_`` / ``normal_`` call on a CPU float
    tensor made on this thread is filled by fastinit with the arguments torch received, so the
    distributions, bounds and fans are torch's; ``trunc_normal_`` is exact.  Each such call takes
    the next stream number of ``Generator(seed)``: the same seed and the same code give the same
    bits on every run and thread count, and torch's global RNG is neither used nor advanced by
    them.  What falls through to torch is listed in this module's docstring.

    Parameters
    ----------
    seed : int, numpy.random.SeedSequence or None
        None draws fresh entropy (not reproducible).

    Yields
    ------
    Generator
        The generator the calls draw from (its ``state`` says how many calls it handled).
    """
    _check_seed(seed, "fast_init", allow_none=True)
    with _active(_Sequential(seed)) as session:
        yield session.rng


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
    device : "cpu"
        fastinit fills on the CPU; move the module afterwards with ``.to(device)``.
    dtype : torch.dtype, optional
        Floating-point parameters and buffers are made this dtype (e.g. torch.bfloat16) before
        they are filled, so they are filled directly in it.
    init_fn : callable, optional
        ``init_fn(module, name) -> None``, replacing the module's own init.

    Returns
    -------
    torch.nn.Module
        ``module`` itself, on the CPU and initialized.

    Raises
    ------
    TypeError, ValueError
        Bad arguments, a module with parameters off the meta device, a submodule with parameters
        but no ``reset_parameters`` (pass ``init_fn``), or a float buffer no init code computed.
        If the init code raises, its exception propagates with a note naming the module and its
        parameters, and every tensor of ``module`` is put back on the meta device: nothing
        half-initialized is left looking ready.
    """
    _check_module_args(module, seed, dtype, init_fn, "materialize")
    if torch.device(device).type != "cpu":
        raise ValueError(f"materialize: fastinit fills on the CPU; use device='cpu' and move the "
                         f"module with .to({str(device)!r}) afterwards")

    if dtype is not None:
        module.to(dtype)                      # floating-point tensors only; cheap on meta
    real_buffers = {(m, n): b for m in module.modules() for n, b in m._buffers.items()
                    if b is not None and not b.is_meta}
    module.to_empty(device="cpu")
    for (owner, name), buffer in real_buffers.items():
        owner._buffers[name] = buffer
    fresh_buffers = [(n, b) for n, b in module.named_buffers()
                     if all(b is not r for r in real_buffers.values())]
    for _, buffer in fresh_buffers:
        # NaN marks a float buffer that no init code computes; integers start at 0.
        buffer.fill_(math.nan if buffer.is_floating_point() else 0)

    session = _Named(seed, _first_names(module))
    try:
        with _active(session), torch.no_grad():
            _run_init(module, session, init_fn)
        _check_computed(fresh_buffers, "materialize")
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


def save_initialized(module: torch.nn.Module, path: str | Any, seed: int | np.random.SeedSequence,
                     init_fn: Callable[[torch.nn.Module, str], None] | None = None, *,
                     dtype: torch.dtype | None = None, metadata: dict[str, str] | None = None,
                     overwrite: bool = False) -> dict[str, Any]:
    """Write the initialized weights of a meta-device module to a safetensors file, without
    materializing the module.

    The file is created with its header and every block reserved, mapped into memory, and each
    parameter and persistent buffer of ``module`` is replaced, for the duration of the call, by a
    tensor over its own region of the file.  The module's own init (or ``init_fn``) then runs as
    in :func:`materialize`, with the same name-keyed streams, so it writes straight into the
    file: the model never exists in anonymous memory, and the pages of each module are released
    from the process once its init has run.  Afterwards the module is as it was, on the meta
    device.

    The file equals ``safetensors.torch.save_model(materialize(module, seed, dtype=dtype,
    init_fn=init_fn), path)`` bit for bit: the same tensors in the same order, tied weights
    stored once under the first of their names in sorted order, the others recorded in the
    metadata as ``save_model`` records them.  A transformers model saved this way into a folder
    with its ``config.json`` (``model.config.save_pretrained(folder)``) loads with
    ``from_pretrained``.

    Parameters
    ----------
    module : torch.nn.Module
        Built under ``torch.device("meta")`` (see :func:`materialize`).
    path : path-like
        The ``.safetensors`` file (``model.safetensors`` in a transformers folder).
    seed : int or numpy.random.SeedSequence
    init_fn : callable, optional
        ``init_fn(module, name) -> None``, replacing the module's own init (as in
        :func:`materialize`).
    dtype : torch.dtype, optional
        Floating-point tensors are stored in this dtype (e.g. torch.bfloat16).
    metadata : dict of str to str, optional
        Extra ``__metadata__`` entries (fastinit adds its version, the seed and each tensor's
        owning module).
    overwrite : bool
        Replace ``path`` if it exists (refused otherwise, with FileExistsError).

    Returns
    -------
    dict
        ``path``, ``bytes``, ``tensors``, ``seconds`` and ``gb_per_s``.

    Raises
    ------
    TypeError, ValueError
        As :func:`materialize`, before the file is created.
    FileExistsError, OSError
        An existing file without ``overwrite=True``; not enough disk space (before any data).
        If the init code fails, its exception propagates and the file is removed.
    """
    import os
    import time
    from pathlib import Path

    from fastinit._tensor_init import key_of
    from fastinit.io import _files
    from fastinit.io import safetensors as st

    where = "save_initialized"
    _check_module_args(module, seed, dtype, init_fn, where)
    key = key_of(seed, where)
    extra = st.check_metadata(metadata, where)
    path = Path(path)
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"{where}: {path} exists; pass overwrite=True to replace it")
    t0 = time.perf_counter()

    state = module.state_dict(keep_vars=True)        # parameters and persistent buffers
    groups: dict[int, list[str]] = {}                 # tied weights: one tensor, several names
    for name, tensor in state.items():
        groups.setdefault(id(tensor), []).append(name)
    entries, removed = [], {}
    for names in groups.values():
        tensor = state[names[0]]
        kept = sorted(names)[0]                    # safetensors' save_model keeps this name
        removed.update({n: kept for n in names if n != kept})
        target = dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype
        if target not in _STORED:
            raise TypeError(f"{where}: {kept!r} is {target}; fastinit stores float32, float64, "
                            "float16, bfloat16, integer and bool tensors")
        entries.append(st.Entry(kept, tuple(tensor.shape), _numpy_dtype(target), None))
    entries = st.layout(entries)
    owners = {n: (m, type(sub).__name__) for m, sub in module.named_modules()
              for n in (f"{m}.{p}" if m else p for p, _ in
                        list(sub.named_parameters(recurse=False))
                        + list(sub.named_buffers(recurse=False)))}
    meta = {**st.fastinit_metadata(seed, key), **removed, **extra}
    how = "init_fn" if init_fn is not None else "the module's own init"
    for e in entries:
        owner, kind = owners.get(e.name, ("", type(module).__name__))
        meta["fastinit.init." + e.name] = json.dumps({"module": owner, "type": kind, "by": how})
    header = st.header_bytes(entries, meta)
    total = len(header) + (entries[-1].end if entries else 0)
    records = _files.record_path(path)
    st.create(path, records, header, total, {"format": "fastinit save_initialized"}, where)

    originals: list[tuple[dict, str, Any]] = []
    session: _Named | None = None
    views: dict[str, torch.Tensor] = {}               # each stored name's region of the file
    fresh: list[tuple[str, torch.Tensor]] = []        # buffers the init code must compute
    file: torch.Tensor | None = None
    try:
        file = torch.from_file(str(path), shared=True, size=total, dtype=torch.uint8)
        offsets = {e.name: e for e in entries}

        def replacement(tensor: torch.Tensor, name: str, as_parameter: bool) -> torch.Tensor:
            """What ``to_empty`` would give this slot: a new tensor (tied weights are untied
            as it unties them, and tied again by the init code), over the file for a stored
            name."""
            target = dtype if dtype is not None and tensor.is_floating_point() else tensor.dtype
            if name in offsets:
                assert file is not None
                e = offsets[name]
                new = file[len(header) + e.begin:len(header) + e.end].view(target).view(
                    tensor.shape)
                views[name] = new
                if not tensor.is_meta:
                    new.copy_(tensor)                    # a real buffer keeps its values
            elif tensor.is_meta:            # a tied weight's other name, a non-persistent buffer
                new = torch.empty(tensor.shape, dtype=target)
            else:
                new = tensor
            if not as_parameter and tensor.is_meta:
                # As in materialize: NaN marks a float buffer no init code computes (checked
                # for the stored ones: a non-persistent buffer is not in the file).
                new.fill_(math.nan if new.is_floating_point() else 0)
                if name in offsets:
                    fresh.append((name, new))
            if as_parameter:
                new = torch.nn.Parameter(new, requires_grad=tensor.requires_grad)
            return new

        for prefix, sub in module.named_modules():      # each module once, as to_empty
            for table, as_parameter in ((sub._parameters, True), (sub._buffers, False)):
                for name, tensor in table.items():
                    if tensor is not None:
                        originals.append((table, name, tensor))
                        table[name] = replacement(tensor, f"{prefix}.{name}" if prefix else name,
                                                  as_parameter)

        def release(sub: torch.nn.Module) -> None:
            """Unmap the file pages of ``sub``'s tensors: they stay in the page cache (and go to
            disk); only the process's resident memory shrinks."""
            inside = {t.data_ptr() for t in list(sub.parameters()) + list(sub.buffers())}
            for view in views.values():
                if view.data_ptr() in inside:
                    _tensors.release_pages(view.data_ptr(), view.numel() * view.element_size())

        session = _Named(seed, _first_names(module), after_module=release)
        with _active(session), torch.no_grad():
            _run_init(module, session, init_fn)
        final = module.state_dict()
        for names in groups.values():
            kept = sorted(names)[0]
            if any(final[n].data_ptr() != final[kept].data_ptr() for n in names):
                raise ValueError(f"{where}: {', '.join(names)} are tied, but the module's init "
                                 "did not tie them again after torch's to_empty untied them; tie "
                                 "them in init_fn (or call the model's tie_weights there)")
            if final[kept].data_ptr() != views[kept].data_ptr():
                views[kept].copy_(final[kept])           # tied to a name that is not stored
        _check_computed(fresh, where)
    except BaseException as exc:
        if session is not None:
            exc.add_note(f"fastinit.torch.save_initialized: while initializing module "
                         f"{session.module_name!r}; {path} was removed")
        _files.remove_quietly(path, records)          # a mapped file may be unlinked
        raise
    finally:
        for table, name, tensor in originals:
            table[name] = tensor                      # the module as it was, on meta
        views.clear()                                 # the last references: the map is closed
        fresh.clear()
        file = None
    with open(path, "rb+") as f:
        os.fsync(f.fileno())
    records.unlink()
    seconds = time.perf_counter() - t0
    data = total - len(header)
    return {"path": str(path), "bytes": data, "tensors": len(entries), "seconds": seconds,
            "gb_per_s": data / seconds / 1e9 if seconds > 0 else math.inf}


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    from fastinit import _validate as v

    return v.BFLOAT16_BITS if dtype == torch.bfloat16 else np.dtype(_STORED[dtype])


def _check_module_args(module: Any, seed: Any, dtype: Any, init_fn: Any, where: str) -> None:
    """The checks materialize and save_initialized share: a module on the meta device, a seed,
    a floating dtype, a callable init_fn."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{where}: expected a torch.nn.Module, got {type(module).__name__}")
    _check_seed(seed, where, allow_none=False)
    if dtype is not None and (not isinstance(dtype, torch.dtype) or dtype not in _FLOATS):
        raise TypeError(f"{where}: dtype must be one of {', '.join(map(str, _FLOATS))}, "
                        f"got {dtype!r}")
    if init_fn is not None and not callable(init_fn):
        raise TypeError(f"{where}: init_fn must be callable, got {type(init_fn).__name__}")
    off_meta = [n for n, p in module.named_parameters() if not p.is_meta]
    if off_meta:
        raise ValueError(f"{where}: the module's parameters must be on the meta device "
                         f"(build it under torch.device('meta')); {off_meta[0]!r} is on "
                         f"{module.get_parameter(off_meta[0]).device}")


def _check_computed(buffers: list[tuple[str, torch.Tensor]], where: str) -> None:
    """ValueError for a float buffer still NaN after the init code: none of it computed it."""
    for name, buffer in buffers:
        if buffer.is_floating_point() and torch.isnan(buffer).any():
            raise ValueError(f"{where}: buffer {name!r} was not computed by the module's init "
                             "code (a non-persistent buffer made in __init__ is lost on the meta "
                             "device); compute it in reset_parameters() or pass init_fn=")


def _first_names(module: torch.nn.Module) -> dict[tuple, str]:
    """Each tensor's memory and its first name (the name its random fills are keyed by)."""
    names: dict[tuple, str] = {}
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        if tensor.numel():
            names.setdefault(_identity(tensor), name)
    return names


def _run_init(module: torch.nn.Module, session: _Named,
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
    _reset(module, "", session, _transformers_pretrained())


def _reset(module: torch.nn.Module, name: str, session: _Named, pretrained: Any) -> None:
    """The module's own init, children first: a transformers model (or one inside another
    module) by its init_weights(), any other module by reset_parameters()."""
    if pretrained is not None and isinstance(module, pretrained):
        _init_transformers(module, name, session, pretrained)
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


def _transformers_pretrained() -> Any:
    import sys

    if "transformers" not in sys.modules:
        return None
    from transformers import PreTrainedModel
    return PreTrainedModel


def _init_transformers(model: Any, prefix: str, session: _Named, pretrained: type) -> None:
    """transformers' own init (``init_weights``: ``_init_weights`` on every module, then tied
    weights), with the module being initialized recorded for the session."""
    modules = list(model.named_modules(prefix=prefix))
    names = {id(m): n for n, m in modules}
    wrapped = []
    for sub in (m for _, m in modules if isinstance(m, pretrained)):
        original = sub._initialize_weights

        def initialize(mod: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            session.module_name = names.get(id(mod), "")
            _original(mod, *args, **kwargs)
            session.after_module(mod)
        sub._initialize_weights = initialize            # an instance attribute: this model only
        wrapped.append(sub)
    for _, sub in modules:                              # init everything, as a fresh model
        if "_is_hf_initialized" in vars(sub):
            del sub._is_hf_initialized
    try:
        model.init_weights()
    finally:
        for sub in wrapped:
            del sub._initialize_weights
