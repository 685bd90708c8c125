"""Build the Cython kernels, once per instruction-set level.

The same kernel source (fastinit/_core/kernels.pxi) is compiled into one extension module per level;
fastinit/_core/simd.py picks the best one the running CPU supports, at import.  Instruction sets come
from these per-module flags only, never from the build machine's CPU: no -march=native, so a wheel
built here runs on any x86-64 (or aarch64) machine.

- ``kernels_baseline``: the architecture's baseline (SSE2 on x86-64); the only module elsewhere.
- ``kernels_avx2``: AVX2 + FMA + F16C (x86-64 only).
- ``kernels_avx512``: AVX-512 F/DQ/BW/VL (x86-64 only).
- ``bit_generator``: fastinit.Philox, the NumPy BitGenerator that also numbers a Generator's
  calls; built once (its words come from the current level's kernels).

Flags shared by every level:

- ``-ffp-contract=off``: no silent a*b+c -> fma contraction, so every level computes the same bits.
- ``-fno-math-errno -fno-trapping-math``: let sqrt and the branch-free selects vectorize; neither
  changes a result.
- ``FASTINIT_DEBUG=1`` builds with bounds checks and without optimization.
- ``FASTINIT_LEVELS=baseline`` (comma-separated) builds only some levels.
- ``FASTINIT_PORTABLE=1`` builds the baseline module with the portable C paths only (no
  intrinsics), as on architectures without SSE2: a way to test those paths on x86-64.
"""
import glob
import os
import sysconfig

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("FASTINIT_DEBUG", "") not in ("", "0")

UNIX_FLAGS = ["-O0", "-g"] if DEBUG else ["-O3"]
UNIX_FLAGS += ["-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
MSVC_FLAGS = ["/O2", "/fp:precise"]

# Per-level instruction-set flags: (unix, msvc).
LEVEL_FLAGS = {
    "baseline": ([], []),
    "avx2": (["-mavx2", "-mfma", "-mf16c"], ["/arch:AVX2"]),
    "avx512": (["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma",
                "-mf16c"],
               ["/arch:AVX512"]),
}

X86_64 = sysconfig.get_platform().endswith(("x86_64", "amd64", "AMD64"))
LEVELS = ["baseline", "avx2", "avx512"] if X86_64 else ["baseline"]
if os.environ.get("FASTINIT_LEVELS"):
    LEVELS = [lvl for lvl in os.environ["FASTINIT_LEVELS"].split(",") if lvl in LEVELS]
    if "baseline" not in LEVELS:
        LEVELS.insert(0, "baseline")


PORTABLE = os.environ.get("FASTINIT_PORTABLE", "") not in ("", "0")
if PORTABLE:
    LEVELS = ["baseline"]


class BuildExt(build_ext):
    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        for ext in self.extensions:
            level = ext.name.rsplit("_", 1)[-1]
            if level not in LEVEL_FLAGS:
                continue                         # fastinit._core.bit_generator: the defaults
            flags = (MSVC_FLAGS if msvc else UNIX_FLAGS) + LEVEL_FLAGS[level][1 if msvc else 0]
            ext.extra_compile_args = flags + list(ext.extra_compile_args)
            # Recorded in the module for fastinit.show_config().
            if PORTABLE:
                ext.define_macros.append(("FASTINIT_NO_SIMD", "1"))
                flags = flags + ["-DFASTINIT_NO_SIMD=1"]   # as reported by show_config()
            ext.define_macros.append(("FASTINIT_CFLAGS", '"' + " ".join(flags) + '"'))
        super().build_extensions()


extensions = [
    Extension(
        f"fastinit._core.kernels_{level}",
        [f"fastinit/_core/kernels_{level}.pyx"],
        include_dirs=[np.get_include(), "fastinit/_core"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=sorted(glob.glob("fastinit/_core/*.pxi") + glob.glob("fastinit/_core/*.h")
                       + glob.glob("fastinit/_core/*.pxd")),
    )
    for level in LEVELS
] + [
    # Not per level: it calls the current level's Philox through a pointer, and every level's
    # fill_out takes its streams.
    Extension("fastinit._core.bit_generator", ["fastinit/_core/bit_generator.pyx"],
              include_dirs=[np.get_include(), "fastinit/_core"],
              depends=["fastinit/_core/bit_generator.pxd", "fastinit/_core/bit_generator.h"],
              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]),
    # fastinit info's statistics: one build, the baseline's vector width (SSE2 on x86-64); it
    # reads at the disk's rate already, so it is not worth a module per level.
    Extension("fastinit.io._summary", ["fastinit/io/_summary.pyx"],
              extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno",
                                  "-fno-trapping-math"] if os.name != "nt" else ["/O2"]),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": 3,
            "boundscheck": DEBUG,
            "wraparound": False,
            "cdivision": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
