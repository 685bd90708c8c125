"""Progress for people: a utility below the Generator, the file writers and the benchmarks.

Every layer shows progress, so it lives here rather than in any of them (``_generator`` used to
import it from ``io``, which imports ``initializers``, which imports ``_generator``).

May import: tqdm.
"""
from __future__ import annotations

import sys
import time
from typing import Any

# A bar is shown for work of at least this many bytes; smaller jobs finish before it would help.
PROGRESS_BYTES = 256 << 20


class Progress:
    """Progress of a job of ``total`` bytes (``unit="B"``) or ``total`` steps (any other unit).

    A tqdm bar when tqdm is installed (``fastinit[progress]``), else, on a terminal, one line of
    text on stderr rewritten in place; nothing when not ``wanted``, or for fewer than
    :data:`PROGRESS_BYTES` bytes.
    """

    def __init__(self, total: int, wanted: bool, desc: str, unit: str = "B") -> None:
        self.bar: Any = None
        self._line: _Line | None = None
        if not wanted or (unit == "B" and total < PROGRESS_BYTES):
            return
        try:
            from tqdm import tqdm
        except ImportError:
            if sys.stderr.isatty():
                self._line = _Line(total, desc, unit)
            return
        in_bytes = unit == "B"
        self.bar = tqdm(total=total, unit=unit, unit_scale=in_bytes,
                        unit_divisor=1024 if in_bytes else 1000, desc=desc, dynamic_ncols=True)

    def update(self, n: int, what: str | None = None) -> None:
        """``n`` more bytes or steps done; ``what``: the step now running, shown beside."""
        if self.bar is not None:
            if what is not None:
                self.bar.set_postfix_str(what, refresh=False)
            self.bar.update(n)
        elif self._line is not None:
            self._line.update(n, what)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self._line is not None:
            self._line.close()


def terminal() -> bool:
    """Whether stderr is a terminal: the default for showing progress of the long commands."""
    return sys.stderr.isatty()


class _Line:
    """``desc: 40% (3/8 steps) what`` on stderr, rewritten at most ten times a second."""

    def __init__(self, total: int, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit = max(1, total), desc, unit
        self.done, self.what, self.shown = 0, "", 0.0
        self._show(force=True)

    def update(self, n: int, what: str | None) -> None:
        self.done += n
        if what is not None:
            self.what = what
        self._show(force=what is not None)

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.shown < 0.1:
            return
        self.shown = now
        if self.unit == "B":
            count = f"{format_bytes(self.done)} of {format_bytes(self.total)}"
        else:
            count = f"{self.done}/{self.total} {self.unit}"
        text = f"{self.desc}: {100 * self.done // self.total:3d}% ({count}) {self.what}"
        sys.stderr.write("\r" + text[:119].ljust(119))
        sys.stderr.flush()

    def close(self) -> None:
        self._show(force=True)
        sys.stderr.write("\n")
        sys.stderr.flush()


def format_bytes(nbytes: float) -> str:
    """A byte count in binary units: 512 B, 64.0 MiB, 2.00 GiB."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.{2 if scale >= 2**30 else 1}f} {unit}"
    return f"{int(nbytes)} B"
