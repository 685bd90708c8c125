"""The .pyi stubs of the compiled modules describe what the modules really contain."""
import subprocess
import sys
from pathlib import Path

import pytest

from fastinit import _simd

pytest.importorskip("mypy.stubtest")

ROOT = Path(__file__).resolve().parents[1]


# stubtest imports the module: only the levels this CPU runs (every level shares one interface).
@pytest.mark.parametrize("module", [f"_kernels_{level}" for level in _simd.available_levels()]
                         + ["_bit_generator", "io._summary"])
def test_extension_stubs_match_the_extension(module):
    # Run from the repository root: mypy finds the package there (it does not follow the import
    # hooks of an editable install), type-checks it and compares the stub with the built module.
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", f"fastinit.{module}",
         "--allowlist", str(ROOT / "tests" / "stubtest_allowlist.txt"),
         "--mypy-config-file", str(ROOT / "pyproject.toml")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
