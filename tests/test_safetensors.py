"""Seed checkpoints: write_safetensors against the in-memory inits and the real readers; resume
after SIGINT and SIGKILL; existing files, bad input, full disks, bounded memory; the CLI."""
import json
import math
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastinit as fi
from fastinit import cli
from fastinit.io import PROGRESS_SUFFIX, init_tensor, safetensors_stats, write_safetensors

pytest.importorskip("safetensors")
ml_dtypes = pytest.importorskip("ml_dtypes")
from safetensors import safe_open  # noqa: E402
import safetensors.numpy  # noqa: E402

SPEC = {
    "emb.weight": ((300, 64), "float32", ("normal_", {"std": 0.02})),
    "lin.weight": ((96, 64), "bfloat16", ("kaiming_uniform_", {"a": math.sqrt(5)})),
    "lin.bias": ((96,), "bfloat16", ("uniform", {"low": -0.125, "high": 0.125})),
    "norm.weight": ((64,), "float16", "ones_"),
    "conv.weight": ((16, 8, 3, 3), "float64", fi.initializers.HeNormal()),
    "gate": ((40, 64), "float32", {"distribution": "truncated_normal",
                                   "args": {"scale": 0.02, "a": -2.0, "b": 2.0}}),
    "proj": ((20, 30), "float32", ("orthogonal_", {"gain": 2.0})),
    "empty": ((0, 4), "float32", ("normal_", {})),
}


def expected(name, spec=SPEC, seed=5):
    shape, dtype, init = spec[name]
    return init_tensor(name, shape, init, seed, dtype)


