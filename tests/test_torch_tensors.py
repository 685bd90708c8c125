"""torch tensors wherever fastinit takes an array: filled in place through their own memory, with
the same bits as a NumPy array of the same dtype and shape, and clear errors before any write."""
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastinit as fi
from fastinit import _validate as v

torch = pytest.importorskip("torch")
ml_dtypes = pytest.importorskip("ml_dtypes")

TORCH_TO_NUMPY = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64),
                  torch.float16: np.dtype(np.float16),
                  torch.bfloat16: np.dtype(ml_dtypes.bfloat16)}
TORCH_DTYPES = list(TORCH_TO_NUMPY)
IDS = ["float32", "float64", "float16", "bfloat16"]


def bits(x):
    """The raw bytes of an array or a tensor, for bit-for-bit comparison."""
    if isinstance(x, torch.Tensor):
        x = x.detach()
        x = x.view(torch.int16) if x.dtype == torch.bfloat16 else x
        return x.numpy().tobytes()
    return x.tobytes()


INITS = {
    "uniform_": lambda x, g: fi.init.uniform_(x, -0.3, 0.7, generator=g),
    "normal_": lambda x, g: fi.init.normal_(x, 0.1, 0.02, generator=g),
    "trunc_normal_": lambda x, g: fi.init.trunc_normal_(x, 0.0, 0.02, -0.04, 0.04, generator=g),
    "trunc_normal_default_bounds": lambda x, g: fi.init.trunc_normal_(x, 0.0, 0.02,
                                                                      generator=g),
    "xavier_uniform_": lambda x, g: fi.init.xavier_uniform_(x, generator=g),
    "xavier_normal_": lambda x, g: fi.init.xavier_normal_(x, 2.0, generator=g),
    "kaiming_uniform_": lambda x, g: fi.init.kaiming_uniform_(x, a=math.sqrt(5), generator=g),
    "kaiming_normal_": lambda x, g: fi.init.kaiming_normal_(x, mode="fan_out", generator=g),
    "lecun_uniform_": lambda x, g: fi.init.lecun_uniform_(x, generator=g),
    "lecun_normal_": lambda x, g: fi.init.lecun_normal_(x, generator=g),
    "orthogonal_": lambda x, g: fi.init.orthogonal_(x, 0.5, generator=g),
    "sparse_": lambda x, g: fi.init.sparse_(x, 0.3, generator=g),
    "constant_": lambda x, g: fi.init.constant_(x, 0.1),
    "ones_": lambda x, g: fi.init.ones_(x),
    "zeros_": lambda x, g: fi.init.zeros_(x),
    "eye_": lambda x, g: fi.init.eye_(x),
}
METHODS = {
    "random": lambda g, out: g.random(out=out),
    "uniform": lambda g, out: g.uniform(-2.0, 3.0, out=out),
    "standard_normal": lambda g, out: g.standard_normal(out=out),
    "normal": lambda g, out: g.normal(1.0, 0.5, out=out),
    "truncated_normal": lambda g, out: g.truncated_normal(0.0, 0.02, -2.0, 2.0, out=out),
    "normal_array_params": lambda g, out: g.normal(np.linspace(-1, 1, out.shape[-1]), 0.5,
                                                   size=tuple(out.shape), out=out),
}


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=IDS)
@pytest.mark.parametrize("name", list(INITS))
def test_init_functions_fill_a_tensor_with_the_bits_of_the_array(name, dtype):
    tensor = torch.empty(96, 80, dtype=dtype)
    array = np.empty((96, 80), TORCH_TO_NUMPY[dtype])
    returned = INITS[name](tensor, 5)
    INITS[name](array, 5)
    assert returned is tensor
    assert bits(tensor) == bits(array)


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=IDS)
@pytest.mark.parametrize("name", list(METHODS))
def test_generator_out_takes_a_tensor_with_the_bits_of_the_array(name, dtype):
    # 70,000 elements: large enough for the threaded path too.
    tensor = torch.empty(70, 1000, dtype=dtype)
    array = np.empty((70, 1000), TORCH_TO_NUMPY[dtype])
    returned = METHODS[name](fi.default_rng(3), tensor)
    METHODS[name](fi.default_rng(3), array)
    assert returned is tensor
    assert bits(tensor) == bits(array)


def test_dtype_may_be_given_as_a_torch_dtype_or_name():
    for dtype, name in ((torch.bfloat16, "bfloat16"), (torch.float16, torch.float16)):
        t = torch.empty(1000, dtype=dtype)
        fi.default_rng(1).normal(0, 1, size=1000, dtype=name, out=t)
        ref = torch.empty(1000, dtype=dtype)
        fi.default_rng(1).normal(0, 1, out=ref)
        assert bits(t) == bits(ref)


