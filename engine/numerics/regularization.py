"""Regularization layers: Dropout (and SpatialDropout1D/2D/3D through its noise shape), GaussianNoise,
GaussianDropout, AlphaDropout, ActivityRegularization.

All are the identity at inference (``training=False``, the default, needs no ``rng``).  While training
they draw from ``rng``, or from a generator seeded with ``seed`` when none is given; the backward
reuses the mask or noise kept in the cache.
"""
import math

import numpy as np

from engine.numerics.activations import SELU_ALPHA, SELU_SCALE


def dropout_noise_shape(x_shape, noise_shape):
    """The concrete mask shape: ``noise_shape`` with None entries taken from the input."""
    if noise_shape is None:
        return tuple(x_shape)
    return tuple(d if n is None else n for n, d in zip(noise_shape, x_shape))


def dropout_forward(x, rate, noise_shape=None, seed=None, training=False, rng=None):
    """Keras's rule while training: keep where ``uniform < 1 - rate`` and scale kept values by
    ``1 / (1 - rate)``; a mask of ``noise_shape`` (None entries follow the input) is broadcast."""
    if not training or rate == 0:
        return x, None
    rng = rng if rng is not None else np.random.default_rng(seed)
    shape = dropout_noise_shape(x.shape, noise_shape)
    if rate >= 1.0:
        mask = np.zeros(shape, dtype=x.dtype)
    else:
        keep = 1.0 - rate
        mask = (rng.random(shape) < keep).astype(x.dtype) / np.asarray(keep, dtype=x.dtype)
    return x * mask, mask


def dropout_backward(g, mask, rate, noise_shape=None, seed=None):
    return (g if mask is None else g * mask,), ()


def gaussian_noise_forward(x, stddev, seed=None, training=False, rng=None):
    """Adds ``normal(0, stddev)`` noise while training."""
    if not training or stddev == 0:
        return x, None
    rng = rng if rng is not None else np.random.default_rng(seed)
    return x + rng.normal(0.0, stddev, size=x.shape).astype(x.dtype), None


def gaussian_noise_backward(g, cache, stddev, seed=None):
    return (g,), ()


def gaussian_dropout_forward(x, rate, seed=None, training=False, rng=None):
    """Multiplies by ``normal(1, sqrt(rate / (1 - rate)))`` noise while training."""
    if not training or rate == 0:
        return x, None
    rng = rng if rng is not None else np.random.default_rng(seed)
    noise = rng.normal(1.0, math.sqrt(rate / (1.0 - rate)), size=x.shape).astype(x.dtype)
    return x * noise, noise


def gaussian_dropout_backward(g, noise, rate, seed=None):
    return (g if noise is None else g * noise,), ()


def alpha_dropout_forward(x, rate, noise_shape=None, seed=None, training=False, rng=None):
    """Dropout for SELU networks: dropped values become SELU's negative saturation ``-alpha * scale``,
    then ``a * x + b`` restores the mean and variance (Keras's ``AlphaDropout``; keep where
    ``uniform >= rate``)."""
    if not training or rate == 0:
        return x, None
    rng = rng if rng is not None else np.random.default_rng(seed)
    alpha_p = -SELU_ALPHA * SELU_SCALE
    kept = (rng.random(dropout_noise_shape(x.shape, noise_shape)) >= rate).astype(x.dtype)
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    y = (a * (x * kept + alpha_p * (1 - kept)) + b).astype(x.dtype, copy=False)
    return y, (a * kept).astype(x.dtype, copy=False)


def alpha_dropout_backward(g, scale, rate, noise_shape=None, seed=None):
    return (g if scale is None else g * scale,), ()


def activity_regularization_forward(x, l1=0.0, l2=0.0):
    """The identity; its penalty ``(l1 * sum|x| + l2 * sum x**2) / batch`` joins the loss in training."""
    return x, x


def activity_regularization_backward(g, x, l1=0.0, l2=0.0):
    return (g + activity_penalty_grad(x, l1, l2),), ()


def activity_penalty(x, l1=0.0, l2=0.0):
    """Keras's activity-regularizer loss of an output ``x``: ``L1L2(x) / batch size``."""
    total = 0.0
    if l1:
        total += l1 * float(np.abs(x).sum())
    if l2:
        total += l2 * float(np.square(x).sum())
    return total / max(len(x), 1)


def activity_penalty_grad(x, l1=0.0, l2=0.0):
    grad = np.zeros_like(x)
    if l1:
        grad += (l1 / max(len(x), 1)) * np.sign(x)
    if l2:
        grad += (2.0 * l2 / max(len(x), 1)) * x
    return grad
