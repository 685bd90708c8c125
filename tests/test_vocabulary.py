"""Naming an init: every entry point answers a mistyped name the same way, with close matches."""
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
    from fastinit._diagnose import init_mlp, mlp

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


def test_a_torch_name_without_its_underscore_points_to_it():
    with pytest.raises(ValueError, match="did you mean 'kaiming_normal_'"):
        io.init_tensor("w", (4, 4), "kaiming_normal", seed=0)


def test_diagnose_takes_torch_names_with_their_underscore():
    torch = pytest.importorskip("torch")
    from fastinit._diagnose import init_mlp, mlp

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
    from fastinit._diagnose import init_mlp

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
    from fastinit._tensor_init import Recipe

    seeded = Recipe(("normal_", {"std": 0.5}), seed=3)
    arr = fd.initialize(seeded, (40, 10), chunks=(7, 10))
    want = fi.init.normal_(np.empty((40, 10), np.float32), std=0.5, generator=fi.Generator(3))
    np.testing.assert_array_equal(arr.compute(scheduler="synchronous"), want)
    # Unseeded: one seed drawn for the whole array, so its chunks are blocks of one tensor.
    arr = fd.initialize(("trunc_normal_", {"std": 0.02}), (64, 48), chunks=(16, 48))
    values = arr.compute(scheduler="synchronous")
    assert values.shape == (64, 48) and np.abs(values).max() <= 2.0
    assert len({values[i * 16:(i + 1) * 16].tobytes() for i in range(4)}) == 4
