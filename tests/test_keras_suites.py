"""Keras' own initializer tests, run against fastinit.initializers (as test_numpy_dropin.py runs
NumPy's against fastinit.Philox).

The two files ship inside the installed keras package (``keras/src/initializers/``).  Each is
read, the lines that import Keras' initializers are pointed at fastinit's (nothing else is
changed), and its ``TestCase`` classes are collected here by pytest, on Keras' torch backend.
Keras' repository ``conftest.skip_if_backend`` is not in the wheel; it is given as Keras defines
it (a skip for one backend).
"""
import os
import types
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytest.importorskip("scipy.signal")
# Keras' torch backend converts tensors with an __array__ that NumPy 2 warns about.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SUITES = ("random_initializers_test", "constant_initializers_test")
# The only edits: where the tested initializers come from.
REWRITES = {
    "from keras.src import initializers\n": "from fastinit import initializers\n",
    "from keras.src.initializers.random_initializers import compute_fans\n":
        "from fastinit.initializers import compute_fans\n",
    "from conftest import skip_if_backend\n": "",
}


def skip_if_backend(given_backend, reason):
    return pytest.mark.skipif(keras.backend.backend() == given_backend, reason=reason)


def load_suite(name):
    path = Path(keras.__file__).parent / "src" / "initializers" / f"{name}.py"
    source = path.read_text()
    assert "from keras.src import initializers\n" in source, f"{path} no longer imports it so"
    for keras_line, ours in REWRITES.items():
        source = source.replace(keras_line, ours)
    module = types.ModuleType(f"keras_suite_{name}")
    module.__file__ = str(path)
    module.skip_if_backend = skip_if_backend
    exec(compile(source, str(path), "exec"), module.__dict__)
    assert module.initializers.__name__ == "fastinit.initializers"
    return module


_random = load_suite("random_initializers_test")
_constant = load_suite("constant_initializers_test")
RandomInitializersTest = _random.RandomInitializersTest
ConstantInitializersTest = _constant.ConstantInitializersTest


def test_the_suites_hold_keras_twenty_tests():
    names = [name for cls in (RandomInitializersTest, ConstantInitializersTest)
             for name in dir(cls) if name.startswith("test_")]
    assert len(names) == 20, names
