"""The .pyi stubs of the compiled modules describe what the modules really contain."""
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from fastinit._core import simd as _simd

pytest.importorskip("mypy.stubtest")

ROOT = Path(__file__).resolve().parents[1]
# stubtest imports the module: only the levels this CPU runs (every level shares one interface).
MODULES = ([f"fastinit._core.kernels_{level}" for level in _simd.available_levels()]
           + ["fastinit._core.bit_generator", "fastinit.io._summary"])


def stubtest_config(path: Path) -> Path:
    """pyproject's mypy settings, with the optional dependencies skipped, not followed.

    torch and transformers ship inline types, so mypy would analyse all of them (25 of the 30 s
    this test took) to compare stubs that never mention them."""
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    lines = ["[mypy]"] + [f"{key} = {value}" for key, value in mypy.items() if key != "overrides"]
    for override in mypy.get("overrides", []):
        lines.append(f"[mypy-{','.join(override['module'])}]")
        lines += [f"{key} = {value}" for key, value in override.items() if key != "module"]
        lines.append("follow_imports = skip")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_extension_stubs_match_the_extensions(tmp_path):
    # One stubtest run for every module: mypy analyses the package once, not once per module.
    # Run from the repository root: mypy finds the package there (it does not follow the import
    # hooks of an editable install), type-checks it and compares each stub with its built module.
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", *MODULES,
         "--allowlist", str(ROOT / "tests" / "stubtest_allowlist.txt"),
         "--mypy-config-file", str(stubtest_config(tmp_path / "mypy.ini"))],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no issues found in {len(MODULES)} modules" in result.stdout
