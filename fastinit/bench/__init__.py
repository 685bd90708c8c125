"""What ``python -m fastinit bench`` runs: fastinit beside NumPy, torch, Dask and the disk.

- :mod:`fastinit.bench.fills`: the fills, every dtype, and NumPy's methods over fastinit's stream
  (``bench``, ``bench --small``);
- :mod:`fastinit.bench.model`: whole transformers models (``bench --model``);
- :mod:`fastinit.bench.checkpoint`: seed checkpoints against the disk (``bench --checkpoint``);
- :mod:`fastinit.bench.cluster`: ``fastinit.dask`` on a LocalCluster (``bench --dask``);
- :mod:`fastinit.bench.harness`: running one case in a fresh process.

A layer of its own above everything it times; nothing in the library imports it.  Results are
ratios from one run, never asserted by the tests (which check only that every case runs and
reports consistent numbers).

May import: nothing outside the standard library.
"""
