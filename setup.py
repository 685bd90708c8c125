"""Build the Cython kernels.

Flags are chosen by compiler type, never from the build machine's CPU: no -march=native, so a
wheel built here runs on any x86-64 (or aarch64) machine.

- ``-ffp-contract=off``: no silent a*b+c -> fma contraction, so every build computes the same bits.
- ``-fno-math-errno -fno-trapping-math``: let sqrt and the branch-free selects vectorize; neither
  changes a result.
- ``FASTINIT_DEBUG=1`` builds with bounds checks and without optimization.
"""
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("FASTINIT_DEBUG", "") not in ("", "0")

UNIX_FLAGS = ["-O0", "-g"] if DEBUG else ["-O3"]
UNIX_FLAGS += ["-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
MSVC_FLAGS = ["/O2", "/fp:precise"]


class BuildExt(build_ext):
    def build_extensions(self):
        flags = MSVC_FLAGS if self.compiler.compiler_type == "msvc" else UNIX_FLAGS
        for ext in self.extensions:
            ext.extra_compile_args = list(flags) + list(ext.extra_compile_args)
        super().build_extensions()


extensions = [
    Extension(
        "fastinit._kernels",
        ["fastinit/_kernels.pyx"],
        include_dirs=[np.get_include(), "fastinit"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=["fastinit/_philox.h", "fastinit/_philox.pxd"],
    )
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
