"""Zero padding, cropping and upsampling over any number of spatial axes (no weights).

``padding``/``cropping`` are ``((before, after), ...)`` per spatial axis and ``size`` one factor per axis.
Each backward is the adjoint re-arrangement: crop for padding, pad for cropping, a sum over the
repeated (or interpolated) positions for upsampling.
"""
import numpy as np

from engine.numerics.conv import channels_last_in, channels_last_out, conv_pad, conv_unpad


def zero_padding_forward(x, padding, data_format="channels_last"):
    """Keras ``ZeroPaddingND``: zeros around the spatial axes."""
    return channels_last_out(conv_pad(channels_last_in(x, data_format), padding), data_format), None


def zero_padding_backward(g, cache, padding, data_format="channels_last"):
    return (channels_last_out(conv_unpad(channels_last_in(g, data_format), padding), data_format),), ()


def cropping_forward(x, cropping, data_format="channels_last"):
    """Keras ``CroppingND``: drop ``(before, after)`` positions at the ends of every spatial axis."""
    return channels_last_out(conv_unpad(channels_last_in(x, data_format), cropping), data_format), None


def cropping_backward(g, cache, cropping, data_format="channels_last"):
    return (channels_last_out(conv_pad(channels_last_in(g, data_format), cropping), data_format),), ()


def linear_resize_matrix(n, factor, dtype):
    """``(n*factor, n)`` linear interpolation, half-pixel centres, edges clamped (``jax.image.resize``)."""
    pos = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    m = np.zeros((n * factor, n))
    rows = np.arange(n * factor)
    np.add.at(m, (rows, lo), 1 - frac)
    np.add.at(m, (rows, hi), frac)
    return m.astype(dtype)


def resize_axis(x, axis, matrix):
    """``matrix @ x`` along ``axis`` (the other axes are batched)."""
    shape = x.shape
    lead = int(np.prod(shape[:axis]))
    y = np.matmul(matrix, x.reshape(lead, shape[axis], -1))
    return y.reshape(*shape[:axis], matrix.shape[0], *shape[axis + 1:])


def up_sampling_forward(x, size, interpolation="nearest", data_format="channels_last"):
    """Keras ``UpSamplingND``: repeat (nearest) or linearly interpolate (bilinear) along every spatial axis."""
    x = channels_last_in(x, data_format)
    size = (int(size),) * (x.ndim - 2) if np.ndim(size) == 0 else tuple(size)
    if interpolation == "nearest":
        spread = x[(slice(None), *(v for _ in size for v in (slice(None), None)))]
        big = np.broadcast_to(spread, (x.shape[0], *(v for n, f in zip(x.shape[1:-1], size) for v in (n, f)),
                                       x.shape[-1]))
        y = big.reshape(x.shape[0], *(n * f for n, f in zip(x.shape[1:-1], size)), x.shape[-1])
        return channels_last_out(y, data_format), (x.shape, ())
    mats = tuple(linear_resize_matrix(n, f, x.dtype) for n, f in zip(x.shape[1:-1], size))
    y = x
    for axis, m in enumerate(mats, start=1):
        y = resize_axis(y, axis, m)
    return channels_last_out(y, data_format), (x.shape, mats)


def up_sampling_backward(g, cache, size, interpolation="nearest", data_format="channels_last"):
    shape, mats = cache
    g = channels_last_in(g, data_format)
    size = (int(size),) * (g.ndim - 2) if np.ndim(size) == 0 else tuple(size)
    if interpolation == "nearest":
        tiles = g.reshape(shape[0], *(v for n, f in zip(shape[1:-1], size) for v in (n, f)), shape[-1])
        dx = tiles.sum(axis=tuple(range(2, 2 * len(size) + 1, 2)))
    else:
        dx = g
        for axis, m in enumerate(mats, start=1):
            dx = resize_axis(dx, axis, m.T)
    return (channels_last_out(dx, data_format),), ()
