"""Naming an init: every entry point answers a mistyped name the same way, with close matches."""
import json

import numpy as np
import pytest

import fastinit as fi
from fastinit import cli, io


def _initializers_get(name, tmp_path):
    fi.initializers.get(name)


def _fill_npy(name, tmp_path):
    fi.fill_npy(tmp_path / "w.npy", (4, 4), name, seed=0, progress=False)


def _init_tensor(name, tmp_path):
    io.init_tensor("w", (4, 4), name, seed=0)


def _write_safetensors(name, tmp_path):
    io.write_safetensors(tmp_path / "m.safetensors", {"w": ((4, 4), "float32", name)}, seed=0)


def _diagnose_init(name, tmp_path):
    torch = pytest.importorskip("torch")  # noqa: F841
    from fastinit.torch.diagnose import init_mlp, mlp

    init_mlp(mlp(2, 4), name, 0)


KERAS_TYPOS = {"he_normall": "he_normal", "glorot_unifrom": "glorot_uniform"}
# initializers.get and fill_npy take the Keras/JAX names; the checkpoint writers and diagnose
# take torch's function names too.
CASES = ([(entry, typo, want) for entry in (_initializers_get, _fill_npy, _init_tensor,
                                            _write_safetensors)
          for typo, want in KERAS_TYPOS.items()]
         + [(entry, "kaiming_normall_", "kaiming_normal")
            for entry in (_init_tensor, _write_safetensors, _diagnose_init)])


@pytest.mark.parametrize("entry, typo, want", CASES,
                         ids=[f"{e.__name__.strip('_')}-{t}" for e, t, _ in CASES])
