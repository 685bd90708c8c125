"""fastinit.init: torch.nn.init's formulas, fans, gains and errors on NumPy arrays."""
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import fastinit as fi
from fastinit import init

SHAPES = [(10, 20), (64, 3, 5, 5), (3, 3, 16, 32), (300, 200), (128, 64, 3)]
ALPHA = 1e-4


def fans(shape):
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


# Each random scheme: (call, scipy distribution its formula names for that shape).
def _schemes(shape):
    fan_in, fan_out = fans(shape)
    xb = math.sqrt(6 / (fan_in + fan_out))
    kb = math.sqrt(3) * math.sqrt(2 / (1 + 5)) / math.sqrt(fan_in)      # a = sqrt(5)
    return {
        "uniform_": (lambda w, g: init.uniform_(w, -0.3, 0.7, g), stats.uniform(-0.3, 1.0)),
        "normal_": (lambda w, g: init.normal_(w, 0.5, 2.0, g), stats.norm(0.5, 2.0)),
        "trunc_normal_": (lambda w, g: init.trunc_normal_(w, 0.1, 0.5, -0.5, 1.0, g),
                          stats.truncnorm((-0.5 - 0.1) / 0.5, (1.0 - 0.1) / 0.5, 0.1, 0.5)),
        "xavier_uniform_": (lambda w, g: init.xavier_uniform_(w, generator=g),
                            stats.uniform(-xb, 2 * xb)),
        "xavier_normal_": (lambda w, g: init.xavier_normal_(w, 2.0, g),
                           stats.norm(0, 2.0 * math.sqrt(2 / (fan_in + fan_out)))),
        "kaiming_uniform_": (lambda w, g: init.kaiming_uniform_(w, a=math.sqrt(5), generator=g),
                             stats.uniform(-kb, 2 * kb)),
        "kaiming_normal_": (lambda w, g: init.kaiming_normal_(w, mode="fan_out",
                                                              nonlinearity="relu", generator=g),
                            stats.norm(0, math.sqrt(2) / math.sqrt(fan_out))),
        "lecun_uniform_": (lambda w, g: init.lecun_uniform_(w, g),
                           stats.uniform(-math.sqrt(3 / fan_in), 2 * math.sqrt(3 / fan_in))),
        "lecun_normal_": (lambda w, g: init.lecun_normal_(w, g),
                          stats.norm(0, 1 / math.sqrt(fan_in))),
    }


SCHEME_NAMES = list(_schemes((4, 4)))


# -- gains and fans -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, param, expected", [
    ("linear", None, 1.0), ("conv1d", None, 1.0), ("conv2d", None, 1.0), ("conv3d", None, 1.0),
    ("conv_transpose1d", None, 1.0), ("conv_transpose2d", None, 1.0),
    ("conv_transpose3d", None, 1.0), ("sigmoid", None, 1.0), ("tanh", None, 5 / 3),
    ("relu", None, math.sqrt(2)), ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)), ("leaky_relu", 1, 1.0), ("selu", None, 0.75)])
def test_calculate_gain(name, param, expected):
    assert init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("name, param", [("leaky_relu", "0.2"), ("leaky_relu", True),
                                         ("swish", None)])
def test_calculate_gain_errors(name, param):
    with pytest.raises(ValueError, match="not a valid number|Unsupported nonlinearity"):
        init.calculate_gain(name, param)


@pytest.mark.parametrize("shape", SHAPES)
def test_calculate_fans_is_torchs_rule(shape):
    assert init.calculate_fans(shape) == fans(shape)


@pytest.mark.parametrize("shape", [(), (5,)])
def test_fans_need_two_dimensions(shape):
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.calculate_fans(shape)
    w = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(w)
    assert not w.any()


