"""What PyTorch's own ``test/nn/test_init.py`` checks, held by ``fastinit.init`` on torch tensors.

PyTorch's file is not in its wheel and its code is not ours to copy, so each of its 48 checks (29
in ``TestNNInit``, 19 device-type cases) is restated here in our words, on CPU tensors, with the
same sizes, parameter ranges, statistics and thresholds (KS p-value > 1e-4, as torch's).  The
random sizes and parameters come from fixed seeds, so a failure reproduces.
"""
import math
import string

import numpy as np
import pytest

torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")
F = torch.nn.functional

from fastinit import init  # noqa: E402

P_MIN = 1e-4            # torch's threshold for its KS tests


@pytest.fixture
def rnd():
    """Sizes and parameters, drawn as torch's tests draw them, from a fixed seed."""
    return np.random.default_rng(123)


@pytest.fixture
def torch_default_source(monkeypatch):
    """generator=None as a torch user meets it: fastinit.seed() not called in this process."""
    monkeypatch.setattr(init, "_seeded", False)


def random_tensor(rnd, dims, size_min, size_max):
    return torch.zeros([int(rnd.integers(size_min, size_max + 1)) for _ in range(dims)])


def random_float(rnd, a, b):
    return float(rnd.uniform(a, b))


def is_uniform(t, a, b):
    return stats.kstest(t.reshape(-1).tolist(), "uniform", args=(a, b - a)).pvalue > P_MIN


def is_normal(t, mean, std):
    return stats.kstest(t.reshape(-1).tolist(), "norm", args=(mean, std)).pvalue > P_MIN


def is_trunc_normal(t, mean, std, a, b):
    z = ((t.reshape(-1).double() - mean) / std).tolist()
    return stats.kstest(z, "truncnorm", args=((a - mean) / std, (b - mean) / std)).pvalue > P_MIN


def fans(t):
    receptive = t[0, 0].numel() if t.dim() > 2 else 1
    return t.size(1) * receptive, t.size(0) * receptive


# -- calculate_gain (5 checks) --------------------------------------------------------------------

def test_calculate_gain_linear():
    for name in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d"):
        assert init.calculate_gain(name) == 1


@pytest.mark.parametrize("name, gain", [("sigmoid", 1), ("tanh", 5 / 3), ("relu", math.sqrt(2)),
                                        ("leaky_relu", math.sqrt(2 / (1 + 0.01 ** 2))),
                                        ("selu", 0.75)])
def test_calculate_gain_nonlinear(name, gain):
    assert init.calculate_gain(name) == gain


@pytest.mark.parametrize("slope, gain", [(None, 1.4141428569978354), (0, 1.4142135623730951),
                                         (0.01, 1.4141428569978354), (10, 0.14071950894605836)])
def test_calculate_gain_leaky_relu(slope, gain):
    assert init.calculate_gain("leaky_relu", slope) == gain


@pytest.mark.parametrize("slope", [True, [1], {"a": "b"}])
def test_calculate_gain_leaky_relu_only_accepts_numbers(slope):
    with pytest.raises(ValueError):
        init.calculate_gain("leaky_relu", slope)


def test_calculate_gain_only_accepts_valid_nonlinearities(rnd):
    for n in (2, 5, 25):
        name = "".join(rnd.choice(list(string.ascii_lowercase), n))
        with pytest.raises(ValueError):
            init.calculate_gain(name)


# -- plain distributions (3 checks) ---------------------------------------------------------------

def test_uniform(rnd):
    for dims in (1, 2, 4):
        t = random_tensor(rnd, dims, 30, 50)
        a = random_float(rnd, -3, 3)
        b = a + random_float(rnd, 1, 5)
        init.uniform_(t, a=a, b=b)
        assert is_uniform(t, a, b)


def test_normal(rnd):
    for dims in (1, 2, 4):
        t = random_tensor(rnd, dims, 30, 50)
        mean, std = random_float(rnd, -3, 3), random_float(rnd, 1, 5)
        init.normal_(t, mean=mean, std=std)
        assert is_normal(t, mean, std)


