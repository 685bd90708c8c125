"""Glorot & Bengio (2010) in miniature: activation variance through a deep tanh network.

    python examples/glorot_experiment.py

A batch of N(0, 1) inputs goes through 12 tanh layers of width 256, initialized three ways.
Xavier (with tanh's gain 5/3) keeps the variance of every layer's activations in a healthy band;
N(0, 1) weights saturate tanh (variance near 1: every unit at +-1, gradients vanish); zeros never
break the symmetry (variance 0).
"""
import numpy as np

import fastinit as fi

SCHEMES = {
    "xavier_uniform_ (gain 5/3)": lambda w, layer: fi.init.xavier_uniform_(
        w, gain=fi.init.calculate_gain("tanh"), generator=layer),
    "normal_(0, 1)": lambda w, layer: fi.init.normal_(w, 0.0, 1.0, generator=layer),
    "zeros_": lambda w, layer: fi.init.zeros_(w),
}


def layer_variances(init, depth=12, width=256, batch=512):
    """Variance of the activations after each layer."""
    x = fi.default_rng(2010).standard_normal((batch, width))
    variances = []
    for layer in range(depth):
        w = init(np.empty((width, width)), layer)
        x = np.tanh(x @ w.T)
        variances.append(float(x.var()))
    return variances


if __name__ == "__main__":
    for name, init in SCHEMES.items():
        print(f"{name:28s}", " ".join(f"{v:5.3f}" for v in layer_variances(init)))