# -- formulas and distributions -------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bounds_and_std_follow_the_formulas(shape, dtype):
    for name, (fill, dist) in _schemes(shape).items():
        w = fill(np.empty(shape, dtype), 3)
        lo, hi = dist.support()
        assert w.min() >= lo and w.max() <= hi, name
        if name.endswith("uniform_") and w.size >= 1000:
            # Close to the bound: max |w| within 1% of it for a thousand or more samples.
            assert w.max() > hi - 0.01 * (hi - lo) and w.min() < lo + 0.01 * (hi - lo), name
        # Sample std within 5 standard errors of the formula's.
        se = dist.std() * math.sqrt(2 / w.size) * 2
        assert abs(w.std() - dist.std()) < 5 * se + 1e-6, name


@pytest.mark.parametrize("name", SCHEME_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_scheme_has_the_distribution_its_formula_names(name, dtype):
    fill, dist = _schemes((300, 200))[name]
    w = fill(np.empty((300, 200), dtype), 11)
    assert stats.kstest(w.ravel().astype(np.float64), dist.cdf).pvalue > ALPHA


def test_nn_linear_default_is_uniform_one_over_sqrt_fan_in():
    w = init.kaiming_uniform_(np.empty((100, 400), np.float32), a=math.sqrt(5), generator=0)
    bound = 1 / math.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound


# -- deterministic and structured schemes ---------------------------------------------------------

def test_constant_ones_zeros_eye():
    w = np.empty((4, 6), np.float32)
    assert (init.constant_(w, 0.25) == 0.25).all()
    assert (init.ones_(w) == 1).all()
    assert (init.zeros_(w) == 0).all()
    np.testing.assert_array_equal(init.eye_(w), np.eye(4, 6))


@pytest.mark.parametrize("shape, groups", [((6, 4, 3), 1), ((8, 3, 3, 3), 2), ((4, 6, 3, 5, 5), 1),
                                           ((9, 2, 4, 4), 3)])
def test_dirac_matches_the_definition(shape, groups):
    w = init.dirac_(np.empty(shape, np.float64), groups)
    expected = np.zeros(shape)
    per = shape[0] // groups
    centre = tuple(k // 2 for k in shape[2:])
    for g in range(groups):
        for d in range(min(per, shape[1])):
            expected[(g * per + d, d) + centre] = 1
    np.testing.assert_array_equal(w, expected)


@pytest.mark.parametrize("shape", [(30, 10), (10, 30), (8, 4, 3, 3), (5, 5)])
def test_orthogonal_is_orthogonal_times_gain(shape):
    w = init.orthogonal_(np.empty(shape, np.float64), gain=2.0, generator=4)
    m = w.reshape(shape[0], -1)
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)


def test_orthogonal_is_haar_distributed():
    # For a Haar orthogonal n x n matrix, sqrt(n) * entry is asymptotically N(0, 1).
    w = init.orthogonal_(np.empty((400, 400)), generator=1)
    assert stats.kstest(w.ravel() * 20, "norm").pvalue > ALPHA


def test_sparse_has_the_zeros_per_column():
    w = init.sparse_(np.empty((50, 40), np.float32), sparsity=0.3, std=0.5, generator=2)
    assert ((w == 0).sum(axis=0) == math.ceil(0.3 * 50)).all()
    nonzero = w[w != 0]
    assert stats.kstest(nonzero, stats.norm(0, 0.5).cdf).pvalue > ALPHA


# -- generators ------------------------------------------------------------------------------------

def test_int_seed_reproduces_and_default_generator_reseeds():
    a = init.xavier_normal_(np.empty((30, 20)), generator=5)
    b = init.xavier_normal_(np.empty((30, 20)), generator=5)
    np.testing.assert_array_equal(a, b)
    fi.seed(9)
    c = init.normal_(np.empty(100))
    fi.seed(9)
    d = init.normal_(np.empty(100))
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(c, init.normal_(np.empty(100)))


def test_one_stream_per_call():
    rng = fi.default_rng(3)
    init.kaiming_uniform_(np.empty((8, 8)), generator=rng)
    init.sparse_(np.empty((8, 8)), 0.5, generator=rng)
    assert rng.state["stream"] == 3


def test_kaiming_on_zero_elements_is_a_noop_with_a_warning():
    rng = fi.default_rng(0)
    w = np.empty((0, 5), np.float32)
    for fn in (init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
            assert fn(w, generator=rng) is w
    assert rng.state["stream"] == 0


# -- regions: shards equal the slice of the full init ---------------------------------------------

_REGION_ARGS = {
    "uniform_": {"a": -0.3, "b": 0.7}, "normal_": {"mean": 0.5, "std": 2.0},
    "trunc_normal_": {"mean": 0.1, "std": 0.5, "a": -0.5, "b": 1.0},
    "xavier_uniform_": {}, "xavier_normal_": {"gain": 2.0},
    "kaiming_uniform_": {"a": math.sqrt(5)},
    "kaiming_normal_": {"mode": "fan_out", "nonlinearity": "relu"},
    "lecun_uniform_": {}, "lecun_normal_": {},
}


@pytest.mark.parametrize("name", SCHEME_NAMES + ["orthogonal_", "sparse_", "eye_", "dirac_",
                                                 "constant_"])
def test_region_equals_the_slice_of_the_full_init(name):
    shape = (12, 10) if name in ("eye_", "sparse_") else (12, 10, 3)
    region = np.s_[3:11, 2:7] if len(shape) == 2 else np.s_[3:11, 2:7, 1:3]
    kwargs = dict(_REGION_ARGS.get(name, {}))
    extra = {"orthogonal_": {"gain": 1.5, "generator": 8}, "sparse_": {"sparsity": 0.25,
             "generator": 8}, "dirac_": {"groups": 2}, "constant_": {"val": 3.0}}.get(name, {})
    if name in SCHEME_NAMES:
        kwargs["generator"] = 21
    kwargs.update(extra)
    fn = getattr(init, name)
    full = fn(np.empty(shape, np.float32), **kwargs)
    block = np.empty(full[region].shape, np.float32)
    fn(block, shape=shape, region=region, **kwargs)
    np.testing.assert_array_equal(block, full[region])


def test_region_needs_the_full_shape_and_a_matching_block():
    w = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="region= needs shape="):
        init.xavier_uniform_(w, region=np.s_[0:4, 0:5])
    with pytest.raises(ValueError, match="has shape"):
        init.xavier_uniform_(w, shape=(10, 10), region=np.s_[0:4, 0:4])
    assert not w.any()


# -- bad input: torch's errors, the array untouched -----------------------------------------------

@pytest.mark.parametrize("call, exc, match", [
    (lambda w: init.kaiming_uniform_(w, mode="fan_avg"), ValueError, "Mode fan_avg not supported"),
    (lambda w: init.kaiming_normal_(w, nonlinearity="gelu"), ValueError, "Unsupported"),
    (lambda w: init.eye_(w.reshape(2, 5, 2)), ValueError, "Only tensors with 2 dimensions"),
    (lambda w: init.dirac_(w), ValueError, "Only tensors with 3, 4, or 5 dimensions"),
    (lambda w: init.dirac_(w.reshape(4, 5, 1), groups=3), ValueError, "divisible by groups"),
    (lambda w: init.sparse_(w.reshape(2, 5, 2), 0.1), ValueError, "Only tensors with 2 dim"),
    (lambda w: init.sparse_(w, 1.5), ValueError, "sparsity must be in"),
    (lambda w: init.orthogonal_(w.reshape(20)), ValueError, "2 or more dimensions"),
    (lambda w: init.normal_(w, 0.0, -1.0), ValueError, "scale < 0"),
    (lambda w: init.uniform_(w, 1.0, 0.0), ValueError, "high - low < 0"),
    (lambda w: init.trunc_normal_(w, a=2.0, b=-2.0), ValueError, "a >= b"),
    (lambda w: init.trunc_normal_(w, std=float("nan")), ValueError, "std < 0"),
    (lambda w: init.normal_(w, float("inf")), ValueError, "loc must be finite"),
    (lambda w: init.xavier_uniform_(w, generator="seed"), TypeError, "generator must be"),
    (lambda w: init.xavier_uniform_(w[:, ::2]), ValueError, "C-contiguous"),
    (lambda w: init.xavier_uniform_(w.astype(np.int32)), TypeError, "unsupported dtype"),
    (lambda w: init.xavier_uniform_(w.tolist()), TypeError, "expected a numpy.ndarray"),
])
def test_bad_input_raises_and_leaves_the_array(call, exc, match):
    w = np.full((4, 5), 7.0, np.float32)
    with pytest.raises(exc, match=match):
        call(w)
    assert (w == 7.0).all()


def test_read_only_array_is_rejected():
    w = np.full((4, 5), 7.0, np.float32)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        init.kaiming_normal_(w)


# -- parity with torch (when installed) -----------------------------------------------------------

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


@needs_torch
@pytest.mark.parametrize("shape", SHAPES)
def test_fans_and_gains_match_torch(shape):
    t = torch.empty(shape)
    assert init.calculate_fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(t)
    for name in ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu", "conv2d"]:
        assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name)


