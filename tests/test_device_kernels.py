"""The Triton kernels against the CPU kernels, bit for bit, in Triton's interpreter.

With ``FASTINIT_DEVICE_KERNELS=triton-interpret`` fastinit sends CPU torch tensors through the
Triton kernels of ``fastinit._device`` (run by Triton's interpreter, which conftest.py turns on
before triton is imported), the code a CUDA tensor runs on a GPU.  Every value must equal the CPU
kernels' for the same call: every method and dtype, regions, indices past 2**32, far tails, named
streams, array parameters, the init functions, and materialize.  A launch hook proves the Triton
kernel ran.
"""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")

import fastinit as fi                                   # noqa: E402
from fastinit import _device                            # noqa: E402
from fastinit.torch import materialize                  # noqa: E402

TORCH_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
BITS = {2: torch.int16, 4: torch.int32, 8: torch.int64}


@pytest.fixture
def launches(monkeypatch):
    """Device fills are on for the test; the list of kernel launches it made (a pre-run hook on
    the real kernel)."""
    monkeypatch.setenv(_device.ENV, _device.INTERPRET)
    kernel = _device._load().fill_kernel
    seen = []

    def hook(*args, **kwargs):
        seen.append(kwargs.get("KIND"))

    kernel.add_pre_run_hook(hook)
    yield seen
    kernel.pre_run_hooks.remove(hook)


def _bits(tensor):
    return tensor.view(BITS[tensor.element_size()])


def _cpu_then_device(fill, make, launches, monkeypatch):
    """fill(tensor) on a CPU tensor by the CPU kernels, then by the Triton kernels."""
    monkeypatch.delenv(_device.ENV)
    expected = fill(make())
    count = len(launches)
    monkeypatch.setenv(_device.ENV, _device.INTERPRET)
    got = fill(make())
    assert len(launches) > count, "the Triton kernel did not run"
    return expected, got


CALLS = {
    "random": lambda rng, out, **kw: rng.random(out=out, **kw),
    "uniform": lambda rng, out, **kw: rng.uniform(-0.75, 1.25, out=out, **kw),
    "uniform_empty": lambda rng, out, **kw: rng.uniform(0.5, 0.5, out=out, **kw),
    "standard_normal": lambda rng, out, **kw: rng.standard_normal(out=out, **kw),
    "normal": lambda rng, out, **kw: rng.normal(0.25, 3.0, out=out, **kw),
    "trunc_torch_default": lambda rng, out, **kw: rng.truncated_normal(0.0, 0.02, -100.0, 100.0,
                                                                       out=out, **kw),
    "trunc_normal_method": lambda rng, out, **kw: rng.truncated_normal(0.5, 2.0, -2.0, 2.0,
                                                                       out=out, **kw),
    "trunc_uniform_method": lambda rng, out, **kw: rng.truncated_normal(0.0, 1.0, -0.3, 0.4,
                                                                        out=out, **kw),
    "trunc_one_sided": lambda rng, out, **kw: rng.truncated_normal(0.0, 1.0, 0.5, math.inf,
                                                                   out=out, **kw),
    "trunc_far_tail": lambda rng, out, **kw: rng.truncated_normal(0.0, 1.0, 8.0, 9.0, out=out,
                                                                  **kw),
    "trunc_flipped_far": lambda rng, out, **kw: rng.truncated_normal(1.0, 0.5, -math.inf, -40.0,
                                                                     out=out, **kw),
    "trunc_narrow_uniform": lambda rng, out, **kw: rng.truncated_normal(0.0, 1.0, 3.0, 3.25,
                                                                        out=out, **kw),
}


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=str)
@pytest.mark.parametrize("method", sorted(CALLS))
def test_every_method_and_dtype_matches_the_cpu_kernels(method, dtype, launches, monkeypatch):
    # 6007 samples: not a whole number of Philox blocks or programs, so the edges are masked.
    expected, got = _cpu_then_device(
        lambda t: CALLS[method](fi.Generator(1234, stream=5), t),
        lambda: torch.empty(6007, dtype=dtype), launches, monkeypatch)
    assert torch.equal(_bits(got), _bits(expected))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("region", [
    np.s_[3:14, 5:9, :],            # rows of whole trailing axes
    np.s_[:9, 2:3, 1:6],            # a column shard: one short row per (i, j)
    np.s_[7:8, :, :],               # one contiguous slab
    np.s_[61:63, 3:8, 2:13],        # a row per (i, j): each row one program (interpreted: slow)
], ids=["rows", "columns", "slab", "inner"])
@pytest.mark.parametrize("method", ["uniform", "normal", "trunc_normal_method",
                                    "trunc_one_sided"])
