"""Activation layers with arguments: ReLU, LeakyReLU, ELU, Softmax, PReLU."""
import numpy as np

from engine.numerics.activations import elu, elu_grad


def relu_layer_forward(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """``min(x, max_value)`` above ``threshold``, else ``negative_slope * (x - threshold)``."""
    y = np.where(x > threshold, x, 0).astype(x.dtype, copy=False)
    if max_value is not None:
        y = np.clip(y, 0, max_value).astype(x.dtype, copy=False)
    if negative_slope:
        y = y + (negative_slope * np.minimum(x - threshold, 0)).astype(x.dtype, copy=False)
    return y, x


def relu_layer_backward(g, x, max_value=None, negative_slope=0.0, threshold=0.0):
    d = x > threshold
    if max_value is not None:
        d &= x < max_value
    return (g * (d.astype(x.dtype) + negative_slope * (x < threshold)),), ()


def leaky_relu_layer_forward(x, negative_slope=0.3):
    return np.where(x >= 0, x, negative_slope * x).astype(x.dtype, copy=False), x


def leaky_relu_layer_backward(g, x, negative_slope=0.3):
    return (np.where(x >= 0, g, negative_slope * g),), ()


def elu_layer_forward(x, alpha=1.0):
    y = elu(x, alpha)
    return y, (x, y)


def elu_layer_backward(g, cache, alpha=1.0):
    x, y = cache
    return (elu_grad(x, y, g, alpha),), ()


def softmax_layer_forward(x, axis=(-1,)):
    """Softmax over one or several axes (the sum runs over all of them)."""
    ax = tuple(a % x.ndim for a in axis)
    e = np.exp(x - x.max(axis=ax, keepdims=True))
    y = e / e.sum(axis=ax, keepdims=True)
    return y, (y, ax)


def softmax_layer_backward(g, cache, axis=(-1,)):
    y, ax = cache
    return (y * (g - (g * y).sum(axis=ax, keepdims=True)),), ()


def prelu_forward(x, alpha):
    return np.where(x >= 0, x, alpha.astype(x.dtype, copy=False) * x), x


def prelu_backward(g, x, alpha):
    neg = x < 0
    gx = np.where(neg, alpha * g, g)
    ga = (g * np.where(neg, x, 0)).sum(axis=0)
    axes = tuple(i for i, n in enumerate(alpha.shape) if n == 1 and ga.shape[i] != 1)
    if axes:
        ga = ga.sum(axis=axes, keepdims=True)
    return (gx,), (ga,)