@needs_torch
@pytest.mark.parametrize("name", SCHEME_NAMES[:7])
def test_two_sample_ks_against_torch(name):
    shape = (300, 200)
    ours = getattr(init, name)(np.empty(shape, np.float32), **_REGION_ARGS[name], generator=1)
    t = torch.empty(shape)
    getattr(torch.nn.init, name)(t, **_REGION_ARGS[name], generator=torch.Generator().manual_seed(1))
    assert stats.ks_2samp(ours.ravel(), t.numpy().ravel()).pvalue > ALPHA


@needs_torch
def test_dirac_and_eye_equal_torch():
    for shape, groups in [((8, 3, 3, 3), 2), ((6, 4, 5), 1)]:
        t = torch.empty(shape)
        torch.nn.init.dirac_(t, groups)
        np.testing.assert_array_equal(init.dirac_(np.empty(shape, np.float32), groups), t.numpy())
    t = torch.empty(5, 7)
    torch.nn.init.eye_(t)
    np.testing.assert_array_equal(init.eye_(np.empty((5, 7), np.float32)), t.numpy())


# -- Glorot & Bengio (2010) in miniature ----------------------------------------------------------

def test_only_xavier_keeps_tanh_activations_healthy():
    spec = importlib.util.spec_from_file_location(
        "glorot_experiment", Path(__file__).parents[1] / "examples" / "glorot_experiment.py")
    experiment = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(experiment)
    healthy = {name: all(0.1 < v < 0.8 for v in experiment.layer_variances(fill))
               for name, fill in experiment.SCHEMES.items()}
    assert healthy == {"xavier_uniform_ (gain 5/3)": True, "normal_(0, 1)": False,
                       "zeros_": False}


@needs_torch
def test_orthogonal_and_sparse_against_torch():
    ours = init.orthogonal_(np.empty((200, 150), np.float32), gain=1.5, generator=2)
    t = torch.empty(200, 150)
    torch.nn.init.orthogonal_(t, gain=1.5, generator=torch.Generator().manual_seed(2))
    assert stats.ks_2samp(ours.ravel(), t.numpy().ravel()).pvalue > ALPHA
    ours = init.sparse_(np.empty((300, 100), np.float32), 0.2, std=0.3, generator=2)
    torch.manual_seed(2)
    t = torch.empty(300, 100)
    torch.nn.init.sparse_(t, 0.2, std=0.3)
    assert ((ours == 0).sum(axis=0) == (t.numpy() == 0).sum(axis=0)).all()
    assert stats.ks_2samp(ours[ours != 0], t.numpy()[t.numpy() != 0]).pvalue > ALPHA