def test_regions_equal_the_block_of_the_whole_call(method, region, dtype, launches, monkeypatch):
    shape = (64, 17, 13)
    block = tuple(s.indices(n)[1] - s.indices(n)[0] for s, n in zip(region, shape))
    expected, got = _cpu_then_device(
        lambda t: CALLS[method](fi.Generator(99, stream=2), t, size=shape, region=region),
        lambda: torch.empty(block, dtype=dtype), launches, monkeypatch)
    assert torch.equal(_bits(got), _bits(expected))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("method", ["random", "normal", "trunc_normal_method",
                                    "trunc_uniform_method"])
def test_indices_past_two_to_the_32(method, dtype, launches, monkeypatch):
    """Counters carry the index's high word: a block straddling 2**32 (and retries there)."""
    shape = (2**33 + 100,)
    region = np.s_[2**32 - 2000: 2**32 + 3001]
    expected, got = _cpu_then_device(
        lambda t: CALLS[method](fi.Generator(7), t, size=shape, region=region),
        lambda: torch.empty(5001, dtype=dtype), launches, monkeypatch)
    assert torch.equal(_bits(got), _bits(expected))


def test_named_streams_and_high_stream_words(launches, monkeypatch):
    for stream in (fi.stream_for("model.layers.0.mlp.down_proj.weight"), 2**64 - 1, 2**32):
        expected, got = _cpu_then_device(
            lambda t: fi.Generator(3, stream=stream).truncated_normal(0, 0.02, -2, 2, out=t),
            lambda: torch.empty(300, 11), launches, monkeypatch)
        assert torch.equal(_bits(got), _bits(expected))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16], ids=str)
def test_array_parameters(dtype, launches, monkeypatch):
    loc = np.linspace(-1.0, 1.0, 13)
    scale = np.linspace(0.1, 2.0, 17)[:, None]
    low = np.linspace(-3.0, 0.0, 13)
    for fill in (lambda t: fi.Generator(5).normal(loc, scale, size=(40, 17, 13), out=t),
                 lambda t: fi.Generator(5).uniform(low, 1.0, size=(40, 17, 13), out=t),
                 lambda t: fi.Generator(5).truncated_normal(loc, scale, -1.0, 2.5,
                                                            size=(40, 17, 13), out=t)):
        expected, got = _cpu_then_device(fill, lambda: torch.empty(40, 17, 13, dtype=dtype),
                                         launches, monkeypatch)
        assert torch.equal(_bits(got), _bits(expected))
    region = np.s_[5:9, 3:4, :]
    expected, got = _cpu_then_device(
        lambda t: fi.Generator(5).normal(loc, scale, size=(40, 17, 13), out=t, region=region),
        lambda: torch.empty(4, 1, 13, dtype=dtype), launches, monkeypatch)
    assert torch.equal(_bits(got), _bits(expected))


