"""Files never lose data or follow a planted link: the writer rules of fastinit.io._files, with
real processes, a real SIGKILL, real symlinks, FIFOs and flocks."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastinit as fi
from fastinit import cli
from fastinit.io import PROGRESS_SUFFIX, write_safetensors
from fastinit.io._files import LOCK_SUFFIX, WriteLock

SPEC = {"a": ((64, 32), "float32", "normal_(std=0.02)"), "b": ((32,), "float32", "ones_")}


def _npy(path, **kwargs):
    return fi.fill_npy(path, (64, 32), "he_normal", seed=3, progress=False, chunk_bytes=1024,
                       **kwargs)


def _safetensors(path, **kwargs):
    return write_safetensors(path, SPEC, 3, chunk_bytes=1024, **kwargs)


# Both write in chunks of 1 KiB, as _partial_record's interrupted writes do.
WRITERS = {"npy": ("w.npy", _npy), "safetensors": ("w.safetensors", _safetensors)}


@pytest.mark.parametrize("kind", WRITERS)
def test_a_link_planted_at_the_temporary_record_is_never_written_through(kind, tmp_path):
    name, write = WRITERS[kind]
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / f"{name}{PROGRESS_SUFFIX}.tmp").symlink_to(victim)
    write(tmp_path / name)
    assert victim.read_text() == "precious"
    assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize("kind", WRITERS)
def test_a_symlink_at_the_path_is_refused_and_its_target_untouched(kind, tmp_path):
    name, write = WRITERS[kind]
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / name).symlink_to(victim)
    with pytest.raises(OSError, match="symbolic link"):
        write(tmp_path / name, **({"overwrite": True} if kind == "safetensors" else {}))
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "victim"])


def test_the_cli_refuses_force_onto_a_symlink_in_one_line(tmp_path, capsys):
    victim = tmp_path / "victim.npy"
    np.save(victim, np.arange(4.0))
    link = tmp_path / "w.npy"
    link.symlink_to(victim)
    assert cli.main(["init", str(link), "--shape", "4", "--init", "ones", "--force"]) == 2
    err = capsys.readouterr().err
    assert "symbolic link" in err and err.count("\n") == 1
    np.testing.assert_array_equal(np.load(victim), np.arange(4.0))


@pytest.mark.parametrize("args", [["info", "{}"], ["init", "{}", "--shape", "4", "--init",
                                                   "ones", "--force"],
                                  ["init", "{}", "--shape", "4", "--init", "ones", "--resume"]])
@pytest.mark.parametrize("name", ["f.npy", "f.safetensors"])
def test_a_fifo_is_refused_at_once_never_opened(args, name, tmp_path):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    if name.endswith(".safetensors") and args[0] == "init":
        spec = tmp_path / "spec.json"
        spec.write_text(json.dumps({"tensors": {"w": {"shape": [4], "init": "ones_"}}}))
        args = ["init", "{}", "--spec", str(spec), "--seed", "0", args[-1]]
    command = [sys.executable, "-m", "fastinit", *[a.format(fifo) for a in args]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "FIFO" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("kind", WRITERS)
def test_a_second_writer_of_the_same_path_is_refused_while_the_first_holds_it(kind, tmp_path):
    name, write = WRITERS[kind]
    path = tmp_path / name
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from fastinit.io._files import WriteLock
            lock = WriteLock(Path({str(path)!r}), "holder")
            print("locked", flush=True)
            sys.stdin.read()
            lock.release()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OSError, match="another fastinit writer"):
            write(path)
        assert not path.exists()
    finally:
        holder.communicate("", timeout=60)
    write(path)                                   # the lock is free again
    assert not (tmp_path / (name + LOCK_SUFFIX)).exists()


_KILLED_AT_CREATE = """
import os, signal, sys
from fastinit.io import writer
def killed(path):                # SIGKILL at the moment the data file would be created
    os.kill(os.getpid(), signal.SIGKILL)
