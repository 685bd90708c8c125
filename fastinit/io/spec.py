"""Spec files: the tensors, shapes, dtypes and inits of a safetensors checkpoint, as JSON, for
``fastinit init model.safetensors --spec spec.json`` (docs/checkpoints.md, "Seed checkpoints").

May import: fastinit.io._files.
"""
from __future__ import annotations

import json
import os
from typing import Any

from fastinit.io._files import regular_file

__all__ = ["read_spec"]

_SPEC_KEYS = ("tensors", "dtype", "metadata")


def read_spec(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The tensors and metadata of a spec file (docs/checkpoints.md, "Seed checkpoints")::

        {"dtype": "float32",
         "metadata": {"model": "tiny"},
         "tensors": {
             "embed.weight": {"shape": [32000, 2048], "init": ["normal_", {"std": 0.02}]},
             "norm.weight": {"shape": [2048], "init": "ones_"},
             "head.weight": {"shape": [32000, 2048], "dtype": "bfloat16",
                             "init": {"class_name": "GlorotUniform", "config": {}}}}}

    ``dtype`` (optional, float32 by default) applies to the tensors that give none.  Errors are
    ValueError (TypeError for wrong types) naming the file and the entry.
    """
    if not regular_file(path, "", follow=True):            # a FIFO would block the open
        raise FileNotFoundError(f"{path}: no such spec file")
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path} is not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(spec, dict):
        raise TypeError(f"{path}: a spec is a JSON object with 'tensors' (and optionally "
                        f"'dtype' and 'metadata'), got {type(spec).__name__}")
    unknown = [k for k in spec if k not in _SPEC_KEYS]
    if unknown:
        raise ValueError(f"{path}: unknown key {unknown[0]!r}; a spec has "
                         f"{', '.join(_SPEC_KEYS)}")
    tensors = spec.get("tensors")
    if not isinstance(tensors, dict) or not tensors:
        raise ValueError(f"{path}: 'tensors' must be a non-empty object mapping each tensor's "
                         "name to {'shape': [...], 'init': ...}")
    default = spec.get("dtype", "float32")
    out = {}
    for name, entry in tensors.items():
        if not isinstance(entry, dict):
            raise TypeError(f"{path}: tensor {name!r} must be an object {{'shape': [...], "
                            f"'dtype': ..., 'init': ...}}, got {json.dumps(entry)}")
        out[name] = {"dtype": default, **entry}
    return out, spec.get("metadata")
