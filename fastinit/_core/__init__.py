"""The compiled engine: the Philox stream, the fill kernels and the machinery that runs them.

- ``philox.h`` / ``philox.pxd``: Philox4x32-10, the scalar block and one vector path per level;
  ``store.h`` (raw words and uniforms fused with Philox), ``select.h`` (the truncated normal's
  rejected samples, branch-free), ``half.h`` (float16 stores with F16C), ``cpu.h`` (features).
- ``kernels.pxi`` and its parts (params, math, transforms, truncnorm, half, elements, driver,
  entry): the typed ``nogil`` fill loops, compiled once per instruction-set level into
  ``kernels_baseline``, ``kernels_avx2`` and ``kernels_avx512``.
- ``bit_generator``: ``fastinit.Philox``, the ``numpy.random.BitGenerator`` that also numbers a
  Generator's calls.
- ``simd``: which kernel module runs; ``threads``: the thread pool that splits large fills.

Nothing here validates arguments (fastinit._validate and _generator do it before the call), and
nothing here imports the rest of fastinit.

May import: nothing (the modules below import each other only).
"""
