"""Every code block of README.md and docs/*.md runs as written: the Python blocks each in a fresh
interpreter, the shell blocks with bash, in a scratch directory.  The set-up commands (a venv,
pip, the test command itself) are what CI runs around this suite, so they are left to it."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Shell lines that set up the project rather than use it.
SETUP = re.compile(r"^\s*(python3? -m venv|pip install|python -m pytest|\. \.venv)")


def _blocks():
    blocks = []
    for page in PAGES:
        text = page.read_text()
        for number, (language, code) in enumerate(
                re.findall(r"^```(python|bash)\n(.*?)^```", text, re.S | re.M)):
            if language == "bash" and all(SETUP.match(line) or not line.strip()
                                          for line in code.splitlines()):
                continue
            blocks.append(pytest.param(language, code, id=f"{page.name}-{number}-{language}"))
    return blocks


def test_the_pages_have_code_blocks_and_the_readme_is_a_front_door():
    assert len(_blocks()) >= 15
    assert len((ROOT / "README.md").read_text().splitlines()) <= 400


@pytest.mark.parametrize("language, code", _blocks())
def test_every_code_block_runs_as_written(language, code, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("dask")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MPLBACKEND": "Agg"}
    if language == "python":
        command = [sys.executable, "-c", code]
    else:
        lines = [line for line in code.splitlines() if not SETUP.match(line)]
        command = ["bash", "-euo", "pipefail", "-c", "\n".join(lines)]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{code}\n--- stderr:\n{done.stderr[-3000:]}"
