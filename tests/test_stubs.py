"""The .pyi stubs of the compiled modules describe what the modules really contain."""
import subprocess
import sys
from pathlib import Path

import pytest

from fastinit._core import simd as _simd

pytest.importorskip("mypy.stubtest")

ROOT = Path(__file__).resolve().parents[1]
# stubtest imports the module: only the levels this CPU runs (every level shares one interface).
MODULES = ([f"fastinit._core.kernels_{level}" for level in _simd.available_levels()]
           + ["fastinit._core.bit_generator", "fastinit.io._summary"])


def test_extension_stubs_match_the_extensions():
    # One stubtest run for every module: mypy analyses the package once (about 30 s), not once
    # per module.  Run from the repository root: mypy finds the package there (it does not
    # follow the import hooks of an editable install), type-checks it and compares each stub
    # with its built module.
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", *MODULES,
         "--allowlist", str(ROOT / "tests" / "stubtest_allowlist.txt"),
         "--mypy-config-file", str(ROOT / "pyproject.toml")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no issues found in {len(MODULES)} modules" in result.stdout
