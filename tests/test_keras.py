"""Keras 3 as a real client (torch backend): every Keras initializer's config loads in fastinit
and gives the same distribution, bounds and fans; fastinit's configs load in Keras; fastinit
initializers work as Keras layers' kernel_initializer."""
import math
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
stats = pytest.importorskip("scipy.stats")
import fastinit as fi  # noqa: E402
from keras.src.initializers import ALL_OBJECTS  # noqa: E402
from keras.src.initializers.random_initializers import compute_fans as keras_fans  # noqa: E402

CASES = [
    ("GlorotUniform", {}), ("GlorotNormal", {}), ("HeUniform", {}), ("HeNormal", {}),
    ("LecunUniform", {}), ("LecunNormal", {}),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"}),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "uniform"}),
    ("VarianceScaling", {"distribution": "truncated_normal", "input_axes": [0, 1],
                         "output_axes": [-1]}),
    ("RandomNormal", {"mean": 0.1, "stddev": 0.2}),
    ("RandomUniform", {"minval": -0.3, "maxval": 0.1}),
    ("TruncatedNormal", {"mean": 0.0, "stddev": 0.3}),
    ("Orthogonal", {"gain": 1.5}),
    ("Identity", {"gain": 2.0}), ("Zeros", {}), ("Ones", {}), ("Constant", {"value": 0.25}),
    ("STFT", {}), ("STFT", {"side": "imag", "window": "hamming", "scaling": "spectrum",
                            "periodic": True}),
]
RANDOM = {"GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
          "LecunNormal", "VarianceScaling", "RandomNormal", "RandomUniform", "TruncatedNormal",
          "Orthogonal"}
SHAPES = {"2-D": (96, 64), "4-D HWIO": (3, 3, 24, 32)}
# Keras' torch backend converts tensors with an __array__ that NumPy 2 warns about.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _keras(name, args):
    cls = getattr(keras.initializers, name)
    return cls(**args, seed=1) if name in RANDOM else cls(**args)


def _shape(name, label):
    if name == "STFT":
        return (32, 1, 17)
    if name == "Identity":
        return (64, 48)
    return SHAPES[label]


def test_every_keras_initializer_is_covered():
    names = {cls.__name__ for cls in ALL_OBJECTS} - {"Initializer"}
    assert names <= {name for name, _ in CASES}, names - {name for name, _ in CASES}


