"""Max and average pooling over any number of spatial axes, and global pooling.

The windowed kernels loop only over the offsets inside a pooling window (4 for a 2×2 pool); each step is
one vectorised operation over the whole batch on a strided view of the (padded) input.  The common
non-overlapping case (strides == pool_size, no padding) views the input as tiles and reduces them
pairwise instead.

Max pooling routes the gradient to one element per window: the first maximum in row-major window
order, the element the forward found (ties never split the gradient).  Average pooling with
``padding='same'`` divides by the number of real (non-padded) elements of each window, as Keras does.
"""
import numpy as np

from engine.numerics.conv import (channels_last_in, channels_last_out, conv_layout, conv_offset_index, conv_pad,
                                  conv_tuple, conv_unpad)


def pool_layout(shape, pool_size, strides, padding):
    """``(pool, strides, pads, out, tiled)`` of a pooling of a channels-last array of ``shape``."""
    rank = len(shape) - 2
    pool = conv_tuple(pool_size, rank)
    s = pool if strides is None else conv_tuple(strides, rank)
    pads, out = conv_layout(shape[1:-1], pool, s, (1,) * rank, padding)
    tiled = pool == s and not any(b or a for b, a in pads)
    return pool, s, pads, out, tiled


def pool_tiles(x, pool, out):
    """View ``x`` as ``(batch, out_1, pool_1, out_2, pool_2, ..., channels)`` tiles (non-overlapping case)."""
    inner = x[(slice(None), *(slice(0, o * p) for o, p in zip(out, pool)))]
    return inner.reshape(x.shape[0], *(v for o, p in zip(out, pool) for v in (o, p)), x.shape[-1])


def pool_tile_index(offsets):
    """Index of window offset ``offsets`` in every tile of ``pool_tiles``."""
    return (slice(None), *(v for o in offsets for v in (slice(None), o)))


def pool_reduce_tiles(t, op):
    """Combine tiles with ``op`` pairwise, one pooled axis after the other (a fresh array).

    Pairwise ufunc calls on contiguous slabs are ~4x faster than ``t.max(axis=(2, 4))``.
    """
    rank = (t.ndim - 2) // 2
    fresh = False
    for i in range(rank):
        head = (slice(None),) * (2 + i)
        p = t.shape[2 + i]
        if p == 1:
            t = t[head + (0,)]
            continue
        acc = op(t[head + (0,)], t[head + (1,)])
        for j in range(2, p):
            op(acc, t[head + (j,)], out=acc)
        t, fresh = acc, True
    return t if fresh else t.copy()


def pool_windows_reduce(xp, pool, strides, out, op):
    """``op`` over each window of the padded ``xp``, one vectorised step per window offset."""
    ones = (1,) * len(pool)
    acc = None
    for offsets in np.ndindex(*pool):
        w = xp[conv_offset_index(offsets, strides, ones, out)]
        if acc is None:
            acc = w.copy()
        else:
            op(acc, w, out=acc)
    return acc