def _arrays(path):
    with safe_open(str(path), "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


@pytest.mark.parametrize("chunk_bytes", [8, 1000, 4096, 1 << 20])
def test_every_tensor_equals_the_in_memory_init(tmp_path, chunk_bytes):
    path = tmp_path / "seed.safetensors"
    result = write_safetensors(path, SPEC, 5, chunk_bytes=chunk_bytes)
    arrays, _ = _arrays(path)
    assert sorted(arrays) == sorted(SPEC)
    for name in SPEC:
        want = expected(name)
        assert arrays[name].shape == want.shape and arrays[name].dtype == want.dtype, name
        assert arrays[name].tobytes() == want.tobytes(), name
    assert result["file_bytes"] == os.path.getsize(path)
    assert not (tmp_path / ("seed.safetensors" + PROGRESS_SUFFIX)).exists()


def test_values_are_the_init_functions_on_the_names_stream():
    """init_tensor is the definition: the fastinit.init function (or Generator method, or
    initializer) drawing from Generator(seed, stream=stream_for(name))."""
    def rng(name):
        return fi.Generator(5, stream=fi.stream_for(name))
    a = fi.init.normal_(np.empty((300, 64), np.float32), std=0.02, generator=rng("emb.weight"))
    np.testing.assert_array_equal(expected("emb.weight"), a)
    b = rng("gate").truncated_normal(0.0, 0.02, -2.0, 2.0, size=(40, 64), dtype=np.float32)
    np.testing.assert_array_equal(expected("gate"), b)
    c = fi.init.kaiming_uniform_(np.empty((96, 64), ml_dtypes.bfloat16), a=math.sqrt(5),
                                 generator=rng("lin.weight"))
    assert expected("lin.weight").tobytes() == c.tobytes()
    d = rng("conv.weight").truncated_normal(
        0.0, math.sqrt(2 / 384) / 0.87962566103423978, -2, 2, size=(16, 8, 3, 3))  # HWIO fans
    np.testing.assert_array_equal(expected("conv.weight"), d)
    # Different names, different streams: two tensors with the same init differ.
    assert not np.array_equal(init_tensor("a", (64,), "normal_", 0),
                              init_tensor("b", (64,), "normal_", 0))


def test_the_layout_is_the_safetensors_librarys(tmp_path):
    """The same tensors saved by safetensors itself: the same header (tensor order, dtypes,
    shapes, offsets, metadata), the same data bytes, the same length."""
    path = tmp_path / "ours.safetensors"
    write_safetensors(path, SPEC, 5, metadata={"note": "x"})
    arrays, metadata = _arrays(path)
    theirs = safetensors.numpy.save(arrays, metadata=metadata)
    ours = path.read_bytes()
    assert len(ours) == len(theirs)
    n_ours, n_theirs = (struct.unpack("<Q", b[:8])[0] for b in (ours, theirs))
    header_ours = json.loads(ours[8:8 + n_ours])
    header_theirs = json.loads(theirs[8:8 + n_theirs])
    assert header_ours == header_theirs
    assert [k for k in header_ours if k != "__metadata__"] == \
        [k for k in header_theirs if k != "__metadata__"]             # the same order
    assert ours[8 + n_ours:] == theirs[8 + n_theirs:]
    assert ours[8:8 + n_ours].decode().endswith(" " * (n_ours - len(ours[8:8 + n_ours].rstrip())))


def test_metadata_says_how_the_file_was_made(tmp_path):
    path = tmp_path / "m.safetensors"
    write_safetensors(path, SPEC, 5, metadata={"model": "tiny"})
    _, metadata = _arrays(path)
    assert metadata["format"] == "pt" and metadata["model"] == "tiny"
    assert metadata["fastinit.version"] == fi.__version__ and metadata["fastinit.seed"] == "5"
    assert int(metadata["fastinit.key"], 16) == fi.Generator(5).key
    assert json.loads(metadata["fastinit.init.emb.weight"]) == \
        {"function": "normal_", "args": {"std": 0.02}}
    assert json.loads(metadata["fastinit.init.conv.weight"]) == \
        {"class_name": "HeNormal", "config": {}}
    # The recorded init, read back, gives the same tensor.
    for name, (shape, dtype, _) in SPEC.items():
        recorded = json.loads(metadata["fastinit.init." + name])
        assert init_tensor(name, shape, recorded, 5, dtype).tobytes() == \
            expected(name).tobytes(), name


def test_real_readers_load_it(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    path = tmp_path / "r.safetensors"
    write_safetensors(path, SPEC, 5, dtype="bfloat16")      # every tensor in bfloat16
    loaded = load_file(str(path))
    with safe_open(str(path), "pt") as f:
        assert sorted(f.keys()) == sorted(loaded)
        for name in SPEC:
            t = f.get_tensor(name)
            assert t.dtype == torch.bfloat16 and torch.equal(t, loaded[name])
            want = init_tensor(name, SPEC[name][0], SPEC[name][2], 5, "bfloat16")
            assert t.view(torch.int16).numpy().tobytes() == want.tobytes(), name


def test_materialize_of_the_same_inits_gives_the_same_file(tmp_path):
    """A torch module whose init_fn calls the same torch.nn.init functions: materialize's
    state_dict equals the checkpoint, name for name and bit for bit."""
    torch = pytest.importorskip("torch")
    import fastinit.torch
    from safetensors.torch import load_file

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(300, 64)
            self.lin = torch.nn.Linear(64, 96)
            self.norm = torch.nn.LayerNorm(64, bias=False)

    def init_fn(module, name):
        if isinstance(module, torch.nn.Embedding):
            torch.nn.init.normal_(module.weight, std=0.02)
        elif isinstance(module, torch.nn.Linear):
            torch.nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            torch.nn.init.uniform_(module.bias, -0.125, 0.125)
        elif isinstance(module, torch.nn.LayerNorm):
            torch.nn.init.ones_(module.weight)

    with torch.device("meta"):
        net = Net()
    fastinit.torch.materialize(net, 5, init_fn=init_fn, dtype=torch.bfloat16)
    spec = {name: (tuple(p.shape), "bfloat16", SPEC[name][2]) for name, p in
            net.state_dict().items()}
    write_safetensors(tmp_path / "c.safetensors", spec, 5)
    loaded = load_file(str(tmp_path / "c.safetensors"))
    assert sorted(loaded) == sorted(net.state_dict())
    for name, tensor in net.state_dict().items():
        assert torch.equal(loaded[name], tensor), name


# -- resume ---------------------------------------------------------------------------------------

_BIG = {f"layer{i}.weight": ((512, 2048), "float32", ("normal_", {"std": 0.02}))
        for i in range(16)}                                          # 64 MiB


def _writer(path, chunk_bytes, block_at=None):
    """A child process writing _BIG; it prints 'ready' once it has taken its stream numbers."""
    return textwrap.dedent(f"""
        import sys, time
        import fastinit.io.safetensors as st
        spec = {{f"layer{{i}}.weight": ((512, 2048), "float32", ("normal_", {{"std": 0.02}}))
                 for i in range(16)}}
        original = st._pwrite_durably
        def slow(*args):                # a slow disk, so that the kill lands mid-write
            time.sleep(0.05)
            original(*args)
        st._pwrite_durably = slow
        st.write_safetensors({str(path)!r}, spec, 7, chunk_bytes={chunk_bytes})
    """)


def _record(path):
    try:
        return json.loads((path.parent / (path.name + PROGRESS_SUFFIX)).read_text())
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_write_resumes_to_the_uninterrupted_file(tmp_path, sig):
    reference = tmp_path / "reference.safetensors"
    write_safetensors(reference, _BIG, 7, chunk_bytes=1 << 20)
    path = tmp_path / "w.safetensors"
    child = subprocess.Popen([sys.executable, "-c", _writer(path, 1 << 20)],
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        record = _record(path)
        if record is not None and record.get("done", 0) >= 4:
            break
        time.sleep(0.01)
    child.send_signal(sig)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode != 0
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in stderr
    record = _record(path)
    assert record is not None and 4 <= record["done"] < 64
    with pytest.raises(FileExistsError, match="resume=True"):
        write_safetensors(path, _BIG, 7, chunk_bytes=1 << 20)
    with pytest.raises(ValueError, match="chunk_bytes 1048576"):
        write_safetensors(path, _BIG, 7, chunk_bytes=1 << 19, resume=True)
    with pytest.raises(ValueError, match="other arguments"):
        write_safetensors(path, _BIG, 8, chunk_bytes=1 << 20, resume=True)
    result = write_safetensors(path, _BIG, 7, chunk_bytes=1 << 20, resume=True)
    assert result["bytes"] == (64 - record["done"]) << 20
    assert path.read_bytes() == reference.read_bytes()
    assert _record(path) is None
    # Resuming a complete file of the same arguments writes nothing and changes nothing.
    assert write_safetensors(path, _BIG, 7, chunk_bytes=1 << 20, resume=True)["bytes"] == 0
    assert path.read_bytes() == reference.read_bytes()


def test_an_existing_file_is_never_replaced_without_overwrite(tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_safetensors(path, SPEC, 5)
    with pytest.raises(ValueError, match="not a fastinit write"):
        write_safetensors(path, SPEC, 5, resume=True)
    assert path.read_bytes() == b"precious"
    write_safetensors(path, SPEC, 5, overwrite=True)
    assert _arrays(path)[0]["emb.weight"].tobytes() == expected("emb.weight").tobytes()


@pytest.mark.parametrize("tensors, exc, message", [
    ({"w": ((4, 4), "float32", ("normal_", {"stdd": 1.0}))}, ValueError, "takes no argument 'stdd'"),
    ({"w": ((4, 4), "float32", ("normal_", {"std": -1.0}))}, ValueError, "std"),
    ({"w": ((4, 4), "float32", ("normal", {"generator": 1}))}, ValueError, "supplies it"),
    ({"w": ((4, 4), "float32", "bogus_")}, ValueError, "unknown init .bogus_."),
    ({"w": ((4, 4), "float32", ("gamma", {}))}, ValueError, "unknown distribution"),
    ({"w": ((4, 4), "float32", fi.initializers.HeNormal(seed=3))}, ValueError, "seed of its own"),
    ({"w": ((4, 4), "int32", "ones_")}, TypeError, "unsupported dtype"),
    ({"w": ((4, -1), "float32", "ones_")}, ValueError, "negative dimensions"),
    ({"w": ((4, 4.5), "float32", "ones_")}, TypeError, "size must be"),
    ({"w": ((4, 4), "float32", ("normal_", {"std": object()}))}, TypeError, "JSON"),
    ({"w": ((4,), "float32", "eye_")}, ValueError, "2 dimensions"),
    ({"w": ((4, 4), "float32")}, TypeError, "shape, dtype, init"),
    ({"__metadata__": ((4,), "float32", "ones_")}, ValueError, "cannot name"),
    ({3: ((4,), "float32", "ones_")}, TypeError, "names must be str"),
])
def test_bad_input_is_a_clear_error_and_creates_nothing(tmp_path, tensors, exc, message):
    with pytest.raises(exc, match=message):
        write_safetensors(tmp_path / "bad.safetensors", tensors, 0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"seed": 1.5}, TypeError, "seed must be an int"),
    ({"metadata": {"a": 1}}, TypeError, "str to str"),
    ({"metadata": {"fastinit.seed": "1"}}, ValueError, "reserved"),
    ({"chunk_bytes": 0}, ValueError, "chunk_bytes"),
])
def test_bad_arguments_are_clear_errors(tmp_path, kwargs, exc, message):
    args = {"seed": 0, **kwargs}
    with pytest.raises(exc, match=message):
        write_safetensors(tmp_path / "bad.safetensors", SPEC, args.pop("seed"), **args)
    assert list(tmp_path.iterdir()) == []


def test_a_file_larger_than_the_free_space_is_refused_naming_both_sizes(small_filesystem):
    spec = {"w": ((8192, 1024), "float32", "he_normal")}                  # 32 MiB
    with pytest.raises(OSError, match=r"needs 32\.0 MiB but the disk has 1[0-9]\.\d MiB free"):
        write_safetensors(small_filesystem / "w.safetensors", spec, 0)
    assert list(small_filesystem.iterdir()) == []


def test_a_disk_that_fills_up_is_a_clean_oserror_before_any_data(small_filesystem, monkeypatch):
    import errno
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 40, 0, 1 << 40))
    with pytest.raises(OSError) as info:
        write_safetensors(small_filesystem / "w.safetensors",
                          {"w": ((8192, 1024), "float32", "he_normal")}, 0)
    assert info.value.errno == errno.ENOSPC
    assert list(small_filesystem.iterdir()) == []


