"""Reshaping layers without a spatial rank: Flatten, Reshape, Permute, RepeatVector, Identity."""
import numpy as np


def flatten_forward(x):
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(g, shape):
    return (g.reshape(shape),), ()


def reshape_forward(x, target_shape):
    """Each sample reshaped to ``target_shape`` (one -1 is inferred)."""
    return x.reshape(x.shape[0], *target_shape), x.shape


def reshape_backward(g, shape, target_shape):
    return (g.reshape(shape),), ()


def permute_forward(x, dims):
    """The non-batch axes reordered by ``dims`` (1-based, the batch axis stays first)."""
    return np.transpose(x, (0, *dims)), None


def permute_backward(g, cache, dims):
    return (np.transpose(g, np.argsort((0, *dims))),), ()


def repeat_vector_forward(x, n):
    """``(batch, features)`` -> ``(batch, n, features)``."""
    return np.repeat(x[:, None, :], n, axis=1), None


def repeat_vector_backward(g, cache, n):
    return (g.sum(axis=1),), ()


def identity_forward(x):
    return x, None


def identity_backward(g, cache):
    return (g,), ()
