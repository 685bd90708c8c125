"""torch integration: fast, reproducible init of torch tensors and whole models.

- :func:`fast_init`: a context manager under which existing model code (``nn.Linear(...)``,
  ``LlamaForCausalLM(cfg)``, ...) initializes its CPU tensors with fastinit's kernels, with the
  distributions, bounds and fans torch would use for the same calls.
- :func:`materialize`: allocate and initialize a module built on the meta device, each parameter
  and buffer keyed by its fully qualified name (values depend on (seed, name, index) only).
- DTensor parameters are filled as their local shards, equal to the same block of the unsharded
  init; ``fastinit.init`` functions take DTensors directly.
- :func:`save_initialized`: a module's own init written straight into a safetensors file.
- :func:`recipe`: the init conventions of published models (GPT-2/Megatron, GPT-NeoX, OLMo, T5,
  DeepNet, muP, LSUV) applied to any model by the roles of its parameters
  (:mod:`fastinit.torch.recipes`).
- :func:`diagnose`: per-layer activation and gradient statistics of a model under its init, with
  vanishing, exploding, saturated, dead and symmetric layers flagged (:mod:`fastinit.torch.diagnose`).

torch is imported when this module is imported (``import fastinit`` does not import it):
``pip install fastinit[torch]``.

The package: :mod:`.hooks` (what fast_init and materialize take over), :mod:`.materialize`,
:mod:`.checkpoint` (save_initialized), :mod:`.hf` (transformers models' own init),
:mod:`.random_calls` (torch's other random functions in a session), :mod:`.recipes`,
:mod:`.diagnose`.  Each imports torch; the layers below (``fastinit.init``, the Generator, the
file writers) never do.

May import: fastinit.torch.checkpoint, fastinit.torch.diagnose, fastinit.torch.hooks,
fastinit.torch.materialize, fastinit.torch.recipes.
"""
from __future__ import annotations

from fastinit.torch.checkpoint import save_initialized
from fastinit.torch.diagnose import Diagnosis, Flag, LayerStats, diagnose, init_mlp, mlp
from fastinit.torch.hooks import fast_init
from fastinit.torch.materialize import materialize
from fastinit.torch.recipes import recipe, recipe_init_fn

__all__ = ["fast_init", "materialize", "save_initialized", "recipe", "recipe_init_fn", "diagnose",
           "Diagnosis", "LayerStats", "Flag", "mlp", "init_mlp"]