INITS = {
    "uniform_": lambda t, g: fi.init.uniform_(t, -0.1, 0.2, generator=g),
    "normal_": lambda t, g: fi.init.normal_(t, 0.0, 0.02, generator=g),
    "trunc_normal_": lambda t, g: fi.init.trunc_normal_(t, 0.0, 1.0, -2.0, 2.0, generator=g),
    "trunc_normal_std0": lambda t, g: fi.init.trunc_normal_(t, 0.5, 0.0, generator=g),
    "xavier_uniform_": lambda t, g: fi.init.xavier_uniform_(t, gain=1.5, generator=g),
    "xavier_normal_": lambda t, g: fi.init.xavier_normal_(t, generator=g),
    "kaiming_uniform_": lambda t, g: fi.init.kaiming_uniform_(t, a=math.sqrt(5), generator=g),
    "kaiming_normal_": lambda t, g: fi.init.kaiming_normal_(t, mode="fan_out", generator=g),
    "lecun_normal_": lambda t, g: fi.init.lecun_normal_(t, generator=g),
    "orthogonal_": lambda t, g: fi.init.orthogonal_(t, gain=2.0, generator=g),
    "sparse_": lambda t, g: fi.init.sparse_(t, 0.3, generator=g),
    "constant_": lambda t, g: fi.init.constant_(t, 0.1),
    "eye_": lambda t, g: fi.init.eye_(t),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", sorted(INITS))
def test_init_functions_on_device_tensors(name, dtype, monkeypatch):
    monkeypatch.delenv(_device.ENV, raising=False)
    expected = INITS[name](torch.empty(96, 40, dtype=dtype), 21)
    monkeypatch.setenv(_device.ENV, _device.INTERPRET)
    got = INITS[name](torch.empty(96, 40, dtype=dtype), 21)
    assert torch.equal(_bits(got), _bits(expected))


def test_init_regions_and_torch_generators(launches, monkeypatch):
    expected, got = _cpu_then_device(
        lambda t: fi.init.kaiming_uniform_(t, generator=torch.Generator().manual_seed(4),
                                           shape=(512, 96), region=np.s_[128:256, :]),
        lambda: torch.empty(128, 96), launches, monkeypatch)
    assert torch.equal(got, expected)


def test_materialize_fills_through_the_device_kernels(launches, monkeypatch):
    """materialize's hooks send every random fill of a model to the device kernels."""
    def build():
        with torch.device("meta"):
            return torch.nn.Sequential(torch.nn.Linear(33, 70), torch.nn.LayerNorm(70),
                                       torch.nn.Embedding(50, 33), torch.nn.Linear(33, 9))

    monkeypatch.delenv(_device.ENV)
    expected = materialize(build(), 17).state_dict()
    monkeypatch.setenv(_device.ENV, _device.INTERPRET)
    count = len(launches)
    got = materialize(build(), 17).state_dict()
    assert len(launches) - count >= 5            # 2 Linear weights and biases, the embedding
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name


def test_failed_calls_change_nothing(launches, monkeypatch):
    rng = fi.Generator(0)
    tensor = torch.full((100,), 7.0)
    with pytest.raises(ValueError, match="scale"):
        rng.normal(0.0, -1.0, out=tensor)
    with pytest.raises(TypeError, match="wrong type"):
        rng.normal(out=tensor, dtype=np.float64)
    with pytest.raises(ValueError, match="does not match"):
        rng.normal(size=(99,), out=tensor)
    with pytest.raises(TypeError, match="wrong type"):
        rng.random_raw(out=tensor)
    assert rng.state["stream"] == 0
    assert torch.equal(tensor, torch.full((100,), 7.0))
    assert launches == []


def test_without_triton_a_device_tensor_says_what_to_install(monkeypatch):
    monkeypatch.setenv(_device.ENV, _device.INTERPRET)
    monkeypatch.setitem(sys.modules, "triton", None)         # as if it were not installed
    rng = fi.Generator(0)
    tensor = torch.zeros(10)
    with pytest.raises(ImportError, match=r"fastinit\[gpu\]"):
        fi.init.normal_(tensor, generator=rng)
    assert rng.state["stream"] == 0 and not tensor.any()


def test_an_unknown_mode_is_an_error(monkeypatch):
    monkeypatch.setenv(_device.ENV, "cuda-please")
    with pytest.raises(ValueError, match="triton-interpret"):
        fi.init.normal_(torch.zeros(10), generator=0)


def _run(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=environment)


def test_interpret_mode_needs_the_interpreter_on():
    done = _run("import torch, triton, fastinit as fi\n"
                "fi.init.normal_(torch.zeros(10), generator=0)\n",
                FASTINIT_DEVICE_KERNELS="triton-interpret")
    assert done.returncode != 0 and "TRITON_INTERPRET=1" in done.stderr, done.stderr


def test_import_fastinit_imports_neither_triton_nor_torch():
    done = _run("import sys, fastinit as fi\n"
                "fi.Generator(0).normal(size=10)\n"
                "assert 'triton' not in sys.modules and 'torch' not in sys.modules\n")
    assert done.returncode == 0, done.stderr


def test_a_cpu_tensor_without_the_mode_never_loads_triton():
    done = _run("import sys, torch, fastinit as fi\n"
                "fi.init.normal_(torch.zeros(10), generator=0)\n"
                "assert 'triton' not in sys.modules\n")
    assert done.returncode == 0, done.stderr


def test_materialize_names_the_devices_it_fills_on():
    with torch.device("meta"):
        model = torch.nn.Linear(4, 4)
    with pytest.raises(ValueError, match="CPU and on CUDA"):
        materialize(model, 0, device="mps")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="not available"):
            materialize(model, 0, device="cuda")
    assert model.weight.is_meta