def test_trunc_normal_generator(torch_default_source):
    # A torch.Generator seeded 42 and torch's default generator after torch.manual_seed(42) give
    # the same values; the statistical check is torch's own (the interval it names is (0, 1)).
    gen = torch.Generator().manual_seed(42)
    t = init.trunc_normal_(torch.empty(5), generator=gen)
    torch.manual_seed(42)
    ref = init.trunc_normal_(torch.empty(5))
    assert torch.equal(t, ref)
    assert is_trunc_normal(t, 0, 1, 0, 1)


# -- deterministic fills (7 checks) ---------------------------------------------------------------

def test_constant(rnd):
    for dims in (1, 2, 4):
        t = random_tensor(rnd, dims, 1, 5)
        val = random_float(rnd, 1, 10)
        init.constant_(t, val)
        assert torch.equal(t, t.clone().fill_(val))


def test_ones_and_zeros(rnd):
    for fill, val in ((init.ones_, 1), (init.zeros_, 0)):
        for dims in (1, 2, 4):
            t = random_tensor(rnd, dims, 1, 5)
            fill(t)
            assert torch.equal(t, t.clone().fill_(val))


def test_eye(rnd):
    t = init.eye_(random_tensor(rnd, 2, 1, 5))
    for i in range(t.size(0)):
        for j in range(t.size(1)):
            assert t[i, j] == (1 if i == j else 0)


@pytest.mark.parametrize("dims", [1, 3])
def test_eye_only_works_on_2d_inputs(rnd, dims):
    with pytest.raises(ValueError):
        init.eye_(random_tensor(rnd, dims, 1, 3))


