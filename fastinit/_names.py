"""One wording for an unknown name, with the close matches: "did you mean 'kaiming_normal_'?".

May import: nothing outside the standard library.
"""
from __future__ import annotations

import difflib
from typing import Iterable


def unknown(what: str, name: object, known: Iterable[str]) -> ValueError:
    """The ValueError for an unknown ``name`` among ``known`` (a few closest matches first)."""
    known = sorted(set(known))
    text = str(name)
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.6)
    # A torch name without its trailing underscore, or a Keras class name in snake case.
    for variant in (text + "_", text.rstrip("_"), text.lower()):
        if variant in known and variant not in close:
            close.insert(0, variant)
    hint = f"; did you mean {' or '.join(repr(c) for c in close[:3])}?" if close else ""
    return ValueError(f"unknown {what} {name!r}{hint} (known: {', '.join(known)})")
