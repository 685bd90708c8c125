"""One benchmark case in a fresh Python process: the harness of ``bench --model`` and
``bench --checkpoint``.

A fresh process pays for the memory it first touches as a user's program does, and imports
nothing a previous case left behind.  Only the case's own timing is reported; its imports are
not timed.

May import: nothing outside the standard library.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

_CHILD = ("import json, resource, sys, importlib\n"
          "module, name, args = json.loads(sys.argv[1])\n"
          "result = getattr(importlib.import_module(module), name)(*args)\n"
          "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
          "print(json.dumps([result, peak]))\n")


def in_fresh_process(module: str, name: str, *args: Any, what: str) -> tuple[Any, int]:
    """``module.name(*args)`` in a new Python process: its JSON-able result and the process's
    peak resident memory in bytes.  RuntimeError naming ``what``, with the end of the child's
    stderr, if it fails."""
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([module, name, list(args)])],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr.strip()[-2000:]}")
    result, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return result, int(peak)
