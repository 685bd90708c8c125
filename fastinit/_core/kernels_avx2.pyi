"""Type stubs for a compiled kernel module: the same interface as kernels_baseline (the code is
fastinit/_core/kernels.pxi), without cpu_level()."""
from fastinit._core.kernels_baseline import CFLAGS as CFLAGS
from fastinit._core.kernels_baseline import PHILOX_PATH as PHILOX_PATH
from fastinit._core.kernels_baseline import PHILOX_WORDS as PHILOX_WORDS
from fastinit._core.kernels_baseline import Kind as Kind
from fastinit._core.kernels_baseline import TruncatedMethod as TruncatedMethod
from fastinit._core.kernels_baseline import fill as fill
from fastinit._core.kernels_baseline import fill_call as fill_call
from fastinit._core.kernels_baseline import philox_block as philox_block
