"""Type stubs for a compiled kernel module (the code is fastinit/_core/kernels.pxi)."""
import enum

from collections.abc import Callable
from typing_extensions import CapsuleType

import numpy as np

from fastinit._core.bit_generator import Philox

class Kind(enum.IntEnum):
    KIND_RAW = 0
    KIND_UNIFORM = 1
    KIND_NORMAL = 2
    KIND_TRUNCATED_NORMAL = 3

class TruncatedMethod(enum.IntEnum):
    TN_NORMAL = 0
    TN_UNIFORM = 1
    TN_EXPONENTIAL = 2

def fill(
    out: np.ndarray,
    kind: int,
    shape: tuple[int, ...],
    starts: tuple[int, ...],
    key: int,
    stream: int,
    params: tuple[float | int, ...],
    begin: int = 0,
    end: int = -1,
    streaming: bool = False,
    elements: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> None: ...
def fill_call(
    out: object,
    size: object,
    dtype: object,
    kind: int,
    key: int,
    streams: Philox,
    make_params: Callable[[np.dtype], tuple[tuple[float | int, ...], object]],
    max_elements: int,
) -> np.ndarray | None: ...
def philox_block(
    counter: tuple[int, int, int, int] | list[int], key: tuple[int, int] | list[int]
) -> tuple[int, int, int, int]: ...

PHILOX_WORDS: CapsuleType
PHILOX_PATH: str
CFLAGS: str

def cpu_level() -> int: ...
