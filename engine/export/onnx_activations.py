"""Keras activations as ONNX operators, shared by the layer tables."""
from __future__ import annotations

import math

from engine.export.onnx_export import LayerContext, Value
from engine.numerics.activations import SELU_ALPHA, SELU_SCALE


def same(x: Value, name: str) -> Value:
    """A new tensor in ``x``'s layout and type."""
    return Value(name, x.perm, x.dtype)


def as_float(cx: LayerContext, x: Value) -> Value:
    """Integer inputs become float32, as the engine's preprocessing does."""
    if x.dtype == "float32":
        return x
    return Value(cx.op("Cast", [x.name], to=1), x.perm)


def activation(cx: LayerContext, x: Value, name: str | None) -> Value:
    """The Keras activation ``name`` applied to ``x`` (any layout; softmax over Keras's last axis)."""
    if name in (None, "linear"):
        return x
    n = x.name
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
              "softsign": "Softsign", "exponential": "Exp"}
    if name in simple:
        out = cx.op(simple[name], [n])
    elif name == "relu6":
        out = cx.op("Clip", [n, cx.b.const(f"{cx.base}/zero", 0.0), cx.b.const(f"{cx.base}/six", 6.0)])
    elif name == "softmax":
        out = cx.op("Softmax", [n], axis=x.axis(-1))
    elif name == "elu":
        out = cx.op("Elu", [n], alpha=1.0)
    elif name == "selu":
        out = cx.op("Selu", [n], alpha=SELU_ALPHA, gamma=SELU_SCALE)
    elif name == "leaky_relu":
        out = cx.op("LeakyRelu", [n], alpha=0.2)
    elif name == "hard_sigmoid":
        out = cx.op("HardSigmoid", [n], alpha=1.0 / 6.0, beta=0.5)
    elif name in ("swish", "silu"):
        out = cx.op("Mul", [n, cx.op("Sigmoid", [n])])
    elif name == "gelu":
        erf = cx.op("Erf", [cx.op("Div", [n, cx.b.const(f"{cx.base}/sqrt2", math.sqrt(2.0))])])
        half = cx.op("Mul", [cx.op("Add", [erf, cx.b.const(f"{cx.base}/one", 1.0)]),
                             cx.b.const(f"{cx.base}/half", 0.5)])
        out = cx.op("Mul", [n, half])
    else:
        raise ValueError(f"no ONNX form of the activation {name!r}")
    return same(x, out)


ACTIVATION_NAMES = frozenset({"linear", "relu", "sigmoid", "tanh", "softplus", "softsign", "exponential", "relu6",
                              "softmax", "elu", "selu", "leaky_relu", "hard_sigmoid", "swish", "silu", "gelu"})


def activation_refused(layer) -> str | None:
    name = layer.config.get("activation")
    if name not in (None, *ACTIVATION_NAMES):
        return f"the activation {name!r} has no ONNX operator"
    return None
