"""The classic init experiments, reproduced with fastinit.torch.diagnose.

Glorot & Bengio (2010): a 12-layer tanh MLP under zeros, N(0, 1), N(0, 0.01) and Xavier (with
Glorot's gain 1, and with torch's tanh gain 5/3).  He et al. (2015): a 30-layer ReLU MLP under
Xavier and He.  Each run prints the per-layer table and its flags and saves a figure of the
per-layer activation std and back-propagated gradient std:

    pip install -e ".[torch,plot]"
    python examples/glorot_bengio.py [output_dir]

What to see: zeros never breaks symmetry; N(0, 1) saturates tanh; N(0, 0.01) makes activations
and gradients vanish layer after layer; Xavier keeps them at one scale in the tanh net but lets
them vanish in the deep ReLU net, where He keeps them flat.
"""
import sys
from pathlib import Path

import numpy as np
import torch

import fastinit
from fastinit import torch as ft

WIDTH, BATCH, SEED = 256, 512, 0


def experiment(layers: int, activation: str, inits: list[str], figure: Path) -> ft.Diagnosis:
    """One MLP under each init, diagnosed on the same U(-1, 1) inputs; the first is the main
    run, the others are compared with it."""
    inputs = torch.from_numpy(fastinit.Generator(SEED + 1).uniform(
        -1.0, 1.0, (BATCH, WIDTH), dtype=np.float32))
    runs = {name: ft.init_mlp(ft.mlp(layers, WIDTH, activation), name, SEED, activation)
            for name in inits}
    first = inits[0]
    return ft.diagnose(runs.pop(first), inputs, compare=runs, plot=figure, label=first)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tanh = experiment(12, "tanh", ["zeros", "normal:1", "normal:0.01", "xavier_normal",
                                   "xavier_normal:1.6667"], out / "tanh_12_layers.png")
    relu = experiment(30, "relu", ["xavier_normal", "kaiming_normal"], out / "relu_30_layers.png")
    for name, result in (("12-layer tanh MLP", tanh), ("30-layer ReLU MLP", relu)):
        print(f"#### {name}\n{result}\n")
    print(f"figures: {out / 'tanh_12_layers.png'}, {out / 'relu_30_layers.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("diagnose_figures"))
