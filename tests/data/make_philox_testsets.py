"""Write the known-answer files for fastinit.Philox, from randomgen (an independent Philox).

``philox-testset-{1,2}.csv`` have NumPy's test-set layout (numpy/random/tests/data): a
``seed, <seed>`` line, then ``i, w[i]`` for the first 1000 words of ``fastinit.Philox(seed)``
(stream 0), so that NumPy's own ``test_direct.Base`` tests read them.  The words come from
``randomgen.Philox(number=4, width=32)`` with fastinit's key (``SeedSequence(seed)``'s first two
words) and counter (docs/stream.md): nothing of fastinit's is used.  Rerun only if
the stream is meant to change.
"""
from pathlib import Path

import numpy as np
import randomgen

HERE = Path(__file__).parent

for number, seed in ((1, 0xDEADBEAF), (2, 0)):
    k0, k1 = (int(w) for w in np.random.SeedSequence(seed).generate_state(2, np.uint32))
    # randomgen increments its 128-bit counter (block | stream << 64) before each block.
    oracle = randomgen.Philox(key=k0 | (k1 << 32), counter=2**128 - 1, number=4, width=32)
    words = oracle.random_raw(1000)
    with open(HERE / f"philox-testset-{number}.csv", "w") as f:
        f.write(f"seed, {seed:#x}\n")
        f.writelines(f"{i}, {int(w):#010x}\n" for i, w in enumerate(words))
    print(f"wrote philox-testset-{number}.csv")
