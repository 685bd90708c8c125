"""Rewrite tests/golden_hashes.csv from the current build.

Run only when the stream is meant to change (and say so in the changelog): the hashes are the
project's promise that the same seed gives the same numbers.
"""
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from test_stream import GOLDEN, golden_cases, sha256  # noqa: E402

with GOLDEN.open("w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["case", "sha256"])
    for name, arr in golden_cases():
        writer.writerow([name, sha256(arr)])
print(f"wrote {GOLDEN}")
