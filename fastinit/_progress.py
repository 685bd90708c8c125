"""Progress bars and byte counts for people: a utility below the Generator and the file writers.

Both layers show a bar, so it lives here rather than in either (``_generator`` used to import it
from ``io``, which imports ``initializers``, which imports ``_generator``).
"""
from __future__ import annotations

from typing import Any

# A bar is shown for work of at least this many bytes; smaller jobs finish before it would help.
PROGRESS_BYTES = 256 << 20


class Progress:
    """A tqdm bar in bytes when tqdm is installed, wanted and the job is large enough; silent
    otherwise (``fastinit[progress]`` brings tqdm)."""

    def __init__(self, total: int, wanted: bool, desc: str) -> None:
        self.bar: Any = None
        if wanted and total >= PROGRESS_BYTES:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                            desc=desc, dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_bytes(nbytes: float) -> str:
    """A byte count in binary units: 512 B, 64.0 MiB, 2.00 GiB."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.{2 if scale >= 2**30 else 1}f} {unit}"
    return f"{int(nbytes)} B"