def test_memory_stays_bounded_by_the_chunks(tmp_path):
    """256 MiB in 4 MiB chunks: peak RSS grows by about two chunks (one filled while the other
    is written), not by the file."""
    code = textwrap.dedent(f"""
        import resource
        from fastinit.io import write_safetensors
        spec = {{f"w{{i}}": ((1024, 4096), "float32", ("normal_", {{"std": 0.02}}))
                 for i in range(16)}}
        write_safetensors({str(tmp_path / 'warm.safetensors')!r}, {{"w": ((64,), "float32",
                          "ones_")}}, 0)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        write_safetensors({str(tmp_path / 'big.safetensors')!r}, spec, 1, chunk_bytes=4 << 20)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    growth = int(result.stdout)
    assert growth < 24 << 20, f"peak RSS grew by {growth / 2**20:.0f} MiB for 4 MiB chunks"
    assert os.path.getsize(tmp_path / "big.safetensors") > 256 << 20


# -- statistics, corrupt files, the command line --------------------------------------------------

def test_stats_stream_the_right_numbers(tmp_path):
    path = tmp_path / "s.safetensors"
    write_safetensors(path, SPEC, 5)
    stats = safetensors_stats(path, chunk_bytes=1024)
    rows = {r["name"]: r for r in stats["tensors"]}
    assert sorted(rows) == sorted(SPEC) and not stats["incomplete"]
    for name in SPEC:
        values = expected(name).astype(np.float64)
        if values.size:
            assert rows[name]["mean"] == pytest.approx(values.mean(), rel=1e-9, abs=1e-12)
            assert rows[name]["std"] == pytest.approx(values.std(), rel=1e-9, abs=1e-12)
            assert rows[name]["min"] == values.min() and rows[name]["max"] == values.max()
    assert rows["norm.weight"]["init"] == {"function": "ones_", "args": {}}


def _valid(tmp_path):
    path = tmp_path / "c.safetensors"
    write_safetensors(path, SPEC, 5)
    return path


def test_a_truncated_file_is_a_one_line_error(tmp_path, capsys):
    path = _valid(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    assert cli.main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "truncated" in err and len(err.strip().splitlines()) == 1


def test_a_header_length_past_the_end_is_a_one_line_error(tmp_path, capsys):
    path = _valid(tmp_path)
    data = bytearray(path.read_bytes())
    data[:8] = struct.pack("<Q", len(data) + 10)
    path.write_bytes(bytes(data))
    assert cli.main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "past the end of the file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("damage", [b"{not json", b"[1, 2, 3]"])
def test_a_garbled_header_is_a_one_line_error(tmp_path, capsys, damage):
    path = _valid(tmp_path)
    data = bytearray(path.read_bytes())
    data[8:8 + len(damage)] = damage
    path.write_bytes(bytes(data))
    assert cli.main(["info", str(path)]) == 2
    assert "not a valid safetensors file" in capsys.readouterr().err


def _spec_file(tmp_path, spec):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return str(path)


_JSON_SPEC = {
    "dtype": "float32", "metadata": {"model": "tiny"},
    "tensors": {
        "embed.weight": {"shape": [300, 64], "init": ["normal_", {"std": 0.02}]},
        "norm.weight": {"shape": [64], "init": "ones_"},
        "head.weight": {"shape": [300, 64], "dtype": "float16",
                        "init": {"class_name": "GlorotUniform", "config": {}}},
    },
}


def test_cli_init_then_info(tmp_path, capsys):
    spec = _spec_file(tmp_path, _JSON_SPEC)
    path = str(tmp_path / "model.safetensors")
    assert cli.main(["init", path, "--spec", spec, "--seed", "3", "--dtype", "bfloat16"]) == 0
    arrays, metadata = _arrays(path)
    assert metadata["model"] == "tiny"
    for name, entry in _JSON_SPEC["tensors"].items():
        want = init_tensor(name, entry["shape"], entry["init"], 3, "bfloat16")
        assert arrays[name].tobytes() == want.tobytes(), name
    capsys.readouterr()
    assert cli.main(["info", path]) == 0
    out = capsys.readouterr().out
    assert "3 tensors" in out and "seed 3" in out
    assert "normal_(std=0.02)" in out and "GlorotUniform()" in out and "BF16" in out
    assert cli.main(["init", path, "--spec", spec, "--seed", "3"]) == 2      # exists
    assert "--force" in capsys.readouterr().err


@pytest.mark.parametrize("spec, message", [
    ({"tensors": {"w": {"shape": [4], "init": ["normal_", {"stdd": 1}]}}},
     "tensor 'w': normal_ takes no argument 'stdd'"),
    ({"tensors": {"w": {"shape": "four", "init": "ones_"}}}, "tensor 'w': size must be"),
    ({"tensors": {"w": {"shape": [4], "init": "ones_", "colour": 1}}}, "tensor 'w': a tensor is"),
    ({"tensors": {"w": [4]}}, "tensor 'w' must be an object"),
    ({"tensor": {}}, "unknown key 'tensor'"),
    ({"tensors": {}}, "non-empty object"),
])
def test_cli_spec_errors_point_at_the_entry(tmp_path, capsys, spec, message):
    path = tmp_path / "model.safetensors"
    assert cli.main(["init", str(path), "--spec", _spec_file(tmp_path, spec), "--seed", "0"]) == 2
    err = capsys.readouterr().err
    assert message in err and "spec.json" in err and len(err.strip().splitlines()) == 1
    assert not path.exists()


def test_cli_resume_takes_the_recorded_seed(tmp_path, capsys):
    spec = _spec_file(tmp_path, {"tensors": {k: {"shape": list(v[0]), "init": list(v[2])}
                                             for k, v in _BIG.items()}})
    path = tmp_path / "big.safetensors"
    child = subprocess.Popen([sys.executable, "-m", "fastinit", "init", str(path), "--spec", spec,
                              "--seed", "7", "--chunk-size", "1M", "--no-progress"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while child.poll() is None and not ((_record(path) or {}).get("done", 0) >= 2):
        time.sleep(0.005)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    if child.returncode == 0:
        pytest.skip("the write finished before the interrupt landed")
    assert child.returncode == 130 and "--resume" in err
    assert cli.main(["init", str(path), "--spec", spec, "--resume", "--chunk-size", "1M"]) == 0
    assert "resuming at chunk" in capsys.readouterr().out
    reference = tmp_path / "reference.safetensors"
    write_safetensors(reference, _BIG, 7, chunk_bytes=1 << 20)
    assert path.read_bytes() == reference.read_bytes()


def test_cli_info_marks_an_incomplete_write(tmp_path, capsys):
    path = _valid(tmp_path)
    (tmp_path / (path.name + PROGRESS_SUFFIX)).write_text("{}")
    assert cli.main(["info", str(path)]) == 0
    assert "INCOMPLETE" in capsys.readouterr().out


def test_init_tensor_fills_out_and_regions_and_checks_out():
    whole = init_tensor("w", (40, 8), ("uniform", {"low": -1.0, "high": 1.0}), 3, "bfloat16")
    out = np.empty((10, 8), ml_dtypes.bfloat16)
    block = init_tensor("w", (40, 8), ("uniform", {"low": -1.0, "high": 1.0}), 3, "bfloat16",
                        out=out, region=np.s_[20:30, :])
    assert block is out and block.tobytes() == whole[20:30].tobytes()
    with pytest.raises(TypeError, match="expected bfloat16"):
        init_tensor("w", (40, 8), "ones_", 3, "bfloat16", out=np.empty((40, 8), np.float32))
    with pytest.raises(ValueError, match="block"):
        init_tensor("w", (40, 8), "ones_", 3, out=np.empty((10, 8), np.float32))
