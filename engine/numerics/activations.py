"""Activation functions ``f(x)`` and their derivatives ``f_grad(x, y, g) = dL/dx`` where ``g = dL/dy``.

Keeping both ``x`` and ``y`` lets each derivative use whichever is cheaper (Keras 3 ``keras.activations``).
"""
import math

import numpy as np

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def linear(x):
    return x


def linear_grad(x, y, g):
    return g


def relu(x):
    return np.maximum(x, 0)


def relu_grad(x, y, g):
    return g * (x > 0)


def relu6(x):
    return np.clip(x, 0, 6)


def relu6_grad(x, y, g):
    return g * ((x > 0) & (x < 6))


def sigmoid(x):
    """Numerically stable logistic function."""
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)


def sigmoid_grad(x, y, g):
    return g * y * (1 - y)


def tanh(x):
    return np.tanh(x)


def tanh_grad(x, y, g):
    return g * (1 - y * y)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_grad(x, y, g, axis=-1):
    return y * (g - (g * y).sum(axis=axis, keepdims=True))


def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


def elu_grad(x, y, g, alpha=1.0):
    return g * np.where(x > 0, 1.0, y + alpha).astype(x.dtype, copy=False)


def selu(x):
    return SELU_SCALE * elu(x, SELU_ALPHA)


def selu_grad(x, y, g):
    return SELU_SCALE * elu_grad(x, y / SELU_SCALE, g, SELU_ALPHA)


def leaky_relu(x, negative_slope=0.2):
    return np.where(x > 0, x, negative_slope * x).astype(x.dtype, copy=False)


def leaky_relu_grad(x, y, g, negative_slope=0.2):
    return np.where(x > 0, g, negative_slope * g).astype(g.dtype, copy=False)


def erf(x):
    """The Gauss error function element-wise (NumPy has none), in float64."""
    return np.frompyfunc(math.erf, 1, 1)(x).astype(np.float64)


def gelu(x):
    """Exact GELU (Keras default ``approximate=False``)."""
    cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
    return (x * cdf).astype(x.dtype, copy=False)


def gelu_grad(x, y, g):
    cdf = 0.5 * (1.0 + erf(x / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * x.astype(np.float64) ** 2) / math.sqrt(2 * math.pi)
    return (g * (cdf + x * pdf)).astype(x.dtype, copy=False)


def swish(x):
    return x * sigmoid(x)


def swish_grad(x, y, g):
    s = sigmoid(x)
    return g * (s + x * s * (1 - s))


def silu(x):
    return x * sigmoid(x)


def silu_grad(x, y, g):
    return swish_grad(x, y, g)


def softplus(x):
    return np.logaddexp(x, 0).astype(x.dtype, copy=False)


def softplus_grad(x, y, g):
    return g * sigmoid(x)


def softsign(x):
    return x / (1 + np.abs(x))


def softsign_grad(x, y, g):
    return g / (1 + np.abs(x)) ** 2


def hard_sigmoid(x):
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0).astype(x.dtype, copy=False)


def hard_sigmoid_grad(x, y, g):
    return g * ((x > -3.0) & (x < 3.0)).astype(x.dtype) / 6.0


def exponential(x):
    return np.exp(x)


def exponential_grad(x, y, g):
    return g * y
