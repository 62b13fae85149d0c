"""Core layers: Dense, Activation, Embedding, LayerScale."""
import numpy as np


def dense_forward(x, kernel, bias=None, activation=None):
    """``activation(x @ kernel + bias)`` on the last axis of ``(batch, ..., input_dim)``."""
    z = x @ kernel
    if bias is not None:
        z += bias
    y = z if activation is None else activation(z)
    return y, (x, z, y)


def dense_backward(g, cache, kernel, bias=None, activation=None):
    x, z, y = cache
    if activation is not None:
        g = activation(z, y, g)
    x2 = x.reshape(-1, x.shape[-1])
    g2 = g.reshape(-1, g.shape[-1])
    return (g @ kernel.T,), (x2.T @ g2, None if bias is None else g2.sum(axis=0))


def activation_forward(x, activation):
    y = activation(x)
    return y, (x, y)


def activation_backward(g, cache, activation):
    x, y = cache
    return (activation(x, y, g),), ()


def embedding_forward(ids, embeddings):
    """Rows of ``embeddings`` for integer ``ids`` of any shape; ids outside the table are an error."""
    ids = np.asarray(ids).astype(np.int64)
    n = embeddings.shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= n):
        bad = int(ids.max() if ids.max() >= n else ids.min())
        raise ValueError(f"token id {bad} is outside [0, {n}); raise input_dim or fix the data.")
    return embeddings[ids], ids


def embedding_backward(g, ids, embeddings):
    grad = np.zeros_like(embeddings)
    np.add.at(grad, ids.reshape(-1), g.reshape(-1, g.shape[-1]))
    return (None,), (grad,)


def embedding_zero_mask(ids):
    """Embedding's mask with mask_zero: true where the token id is not 0 (padding), ``ids``' shape."""
    return np.asarray(ids) != 0


def masking_mask(x, mask_value=0.0):
    """Masking's mask ``(batch, steps)``: true where a step has any feature different from ``mask_value``."""
    return np.any(x != mask_value, axis=-1)


def masking_forward(x, mask_value=0.0):
    """Keras's Masking: steps whose features all equal ``mask_value`` become zeros (and are masked)."""
    keep = masking_mask(x, mask_value)[..., None]
    return np.where(keep, x, np.zeros((), dtype=x.dtype)), keep


def masking_backward(g, keep, mask_value=0.0):
    return (g * keep,), ()


def layer_scale_forward(x, gamma):
    """``x * gamma``: one learned scale per channel of the last axis (ConvNeXt's LayerScale)."""
    return x * gamma, x


def layer_scale_backward(g, x, gamma):
    return (g * gamma,), ((g * x).reshape(-1, x.shape[-1]).sum(axis=0),)
