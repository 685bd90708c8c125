"""The .pyi stubs of the compiled modules describe what the modules really contain."""
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy.stubtest")

ROOT = Path(__file__).resolve().parents[1]


def test_kernel_stubs_match_the_extension():
    # Run from the repository root: mypy finds the package there (it does not follow the import
    # hooks of an editable install), type-checks it and compares the stub with the built module.
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "fastinit._kernels",
         "--allowlist", str(ROOT / "tests" / "stubtest_allowlist.txt")],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