def test_a_requires_grad_parameter_is_filled_without_an_autograd_record():
    param = torch.nn.Parameter(torch.empty(64, 32))
    version = param._version
    out = fi.init.kaiming_uniform_(param, a=math.sqrt(5), generator=0)
    assert out is param and param.requires_grad and param.grad_fn is None
    assert param._version > version           # autograd sees the in-place change
    ref = fi.init.kaiming_uniform_(np.empty((64, 32), np.float32), a=math.sqrt(5), generator=0)
    assert bits(param) == bits(ref)


def test_a_view_with_a_storage_offset_fills_only_its_slice():
    flat = torch.zeros(10_000)
    view = flat[1000:1000 + 64 * 32].view(64, 32)
    assert view.storage_offset() == 1000
    fi.init.xavier_normal_(view, generator=4)
    ref = fi.init.xavier_normal_(np.empty((64, 32), np.float32), generator=4)
    assert bits(flat[1000:1000 + 64 * 32]) == bits(ref)
    assert not flat[:1000].any() and not flat[1000 + 64 * 32:].any()


def test_region_and_shape_shard_a_tensor_as_an_array():
    full = fi.init.kaiming_normal_(torch.empty(128, 64), generator=9)
    shard = fi.init.kaiming_normal_(torch.empty(32, 64), generator=9, shape=(128, 64),
                                    region=np.s_[64:96, :])
    assert torch.equal(shard, full[64:96])


BAD = [                                     # known contents (7), so "unchanged" can be checked
    (lambda: torch.full((8, 8), 7.0).t(), ValueError, "contiguous"),
    (lambda: torch.full((8, 8), 7, dtype=torch.int32), TypeError, "dtype"),
    (lambda: torch.full((8, 8), 7, dtype=torch.complex64), TypeError, "dtype"),
    (lambda: torch.full((8, 8), True), TypeError, "dtype"),
    (lambda: torch.empty(8, 8, device="meta"), TypeError, "materialize"),
    (lambda: torch.eye(8).to_sparse(), TypeError, "strided"),
]


@pytest.mark.parametrize("make, exc, match", BAD,
                         ids=["transposed", "int32", "complex", "bool", "meta", "sparse"])
def test_bad_tensors_raise_before_anything_is_written(make, exc, match):
    tensor = make()
    before = tensor.clone() if tensor.device.type == "cpu" else None
    rng = fi.default_rng(0)
    with pytest.raises(exc, match=match):
        fi.init.normal_(tensor, generator=rng)
    with pytest.raises(exc, match=match):
        rng.standard_normal(out=tensor)
    assert rng.state["stream"] == 0                       # no stream number taken
    if before is not None and before.layout == torch.strided:
        assert torch.equal(tensor, before)


def test_bfloat16_tensors_need_no_ml_dtypes():
    """In a process where ml_dtypes cannot be imported, a bfloat16 tensor still fills, with the
    bits this process computes through ml_dtypes."""
    code = (
        "import sys; sys.modules['ml_dtypes'] = None\n"
        "import torch, fastinit as fi\n"
        "t = torch.empty(5000, dtype=torch.bfloat16)\n"
        "fi.default_rng(8).truncated_normal(0.0, 0.02, -2.0, 2.0, out=t)\n"
        "u = torch.empty(5000, dtype=torch.bfloat16)\n"
        "fi.init.uniform_(u, -0.1, 0.3, generator=8)\n"
        "w = torch.empty(64, 64, dtype=torch.bfloat16)\n"
        "fi.init.orthogonal_(w, generator=8)\n"
        "sys.stdout.write(t.view(torch.int16).numpy().tobytes().hex() + ' '"
        " + u.view(torch.int16).numpy().tobytes().hex() + ' '"
        " + w.view(torch.int16).numpy().tobytes().hex())\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    t_hex, u_hex, w_hex = result.stdout.split()
    bf16 = TORCH_TO_NUMPY[torch.bfloat16]
    t = fi.default_rng(8).truncated_normal(0.0, 0.02, -2.0, 2.0, size=5000, dtype=bf16)
    u = fi.init.uniform_(np.empty(5000, bf16), -0.1, 0.3, generator=8)
    w = fi.init.orthogonal_(np.empty((64, 64), bf16), generator=8)
    assert (t_hex, u_hex, w_hex) == (t.tobytes().hex(), u.tobytes().hex(), w.tobytes().hex())


def test_import_fastinit_does_not_import_torch():
    code = "import sys, fastinit; assert 'torch' not in sys.modules, 'torch imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


# -- fastinit's own bfloat16 rounding, against ml_dtypes ------------------------------------------

def _edge_values():
    rng = np.random.default_rng(0)
    wide = rng.standard_normal(100_000) * np.exp2(rng.integers(-140, 130, 100_000))
    # Exact ties between two bfloat16 values, and values just beside them.
    base = rng.integers(1, 1 << 16, 20_000).astype(np.uint32) << 16
    base = base[(base >> 23 & 0xFF) != 0xFF]                  # finite ones only
    tie = (base | 0x8000).view(np.float32).astype(np.float64)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 2.0**-133, 2.0**-134, 3 * 2.0**-135,
                         2.0**-126, 3.3895313892515355e38, 3.3961775292304724e38,
                         3.4e38, 1e39, -1e39, 65504.0, 1.0 - 2.0**-10])
    return np.concatenate([wide, tie, np.nextafter(tie, np.inf), np.nextafter(tie, -np.inf),
                           specials])


