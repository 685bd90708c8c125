"""fastinit.initializers: Keras/JAX-style initializer objects."""
import json
import math

import numpy as np
import pytest
from scipy import stats

import fastinit as fi
from fastinit import initializers as ini

ALPHA = 1e-4


# -- fans and constants (Keras' and JAX's formulas, by value) ----------------------------------

@pytest.mark.parametrize("shape, fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((10, 20), (10, 20)),              # Dense: (in, out)
    ((3, 3, 16, 32), (144, 288)),                                    # Conv2D HWIO
    ((5, 8, 4), (40, 20)),                                           # Conv1D (k, in, out)
    ((3, 3, 3, 2, 6), (54, 162)),                                    # Conv3D
])
def test_fans_follow_keras(shape, fans):
    assert ini.compute_fans(shape) == fans


def test_fans_with_other_axes_follow_jax():
    # torch's layout (out, in, kh, kw) with in_axis=1, out_axis=0 gives torch's fans.
    shape = (64, 3, 5, 5)
    assert ini.compute_fans(shape, in_axis=1, out_axis=0) == fi.init.calculate_fans(shape)
    # a batch axis is neither fan nor receptive field
    assert ini.compute_fans((8, 3, 4, 5), batch_axis=0) == (3 * 4, 3 * 5)
    assert ini.compute_fans((2, 3, 4, 5), in_axis=(0, 1), out_axis=-1) == (6 * 4, 5 * 4)


def test_truncated_stddev_constant_is_the_std_of_the_truncated_normal():
    assert ini.TRUNCATED_STDDEV_FACTOR == pytest.approx(stats.truncnorm(-2, 2).std(), rel=1e-15)


# -- distributions -------------------------------------------------------------------------------

def _expected(init, shape):
    """The scipy distribution init's formula names for shape."""
    s = init.stddev_or_bound(shape)
    if init.distribution == "truncated_normal":
        return stats.truncnorm(-2, 2, 0, s)
    if init.distribution == "untruncated_normal":
        return stats.norm(0, s)
    return stats.uniform(-s, 2 * s)


PRESETS = {  # class: (scale, mode, distribution)
    ini.GlorotUniform: (1.0, "fan_avg", "uniform"), ini.GlorotNormal: (1.0, "fan_avg",
                                                                       "truncated_normal"),
    ini.HeUniform: (2.0, "fan_in", "uniform"), ini.HeNormal: (2.0, "fan_in", "truncated_normal"),
    ini.LecunUniform: (1.0, "fan_in", "uniform"),
    ini.LecunNormal: (1.0, "fan_in", "truncated_normal"),
}


@pytest.mark.parametrize("cls", list(PRESETS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_presets_are_their_variance_scaling(cls, dtype):
    init = cls(seed=3)
    scale, mode, distribution = PRESETS[cls]
    assert (init.scale, init.mode, init.distribution) == (scale, mode, distribution)
    shape = (3, 3, 40, 50)
    w = init(shape, dtype)
    assert w.dtype == dtype and w.shape == shape
    assert stats.kstest(w.ravel().astype(np.float64), _expected(init, shape).cdf).pvalue > ALPHA


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "untruncated_normal", "uniform"])
def test_variance_is_scale_over_fan(mode, distribution):
    shape = (200, 300)
    fan_in, fan_out = 200, 300
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": 250,
           "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
    w = ini.VarianceScaling(3.0, mode, distribution, seed=1)(shape, np.float64)
    target = 3.0 / fan
    assert abs(w.var() - target) < 0.03 * target       # 60,000 samples: a few standard errors


def test_fans_below_one_are_clamped_to_one():
    init = ini.VarianceScaling(1.0, "fan_in", "uniform", seed=0)
    assert init.stddev_or_bound((0, 5)) == math.sqrt(3.0)      # variance = scale / max(1, 0)
    assert init((0, 5)).shape == (0, 5)


@pytest.mark.parametrize("init, dist", [
    (ini.RandomUniform(-0.2, 0.6, seed=2), stats.uniform(-0.2, 0.8)),
    (ini.RandomNormal(0.3, 0.1, seed=2), stats.norm(0.3, 0.1)),
    (ini.TruncatedNormal(0.3, 0.1, seed=2), stats.truncnorm(-2, 2, 0.3, 0.1)),
])
def test_random_initializers(init, dist):
    w = init((100, 100), np.float64)
    assert stats.kstest(w.ravel(), dist.cdf).pvalue > ALPHA


@pytest.mark.parametrize("shape, axis", [((30, 10), -1), ((10, 30), -1), ((3, 3, 8, 16), -1),
                                         ((6, 20), 0)])
def test_orthogonal_over_column_axis(shape, axis):
    w = ini.Orthogonal(gain=1.5, column_axis=axis, seed=4)(shape, np.float64)
    m = np.moveaxis(w, axis, -1).reshape(-1, shape[axis])
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 2.25 * np.eye(min(m.shape)), atol=1e-12)


