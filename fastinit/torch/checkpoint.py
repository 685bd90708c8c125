"""save_initialized: a meta-device module's own init written straight into a safetensors file,
the model never in anonymous memory.

May import: numpy, torch, fastinit._tensor_init, fastinit._tensors, fastinit._validate,
fastinit.io.safetensors, fastinit.io.writer, fastinit.torch.hooks, fastinit.torch.materialize.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable

import numpy as np
import torch

from fastinit import _tensors
from fastinit.torch.hooks import Named, active
from fastinit.torch.materialize import (check_computed, check_module_args, first_names,
                                        mark_unwritten, recover_unwritten, run_init, unwritten)

__all__ = ["save_initialized"]

# What save_initialized stores, with the NumPy dtype of its bytes.
_STORED = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
           torch.bfloat16: "bfloat16", torch.int64: "int64", torch.int32: "int32",
           torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool"}


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
    import time
    from pathlib import Path

    from fastinit._tensor_init import key_of
    from fastinit.io import safetensors as st
    from fastinit.io.writer import FileWriter

    where = "save_initialized"
    check_module_args(module, seed, dtype, init_fn, where)
    key = key_of(seed, where)
    extra = st.check_metadata(metadata, where)
    path = Path(path)
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
    # Not resumable (the init code runs once, whole): a failure removes the file.
    writer = FileWriter(path, header, total, 1, {}, kind="save_initialized", where=where,
                        overwrite=overwrite)

    originals: list[tuple[dict, str, Any]] = []
    session: Named | None = None
    views: dict[str, torch.Tensor] = {}               # each stored name's region of the file
    fresh: list[tuple[str, torch.Tensor]] = []        # buffers the init code must compute
    parameters: list[tuple[str, torch.Tensor]] = []   # the stored parameters over the file
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
                if tensor.is_meta and name in offsets:
                    parameters.append((name, new))      # marked: a value no init code wrote
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

        marked = mark_unwritten(parameters)
        session = Named(seed, first_names(module), after_module=release)
        with active(session), torch.no_grad():
            run_init(module, session, init_fn)
            recover_unwritten(module, unwritten(marked), where)
        final = module.state_dict()
        for names in groups.values():
            kept = sorted(names)[0]
            if any(final[n].data_ptr() != final[kept].data_ptr() for n in names):
                raise ValueError(f"{where}: {', '.join(names)} are tied, but the module's init "
                                 "did not tie them again after torch's to_empty untied them; tie "
                                 "them in init_fn (or call the model's tie_weights there)")
            if final[kept].data_ptr() != views[kept].data_ptr():
                views[kept].copy_(final[kept])           # tied to a name that is not stored
        check_computed(fresh, where)
    except BaseException as exc:
        if session is not None:
            exc.add_note(f"fastinit.torch.save_initialized: while initializing module "
                         f"{session.module_name!r}; {path} was removed")
        writer.discard()                              # a mapped file may be unlinked
        raise
    finally:
        for table, name, tensor in originals:
            table[name] = tensor                      # the module as it was, on meta
        views.clear()                                 # the last references: the map is closed
        fresh.clear()
        parameters.clear()
        file = None
    writer.commit(1)
    writer.finish()
    seconds = time.perf_counter() - t0
    data = total - len(header)
    return {"path": str(path), "bytes": data, "tensors": len(entries), "seconds": seconds,
            "gb_per_s": data / seconds / 1e9 if seconds > 0 else math.inf}


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    from fastinit import _validate as v

    return v.BFLOAT16_BITS if dtype == torch.bfloat16 else np.dtype(_STORED[dtype])
