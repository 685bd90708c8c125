"""Which compiled kernel module runs: the best instruction-set level the CPU supports.

setup.py builds the same kernels once per level (``kernels_baseline``, ``kernels_avx2``,
``kernels_avx512``); every level produces the same bits, only faster.  At import the best level
that was built and that this CPU (and OS) supports is chosen, unless ``FASTINIT_SIMD`` names one
(``baseline``, ``avx2`` or ``avx512``), which must then be available.  The caches' sizes,
read from sysfs, set the store policy (:func:`usable_cache_bytes`).

May import: fastinit._core.kernels_baseline.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from types import ModuleType
from typing import Iterator

from fastinit._core import kernels_baseline

LEVELS = ("baseline", "avx2", "avx512")
# Where the cache sizes cannot be read (not Linux), assume a last-level cache this large.
DEFAULT_LAST_LEVEL_CACHE_BYTES = 32 << 20
# The share of a last-level cache that one of the CPUs sharing it can count on.  Current Xeons and
# EPYCs have 2-5 MiB of L3 per core; a virtual machine's sysfs may instead report the host's whole
# L3 as shared by its few vCPUs (480 MiB for the 2 vCPUs of an Intel Xeon VM), which no fill of
# its own gets.  There, 1-thread float32 uniform fills of 16-64 MiB ran 10-60% faster, and a fill
# followed by a sum 15-50% faster, with streaming stores than with plain ones.
CACHE_SLICE_BYTES = 4 << 20


def last_level_cache_bytes(sysfs: str = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """The size of the largest data cache of CPU 0 (on Linux, from sysfs), in bytes.

    sysfs reports the cache a core actually shares (one CCD's L3 on AMD EPYC, the socket's on
    Intel Xeon); glibc's sysconf reports other things on some CPUs, so it is not used.  The
    kernels' store policy reads :func:`usable_cache_bytes`, which caps it.
    """
    best = 0
    try:
        entries = os.listdir(sysfs)
    except OSError:
        return DEFAULT_LAST_LEVEL_CACHE_BYTES
    for entry in entries:
        with contextlib.suppress(OSError, ValueError):
            best = max(best, _cache_size(os.path.join(sysfs, entry)))
    return best or DEFAULT_LAST_LEVEL_CACHE_BYTES


def _cache_size(entry: str) -> int:
    # One sysfs cache entry's size in bytes ("48K", "32M"); 0 for an instruction cache.
    with open(os.path.join(entry, "type")) as f:
        if f.read().strip() == "Instruction":
            return 0
    with open(os.path.join(entry, "size")) as f:
        text = f.read().strip()
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1:] in units else int(text)


def usable_cache_bytes(sysfs: str = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """How much of the last-level cache a fill can count on, in bytes: its size, capped at
    ``CACHE_SLICE_BYTES`` for each CPU that sysfs says shares it.

    On bare metal the cap changes nothing (an EPYC CCD: 32 MiB for 8 cores, a Xeon socket: 2-5
    MiB per core); on a virtual machine that reports the host's L3 it gives the vCPUs' slices.
    """
    size = last_level_cache_bytes(sysfs)
    sharing = 0
    with contextlib.suppress(OSError):
        entries = os.listdir(sysfs)
        for entry in entries:
            with contextlib.suppress(OSError, ValueError):
                if _cache_size(os.path.join(sysfs, entry)) == size:
                    with open(os.path.join(sysfs, entry, "shared_cpu_list")) as f:
                        sharing = max(sharing, _count_cpus(f.read()))
    return min(size, sharing * CACHE_SLICE_BYTES) if sharing else size


def _count_cpus(cpu_list: str) -> int:
    # sysfs's list format: "0-7,64-71", "3".
    count = 0
    for part in cpu_list.strip().split(","):
        first, _, last = part.partition("-")
        count += int(last or first) - int(first) + 1
    return count


def cpu_levels() -> list[str]:
    """The levels this CPU and operating system can run, built or not."""
    return list(LEVELS[: kernels_baseline.cpu_level() + 1])


def built_levels() -> list[str]:
    """The levels compiled into this installation.

    Found without importing them: a module's own initialization is compiled with its level's
    instructions, so importing the avx512 module on a CPU without AVX-512 dies of SIGILL.
    """
    return [level for level in LEVELS
            if importlib.util.find_spec(f"fastinit._core.kernels_{level}") is not None]


def available_levels() -> list[str]:
    """Levels both built and runnable here, slowest first."""
    runnable = set(cpu_levels())
    return [level for level in built_levels() if level in runnable]


def load(level: str) -> ModuleType:
    """The kernel module of ``level``; a clear error if it cannot run here."""
    if level not in LEVELS:
        raise ValueError(f"unknown SIMD level {level!r}; choose one of {', '.join(LEVELS)}")
    if level not in cpu_levels():
        raise RuntimeError(f"this CPU does not support the {level} kernels (it runs: "
                           f"{', '.join(cpu_levels())}); unset FASTINIT_SIMD or choose one of "
                           "those")
    try:
        return importlib.import_module(f"fastinit._core.kernels_{level}")
    except ImportError as exc:
        raise RuntimeError(f"the {level} kernels were not built in this installation (built: "
                           f"{', '.join(built_levels())})") from exc


def _initial_level() -> str:
    forced = os.environ.get("FASTINIT_SIMD", "").strip().lower()
    if forced:
        load(forced)            # raises with the reason if it cannot run
        return forced
    return available_levels()[-1]


level: str = _initial_level()
kernels: ModuleType = load(level)


@contextlib.contextmanager
def using_level(name: str) -> Iterator[ModuleType]:
    """Run the block with another level's kernels (process-wide; for tests and benchmarks)."""
    global level, kernels
    saved = level, kernels
    module = load(name)
    level, kernels = name, module
    try:
        yield module
    finally:
        level, kernels = saved