def test_deterministic_initializers():
    np.testing.assert_array_equal(ini.Identity(2.0)((3, 4)), 2 * np.eye(3, 4))
    assert (ini.Zeros()((2, 3)) == 0).all() and (ini.Ones()((2, 3)) == 1).all()
    assert (ini.Constant(0.5)((4,), np.float64) == 0.5).all()
    with pytest.raises(ValueError, match="2-D"):
        ini.Identity()((2, 2, 2))


# -- seeds, configs, get -------------------------------------------------------------------------

ALL = [ini.VarianceScaling(2.0, "fan_out", "uniform", seed=5), ini.GlorotUniform(5),
       ini.GlorotNormal(5), ini.HeUniform(5), ini.HeNormal(5), ini.LecunUniform(5),
       ini.LecunNormal(5), ini.RandomUniform(seed=5), ini.RandomNormal(seed=5),
       ini.TruncatedNormal(seed=5), ini.Orthogonal(seed=5), ini.Identity(0.5), ini.Zeros(),
       ini.Ones(), ini.Constant(0.25)]


@pytest.mark.parametrize("init", ALL, ids=lambda i: type(i).__name__)
def test_seeded_is_reproducible_across_calls_and_config_round_trips(init):
    a = init((6, 8), np.float32)
    config = json.loads(json.dumps(init.get_config()))
    again = type(init).from_config(config)
    assert again == init
    via_get = ini.get({"class_name": type(init).__name__, "config": config})
    for other in (init, again, via_get):
        np.testing.assert_array_equal(other((6, 8), np.float32), a)


@pytest.mark.parametrize("init", ALL, ids=lambda i: type(i).__name__)
def test_region_and_out(init):
    full = init((12, 10), np.float64)
    block = np.empty((5, 4))
    assert init((12, 10), np.float64, out=block, region=np.s_[2:7, 3:7]) is block
    np.testing.assert_array_equal(block, full[2:7, 3:7])


def test_unseeded_draws_fresh_entropy_every_call():
    init = ini.HeNormal()
    assert not np.array_equal(init((50, 50)), init((50, 50)))


@pytest.mark.parametrize("name, cls", [("he_normal", ini.HeNormal), ("GlorotUniform",
                                       ini.GlorotUniform), ("zeros", ini.Zeros),
                                       ("orthogonal", ini.Orthogonal)])
def test_get_by_name(name, cls):
    got = ini.get(name)
    assert isinstance(got, cls) and type(got).__name__ == cls.__name__


def test_get_passes_initializers_and_none_through():
    init = ini.Ones()
    assert ini.get(init) is init and ini.get(None) is None


@pytest.mark.parametrize("bad, exc", [("he_gaussian", ValueError), ({"config": {}}, ValueError),
                                      (3, TypeError)])
def test_get_errors(bad, exc):
    with pytest.raises(exc):
        ini.get(bad)


# -- bad arguments -------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"distribution": "normal"}, "truncated_normal.*untruncated_normal|Keras.*JAX"),
    ({"scale": 0.0}, "Argument `scale` must be positive float"), ({"scale": -1.0}, "Argument `scale` must be positive float"),
    ({"mode": "fan_max"}, "Invalid `mode` argument"),
    ({"distribution": "gaussian"}, "Invalid `distribution` argument"),
    ({"scale": float("nan")}, "finite"),
])
def test_variance_scaling_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ini.VarianceScaling(**kwargs)


def test_normal_is_refused_naming_both_meanings():
    with pytest.raises(ValueError) as err:
        ini.VarianceScaling(distribution="normal")
    assert "truncated_normal" in str(err.value) and "untruncated_normal" in str(err.value)


def test_bad_out_is_rejected_and_untouched():
    out = np.full((4, 4), 9.0, np.float32)
    with pytest.raises(ValueError, match="does not match"):
        ini.HeNormal(1)((4, 5), out=out)
    with pytest.raises(TypeError, match="wrong type"):
        ini.Identity()((4, 4), np.float64, out=out)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        ini.Orthogonal()((4,))
    assert (out == 9.0).all()


@pytest.mark.parametrize("identifier, exc, match", [
    ({"class_name": "HeNormal", "config": None}, TypeError, "config of HeNormal must be a dict"),
    ({"class_name": ["HeNormal"], "config": {}}, TypeError, "class_name must be a str"),
    ({"class_name": "HeNormal", "config": {"seed": 1, "mean": 0.0}}, ValueError,
     "unknown config key 'mean'; it takes seed"),
    ({"class_name": "Zeros", "config": {"value": 1.0}}, ValueError, "takes no arguments"),
    ({"class_name": "NoSuchInit"}, ValueError, "known: "),
])
def test_bad_configs_say_what_is_wrong(identifier, exc, match):
    with pytest.raises(exc, match=match):
        ini.get(identifier)


@pytest.mark.parametrize("shape, exc", [((-1, 4), ValueError), ((4.5, 4), TypeError),
                                        ((True, 4), TypeError), ("12", TypeError)])
def test_bad_shapes_are_numpys_errors(shape, exc):
    with pytest.raises(exc):
        ini.HeNormal(seed=0)(shape)
