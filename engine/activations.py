"""The activation table: each Keras activation name paired with its function and derivative.

The functions themselves live once in ``engine.numerics.activations`` (plain NumPy, copied into
exported modules); this table is how layers, the inspector and the validator find them by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from engine.numerics import activations as num

# Re-exported for the layers that use them directly.
sigmoid, softmax, softmax_grad, elu, elu_grad = num.sigmoid, num.softmax, num.softmax_grad, num.elu, num.elu_grad


@dataclass(frozen=True)
class ActivationFn:
    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    doc: str


_DOCS = {
    "linear": "identity",
    "relu": "max(x, 0)",
    "sigmoid": "1 / (1 + exp(-x))",
    "tanh": "hyperbolic tangent",
    "softmax": "exp(x) / sum(exp(x)) over the last axis",
    "gelu": "x * Phi(x), exact Gaussian error linear unit",
    "elu": "x if x > 0 else exp(x) - 1",
    "selu": "scaled ELU (self-normalising)",
    "leaky_relu": "x if x > 0 else 0.2 * x",
    "swish": "x * sigmoid(x)",
    "silu": "x * sigmoid(x) (same as swish)",
    "softplus": "log(1 + exp(x))",
    "softsign": "x / (1 + |x|)",
    "hard_sigmoid": "clip(x / 6 + 0.5, 0, 1)",
    "exponential": "exp(x)",
    "relu6": "min(max(x, 0), 6)",
}

ACTIVATIONS: dict[str, ActivationFn] = {
    name: ActivationFn(name, getattr(num, name), getattr(num, f"{name}_grad"), doc) for name, doc in _DOCS.items()
}


def get_activation(name: str | None) -> ActivationFn:
    """Look up an activation by its Keras name; ``None`` means linear."""
    key = "linear" if name is None else name
    try:
        return ACTIVATIONS[key]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None
