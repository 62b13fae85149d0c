"""Activation functions paired with their derivatives in one table (Keras 3 ``keras.activations``).

Each entry is ``fn(x) -> y`` and ``grad(x, y, g) -> dL/dx`` where ``g = dL/dy``; keeping ``x`` and ``y``
lets each derivative use whichever is cheaper.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_erf = np.frompyfunc(math.erf, 1, 1)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_grad(y: np.ndarray, g: np.ndarray, axis: int = -1) -> np.ndarray:
    return y * (g - (g * y).sum(axis=axis, keepdims=True))


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(x, 0).astype(x.dtype, copy=False)


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_grad(x: np.ndarray, y: np.ndarray, g: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return g * np.where(x > 0, 1.0, y + alpha).astype(x.dtype, copy=False)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.2) -> np.ndarray:
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x: np.ndarray, g: np.ndarray, negative_slope: float = 0.2) -> np.ndarray:
    return np.where(x > 0, g, negative_slope * g)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU (Keras default ``approximate=False``)."""
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))
    return (x * cdf).astype(x.dtype, copy=False)


def _gelu_grad(x, y, g):
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))
    pdf = np.exp(-0.5 * x.astype(np.float64) ** 2) / math.sqrt(2 * math.pi)
    return (g * (cdf + x * pdf)).astype(x.dtype, copy=False)


def _swish_grad(x, y, g):
    s = sigmoid(x)
    return g * (s + x * s * (1 - s))


def _hard_sigmoid(x):
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0).astype(x.dtype, copy=False)


def _hard_sigmoid_grad(x, y, g):
    return g * ((x > -3.0) & (x < 3.0)).astype(x.dtype) / 6.0


@dataclass(frozen=True)
class ActivationFn:
    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    doc: str


ACTIVATIONS: dict[str, ActivationFn] = {
    a.name: a
    for a in [
        ActivationFn("linear", lambda x: x, lambda x, y, g: g, "identity"),
        ActivationFn("relu", lambda x: np.maximum(x, 0), lambda x, y, g: g * (x > 0), "max(x, 0)"),
        ActivationFn("sigmoid", sigmoid, lambda x, y, g: g * y * (1 - y), "1 / (1 + exp(-x))"),
        ActivationFn("tanh", np.tanh, lambda x, y, g: g * (1 - y * y), "hyperbolic tangent"),
        ActivationFn("softmax", softmax, lambda x, y, g: softmax_grad(y, g), "exp(x) / sum(exp(x)) over the last axis"),
        ActivationFn("gelu", gelu, _gelu_grad, "x * Phi(x), exact Gaussian error linear unit"),
        ActivationFn("elu", elu, elu_grad, "x if x > 0 else exp(x) - 1"),
        ActivationFn("selu", lambda x: SELU_SCALE * elu(x, SELU_ALPHA),
                     lambda x, y, g: SELU_SCALE * elu_grad(x, y / SELU_SCALE, g, SELU_ALPHA),
                     "scaled ELU (self-normalising)"),
        ActivationFn("leaky_relu", leaky_relu, lambda x, y, g: leaky_relu_grad(x, g), "x if x > 0 else 0.2 * x"),
        ActivationFn("swish", lambda x: x * sigmoid(x), _swish_grad, "x * sigmoid(x)"),
        ActivationFn("silu", lambda x: x * sigmoid(x), _swish_grad, "x * sigmoid(x) (same as swish)"),
        ActivationFn("softplus", softplus, lambda x, y, g: g * sigmoid(x), "log(1 + exp(x))"),
        ActivationFn("softsign", lambda x: x / (1 + np.abs(x)), lambda x, y, g: g / (1 + np.abs(x)) ** 2,
                     "x / (1 + |x|)"),
        ActivationFn("hard_sigmoid", _hard_sigmoid, _hard_sigmoid_grad, "clip(x / 6 + 0.5, 0, 1)"),
        ActivationFn("exponential", np.exp, lambda x, y, g: g * y, "exp(x)"),
        ActivationFn("relu6", lambda x: np.clip(x, 0, 6), lambda x, y, g: g * ((x > 0) & (x < 6)), "min(max(x, 0), 6)"),
    ]
}


def get_activation(name: str | None) -> ActivationFn:
    """Look up an activation by its Keras name; ``None`` means linear."""
    key = "linear" if name is None else name
    try:
        return ACTIVATIONS[key]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None
