"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization,
RMSNormalization."""
import numpy as np


def normalization_vector(v, ndim, axes, sizes, dtype):
    """A weight of the normalized axes, reshaped to broadcast against an input of rank ``ndim``."""
    shape = [1] * ndim
    for a, n in zip(axes, sizes):
        shape[a] = n
    return np.asarray(v, dtype=dtype).reshape(shape)


def batch_normalization_forward(x, gamma, beta, moving_mean, moving_variance, axis=-1, epsilon=1e-3,
                                training=False, rng=None):
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta`` per channel of ``axis``.

    Training uses the batch's mean and biased variance (and keeps them for the moving averages);
    inference uses ``moving_mean`` and ``moving_variance``.  ``gamma``/``beta`` may be None.
    """
    ax = axis % x.ndim
    red = tuple(i for i in range(x.ndim) if i != ax)
    c = x.shape[ax]
    if training:
        mean = x.mean(axis=red, keepdims=True)
        var = x.var(axis=red, keepdims=True)
    else:
        mean = normalization_vector(moving_mean, x.ndim, (ax,), (c,), x.dtype)
        var = normalization_vector(moving_variance, x.ndim, (ax,), (c,), x.dtype)
    inv = 1.0 / np.sqrt(var + np.asarray(epsilon, dtype=x.dtype))
    xhat = (x - mean) * inv
    y = xhat
    if gamma is not None:
        y = y * normalization_vector(gamma, x.ndim, (ax,), (c,), x.dtype)
    if beta is not None:
        y = y + normalization_vector(beta, x.ndim, (ax,), (c,), x.dtype)
    batch = (mean.reshape(-1), var.reshape(-1), moving_mean, moving_variance) if training else None
    return y, (xhat, inv, red, batch)


def batch_normalization_backward(g, cache, gamma, beta, moving_mean, moving_variance, axis=-1, epsilon=1e-3):
    xhat, inv, red, batch = cache
    ggamma = None if gamma is None else (g * xhat).sum(axis=red)
    gbeta = None if beta is None else g.sum(axis=red)
    if gamma is not None:
        g = g * normalization_vector(gamma, g.ndim, (axis % g.ndim,), (g.shape[axis],), g.dtype)
    if batch is not None:
        # the batch mean and variance depend on x: the classic three-term gradient
        gx = inv * (g - g.mean(axis=red, keepdims=True) - xhat * (g * xhat).mean(axis=red, keepdims=True))
    else:
        gx = g * inv
    return (gx,), (ggamma, gbeta, None, None)


def batch_normalization_moving_stats(cache, momentum=0.99):
    """New ``(moving_mean, moving_variance)`` after a training forward, or None after inference:
    ``moving * momentum + batch * (1 - momentum)``."""
    batch = cache[-1]
    if batch is None:
        return None
    mean, var, moving_mean, moving_variance = batch
    return (moving_mean * momentum + mean * (1.0 - momentum),
            moving_variance * momentum + var * (1.0 - momentum))


def layer_normalization_forward(x, gamma=None, beta=None, axis=(-1,), epsilon=1e-3, rms_scaling=False):
    """Each sample normalized over ``axis``: ``(x - mean) / sqrt(var + epsilon) * gamma + beta``.

    ``rms_scaling`` (deprecated in Keras) skips the centering: ``x / sqrt(var + epsilon) * gamma``.
    ``gamma``/``beta`` have the normalized axes' sizes in Keras's order (sorted raw axes); they are
    reshaped, not transposed, onto the positive axis order, exactly like Keras.
    """
    axes = tuple(sorted(a % x.ndim for a in axis))
    sizes = [x.shape[a] for a in axes]
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + np.asarray(epsilon, dtype=x.dtype))
    xhat = x * inv if rms_scaling else (x - mean) * inv
    y = xhat
    if gamma is not None:
        y = y * normalization_vector(gamma, x.ndim, axes, sizes, x.dtype)
    if beta is not None:
        y = y + normalization_vector(beta, x.ndim, axes, sizes, x.dtype)
    return y, (x, mean, xhat, inv, axes)


