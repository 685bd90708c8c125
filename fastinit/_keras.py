"""fastinit's initializers as Keras sees them, once Keras is imported; never imports Keras itself.

Keras finds a saved initializer again by its registered name, and adjusts the fans of
``EinsumDense`` kernels (``MultiHeadAttention``'s projections) only for instances of its own
``VarianceScaling``.  So, once the program has imported Keras (before or after fastinit):

- each class of :mod:`fastinit.initializers` is registered with Keras' serialization as
  ``"fastinit>Name"``, so that ``model.save`` / ``keras.saving.load_model`` bring back fastinit's
  initializer, not Keras' class of the same name;
- constructing one of its initializers gives an instance of a Keras flavour of its class: a
  subclass of the fastinit class and of Keras' class of the same name (``HeNormal`` of
  ``keras.initializers.HeNormal``, hence of ``VarianceScaling``), with fastinit's methods first.
  It is still an instance of the fastinit class, and computes fastinit's values.

Nothing happens in a program that never imports Keras: ``import fastinit`` imports no Keras.
The moment Keras is imported is seen by a finder on ``sys.meta_path`` that waits for the module
``keras`` only, runs Keras' own loader, then registers, and removes itself.

May import: numpy.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from typing import Any, Callable, Iterable

import numpy as np

PACKAGE = "fastinit"

# fastinit class -> its Keras flavour; filled by register(), read by Initializer.__new__.
flavours: dict[type, type] = {}
_lock = threading.Lock()
_classes: Callable[[], Iterable[type]] | None = None


def loaded() -> Any:
    """The Keras module if the program has imported it completely, else None."""
    keras = sys.modules.get("keras")
    spec = getattr(keras, "__spec__", None)
    if keras is None or getattr(spec, "_initializing", False):
        return None
    return keras


def is_seed_generator(seed: Any) -> bool:
    """Whether ``seed`` is a ``keras.random.SeedGenerator`` (False without Keras)."""
    keras = loaded()
    return keras is not None and isinstance(seed, keras.random.SeedGenerator)


def draw_seed(seed_generator: Any) -> np.random.SeedSequence:
    """One call's fastinit seed from a SeedGenerator: the words of ``seed_generator.next()``, as
    Keras' own random ops draw theirs (the generator advances, each call differs)."""
    keras = loaded()
    words = np.asarray(keras.ops.convert_to_numpy(seed_generator.next())).astype(np.int64)
    return np.random.SeedSequence([int(w) & 0xFFFFFFFF for w in words.reshape(-1)])


def serialize_seed(seed_generator: Any) -> dict[str, Any]:
    """A SeedGenerator's config, as Keras' initializers save it."""
    return loaded().saving.serialize_keras_object(seed_generator)


def deserialize_seed(config: dict[str, Any], cls: str) -> Any:
    """The SeedGenerator of a saved config; Keras is needed to read one."""
    keras = loaded()
    if keras is None:
        raise TypeError(f"{cls}: this seed is a saved keras.random.SeedGenerator ({config!r}); "
                        "import keras to load it, or give an int seed")
    seed = keras.saving.deserialize_keras_object(config)
    if not isinstance(seed, keras.random.SeedGenerator):
        raise TypeError(f"{cls}: a seed config must describe a keras.random.SeedGenerator, got "
                        f"{type(seed).__name__}")
    return seed


def flavour(cls: type) -> type:
    """The Keras flavour of the fastinit initializer class ``cls`` (made on first use)."""
    made = flavours.get(cls)
    if made is not None:
        return made
    with _lock:
        if cls not in flavours:
            keras = loaded()
            base = getattr(keras.initializers, cls.__name__, None)
            if not (isinstance(base, type) and issubclass(base, keras.initializers.Initializer)):
                base = keras.initializers.Initializer
            made = type(cls.__name__, (cls, base), {"__module__": cls.__module__,
                                                   "__qualname__": cls.__qualname__,
                                                   "__doc__": cls.__doc__,
                                                   "_fastinit_class": cls})
            # The plain class first, so that an instance made before Keras was imported also
            # saves under fastinit's name; the name then loads as the flavour.
            keras.saving.register_keras_serializable(PACKAGE, cls.__name__)(cls)
            keras.saving.register_keras_serializable(PACKAGE, cls.__name__)(made)
            flavours[cls] = made
    return flavours[cls]


def register() -> None:
    """Register every class given to :func:`watch` with the Keras now loaded."""
    if _classes is None or loaded() is None:
        return
    for cls in _classes():
        flavour(cls)


class _KerasLoader(importlib.abc.Loader):
    """Keras' own loader, then :func:`register`."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        try:
            self._loader.exec_module(module)
        except BaseException:
            _watch_imports()            # Keras failed to import (no backend): wait for a retry
            raise
        spec = module.__spec__
        if spec is not None:
            spec._initializing = False      # register() reads Keras as complete from here on
        register()

    def __getattr__(self, name: str) -> Any:    # get_resource_reader, is_package, ...
        return getattr(self._loader, name)


class _KerasFinder(importlib.abc.MetaPathFinder):
    """Waits for ``import keras``; hands Keras' spec back with its loader wrapped."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "keras":
            return None
        _unwatch(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _KerasLoader(spec.loader)
        return spec


def watch(classes: Callable[[], Iterable[type]]) -> None:
    """Register ``classes()`` with Keras now if it is loaded, else when it is imported."""
    global _classes
    _classes = classes
    if loaded() is not None:
        register()
    elif "keras" not in sys.modules:
        _watch_imports()


def _watch_imports() -> None:
    if not any(isinstance(f, _KerasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasFinder())


def _unwatch(finder: _KerasFinder) -> None:
    try:
        sys.meta_path.remove(finder)
    except ValueError:
        pass