writer.create_new = killed
import fastinit as fi
from fastinit.io import write_safetensors
path = sys.argv[1]
if path.endswith(".npy"):
    fi.fill_npy(path, (64, 32), "he_normal", seed=3, progress=False)
else:
    write_safetensors(path, {"a": ((64, 32), "float32", "normal_(std=0.02)")}, 3)
"""


@pytest.mark.parametrize("name", ["w.npy", "w.safetensors"])
def test_a_kill_between_record_and_file_never_reads_as_complete(name, tmp_path):
    path = tmp_path / name
    done = subprocess.run([sys.executable, "-c", _KILLED_AT_CREATE, str(path)], timeout=120)
    assert done.returncode == -9
    # The record exists, the file does not: nothing claims a complete file.
    assert (tmp_path / (name + PROGRESS_SUFFIX)).exists() and not path.exists()
    resumed = subprocess.run([sys.executable, "-m", "fastinit", "init", str(path), "--resume",
                              *(["--shape", "64", "32", "--init", "he_normal"]
                                if name.endswith(".npy") else []), "--seed", "3"],
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 2 and "complete already" not in resumed.stdout


@pytest.mark.parametrize("change", ["truncate", "append"])
@pytest.mark.parametrize("kind", WRITERS)
def test_a_partial_file_whose_size_changed_is_not_resumed(kind, change, tmp_path):
    name, write = WRITERS[kind]
    path = tmp_path / name
    write(path)
    record = tmp_path / (name + PROGRESS_SUFFIX)
    record.write_text(json.dumps(_partial_record(kind, path)))   # as an interrupted write
    size = path.stat().st_size
    with open(path, "r+b") as f:
        if change == "truncate":
            f.truncate(size - 100)
        else:
            f.seek(0, 2)
            f.write(b"\0" * 100)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="truncated or appended"):
        write(path, resume=True)
    assert path.read_bytes() == before


def _partial_record(kind, path):
    """The record an interrupted write of ``path`` leaves, read back from a real interruption
    of the same arguments (a write stopped by KeyboardInterrupt at its first chunk)."""
    probe = path.with_name("probe-" + path.name)
    name, write = WRITERS[kind]
    code = textwrap.dedent(f"""
        import sys
        from fastinit.io import writer
        real = writer.write_record
        calls = []
        def stop(path, record):
            real(path, record)
            calls.append(1)
            if len(calls) == 2:            # the first progress after the create
                raise KeyboardInterrupt
        writer.write_record = stop
        import fastinit as fi
        import fastinit.io.safetensors as st
        try:
            if {kind!r} == "npy":
                fi.fill_npy({str(probe)!r}, (64, 32), "he_normal", seed=3, progress=False,
                            chunk_bytes=1024)
            else:
                st.write_safetensors({str(probe)!r}, {SPEC!r}, 3, chunk_bytes=1024)
        except KeyboardInterrupt:
            pass
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    record = json.loads(probe.with_name(probe.name + PROGRESS_SUFFIX).read_text())
    return record


@pytest.mark.parametrize("done", [-5, 10 ** 6, "3", True])
def test_a_corrupt_progress_record_is_a_clear_error(done, tmp_path):
    path = tmp_path / "w.npy"
    record = _partial_record("npy", path)
    _npy(path)
    record["done"] = done
    (tmp_path / ("w.npy" + PROGRESS_SUFFIX)).write_text(json.dumps(record))
    with pytest.raises(ValueError, match="not valid"):
        _npy(path, resume=True)