# ----- max pooling -------------------------------------------------------------------------------------------
def max_pool_forward(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Keras ``MaxPoolingND``: the largest value of each window; 'same' pads with -inf."""
    x = channels_last_in(x, data_format)
    pool, s, pads, out, tiled = pool_layout(x.shape, pool_size, strides, padding)
    if tiled:
        y = pool_reduce_tiles(pool_tiles(x, pool, out), np.maximum)
    else:
        y = pool_windows_reduce(conv_pad(x, pads, -np.inf), pool, s, out, np.maximum)
    return channels_last_out(y, data_format), (x, y)


def max_pool_backward(g, cache, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Each output gradient goes to the first maximum of its window (row-major), as the forward chose."""
    x, y = cache
    g = channels_last_in(g, data_format)
    pool, s, pads, out, tiled = pool_layout(x.shape, pool_size, strides, padding)
    taken = np.zeros(y.shape, dtype=bool)
    hit = np.empty(y.shape, dtype=bool)
    if tiled:
        dx = np.zeros_like(x, dtype=g.dtype)
        t, dt = pool_tiles(x, pool, out), pool_tiles(dx, pool, out)  # dt is a view into dx
        for offsets in np.ndindex(*pool):
            idx = pool_tile_index(offsets)
            np.equal(t[idx], y, out=hit)
            np.greater(hit, taken, out=hit)  # hit and not yet taken
            taken |= hit
            np.multiply(g, hit, out=dt[idx])
        return (channels_last_out(dx, data_format),), ()
    xp = conv_pad(x, pads, -np.inf)
    dxp = np.zeros(xp.shape, dtype=g.dtype)
    share = np.empty_like(g)
    ones = (1,) * len(pool)
    for offsets in np.ndindex(*pool):
        idx = conv_offset_index(offsets, s, ones, out)
        np.equal(xp[idx], y, out=hit)
        np.greater(hit, taken, out=hit)
        taken |= hit
        np.multiply(g, hit, out=share)
        dxp[idx] += share
    return (channels_last_out(conv_unpad(dxp, pads), data_format),), ()


# ----- average pooling ---------------------------------------------------------------------------------------
def pool_window_counts(spatial, pool, strides, pads, out, dtype):
    """Real (non-padded) elements per window, ``(*out, 1)``; a number when nothing is padded."""
    if not any(b or a for b, a in pads):
        return float(np.prod(pool))
    counts = np.ones((1,) * len(out), dtype=dtype)
    for i, (n, k, s, (before, _), o) in enumerate(zip(spatial, pool, strides, pads, out)):
        start = np.arange(o) * s - before
        axis = np.minimum(start + k, n) - np.maximum(start, 0)
        counts = counts * axis.reshape((1,) * i + (o,) + (1,) * (len(out) - 1 - i)).astype(dtype)
    return counts[..., None]


def average_pool_forward(x, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Keras ``AveragePoolingND``: the mean of the real elements of each window."""
    x = channels_last_in(x, data_format)
    pool, s, pads, out, tiled = pool_layout(x.shape, pool_size, strides, padding)
    if tiled:
        y = pool_reduce_tiles(pool_tiles(x, pool, out), np.add)
    else:
        y = pool_windows_reduce(conv_pad(x, pads), pool, s, out, np.add)
    y /= pool_window_counts(x.shape[1:-1], pool, s, pads, out, x.dtype)
    return channels_last_out(y, data_format), x.shape


def average_pool_backward(g, cache, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Each output gradient is spread evenly over the real elements of its window."""
    shape = cache
    g = channels_last_in(g, data_format)
    pool, s, pads, out, tiled = pool_layout(shape, pool_size, strides, padding)
    gs = g / pool_window_counts(shape[1:-1], pool, s, pads, out, g.dtype)
    if tiled:
        dx = np.zeros(shape, dtype=g.dtype)
        pool_tiles(dx, pool, out)[...] = gs[(slice(None), *(v for _ in out for v in (slice(None), None)))]
        return (channels_last_out(dx, data_format),), ()
    dxp = np.zeros((shape[0], *(n + b + a for n, (b, a) in zip(shape[1:-1], pads)), shape[-1]), dtype=g.dtype)
    ones = (1,) * len(pool)
    for offsets in np.ndindex(*pool):
        dxp[conv_offset_index(offsets, s, ones, out)] += gs
    return (channels_last_out(conv_unpad(dxp, pads), data_format),), ()


# ----- global pooling ----------------------------------------------------------------------------------------
def global_pool_axes(ndim, data_format):
    """The spatial axes of an array of ``ndim`` dimensions."""
    return tuple(range(2, ndim)) if data_format == "channels_first" else tuple(range(1, ndim - 1))


def global_max_pool_forward(x, keepdims=False, data_format="channels_last"):
    """Keras ``GlobalMaxPoolingND``: the largest value of each channel over all spatial axes."""
    return x.max(axis=global_pool_axes(x.ndim, data_format), keepdims=keepdims), x


def global_max_pool_backward(g, cache, keepdims=False, data_format="channels_last"):
    """The gradient of each channel goes to its first maximum."""
    x = channels_last_in(cache, data_format)
    b, c = x.shape[0], x.shape[-1]
    flat = x.reshape(b, -1, c)
    dx = np.zeros(flat.shape, dtype=g.dtype)
    np.put_along_axis(dx, flat.argmax(axis=1)[:, None, :], g.reshape(b, 1, c), axis=1)
    return (channels_last_out(dx.reshape(x.shape), data_format),), ()


def global_average_pool_forward(x, keepdims=False, data_format="channels_last", mask=None):
    """Keras ``GlobalAveragePoolingND``: the mean of each channel over all spatial axes.  With a sequence
    ``mask (batch, steps)`` (GlobalAveragePooling1D) the mean is over the unmasked steps only."""
    axes = global_pool_axes(x.ndim, data_format)
    if mask is None:
        return x.mean(axis=axes, keepdims=keepdims), x.shape
    weights = np.expand_dims(mask, 1 if data_format == "channels_first" else 2).astype(x.dtype)
    weights = weights / weights.sum(axis=axes, keepdims=True)
    return (x * weights).sum(axis=axes, keepdims=keepdims), (x.shape, weights)


def global_average_pool_backward(g, cache, keepdims=False, data_format="channels_last"):
    shape, weights = cache if isinstance(cache[0], tuple) else (cache, None)
    axes = global_pool_axes(len(shape), data_format)
    if not keepdims:
        g = np.expand_dims(g, axes)
    if weights is not None:
        return (np.ascontiguousarray(np.broadcast_to(g, shape) * weights),), ()
    n = int(np.prod([shape[a] for a in axes]))
    return (np.ascontiguousarray(np.broadcast_to(g / n, shape)),), ()


# ----- adaptive pooling --------------------------------------------------------------------------------------
def adaptive_windows(n, out):
    """``[(start, end)]`` of each output along an axis of ``n``: ``floor(i*n/out)`` to ``ceil((i+1)*n/out)``."""
    return [((i * n) // out, -((-(i + 1) * n) // out)) for i in range(out)]


def adaptive_pool_forward(x, output_size, mode, data_format):
    """Max or mean over adaptive windows, one spatial axis after the other (both reductions separate)."""
    x = channels_last_in(x, data_format)
    sizes = conv_tuple(output_size, x.ndim - 2)
    stages = []
    y = x
    for axis, out in enumerate(sizes, start=1):
        windows = adaptive_windows(y.shape[axis], out)
        segs = [np.take(y, np.arange(s, e), axis=axis) for s, e in windows]
        if mode == "max":
            args = [seg.argmax(axis=axis) for seg in segs]
            stages.append((y.shape, windows, [np.expand_dims(a, axis) + s for a, (s, _) in zip(args, windows)]))
            y = np.stack([seg.max(axis=axis) for seg in segs], axis=axis)
        else:
            stages.append((y.shape, windows, None))
            y = np.stack([seg.mean(axis=axis) for seg in segs], axis=axis)
    return channels_last_out(y, data_format), stages


def adaptive_pool_backward(g, stages, data_format):
    """Max: each stage's gradient goes to its window's maximum; mean: spread evenly over the window."""
    g = channels_last_in(g, data_format)
    for axis in range(len(stages), 0, -1):
        shape, windows, args = stages[axis - 1]
        dx = np.zeros(shape, dtype=g.dtype)
        for i, (s, e) in enumerate(windows):
            gi = np.take(g, [i], axis=axis)
            seg = (slice(None),) * axis + (slice(s, e),)
            if args is None:
                dx[seg] += gi / (e - s)
            else:
                positions = np.arange(s, e).reshape((-1,) + (1,) * (len(shape) - axis - 1))
                dx[seg] += (positions == args[i]) * gi
        g = dx
    return (channels_last_out(g, data_format),), ()


def adaptive_average_pool_forward(x, output_size, data_format="channels_last"):
    """Keras ``AdaptiveAveragePoolingND``: the mean over ``output_size`` windows covering each axis."""
    return adaptive_pool_forward(x, output_size, "average", data_format)


def adaptive_average_pool_backward(g, cache, output_size, data_format="channels_last"):
    return adaptive_pool_backward(g, cache, data_format)


def adaptive_max_pool_forward(x, output_size, data_format="channels_last"):
    """Keras ``AdaptiveMaxPoolingND``: the largest value of ``output_size`` windows covering each axis."""
    return adaptive_pool_forward(x, output_size, "max", data_format)


def adaptive_max_pool_backward(g, cache, output_size, data_format="channels_last"):
    return adaptive_pool_backward(g, cache, data_format)
