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
