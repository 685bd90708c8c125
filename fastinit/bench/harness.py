"""One benchmark case in a fresh Python process: the harness of ``bench --model`` and
``bench --checkpoint``.

A fresh process pays for the memory it first touches as a user's program does, and imports
nothing a previous case left behind.  Only the case's own timing is reported; its imports are
not timed.

With ``preload`` (``bench --model``), where the platform has it, each case is a child forked
from multiprocessing's fork server: a clean process started once, which imports those packages
(torch, transformers) and nothing else, and never runs a case itself.  A forked child shares the
imports instead of repeating them (3-5 s a case) and touches fresh memory as a new process
does.  Its peak memory then counts the preloaded packages, so ``bench --checkpoint``, which
reports peak memory and has cases without torch, starts a new interpreter per case, as does
every case where there is no fork server (Windows).

May import: nothing outside the standard library.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from typing import Any

_CHILD = ("import json, resource, sys, importlib\n"
          "module, name, args = json.loads(sys.argv[1])\n"
          "result = getattr(importlib.import_module(module), name)(*args)\n"
          "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
          "print(json.dumps([result, peak]))\n")


def _forked_case(conn: Any, module: str, name: str, args: list[Any]) -> None:
    """The child's side: run the case with its output discarded (the parent's stdout may carry
    the bench's JSON), and send back its result and peak memory, or the traceback."""
    import importlib
    import resource
    import traceback
    import warnings

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    warnings.simplefilter("ignore")
    try:
        result = getattr(importlib.import_module(module), name)(*args)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        conn.send(("ok", json.dumps([result, peak])))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _fork_server(preload: tuple[str, ...]) -> Any:
    """multiprocessing's fork-server context, its server to import ``preload`` when it starts
    (the first case); None where the platform has no fork server."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context


def in_fresh_process(module: str, name: str, *args: Any, what: str,
                     preload: tuple[str, ...] = ()) -> tuple[Any, int]:
    """``module.name(*args)`` in a new process: its JSON-able result and the process's peak
    resident memory in bytes.  ``preload``: modules every case imports, imported once by the
    fork server (none: a new interpreter).  RuntimeError naming ``what``, with the end of the child's traceback or stderr,
    if it fails."""
    context = _fork_server(preload + (module,)) if preload else None
    if context is not None:
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_forked_case, args=(send, module, name, list(args)))
        child.start()
        send.close()
        try:
            status, payload = receive.recv()
        except EOFError:
            status, payload = "error", "the process ended without a result"
        child.join()
        if status != "ok" or child.exitcode != 0:
            raise RuntimeError(f"{what} failed (exit code {child.exitcode}):\n"
                               f"{payload.strip()[-2000:]}")
        result, peak = json.loads(payload)
        return result, int(peak)
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([module, name, list(args)])],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr.strip()[-2000:]}")
    result, peak = json.loads(done.stdout.strip().splitlines()[-1])
    return result, int(peak)
