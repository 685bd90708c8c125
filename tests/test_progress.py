"""Progress of the long commands: shown on a terminal (a real pseudo-terminal here), never in a
pipe or a log."""
import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest

from fastinit import _progress


def _on_a_terminal(args, cwd):
    """Run ``python -m fastinit ARGS`` with stderr on a 40x120 pseudo-terminal; (stdout,
    what the terminal showed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "fastinit", *args], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    shown = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:                   # the terminal closed: the process has exited
            break
        if not data:
            break
        shown += data
    stdout, _ = process.communicate()
    os.close(leader)
    assert process.returncode == 0, shown.decode(errors="replace")
    return stdout, shown.decode(errors="replace")


@pytest.fixture(scope="module")
def big_npy(tmp_path_factory):
    path = tmp_path_factory.mktemp("progress") / "w.npy"
    np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                              shape=(_progress.PROGRESS_BYTES // 4 // 1024 + 1, 1024))[:] = 1.0
    return path


def test_info_on_a_large_file_shows_progress_on_a_terminal_only(big_npy):
    stdout, shown = _on_a_terminal(["info", str(big_npy)], big_npy.parent)
    assert "mean  1" in stdout
    assert "100%" in shown and "w.npy" in shown
    piped = subprocess.run([sys.executable, "-m", "fastinit", "info", str(big_npy)],
                           capture_output=True, text=True, check=True)
    assert piped.stderr == "" and "mean  1" in piped.stdout


def test_bench_shows_its_steps_on_a_terminal_only(tmp_path):
    args = ["bench", "--size", "4096", "--repeats", "1", "--json"]
    stdout, shown = _on_a_terminal(args, tmp_path)
    assert '"rows"' in stdout
    assert "bench" in shown and "100%" in shown
    piped = subprocess.run([sys.executable, "-m", "fastinit", *args], capture_output=True,
                           text=True, check=True, cwd=tmp_path)
    assert piped.stderr == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_without_tqdm_a_terminal_gets_one_line_rewritten_in_place(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)            # import tqdm fails
    monkeypatch.setattr(sys, "stderr", _Terminal())
    bar = _progress.Progress(4, True, "bench", "steps")
    for step in ("uniform", "normal", "truncated_normal", "methods"):
        bar.update(0, step)
        bar.update(1)
    bar.close()
    text = sys.stderr.getvalue()
    assert text.count("\r") >= 5 and text.endswith("\n")
    assert "bench: 100% (4/4 steps) methods" in text


def test_small_jobs_and_unwanted_bars_show_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    for bar in (_progress.Progress(_progress.PROGRESS_BYTES - 1, True, "small"),
                _progress.Progress(10, False, "unwanted", "steps")):
        bar.update(1)
        bar.close()
    assert sys.stderr.getvalue() == ""
