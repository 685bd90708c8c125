"""The module path ``fastinit.Philox`` was pickled under before the engine moved to
fastinit._core: a Philox or a Generator pickled by fastinit 0.1 or 0.2.0.dev0 names
``fastinit._bit_generator.Philox``, and still loads.

May import: fastinit._core.bit_generator.
"""
from fastinit._core.bit_generator import Philox

__all__ = ["Philox"]