def test_bfloat16_rounding_is_round_to_nearest_even_in_one_step():
    x = _edge_values()
    got = v.round_array(x, v.BFLOAT16_BITS)
    # Reference: float64 -> float32 is exact for these (they are float32 values or far from a
    # tie), and ml_dtypes rounds float32 -> bfloat16 to nearest-even.
    with np.errstate(over="ignore"):
        f32_exact = x.astype(np.float32).astype(np.float64) == x
        ref = x.astype(np.float32).astype(ml_dtypes.bfloat16).astype(np.float64)
    np.testing.assert_array_equal(got[f32_exact], ref[f32_exact])
    # A float64 just above a bfloat16 tie must round up, which rounding twice would miss.
    one_up = 1.0 + 2.0**-8 + 2.0**-40
    assert v.to_dtype(one_up, v.BFLOAT16_BITS) == 1.0 + 2.0**-7
    assert v.to_dtype(one_up, np.dtype(ml_dtypes.bfloat16)) == 1.0 + 2.0**-7


@pytest.mark.parametrize("up", [True, False])
def test_bfloat16_next_value_matches_nextafter(up):
    x = v.round_array(_edge_values(), v.BFLOAT16_BITS)
    x = x[np.isfinite(x) | (x == (-np.inf if up else np.inf))]
    got = v.next_array(x, v.BFLOAT16_BITS, up)
    bf16 = np.dtype(ml_dtypes.bfloat16)
    ref = np.nextafter(x.astype(bf16), np.array(np.inf if up else -np.inf).astype(bf16))
    np.testing.assert_array_equal(got, ref.astype(np.float64))


def test_assign_rounds_once_into_every_dtype():
    all_values = _edge_values()[:1000]
    for dt in (np.dtype(np.float32), np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16),
               v.BFLOAT16_BITS):
        fits = np.isfinite(v.round_array(all_values, dt)) & np.isfinite(all_values)
        values = all_values[fits]
        target = np.zeros(values.shape, dt)
        v.assign(target, values)
        expected = v.round_array(values, dt)
        got = (target.view(np.uint16).astype(np.uint32) << 16).view(np.float32) \
            if dt is v.BFLOAT16_BITS else target.astype(np.float64)
        np.testing.assert_array_equal(np.asarray(got, np.float64), expected)


def _vma_flags(address):
    """The /proc/self/smaps fields of the mapping that holds ``address``."""
    fields, inside = {}, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= address < hi
            elif inside:
                fields[head.rstrip(":")] = line.split()[1]
    return fields


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages: Linux")
def test_a_large_fresh_tensor_is_advised_to_use_huge_pages():
    try:
        mode = open("/sys/kernel/mm/transparent_hugepage/enabled").read()
    except OSError:
        pytest.skip("no transparent huge pages here")
    if "[madvise]" not in mode:
        pytest.skip(f"THP mode is {mode.strip()}: the advice makes no difference to test")
    # In a fresh process: in this one, earlier tests' advised memory (freed, or kept by the
    # allocator) may already hold the new tensor's pages.
    code = (
        "import sys, torch, fastinit as fi\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_torch_tensors import _vma_flags\n"
        "tensor = torch.empty(64 << 20 >> 2)                  # 64 MiB, its own mapping\n"
        "middle = tensor.data_ptr() + (32 << 20)   # inside the whole 2 MiB pages advised\n"
        "before = _vma_flags(middle).get('THPeligible')\n"
        "fi.init.normal_(tensor, generator=0)\n"
        "print(before, _vma_flags(middle).get('THPeligible'))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    before, after = done.stdout.split()
    assert before == "0"
    assert after == "1"


def test_errors_about_a_bfloat16_tensor_name_bfloat16():
    t = torch.empty(10, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="holds no bfloat16 value"):
        fi.default_rng(0).uniform(1.0 + 2**-12, 1.0 + 2**-11, out=t)
    with pytest.raises(TypeError, match="expected float32, got bfloat16"):
        fi.default_rng(0).normal(size=10, dtype=np.float32, out=t)


def test_assign_refuses_values_beyond_the_dtype_and_writes_nothing():
    for dt in (np.dtype(np.float32), np.dtype(np.float16), v.BFLOAT16_BITS):
        target = np.zeros(3, dt)
        with pytest.raises(OverflowError, match="range"):
            v.assign(target, [1.0, 1e39, 2.0])
        assert not target.view(np.uint8).any()