@pytest.mark.parametrize("label", sorted(SHAPES))
@pytest.mark.parametrize("name, args", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_keras_configs_load_and_agree(name, args, label):
    shape = _shape(name, label)
    config = _keras(name, args).get_config()
    # What the config means to Keras itself (Keras 3.15's Identity drops its gain from it).
    theirs_init = getattr(keras.initializers, name).from_config(config)
    ours_init = fi.initializers.get({"class_name": name, "config": config})
    ours = ours_init(shape, "float32").astype(np.float64)
    theirs = keras.ops.convert_to_numpy(theirs_init(shape, dtype="float32")).astype(np.float64)
    assert ours.shape == theirs.shape == shape
    if name not in RANDOM:
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
        return
    # The same distribution: a two-sample KS test (fixed seeds, so the verdict is fixed).
    assert stats.ks_2samp(ours.ravel(), theirs.ravel()).pvalue > 1e-3
    if isinstance(ours_init, fi.initializers.VarianceScaling):
        assert ours_init.fans(shape) == keras_fans(shape, config.get("input_axes"),
                                                   config.get("output_axes"))
        s = ours_init.stddev_or_bound(shape)
        bound = s if ours_init.distribution == "uniform" else (
            2 * s if ours_init.distribution == "truncated_normal" else math.inf)
        for values in (ours, theirs):
            assert np.abs(values).max() <= bound * (1 + 1e-6)
    if name == "RandomUniform":
        assert ours.min() >= -0.3 and ours.max() < 0.1
    if name == "TruncatedNormal":
        assert np.abs(ours).max() <= 2 * 0.3 * (1 + 1e-6)
    if name == "Orthogonal":
        for values in (ours, theirs):
            flat = values.reshape(-1, shape[-1])
            np.testing.assert_allclose(flat.T @ flat, 1.5 ** 2 * np.eye(shape[-1]), atol=1e-4)


@pytest.mark.parametrize("name, args", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_fastinit_configs_load_in_keras(name, args):
    keras_init = _keras(name, args)
    ours = fi.initializers.get({"class_name": name, "config": keras_init.get_config()})
    again = keras.initializers.get({"class_name": name, "config": ours.get_config()})
    assert type(again) is type(keras_init)
    assert again.get_config() == keras_init.get_config()


def test_keras_axes_rule_differs_from_jax_and_is_keras():
    shape = (4, 5, 6)
    keras_style = fi.initializers.VarianceScaling(input_axes=[0], output_axes=[1, 2], seed=0)
    assert keras_style.fans(shape) == keras_fans(shape, [0], [1, 2]) == (4, 30)
    jax_style = fi.initializers.VarianceScaling(in_axis=0, out_axis=(1, 2), seed=0)
    assert jax_style.fans(shape) == (4, 30)                  # no receptive field left here
    assert fi.initializers.VarianceScaling(in_axis=0, out_axis=1).fans(shape) == (24, 30)
    # Only one of Keras' axes: Keras ignores it and takes its classic rule.
    assert fi.initializers.VarianceScaling(input_axes=[0]).fans(shape) == keras_fans(shape, [0])


def test_mixed_styles_and_unknown_keys_are_clear_errors():
    with pytest.raises(ValueError, match="not both"):
        fi.initializers.VarianceScaling(in_axis=0, input_axes=[0], output_axes=[1])
    with pytest.raises(ValueError, match=r"unknown config key 'fan'.*it takes seed, input_axes"):
        fi.initializers.get({"class_name": "HeNormal", "config": {"fan": 1}})
    with pytest.raises(ValueError, match="side should be"):
        fi.initializers.get({"class_name": "STFT", "config": {"side": "left"}})


@pytest.mark.parametrize("layer, inputs", [
    (lambda init: keras.layers.Dense(64, kernel_initializer=init), (None, 128)),
    (lambda init: keras.layers.Conv2D(32, 3, kernel_initializer=init), (None, 16, 16, 8)),
], ids=["Dense", "Conv2D"])
def test_fastinit_initializers_as_keras_kernel_initializers(layer, inputs):
    init = fi.initializers.HeNormal(seed=0)
    built = layer(init)
    built.build(inputs)
    kernel = keras.ops.convert_to_numpy(built.kernel)
    np.testing.assert_array_equal(kernel, init(kernel.shape, "float32"))
    fan_in = math.prod(kernel.shape[:-1])                     # Keras' layouts: (..., in, out)
    assert kernel.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)


# -- fastinit's initializers are Keras initializers to Keras ---------------------------------------

def test_a_fastinit_initializer_is_an_instance_of_keras_class_of_that_name():
    init = fi.initializers.HeNormal(seed=1)
    assert isinstance(init, fi.initializers.HeNormal)
    assert isinstance(init, keras.initializers.HeNormal)
    assert isinstance(init, keras.initializers.VarianceScaling)
    assert keras.saving.get_registered_name(type(init)) == "fastinit>HeNormal"
    assert init == fi.initializers.HeNormal.from_config(init.get_config())


SAVE_AND_RELOAD = """
import os, sys
os.environ["KERAS_BACKEND"] = "torch"
order = sys.argv[1]
if order == "fastinit-first":
    import fastinit as fi
    import keras
else:
    import keras
    import fastinit as fi
import numpy as np
model = keras.saving.load_model(sys.argv[2])
init = model.layers[0].kernel_initializer
assert type(init).__module__ == "fastinit.initializers", type(init)
assert isinstance(init, fi.initializers.HeNormal) and init.seed == 1, init
saved = np.load(sys.argv[3])
np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.layers[0].kernel), saved)
# Built again from the reloaded config, the model draws fastinit's values again.
fresh = keras.Sequential.from_config(model.get_config())
fresh.build((None, 12))
np.testing.assert_array_equal(keras.ops.convert_to_numpy(fresh.layers[0].kernel), saved)
print("ok")
"""


@pytest.mark.parametrize("order", ["fastinit-first", "keras-first"])
def test_a_saved_model_reloads_with_fastinit_initializers(tmp_path, order):
    import subprocess
    import sys

    init = fi.initializers.HeNormal(seed=1)
    model = keras.Sequential([keras.layers.Dense(8, kernel_initializer=init),
                              keras.layers.Dense(3, kernel_initializer="zeros")])
    model.build((None, 12))
    kernel = keras.ops.convert_to_numpy(model.layers[0].kernel)
    np.testing.assert_array_equal(kernel, init((12, 8), "float32"))
    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "kernel.npy", kernel)
    done = subprocess.run([sys.executable, "-c", SAVE_AND_RELOAD, order, str(path),
                           str(tmp_path / "kernel.npy")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_multi_head_attention_gives_a_fastinit_initializer_keras_fans():
    dim, heads, key_dim = 32, 8, 16

    def query_kernel_std(init):
        mha = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=key_dim,
                                              kernel_initializer=init)
        mha.build((None, 10, dim), (None, 10, dim))
        kernel = keras.ops.convert_to_numpy(mha.query_dense.kernel)
        assert kernel.shape == (dim, heads, key_dim)
        return kernel.std()

    ours = query_kernel_std(fi.initializers.LecunNormal(seed=3))
    theirs = query_kernel_std(keras.initializers.LecunNormal(seed=3))
    # fan_in is the model width, as for Keras' own: std sqrt(1 / 32), not sqrt(1 / (8 * 32)).
    assert ours == pytest.approx(math.sqrt(1 / dim), rel=0.05)
    assert ours == pytest.approx(theirs, rel=0.05)


def test_a_seed_generator_seed_differs_per_call_and_saves_as_keras_does():
    init = fi.initializers.RandomNormal(stddev=1.0, seed=keras.random.SeedGenerator(5))
    first, second = init((50,)), init((50,))
    assert not np.array_equal(first, second)
    again = fi.initializers.RandomNormal(stddev=1.0, seed=keras.random.SeedGenerator(5))
    np.testing.assert_array_equal(again((50,)), first)
    config = init.get_config()
    assert config["seed"] == keras.saving.serialize_keras_object(init.seed)
    assert isinstance(fi.initializers.RandomNormal.from_config(config).seed,
                      keras.random.SeedGenerator)
    with pytest.raises(ValueError, match="SeedGenerator"):
        fi.initializers.pinned(init)


def test_constant_and_get_take_arrays_as_keras():
    values = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(fi.initializers.Constant(values)((4, 2, 3))[3], values)
    tensor = keras.random.uniform((3, 3), seed=0)
    np.testing.assert_array_equal(fi.initializers.get(tensor)((3, 3), "float32"),
                                  keras.ops.convert_to_numpy(tensor))
    config = fi.initializers.Constant(values).get_config()
    assert keras.initializers.Constant.from_config(config).value.tolist() == values.tolist()
    with pytest.raises(ValueError, match="Expected `shape` to be"):
        fi.initializers.get(values)((3, 3))


def test_keras_that_fails_to_import_is_watched_for_again():
    import subprocess
    import sys

    code = """
import os, sys
import fastinit as fi
os.environ["KERAS_BACKEND"] = "no_such_backend"
try:
    import keras
except Exception:
    pass
else:
    raise SystemExit("keras imported with a bogus backend")
for name in [m for m in sys.modules if m == "keras" or m.startswith("keras.")]:
    del sys.modules[name]
os.environ["KERAS_BACKEND"] = "torch"
import keras
assert isinstance(fi.initializers.HeNormal(), keras.initializers.HeNormal)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
