import os
import signal
import subprocess

# The device kernels run in Triton's interpreter in the test suite (tests/test_device_kernels.py):
# Triton reads this when it is first imported, so it is set before anything imports it.
os.environ.setdefault("TRITON_INTERPRET", "1")

# A suite started as a background job (`cmd &` in a script) inherits SIGINT ignored, and every
# process it starts would too: the Ctrl-C tests send SIGINT to children and need the
# KeyboardInterrupt a terminal's Ctrl-C gives.  Python's handler makes the children's SIGINT the
# default again when they start.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import numpy as np
import pytest

import fastinit as fi

DTYPES = [np.float32, np.float64]
METHODS = ["random", "uniform", "standard_normal", "normal", "truncated_normal", "random_raw"]


def call(rng: fi.Generator, method: str, **kw):
    """One call of ``method`` with representative parameters."""
    if method == "uniform":
        return rng.uniform(-0.5, 1.5, **kw)
    if method == "normal":
        return rng.normal(0.25, 2.0, **kw)
    if method == "truncated_normal":
        return rng.truncated_normal(0.0, 1.0, -2.0, 2.0, **kw)
    if method == "random_raw":
        kw.pop("dtype", None)
    return getattr(rng, method)(**kw)


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture
def small_filesystem(tmp_path):
    """A real 16 MiB tmpfs, mounted for the test (needs root, as in CI)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