def test_dirac_properties(rnd):
    for dims in (3, 4, 5):
        for groups in (1, 2, 3):
            a, c, d, e = (int(rnd.integers(1, 6)) for _ in range(4))
            b = int(rnd.integers(1, 5 * groups + 1))
            t = torch.randn((a * groups, b, c, d, e)[:dims])
            init.dirac_(t, groups)
            min_d = min(t.size(0) // groups, t.size(1))
            assert torch.nonzero(t).size(0) == min_d * groups
            assert t.sum().item() == min_d * groups


@pytest.mark.parametrize("groups", [1, 3])
def test_dirac_identity(groups):
    batch, in_c, out_c, size, kernel = 8, 3, 9, 5, 3
    per_group = out_c // groups
    convs = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
    for spatial, conv in convs.items():
        x = torch.randn(batch, in_c, *(size,) * spatial)
        w = torch.cat([torch.zeros(per_group, in_c, *(kernel,) * spatial)] * groups)
        init.dirac_(w, groups)
        y = conv(x, w)
        inner = (slice(None), slice(None)) + (slice(1, -1),) * spatial
        for g in range(groups):
            assert torch.equal(x[inner], y[:, per_group * g: per_group * g + in_c])
            assert torch.count_nonzero(y[:, per_group * g + in_c: per_group * (g + 1)]) == 0


@pytest.mark.parametrize("dims", [1, 2, 6])
def test_dirac_only_works_on_3_4_5d_inputs(rnd, dims):
    with pytest.raises(ValueError):
        init.dirac_(random_tensor(rnd, dims, 1, 3))


# -- variance scaling (10 checks) -----------------------------------------------------------------

@pytest.mark.parametrize("fill", [init.xavier_uniform_, init.xavier_normal_,
                                  init.kaiming_uniform_, init.kaiming_normal_])
def test_errors_on_inputs_smaller_than_2d(rnd, fill):
    for dims in (0, 1):
        t = random_tensor(rnd, dims, 1, 1)
        with pytest.raises(ValueError):
            fill(t)


@pytest.mark.parametrize("fill", [init.kaiming_uniform_, init.kaiming_normal_])
def test_kaiming_warning_on_0element_tensor(fill):
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        fill(torch.empty(0, 1))


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_xavier(rnd, distribution):
    fill = getattr(init, f"xavier_{distribution}_")
    for use_gain in (True, False):
        for dims in (2, 4):
            t = random_tensor(rnd, dims, 20, 25)
            gain = random_float(rnd, 0.1, 2) if use_gain else 1
            fill(t, gain=gain) if use_gain else fill(t)
            fan_in, fan_out = fans(t)
            std = gain * math.sqrt(2.0 / (fan_in + fan_out))
            assert (is_uniform(t, -std * math.sqrt(3), std * math.sqrt(3))
                    if distribution == "uniform" else is_normal(t, 0, std))


@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_kaiming(rnd, distribution):
    fill = getattr(init, f"kaiming_{distribution}_")
    for use_a in (True, False):
        for dims in (2, 4):
            for mode in ("fan_in", "fan_out"):
                t = random_tensor(rnd, dims, 20, 25)
                a = random_float(rnd, 0.1, 2) if use_a else 0
                fill(t, a=a, mode=mode) if use_a else fill(t, mode=mode)
                fan_in, fan_out = fans(t)
                std = math.sqrt(2.0 / ((1 + a ** 2) * (fan_in if mode == "fan_in" else fan_out)))
                assert (is_uniform(t, -std * math.sqrt(3), std * math.sqrt(3))
                        if distribution == "uniform" else is_normal(t, 0, std))


# -- sparse, orthogonal, the deprecated names (4 checks) ------------------------------------------

@pytest.mark.parametrize("dims", [1, 3])
def test_sparse_only_works_on_2d_inputs(rnd, dims):
    with pytest.raises(ValueError):
        init.sparse_(random_tensor(rnd, dims, 1, 3), random_float(rnd, 0.1, 0.9))


def test_sparse_default_std(rnd):
    for use_random_std in (True, False):
        t = random_tensor(rnd, 2, 30, 35)
        sparsity = random_float(rnd, 0.1, 0.2)
        std = random_float(rnd, 0.01, 0.2) if use_random_std else 0.01
        if use_random_std:
            init.sparse_(t, sparsity=sparsity, std=std)
        else:
            init.sparse_(t, sparsity=sparsity)
        zeros_per_column = (t == 0).sum(dim=0)
        assert (zeros_per_column >= math.ceil(sparsity * t.size(0))).all()
        assert is_normal(t[t != 0], 0, std)


def test_orthogonal(rnd):
    for use_gain in (True, False):
        for size in ([3, 4], [4, 3], [20, 2, 3, 4], [2, 3, 4, 5]):
            t = torch.zeros(size)
            gain = random_float(rnd, 0.1, 2) if use_gain else 1.0
            init.orthogonal_(t, gain=gain) if use_gain else init.orthogonal_(t)
            rows, cols = size[0], math.prod(size[1:])
            flat = t.view(rows, cols)
            product = flat.t() @ flat if rows > cols else flat @ flat.t()
            torch.testing.assert_close(product, torch.eye(min(rows, cols)) * gain ** 2,
                                       atol=1e-6, rtol=0)


def test_deprecation():
    with pytest.warns(FutureWarning, match="deprecated"):
        init.normal(torch.randn(3, 3))


# -- trunc_normal_ across dtypes (the 19 device-type cases) ---------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dims", [1, 2, 4])
def test_trunc_normal_all_dtypes(rnd, dims, dtype):
    t = torch.zeros([int(rnd.integers(30, 51)) for _ in range(dims)], dtype=dtype)
    mean, std = random_float(rnd, -3, 3), random_float(rnd, 0.01, 1)
    a, b = random_float(rnd, mean - 2 * std, mean), random_float(rnd, mean, mean + 2 * std)
    init.trunc_normal_(t, mean=mean, std=std, a=a, b=b)
    # The bounds at the tensor's precision, as torch compares them.
    lo, hi = torch.tensor(a, dtype=dtype).item(), torch.tensor(b, dtype=dtype).item()
    assert t.min().item() >= lo and t.max().item() <= hi
    assert is_trunc_normal(t, mean, std, a, b)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_trunc_normal_low_precision(dtype):
    t = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert t.min().item() >= -2.0 and t.max().item() <= 2.0
    assert is_trunc_normal(t.float(), 0.0, 1.0, -2.0, 2.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_trunc_normal_narrow_interval(dtype):
    t = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=1.0, a=2.0, b=3.0)
    assert t.min().item() >= 2.0 and t.max().item() <= 3.0
    assert is_trunc_normal(t.float(), 0.0, 1.0, 2.0, 3.0)


@pytest.mark.parametrize("dtype, min_unique", [(torch.float32, 5000), (torch.float64, 5000),
                                               (torch.float16, 3000), (torch.bfloat16, 1000)])
def test_trunc_normal_unique_values(dtype, min_unique):
    t = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert t.min().item() >= -2.0 and t.max().item() <= 2.0
    assert t.unique().numel() > min_unique
    assert not t.isinf().any() and not t.isnan().any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_trunc_normal_no_boundary_values_small_std(dtype):
    t = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=0.1, a=-2.0, b=2.0)
    assert (t == -2.0).sum().item() == 0 and (t == 2.0).sum().item() == 0


