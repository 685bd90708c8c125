"""torch's random functions inside fast_init and materialize: drawn from fastinit's stream, with
torch's distributions and bounds, reproducible, and never touching torch's global RNG; and a
parameter no init code writes is recovered or named, never left as garbage."""
import math

import pytest

torch = pytest.importorskip("torch")
stats = pytest.importorskip("scipy.stats")

import fastinit.torch as ft  # noqa: E402
from fastinit.torch.random_calls import TAKEN_OVER  # noqa: E402

N = 20_000

# (call, its distribution's CDF for a KS test, or a check of the values), each inside fast_init.
CONTINUOUS = {
    "rand": (lambda: torch.rand(N), stats.uniform().cdf),
    "rand float64": (lambda: torch.rand(N, dtype=torch.float64), stats.uniform().cdf),
    "randn": (lambda: torch.randn(N), stats.norm().cdf),
    "randn_like": (lambda: torch.randn_like(torch.empty(N, dtype=torch.float64)),
                   stats.norm().cdf),
    "rand_like": (lambda: torch.rand_like(torch.empty(N)), stats.uniform().cdf),
    "normal(float, float, size)": (lambda: torch.normal(2.0, 3.0, (N,)),
                                   stats.norm(2.0, 3.0).cdf),
    "normal(tensor, tensor)": (lambda: torch.normal(torch.full((N,), -1.0), torch.full((N,), 0.5)),
                               stats.norm(-1.0, 0.5).cdf),
    "exponential_": (lambda: torch.empty(N).exponential_(2.0), stats.expon(scale=0.5).cdf),
    "log_normal_": (lambda: torch.empty(N).log_normal_(0.5, 0.25),
                    stats.lognorm(0.25, scale=math.exp(0.5)).cdf),
    "cauchy_": (lambda: torch.empty(N).cauchy_(1.0, 2.0), stats.cauchy(1.0, 2.0).cdf),
}


@pytest.mark.parametrize("case", CONTINUOUS)
def test_a_continuous_call_follows_torchs_distribution_from_fastinits_stream(case):
    call, cdf = CONTINUOUS[case]
    before = torch.random.get_rng_state()
    with ft.fast_init(seed=3):
        values = call()
    with ft.fast_init(seed=3):
        again = call()
    with ft.fast_init(seed=4):
        other = call()
    assert torch.equal(before, torch.random.get_rng_state())
    assert torch.equal(values, again) and not torch.equal(values, other)
    assert stats.kstest(values.double().numpy(), cdf).pvalue > 1e-3


def test_uniform_factories_never_reach_one():
    with ft.fast_init(seed=0):
        for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            values = torch.rand(N, dtype=dtype)
            assert values.dtype == dtype and (values >= 0).all() and (values < 1).all()


def test_discrete_calls_keep_torchs_ranges():
    before = torch.random.get_rng_state()
    with ft.fast_init(seed=1):
        ints = torch.randint(-3, 5, (N,))
        high_only = torch.randint(7, (N,), dtype=torch.int32)
        like = torch.randint_like(torch.empty(N), 4)
        perm = torch.randperm(1000)
        floats = torch.empty(N).random_()
        bounded = torch.empty(N, dtype=torch.int64).random_(10, 20)
        to_only = torch.empty(N, dtype=torch.uint8).random_(6)
        coins = torch.empty(N).bernoulli_(0.25)
        drawn = torch.bernoulli(torch.full((N,), 0.75))
        trials = torch.empty(N, dtype=torch.int64).geometric_(0.2)
        counts = torch.poisson(torch.full((N,), 4.0))
        picks = torch.multinomial(torch.tensor([[0.0, 1.0, 3.0], [1.0, 0.0, 0.0]]), 1, True)
        sample = torch.multinomial(torch.tensor([0.1, 0.2, 0.3, 0.4]), 4)
    assert torch.equal(before, torch.random.get_rng_state())
    assert ints.dtype == torch.int64 and set(ints.unique().tolist()) == set(range(-3, 5))
    assert high_only.dtype == torch.int32 and set(high_only.unique().tolist()) == set(range(7))
    assert like.dtype == torch.float32 and set(like.unique().tolist()) == {0.0, 1.0, 2.0, 3.0}
    assert sorted(perm.tolist()) == list(range(1000)) and perm.tolist() != list(range(1000))
    assert floats.min() >= 0 and floats.max() <= 2 ** 24 and floats.max() > 2 ** 23
    assert bounded.min() == 10 and bounded.max() == 19
    assert set(to_only.unique().tolist()) == set(range(6))
    assert set(coins.unique().tolist()) == {0.0, 1.0} and abs(coins.mean() - 0.25) < 0.02
    assert abs(drawn.mean() - 0.75) < 0.02
    assert trials.min() == 1 and abs(trials.double().mean() - 5.0) < 0.2       # 1/p
    assert abs(counts.mean() - 4.0) < 0.1 and counts.min() >= 0
    assert picks[1].item() == 0 and picks[0].item() in (1, 2)
    assert sorted(sample.tolist()) == [0, 1, 2, 3]