def test_a_cli_resume_with_another_seed_is_refused(tmp_path, capsys):
    path = tmp_path / "w.npy"
    record = _partial_record("npy", path)
    args = ["init", str(path), "--shape", "64", "32", "--init", "he_normal",
            "--chunk-size", "1024", "--no-progress"]
    assert cli.main([*args, "--seed", "3"]) == 0
    (tmp_path / ("w.npy" + PROGRESS_SUFFIX)).write_text(json.dumps(record))
    before = path.read_bytes()
    assert cli.main([*args, "--seed", "8", "--resume"]) == 2
    assert "other arguments" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_info_marks_an_interrupted_npy_incomplete(tmp_path, capsys):
    path = tmp_path / "w.npy"
    record = _partial_record("npy", path)
    _npy(path)
    (tmp_path / ("w.npy" + PROGRESS_SUFFIX)).write_text(json.dumps(record))
    assert cli.main(["info", str(path)]) == 0
    assert "INCOMPLETE" in capsys.readouterr().out
    assert fi.npy_stats(path)["incomplete"] is True


def test_a_write_lock_is_released_and_its_file_removed(tmp_path):
    lock = WriteLock(tmp_path / "x.npy", "test")
    with pytest.raises(OSError, match="another fastinit writer"):
        WriteLock(tmp_path / "x.npy", "test")     # a second open file description: refused
    lock.release()
    assert list(tmp_path.iterdir()) == []
    WriteLock(tmp_path / "x.npy", "test").release()


# -- hostile input: bounded time and memory, one line ---------------------------------------------

def _safetensors_file(path, header, data=b"\0\0\0\0"):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)


HOSTILE = {
    "a million dimensions": {"w": {"dtype": "F32", "shape": [1] * 1_280_000,
                                   "data_offsets": [0, 4]}},
    "a shape of 2**120 elements": {"w": {"dtype": "F32", "shape": [2 ** 40] * 3,
                                         "data_offsets": [0, 4]}},
    "a repeated key": (b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                       b'"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'),
    "JSON nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "bytes after the last tensor": ({"w": {"dtype": "F32", "shape": [1],
                                           "data_offsets": [0, 4]}}, b"\0" * 14),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_safetensors_header_is_one_short_line_at_once(case, tmp_path):
    header = HOSTILE[case]
    path = tmp_path / "h.safetensors"
    if isinstance(header, tuple):
        _safetensors_file(path, *header)
    else:
        _safetensors_file(path, header)
    done = subprocess.run([sys.executable, "-m", "fastinit", "info", str(path)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and len(done.stderr) < 400, done.stderr[:400]
    assert "not a valid safetensors file" in done.stderr


def test_a_npy_header_with_a_negative_dimension_is_refused(tmp_path, capsys):
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 4), }"
    header += b" " * (117 - len(header)) + b"\n"
    path = tmp_path / "neg.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
                     + b"\0" * 32)
    assert cli.main(["info", str(path)]) == 2
    assert "sizes >= 0" in capsys.readouterr().err


@pytest.mark.parametrize("args, text", [
    (["--shape", "4", "--init", "constant", "--value", "1e39"], "exceeds the float32 range"),
    (["--shape", "4", "--init", "ones", "--chunk-size", "inf"], "not a size in bytes"),
    (["--shape", "4", "--init", "he_normal", "--threads", "1e400"], "positive integer"),
    (["--shape", "4", "--init", "he_normal", "--threads", "100000"], "between 1 and 1024"),
    (["--shape", "4", "4", "--init", "kaiming_normal_(mode=5)"], "not supported"),
])
def test_a_cli_mistake_is_one_line_exit_2_and_leaves_nothing(args, text, tmp_path):
    done = subprocess.run([sys.executable, "-m", "fastinit", "init", str(tmp_path / "c.npy"),
                           *args], capture_output=True, text=True, timeout=60)
    # One error line naming the flag or the file (argparse puts its usage above a bad flag).
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 2 and last.startswith("fastinit init: error:") and text in last
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_thread_count_is_capped():
    with pytest.raises(ValueError, match="between 1 and 1024"):
        fi.set_num_threads(10 ** 6)
    with pytest.raises(ValueError, match="between 1 and 1024"):
        with fi.threads(2048):
            pass


