"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

Element-wise merges follow Keras's broadcast rule: a lower-rank input gets size-1 axes inserted right
after the batch axis, then NumPy broadcasting applies; backward sums each gradient back to its input's shape.
"""
import numpy as np


def merge_expand(xs):
    """The inputs with size-1 axes inserted after the batch axis up to the largest rank (Keras ``expand_dims``)."""
    ndim = max(x.ndim for x in xs)
    return [x.reshape(x.shape[:1] + (1,) * (ndim - x.ndim) + x.shape[1:]) for x in xs]


def merge_unbroadcast(g, shape):
    """Sum ``g`` over the axes an input of ``shape`` was broadcast along, and give it that shape back."""
    expanded = shape[:1] + (1,) * (g.ndim - len(shape)) + shape[1:]
    axes = tuple(i for i, (n, m) in enumerate(zip(expanded, g.shape)) if n == 1 and m != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def add_forward(*xs):
    ys = merge_expand(xs)
    y = ys[0]
    for x in ys[1:]:
        y = y + x
    return y, [x.shape for x in xs]


def add_backward(g, shapes):
    return tuple(merge_unbroadcast(g, s) for s in shapes), ()


def subtract_forward(a, b):
    ea, eb = merge_expand([a, b])
    return ea - eb, [a.shape, b.shape]


def subtract_backward(g, shapes):
    return (merge_unbroadcast(g, shapes[0]), merge_unbroadcast(-g, shapes[1])), ()


def scaled_sum_forward(a, b, scale=1.0):
    """``a + scale * b`` (InceptionResNetV2's CustomScaleLayer), with Keras broadcasting."""
    ea, eb = merge_expand([a, b])
    return ea + scale * eb, [a.shape, b.shape]


def scaled_sum_backward(g, shapes, scale=1.0):
    return (merge_unbroadcast(g, shapes[0]), merge_unbroadcast(g * scale, shapes[1])), ()


def multiply_forward(*xs):
    ys = merge_expand(xs)
    y = ys[0]
    for x in ys[1:]:
        y = y * x
    return y, (ys, [x.shape for x in xs])


def multiply_backward(g, cache):
    ys, shapes = cache
    out = []
    for i, s in enumerate(shapes):
        p = g
        for j, x in enumerate(ys):
            if j != i:
                p = p * x
        out.append(merge_unbroadcast(np.broadcast_to(p, g.shape), s))
    return tuple(out), ()


def average_forward(*xs):
    y, shapes = add_forward(*xs)
    return y / len(xs), shapes


def average_backward(g, shapes):
    return add_backward(g / len(shapes), shapes)


def extremum_forward(xs, largest):
    ys = merge_expand(xs)
    op = np.maximum if largest else np.minimum
    y = ys[0]
    for x in ys[1:]:
        y = op(y, x)
    return y, (ys, y, [x.shape for x in xs])


def extremum_backward(g, cache):
    """The gradient goes to the first input that holds the extreme value."""
    ys, y, shapes = cache
    taken = np.zeros(y.shape, dtype=bool)
    out = []
    for x, s in zip(ys, shapes):
        win = (np.broadcast_to(x, y.shape) == y) & ~taken
        taken |= win
        out.append(merge_unbroadcast(g * win, s))
    return tuple(out), ()


def maximum_forward(*xs):
    return extremum_forward(xs, True)


def maximum_backward(g, cache):
    return extremum_backward(g, cache)


def minimum_forward(*xs):
    return extremum_forward(xs, False)


def minimum_backward(g, cache):
    return extremum_backward(g, cache)


def concatenate_forward(*xs, axis=-1):
    ax = axis % xs[0].ndim
    return np.concatenate(xs, axis=ax), (ax, [x.shape[ax] for x in xs])


def concatenate_backward(g, cache, axis=-1):
    ax, sizes = cache
    return tuple(np.split(g, np.cumsum(sizes)[:-1], axis=ax)), ()


def dot_forward(a, b, axes=(-1, -1), normalize=False):
    """Sum of ``a * b`` over ``axes[0]`` of ``a`` and ``axes[1]`` of ``b`` per sample (Keras ``batch_dot``);
    with ``normalize`` each input is first L2-normalized along its axis (cosine proximity).

    The output holds ``a``'s remaining axes then ``b``'s (batch first); a result with only the batch
    axis gets a trailing axis of 1, as in Keras.
    """
    ax_a, ax_b = axes[0] % a.ndim, axes[1] % b.ndim
    na = nb = None
    if normalize:
        # Keras: x * min(1 / ||x||, 1 / 1e-7)
        na = 1.0 / np.sqrt(np.maximum((a * a).sum(axis=ax_a, keepdims=True), np.asarray(1e-14, dtype=a.dtype)))
        nb = 1.0 / np.sqrt(np.maximum((b * b).sum(axis=ax_b, keepdims=True), np.asarray(1e-14, dtype=b.dtype)))
        a, b = a * na, b * nb
    am, bm = np.moveaxis(a, ax_a, -1), np.moveaxis(b, ax_b, -1)
    ra, rb = am.shape[1:-1], bm.shape[1:-1]
    a2 = am.reshape(len(a), -1, am.shape[-1])
    b2 = bm.reshape(len(b), -1, bm.shape[-1])
    y = np.matmul(a2, b2.transpose(0, 2, 1)).reshape((len(a), *ra, *rb))
    if y.ndim == 1:
        y = y[:, None]
    return y, (a2, b2, am.shape, bm.shape, ax_a, ax_b, a, b, na, nb)


def dot_backward(g, cache, axes=(-1, -1), normalize=False):
    a2, b2, ashape, bshape, ax_a, ax_b, an, bn, na, nb = cache
    g2 = g.reshape(len(a2), a2.shape[1], b2.shape[1])
    ga = np.moveaxis(np.matmul(g2, b2).reshape(ashape), -1, ax_a)
    gb = np.moveaxis(np.matmul(g2.transpose(0, 2, 1), a2).reshape(bshape), -1, ax_b)
    if normalize:
        # through u = x / ||x||: du/dx g = (g - u * sum(g * u)) / ||x||
        ga = na * (ga - an * (ga * an).sum(axis=ax_a, keepdims=True))
        gb = nb * (gb - bn * (gb * bn).sum(axis=ax_b, keepdims=True))
    return (ga, gb), ()


def merge_mask(xs, masks):
    """Keras's merge mask: the OR of the inputs' masks, None when an input has none (``base_merge.py``)."""
    if any(m is None for m in masks):
        return None
    out = masks[0]
    for m in masks[1:]:
        out = np.logical_or(out, m)
    return out


def concatenate_mask(xs, masks, axis=-1):
    """Keras's Concatenate mask: each input's mask broadcast over its features (all true when it has none),
    joined along ``axis``, then true where any feature is."""
    full = [np.ones(x.shape, dtype=bool) if m is None else np.broadcast_to(m[..., None], x.shape)
            for x, m in zip(xs, masks)]
    return np.concatenate(full, axis=axis).any(axis=-1)