def layer_normalization_backward(g, cache, gamma=None, beta=None, axis=(-1,), epsilon=1e-3, rms_scaling=False):
    x, mean, xhat, inv, axes = cache
    others = tuple(i for i in range(x.ndim) if i not in axes)
    ggamma = None if gamma is None else (g * xhat).sum(axis=others).reshape(gamma.shape)
    gbeta = None if beta is None else g.sum(axis=others).reshape(beta.shape)
    if gamma is not None:
        g = g * normalization_vector(gamma, x.ndim, axes, [x.shape[a] for a in axes], x.dtype)
    if rms_scaling:
        # y = x * (var + eps)^-1/2 and d var / dx = 2 (x - mean) / n
        gx = inv * g - inv ** 3 * (x - mean) * (g * x).mean(axis=axes, keepdims=True)
    else:
        gx = inv * (g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    return (gx,), (ggamma, gbeta)


def group_normalization_forward(x, gamma=None, beta=None, groups=32, axis=-1, epsilon=1e-3):
    """Channels of ``axis`` split into ``groups``; each sample's group normalized over its channels and
    every other non-batch axis, then scaled by ``gamma`` and shifted by ``beta`` per channel
    (``groups=-1``: one group per channel)."""
    ax = axis % x.ndim
    c = x.shape[ax]
    groups = c if groups == -1 else groups
    grouped = x.reshape(x.shape[:ax] + (groups, c // groups) + x.shape[ax + 1:])
    red = tuple(i for i in range(1, grouped.ndim) if i != ax)
    mean = grouped.mean(axis=red, keepdims=True)
    var = grouped.var(axis=red, keepdims=True)
    inv = 1.0 / np.sqrt(var + np.asarray(epsilon, dtype=x.dtype))
    xhat = ((grouped - mean) * inv).reshape(x.shape)
    y = xhat
    if gamma is not None:
        y = y * normalization_vector(gamma, x.ndim, (ax,), (c,), x.dtype)
    if beta is not None:
        y = y + normalization_vector(beta, x.ndim, (ax,), (c,), x.dtype)
    return y, (xhat, inv, ax, groups, red)


def group_normalization_backward(g, cache, gamma=None, beta=None, groups=32, axis=-1, epsilon=1e-3):
    xhat, inv, ax, groups, red = cache  # groups as resolved by the forward
    others = tuple(i for i in range(g.ndim) if i != ax)
    c = g.shape[ax]
    ggamma = None if gamma is None else (g * xhat).sum(axis=others)
    gbeta = None if beta is None else g.sum(axis=others)
    if gamma is not None:
        g = g * normalization_vector(gamma, g.ndim, (ax,), (c,), g.dtype)
    split = g.shape[:ax] + (groups, c // groups) + g.shape[ax + 1:]
    gg, xh = g.reshape(split), xhat.reshape(split)
    gx = inv * (gg - gg.mean(axis=red, keepdims=True) - xh * (gg * xh).mean(axis=red, keepdims=True))
    return (gx.reshape(g.shape),), (ggamma, gbeta)


def unit_normalization_forward(x, axis=(-1,)):
    """``x * min(1 / ||x||, 1e12)`` over ``axis`` (Keras's ``normalize(order=2, epsilon=1e-12)``)."""
    axes = tuple(a % x.ndim for a in axis)
    sq = (x * x).sum(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(np.maximum(sq, np.asarray(1e-24, dtype=x.dtype)))
    y = x * inv
    return y, (y, inv, sq >= 1e-24, axes)


def unit_normalization_backward(g, cache, axis=(-1,)):
    y, inv, scaled, axes = cache
    # where the norm is clamped, inv is a constant and the gradient is g * inv
    gx = inv * (g - scaled * y * (g * y).sum(axis=axes, keepdims=True))
    return (gx,), ()


def rms_normalization_forward(x, scale, axis=(-1,), epsilon=1e-6):
    """``x / sqrt(mean(x**2) + epsilon) * scale`` over ``axis`` (Keras ``ops.rms_normalization``)."""
    axes = tuple(sorted(a % x.ndim for a in axis))
    inv = 1.0 / np.sqrt((x * x).mean(axis=axes, keepdims=True) + np.asarray(epsilon, dtype=x.dtype))
    xhat = x * inv
    s = normalization_vector(scale, x.ndim, axes, [x.shape[a] for a in axes], x.dtype)
    return xhat * s, (xhat, inv, s, axes)


def rms_normalization_backward(g, cache, scale, axis=(-1,), epsilon=1e-6):
    xhat, inv, s, axes = cache
    others = tuple(i for i in range(g.ndim) if i not in axes)
    gscale = (g * xhat).sum(axis=others).reshape(scale.shape)
    gs = g * s
    gx = inv * (gs - xhat * (gs * xhat).mean(axis=axes, keepdims=True))
    return (gx,), (gscale,)