def test_sparse_init_draws_its_permutations_from_fastinit():
    before = torch.random.get_rng_state()
    with ft.fast_init(seed=2):
        first = torch.nn.init.sparse_(torch.empty(40, 30), 0.5)
    with ft.fast_init(seed=2):
        again = torch.nn.init.sparse_(torch.empty(40, 30), 0.5)
    assert torch.equal(before, torch.random.get_rng_state())
    assert torch.equal(first, again)
    assert ((first == 0).sum(dim=0) == 20).all()                  # half of each column


def test_what_fastinit_does_not_take_falls_through_to_torch():
    generator = torch.Generator().manual_seed(5)
    with ft.fast_init(seed=0):
        with_generator = torch.rand(8, generator=generator)
        meta = torch.randn(4, device="meta")
        complex_values = torch.randn(4, dtype=torch.complex64)
        with pytest.raises(RuntimeError):
            torch.empty(4).random_(5, 2)                          # torch's own error
    assert torch.equal(with_generator, torch.rand(8, generator=torch.Generator().manual_seed(5)))
    assert meta.is_meta and complex_values.dtype == torch.complex64
    assert "torch.rand" in TAKEN_OVER and "Tensor.random_" in TAKEN_OVER


def test_materialize_keys_a_temporary_by_the_module_being_initialized():
    class Gate(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.empty(64))

        def reset_parameters(self):
            with torch.no_grad():
                self.bias.copy_(torch.rand(64) * 2 - 1)          # a temporary, then copied

    def build():
        with torch.device("meta"):
            return torch.nn.Sequential(Gate(), Gate())

    first, again = ft.materialize(build(), 7), ft.materialize(build(), 7)
    assert torch.equal(first[0].bias, again[0].bias)
    assert not torch.equal(first[0].bias, first[1].bias)        # each module's own stream
    assert (first[0].bias >= -1).all() and (first[0].bias < 1).all()


class _Scaled(torch.nn.Module):
    """A parameter set in __init__ only: its value is lost on the meta device."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(8, 8))
        self.scale = torch.nn.Parameter(torch.tensor(2.0))

    def reset_parameters(self):
        torch.nn.init.normal_(self.weight)


def test_a_parameter_no_init_code_writes_is_named_never_left_as_garbage():
    with torch.device("meta"):
        model = torch.nn.Sequential(_Scaled())
    with pytest.raises(ValueError, match=r"0\.scale were not written"):
        ft.materialize(model, 0)
    assert all(p.is_meta for p in model.parameters())            # put back, nothing half-done


def test_a_parameter_with_a_config_owner_is_recovered_from_its_constructor():
    class Config:
        scale = 2.5

    class Owner(torch.nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.weight = torch.nn.Parameter(torch.empty(16, 16))
            self.scale = torch.nn.Parameter(torch.tensor(config.scale))

        def reset_parameters(self):
            torch.nn.init.normal_(self.weight)

    with torch.device("meta"):
        model = Owner(Config())
    before = torch.random.get_rng_state()
    ft.materialize(model, 0)
    assert model.scale.item() == 2.5 and torch.isfinite(model.weight).all()
    assert torch.equal(before, torch.random.get_rng_state())


def test_save_initialized_recovers_or_names_unwritten_parameters_too(tmp_path):
    pytest.importorskip("safetensors")
    from safetensors.torch import load_file

    with torch.device("meta"):
        model = torch.nn.Sequential(_Scaled())
    with pytest.raises(ValueError, match=r"0\.scale were not written"):
        ft.save_initialized(model, tmp_path / "m.safetensors", 0)
    assert not (tmp_path / "m.safetensors").exists()

    def init_fn(module, name):
        if isinstance(module, _Scaled):
            torch.nn.init.normal_(module.weight)
            module.scale.fill_(3.0)

    saved = ft.save_initialized(model, tmp_path / "m.safetensors", 0, init_fn=init_fn)
    tensors = load_file(tmp_path / "m.safetensors")
    assert saved["tensors"] == 2 and tensors["0.scale"].item() == 3.0
    assert torch.isfinite(tensors["0.weight"]).all() and 0.5 < tensors["0.weight"].std() < 1.5