def test_a_mistyped_name_gets_close_matches_and_writes_nothing(entry, typo, want, tmp_path):
    with pytest.raises(ValueError, match=r"unknown .*did you mean '" + want):
        entry(typo, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_answers_a_mistyped_name_the_same_way(tmp_path, capsys):
    path = tmp_path / "w.npy"
    assert cli.main(["init", str(path), "--shape", "4", "--init", "he_normall"]) == 2
    assert "did you mean 'he_normal'" in capsys.readouterr().err
    assert not path.exists()


def test_a_torch_name_without_its_underscore_is_that_function():
    obj = fi.initializers.get("kaiming_normal")
    assert obj == fi.initializers.get("kaiming_normal_")
    want = fi.init.kaiming_normal_(np.empty((4, 4), np.float32), generator=fi.Generator(0))
    np.testing.assert_array_equal(type(obj).from_config({**obj.get_config(), "seed": 0})((4, 4)),
                                  want)


def test_diagnose_takes_torch_names_with_their_underscore():
    torch = pytest.importorskip("torch")
    from fastinit.torch.diagnose import init_mlp, mlp

    a = init_mlp(mlp(2, 8), "kaiming_normal_", 3)
    b = init_mlp(mlp(2, 8), "kaiming_normal", 3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert np.isfinite(next(a.parameters()).detach().numpy()).all()


FORMS = [("normal_", {"std": 0.02}), ["kaiming_uniform_", {"a": 5 ** 0.5}], "orthogonal_",
         {"function": "trunc_normal_", "args": {"std": 0.5}},
         ("uniform", {"low": -0.1, "high": 0.1}), {"distribution": "normal", "args": {}}]


def _draw(form, shape, seed):
    from fastinit import _tensor_init

    spec = _tensor_init.parse_init(form, "w")
    out = np.empty(shape, np.float32)
    spec.fill(out, shape, None, fi.Generator(seed))
    return out


@pytest.mark.parametrize("form", FORMS, ids=repr)
def test_fill_npy_takes_torch_functions_and_distributions(form, tmp_path):
    path = tmp_path / "w.npy"
    fi.fill_npy(path, (96, 40), form, seed=7, chunk_bytes=2048, progress=False)
    np.testing.assert_array_equal(np.load(path), _draw(form, (96, 40), 7))
    if isinstance(form, tuple) and form[0].endswith("_"):       # the torch function itself
        want = getattr(fi.init, form[0])(np.empty((96, 40), np.float32), **form[1],
                                         generator=fi.Generator(7))
        np.testing.assert_array_equal(np.load(path), want)


def test_write_zarr_takes_a_torch_function(tmp_path):
    pytest.importorskip("zarr")
    from fastinit.io.zarr import read_zarr, write_zarr

    store = str(tmp_path / "w.zarr")
    write_zarr(store, (64, 32), ("kaiming_uniform_", {"a": 5 ** 0.5}), 5, chunks=(16, 32))
    want = fi.init.kaiming_uniform_(np.empty((64, 32), np.float32), a=5 ** 0.5,
                                    generator=fi.Generator(5))
    np.testing.assert_array_equal(read_zarr(store), want)


def test_an_unseeded_torch_form_gets_a_recorded_seed_that_reproduces(tmp_path):
    path = tmp_path / "w.npy"
    result = fi.fill_npy(path, (50, 20), ("normal_", {"std": 0.1}), progress=False)
    seed = result["initializer"]["config"]["seed"]
    assert isinstance(seed, int)
    np.testing.assert_array_equal(np.load(path), _draw(("normal_", {"std": 0.1}), (50, 20), seed))


@pytest.mark.parametrize("bad, error, text", [
    (("normal_", {"stdd": 1.0}), ValueError, "takes no argument 'stdd'"),
    (("normal_", {"generator": 1}), ValueError, "the writer supplies it"),
    (3.5, TypeError, "cannot read init"),
])
def test_fill_npy_refuses_a_bad_form_and_writes_nothing(bad, error, text, tmp_path):
    with pytest.raises(error, match=text):
        fi.fill_npy(tmp_path / "w.npy", (4, 4), bad, seed=0, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_diagnose_takes_keras_names_with_keras_fans():
    torch = pytest.importorskip("torch")
    from fastinit.torch.diagnose import init_mlp

    model = torch.nn.Sequential(torch.nn.Linear(400, 100), torch.nn.Linear(100, 100))
    init_mlp(model, "he_uniform", 2)
    first, second = model[0].weight.detach().numpy(), model[1].weight.detach().numpy()
    bound = np.sqrt(6 / 400)                              # fan_in: the input width, as Keras
    assert np.abs(first).max() <= bound and np.abs(first).max() > 0.99 * bound
    # One stream per layer: the layers differ, and each is the Keras kernel transposed.
    kernel = np.empty((400, 100), np.float32)
    from fastinit._tensor_init import parse_init
    rng = fi.Generator(2)
    parse_init("he_uniform", "w").fill(kernel, kernel.shape, None, rng)
    np.testing.assert_array_equal(first, kernel.T)
    assert not np.array_equal(second, first[:, :100])


def test_dask_initialize_takes_a_torch_function():
    pytest.importorskip("dask")
    import fastinit.dask as fd
    from fastinit.initializers import Recipe

    seeded = Recipe(("normal_", {"std": 0.5}), seed=3)
    arr = fd.initialize(seeded, (40, 10), chunks=(7, 10))
    want = fi.init.normal_(np.empty((40, 10), np.float32), std=0.5, generator=fi.Generator(3))
    np.testing.assert_array_equal(arr.compute(scheduler="synchronous"), want)
    # Unseeded: one seed drawn for the whole array, so its chunks are blocks of one tensor.
    arr = fd.initialize(("trunc_normal_", {"std": 0.02}), (64, 48), chunks=(16, 48))
    values = arr.compute(scheduler="synchronous")
    assert values.shape == (64, 48) and np.abs(values).max() <= 2.0
    assert len({values[i * 16:(i + 1) * 16].tobytes() for i in range(4)}) == 4


# -- every documented form at every entry point ---------------------------------------------------
#
# Each form comes with an oracle: its values for a (48, 24) Keras kernel (fan_in 48, fan_out 24),
# drawn from a given Generator, computed directly from the distribution it names.  "torch" forms
# are torch functions: diagnose applies them to the weight as torch stores it, (out, in).
SHAPE = (48, 24)
F32 = np.float32
TRUNC = 0.87962566103423978


def _he_normal(rng, shape):
    return rng.truncated_normal(0.0, np.sqrt(2 / shape[0]) / TRUNC, -2.0, 2.0, size=shape,
                                dtype=F32)


def _torch(name, **args):
    return lambda rng, shape: getattr(fi.init, name)(np.empty(shape, F32), **args, generator=rng)


DOCUMENTED = [
    # (form, layout, oracle)
    ("he_normal", "keras", _he_normal),
    ("HeNormal", "keras", _he_normal),
    ("glorot_uniform", "keras",
     lambda rng, shape: rng.uniform(-np.sqrt(6 / sum(shape)), np.sqrt(6 / sum(shape)),
                                    size=shape, dtype=F32)),
    ("normal:0.01", "keras", lambda rng, shape: rng.normal(0.0, 0.01, size=shape, dtype=F32)),
    ("uniform:0.1", "keras", lambda rng, shape: rng.uniform(-0.1, 0.1, size=shape, dtype=F32)),
    ("random_normal(mean=1.0, stddev=0.5)", "keras",
     lambda rng, shape: rng.normal(1.0, 0.5, size=shape, dtype=F32)),
    (fi.initializers.HeNormal(), "keras", _he_normal),
    ({"class_name": "RandomNormal", "config": {"stddev": 0.02}}, "keras",
     lambda rng, shape: rng.normal(0.0, 0.02, size=shape, dtype=F32)),
    ("kaiming_normal", "torch", _torch("kaiming_normal_")),
    ("kaiming_uniform_", "torch", _torch("kaiming_uniform_")),
    ("xavier_normal:1.5", "torch", _torch("xavier_normal_", gain=1.5)),
    ("normal_(std=0.02)", "torch", _torch("normal_", std=0.02)),
    ("kaiming_normal_(mode=fan_out, nonlinearity=relu)", "torch",
     _torch("kaiming_normal_", mode="fan_out", nonlinearity="relu")),
    (("kaiming_uniform_", {"a": 5 ** 0.5}), "torch", _torch("kaiming_uniform_", a=5 ** 0.5)),
    ({"function": "trunc_normal_", "args": {"std": 0.5}}, "torch",
     _torch("trunc_normal_", std=0.5)),
    (("uniform", {"low": -0.1, "high": 0.1}), "keras",
     lambda rng, shape: rng.uniform(-0.1, 0.1, size=shape, dtype=F32)),
    ({"distribution": "normal", "args": {"scale": 3.0}}, "keras",
     lambda rng, shape: rng.normal(0.0, 3.0, size=shape, dtype=F32)),
]


def _get(form, seed, tmp_path):
    obj = fi.initializers.get(form)
    seeded = fi.initializers.get({"class_name": type(obj).__name__,
                                  "config": {**obj.get_config(), "seed": seed}})
    return seeded(SHAPE), fi.Generator(seed)


def _fill_npy_entry(form, seed, tmp_path):
    fi.fill_npy(tmp_path / "w.npy", SHAPE, form, seed=seed, chunk_bytes=1024, progress=False)
    return np.load(tmp_path / "w.npy"), fi.Generator(seed)


def _write_zarr_entry(form, seed, tmp_path):
    pytest.importorskip("zarr")
    from fastinit.io.zarr import read_zarr, write_zarr

    write_zarr(str(tmp_path / "w.zarr"), SHAPE, form, seed, chunks=(10, 24))
    return read_zarr(str(tmp_path / "w.zarr")), fi.Generator(seed)


def _dask_entry(form, seed, tmp_path):
    pytest.importorskip("dask")
    import fastinit.dask as fd

    arr = fd.initialize(form, SHAPE, seed=seed, chunks=(10, 12))
    return arr.compute(scheduler="synchronous"), fi.Generator(seed)


def _tensor_stream(seed):
    return fi.Generator(key=fi.Generator(seed).key, stream=fi.stream_for("w"))


def _init_tensor_entry(form, seed, tmp_path):
    return io.init_tensor("w", SHAPE, form, seed), _tensor_stream(seed)


def _safetensors_entry(form, seed, tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "m.safetensors"
    io.write_safetensors(path, {"w": {"shape": list(SHAPE), "init": form}}, seed,
                         chunk_bytes=1024)
    return st.load_file(str(path))["w"], _tensor_stream(seed)


def _cli_spec_entry(form, seed, tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    spec, path = tmp_path / "spec.json", tmp_path / "m.safetensors"
    spec.write_text(json.dumps({"tensors": {"w": {"shape": list(SHAPE), "init": form}}}))
    assert cli.main(["init", str(path), "--spec", str(spec), "--seed", str(seed),
                     "--no-progress"]) == 0
    return st.load_file(str(path))["w"], _tensor_stream(seed)


def _cli_init_entry(form, seed, tmp_path):
    path = tmp_path / "w.npy"
    assert cli.main(["init", str(path), "--shape", *map(str, SHAPE), "--init", form,
                     "--seed", str(seed), "--no-progress"]) == 0
    return np.load(path), fi.Generator(seed)


def _diagnose_entry(form, seed, tmp_path, layout):
    torch = pytest.importorskip("torch")
    from fastinit.torch.diagnose import init_mlp

    if layout == "torch":                 # torch's layout and fans: weight (out, in) = SHAPE
        model = init_mlp(torch.nn.Sequential(torch.nn.Linear(SHAPE[1], SHAPE[0])), form, seed)
        return model[0].weight.detach().numpy(), fi.Generator(seed)
    model = init_mlp(torch.nn.Sequential(torch.nn.Linear(*SHAPE)), form, seed)
    return model[0].weight.detach().numpy().T, fi.Generator(seed)


def _jsonable(form):
    try:
        json.dumps(form)
        return True
    except TypeError:
        return False


ENTRIES = {"initializers.get": (_get, lambda f: True),
           "fill_npy": (_fill_npy_entry, lambda f: True),
           "write_zarr": (_write_zarr_entry, lambda f: True),
           "dask.initialize": (_dask_entry, lambda f: True),
           "init_tensor": (_init_tensor_entry, lambda f: True),
           "write_safetensors": (_safetensors_entry, lambda f: True),
           "cli init --spec": (_cli_spec_entry, _jsonable),
           "cli init --init": (_cli_init_entry, lambda f: isinstance(f, str)),
           "diagnose": (None, lambda f: True)}
EVERY = [(entry, index) for entry, (_, takes) in ENTRIES.items()
         for index, (form, _, _) in enumerate(DOCUMENTED) if takes(form)]


@pytest.mark.parametrize("entry, index", EVERY,
                         ids=[f"{e}-{DOCUMENTED[i][0]!r}"[:80] for e, i in EVERY])
def test_every_entry_point_takes_every_documented_form(entry, index, tmp_path):
    form, layout, oracle = DOCUMENTED[index]
    if entry == "diagnose":
        got, rng = _diagnose_entry(form, 11, tmp_path, layout)
    else:
        got, rng = ENTRIES[entry][0](form, 11, tmp_path)
    np.testing.assert_array_equal(got, oracle(rng, SHAPE))


@pytest.mark.parametrize("form", [f for f, _, _ in DOCUMENTED if isinstance(f, str)])
def test_the_cli_diagnose_takes_every_string_form(form, capsys):
    pytest.importorskip("torch")
    assert cli.main(["diagnose", "--layers", "2", "--width", "16", "--init", form,
                     "--json"]) == 0
    assert form in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("bad, error, text", [
    ("normal_(0.02)", ValueError, "give them by name"),
    ("normal_(std=x+1)", ValueError, "must be a number"),
    ("he_normal:2", ValueError, "no main argument"),
    ("normal:wide", ValueError, "not a number"),
    ("he normal", ValueError, "write NAME, NAME:VALUE or NAME"),
])
def test_a_malformed_string_form_is_one_clear_error_everywhere(bad, error, text, tmp_path):
    for entry in (_get, _fill_npy_entry, _init_tensor_entry):
        with pytest.raises(error, match=text):
            entry(bad, 0, tmp_path)
    assert list(tmp_path.iterdir()) == []