_UNDER_ULIMIT_V = """
import resource, sys, threading
import numpy as np
import fastinit as fi
n = 1 << 22
with fi.threads(1):                       # the reference, before any helper thread exists
    rng = fi.default_rng(5)
    expected, after = rng.normal(size=n, dtype=np.float32), rng.normal(size=8)
# ulimit -v: the address space the process has now plus 256 MiB; with 1 GiB thread stacks no
# helper thread can start (Thread.start raises RuntimeError), while the 16 MiB output fits.
with open("/proc/self/status") as status:
    vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (vm + (256 << 20), resource.RLIM_INFINITY))
threading.stack_size(1 << 30)
try:
    threading.Thread(target=print).start()
    sys.exit("a thread started: the limit does not bite")
except RuntimeError:
    pass
with fi.threads(4):
    rng = fi.default_rng(5)
    got = rng.normal(size=n, dtype=np.float32)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(rng.normal(size=8), after)     # one stream number taken
print("ok")
"""


def test_a_fill_under_ulimit_v_runs_on_the_threads_it_can_start_with_the_same_bits():
    done = subprocess.run([sys.executable, "-c", _UNDER_ULIMIT_V], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# -- real races between writers --------------------------------------------------------------------

_SLOW_CLI = """
import sys, time
from fastinit import cli
from fastinit.io import writer
real = writer.FileWriter.commit
def slow(self, done):                    # a slow disk: 0.1 s a chunk, so that writers overlap
    real(self, done)
    time.sleep(0.1)
writer.FileWriter.commit = slow
sys.exit(cli.main(sys.argv[1:]))
"""


def _cli_writer(path, *flags):
    """``fastinit init`` of a 24 MiB .npy in 1 MiB chunks, each taking 0.1 s or more, in a child
    process."""
    return subprocess.Popen([sys.executable, "-c", _SLOW_CLI, "init", str(path), "--shape",
                             "6144", "1024", "--init", "he_normal", "--chunk-size", "1M",
                             "--threads", "1", "--no-progress", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_progress(path, child, at_least=1):
    """Until the child's record counts ``at_least`` chunks (or the child ended)."""
    import time
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        try:
            record = json.loads((path.parent / (path.name + PROGRESS_SUFFIX)).read_text())
            if record.get("done", 0) >= at_least:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.005)


def _reference_fill(tmp_path):
    """What _cli_writer writes with seed 1, written in this process without interruption."""
    reference = tmp_path / "reference.npy"
    fi.fill_npy(reference, (6144, 1024), "he_normal", seed=1, chunk_bytes=1 << 20,
                progress=False)
    return reference


def test_a_force_writer_racing_a_running_writer_is_refused_and_changes_nothing(tmp_path):
    reference, path = _reference_fill(tmp_path), tmp_path / "w.npy"
    first = _cli_writer(path, "--seed", "1")
    _wait_for_progress(path, first)
    second = _cli_writer(path, "--seed", "2", "--force")
    _, err = second.communicate(timeout=120)
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert second.returncode == 2 and "another fastinit writer" in err and err.count("\n") == 1
    assert path.read_bytes() == reference.read_bytes()          # seed 1 throughout, complete
    assert not (tmp_path / ("w.npy" + PROGRESS_SUFFIX)).exists()


def test_two_resumes_at_once_one_finishes_the_other_is_refused(tmp_path):
    reference, path = _reference_fill(tmp_path), tmp_path / "w.npy"
    killed = _cli_writer(path, "--seed", "1")
    _wait_for_progress(path, killed, at_least=3)
    killed.kill()
    killed.communicate(timeout=60)
    assert (tmp_path / ("w.npy" + PROGRESS_SUFFIX)).exists()
    resumes = [_cli_writer(path, "--seed", "1", "--resume") for _ in range(2)]
    results = [(child.wait(timeout=120), child.communicate()[1]) for child in resumes]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    for code, err in results:
        # The loser is refused by the lock, or (it came after the winner finished) finds
        # nothing left to resume; it never writes.
        assert code == 0 or ("another fastinit writer" in err or "nothing to resume" in err
                             or "no w.npy.fastinit-progress" in err), err
    assert path.read_bytes() == reference.read_bytes()
    assert not (tmp_path / ("w.npy" + PROGRESS_SUFFIX)).exists()


# -- Zarr: a completion marker, resume, INCOMPLETE ------------------------------------------------

_ZARR_KILLED = """
import os, signal, sys, time
import numpy as np
import zarr
from fastinit.io import zarr as fz
real_setitem = zarr.Array.__setitem__
stored = []
def store(self, key, value):               # SIGKILL after the 12th chunk, past a progress count
    real_setitem(self, key, value)
    stored.append(1)
    if len(stored) == 6:
        time.sleep(1.1)                    # so that the count is recorded once
    if len(stored) == 12:
        os.kill(os.getpid(), signal.SIGKILL)
zarr.Array.__setitem__ = store
fz.write_zarr(sys.argv[1], (64, 48), "normal_(std=0.5)", 4, chunks=(2, 48), use_dask=False)
"""


def test_a_killed_zarr_write_is_marked_incomplete_and_resumes_to_the_same_array(tmp_path):
    pytest.importorskip("zarr")
    from fastinit.io.zarr import read_zarr, write_zarr, zarr_stats

    store = tmp_path / "w.zarr"
    done = subprocess.run([sys.executable, "-c", _ZARR_KILLED, str(store)], timeout=120)
    assert done.returncode == -9
    assert zarr_stats(str(store))["incomplete"] is True
    shown = subprocess.run([sys.executable, "-m", "fastinit", "info", str(store)],
                           capture_output=True, text=True, timeout=60)
    assert "INCOMPLETE" in shown.stdout
    with pytest.raises(ValueError, match="other arguments"):
        write_zarr(str(store), (64, 48), "normal_(std=0.5)", 5, chunks=(2, 48), resume=True,
                   use_dask=False)
    result = write_zarr(str(store), (64, 48), "normal_(std=0.5)", 4, chunks=(2, 48),
                        resume=True, use_dask=False)
    assert 0 < result["bytes"] < 64 * 48 * 4               # only the chunks still missing
    want = fi.init.normal_(np.empty((64, 48), np.float32), std=0.5, generator=fi.Generator(4))
    np.testing.assert_array_equal(read_zarr(str(store)), want)
    assert zarr_stats(str(store))["incomplete"] is False
    assert write_zarr(str(store), (64, 48), "normal_(std=0.5)", 4, chunks=(2, 48),
                      resume=True, use_dask=False)["bytes"] == 0


def test_a_spec_larger_than_the_disk_fails_before_any_batch_is_cut(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"tensors": {"w": {"shape": [2 ** 50],
                                                  "init": "normal_(std=0.02)"}}}))
    path = tmp_path / "w.safetensors"
    done = subprocess.run([sys.executable, "-m", "fastinit", "init", str(path), "--spec",
                           str(spec), "--seed", "0"], capture_output=True, text=True,
                          timeout=30)                  # batches of 2**50 elements took minutes
    assert done.returncode == 2 and "free" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.json"]


def test_an_orthogonal_zarr_larger_than_memory_is_refused_before_anything_is_created(tmp_path):
    pytest.importorskip("zarr")
    from fastinit.io.zarr import write_zarr

    store = tmp_path / "q.zarr"
    with pytest.raises(MemoryError, match="Orthogonal of shape .200000, 200000.* needs"):
        write_zarr(store, (200_000, 200_000), "orthogonal", 0, use_dask=False)
    assert not store.exists()
    done = subprocess.run([sys.executable, "-m", "fastinit", "init", str(store), "--shape",
                           "200000", "200000", "--init", "orthogonal", "--seed", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "needs" in done.stderr and done.stderr.count("\n") == 1
    assert not store.exists()
