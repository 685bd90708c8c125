"""Fan and gain rules shared by the init functions and the initializer objects.

The rules are torch.nn.init's (2.x), so that the same layer gets the same scale in both libraries.

May import: nothing outside the standard library.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Sequence

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: Any = None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ================= ==================================================
    nonlinearity      gain
    ================= ==================================================
    linear, conv*,    1
    conv_transpose*,
    sigmoid
    tanh              5/3
    relu              sqrt(2)
    leaky_relu        sqrt(2 / (1 + negative_slope**2)), slope ``param``
                      (0.01 when None)
    selu              3/4
    ================= ==================================================

    Parameters
    ----------
    nonlinearity : str
        The name of the activation function.
    param : float, optional
        The negative slope of leaky_relu.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        An unknown nonlinearity, or a param that is not a number.

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren, J. Sun, "Delving deep into rectifiers", ICCV (2015).
    .. [2] G. Klambauer et al., "Self-normalizing neural networks", NeurIPS (2017) (selu).
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = float(param)
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def calculate_fans(shape: Sequence[int]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of this shape, by torch's rule.

    fan_in = shape[1] * receptive, fan_out = shape[0] * receptive, receptive = prod(shape[2:]):
    the layouts of ``nn.Linear`` (out, in) and ``nn.ConvNd`` (out, in, *kernel).

    Raises
    ------
    ValueError
        Fewer than 2 dimensions.
    """
    shape = tuple(operator.index(d) for d in shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def correct_fan(shape: Sequence[int], mode: str) -> int:
    """fan_in or fan_out of ``shape`` (torch's ``_calculate_correct_fan``)."""
    if not isinstance(mode, str):
        raise ValueError(f"Mode {mode!r} not supported, please use one of ['fan_in', 'fan_out']")
    mode = mode.lower()
    valid = ["fan_in", "fan_out"]
    if mode not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = calculate_fans(shape)
    return fan_in if mode == "fan_in" else fan_out