# -- fastinit's own promises about torch generators ------------------------------------------------

def test_a_torch_generator_advances_and_each_call_differs():
    gen = torch.Generator().manual_seed(7)
    first = init.normal_(torch.empty(64), generator=gen)
    second = init.normal_(torch.empty(64), generator=gen)
    assert not torch.equal(first, second)
    again = init.normal_(torch.empty(64), generator=torch.Generator().manual_seed(7))
    assert torch.equal(first, again)


def test_a_torch_generator_gives_the_documented_stream():
    import fastinit as fi

    gen = torch.Generator().manual_seed(11)
    words = torch.randint(0, 2 ** 32, (4,), dtype=torch.int64,
                          generator=torch.Generator().manual_seed(11)).tolist()
    expected = fi.Generator(np.random.SeedSequence(words)).normal(0.0, 0.5, size=(8, 8),
                                                                  dtype=np.float32)
    got = init.normal_(torch.empty(8, 8), std=0.5, generator=gen)
    np.testing.assert_array_equal(got.numpy(), expected)


def test_a_failed_call_leaves_the_torch_generator_as_it_was():
    gen = torch.Generator().manual_seed(3)
    state = gen.get_state()
    with pytest.raises(ValueError):
        init.uniform_(torch.empty(4), 2.0, 1.0, generator=gen)
    assert torch.equal(gen.get_state(), state)


def test_fastinit_seed_takes_over_the_default_for_tensors(monkeypatch):
    import fastinit as fi

    monkeypatch.setattr(init, "_seeded", False)
    monkeypatch.setattr(init, "_default_generator", init._default_generator)
    fi.seed(5)
    torch.manual_seed(0)
    a = init.normal_(torch.empty(32))
    fi.seed(5)
    torch.manual_seed(1)
    b = init.normal_(torch.empty(32))
    assert torch.equal(a, b)


@pytest.mark.parametrize("old", ["uniform", "normal", "constant", "eye", "dirac",
                                 "xavier_uniform", "xavier_normal", "kaiming_uniform",
                                 "kaiming_normal", "orthogonal", "sparse"])
def test_every_deprecated_name_warns_and_fills_as_the_new_one(old):
    shape = (4, 3, 3) if old == "dirac" else (6, 5)
    args = {"constant": (0.5,), "sparse": (0.3,)}.get(old, ())
    kwargs = {} if old in ("constant", "eye", "dirac") else {"generator": 9}
    with pytest.warns(FutureWarning, match=f"`nn.init.{old}` is now deprecated in favor of "
                                           f"`nn.init.{old}_`"):
        got = getattr(init, old)(torch.empty(shape), *args, **kwargs)
    want = getattr(init, old + "_")(torch.empty(shape), *args, **kwargs)
    assert torch.equal(got, want)
