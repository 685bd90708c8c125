"""transformers models' own init under a fastinit session: ``init_weights`` with the module being
initialized recorded, so that each tensor draws from the stream of its name.  transformers is
never imported here unless the program has imported it.

May import: transformers, fastinit.torch.hooks.
"""
from __future__ import annotations

from typing import Any

from fastinit.torch.hooks import Named

__all__ = ["pretrained_class", "init_transformers"]


def pretrained_class() -> Any:
    import sys

    if "transformers" not in sys.modules:
        return None
    from transformers import PreTrainedModel
    return PreTrainedModel


def init_transformers(model: Any, prefix: str, session: Named, pretrained: type) -> None:
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
