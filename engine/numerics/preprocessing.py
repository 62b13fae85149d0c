"""Preprocessing inside a model: Rescaling, Normalization, CenterCrop, Resizing, Discretization, CategoryEncoding."""
import numpy as np


def as_float(x):
    """Float inputs keep their precision; integer pixels become float32 (Keras's compute dtype)."""
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def rescaling_forward(x, scale=1.0, offset=0.0):
    """``x * scale + offset``; a list ``scale``/``offset`` applies per channel (last axis)."""
    x = as_float(x)
    s = np.asarray(scale, dtype=x.dtype)
    return x * s + np.asarray(offset, dtype=x.dtype), s


def rescaling_backward(g, s, scale=1.0, offset=0.0):
    return (g * s,), ()


def normalization_stats_shape(ndim, axis, size):
    """Broadcast shape of the statistics: the kept axes keep their size, the others become 1."""
    keep = sorted(a % ndim for a in axis)
    return [size[d] if d in keep else 1 for d in range(ndim)]


def normalization_forward(x, mean=None, variance=None, count=None, axis=(-1,), invert=False):
    """``(x - mean) / max(sqrt(variance), 1e-7)``, or its inverse; statistics broadcast over the other axes."""
    shape = normalization_stats_shape(x.ndim, axis, x.shape)
    x = as_float(x)
    m = np.asarray(mean, dtype=x.dtype)
    v = np.asarray(variance, dtype=x.dtype)
    if m.size > 1:  # one value per kept position; a single value broadcasts as it is
        m, v = m.reshape(shape), v.reshape(shape)
    std = np.maximum(np.sqrt(v), x.dtype.type(1e-7))
    return (m + x * std if invert else (x - m) / std), std


def normalization_backward(g, std, mean=None, variance=None, count=None, axis=(-1,), invert=False):
    return (g * std if invert else g / std,), (None, None, None)


def center_crop_forward(x, height, width):
    """The central ``height`` x ``width`` window of ``(batch, h, w, c)`` images."""
    top, left = (x.shape[1] - height) // 2, (x.shape[2] - width) // 2
    return x[:, top:top + height, left:left + width], (x.shape, top, left)


def center_crop_backward(g, cache, height, width):
    shape, top, left = cache
    dx = np.zeros(shape, dtype=g.dtype)
    dx[:, top:top + height, left:left + width] = g
    return (dx,), ()


def resize_weights(n_in, n_out, interpolation):
    """``(n_out, n_in)`` interpolation matrix with half-pixel centres, edges clamped (``jax.image.resize``)."""
    centres = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    w = np.zeros((n_out, n_in), dtype=np.float32)
    rows = np.arange(n_out)
    if interpolation == "nearest":
        w[rows, np.clip(np.floor(centres + 0.5).astype(np.int64), 0, n_in - 1)] = 1.0
        return w
    lo = np.floor(centres)
    frac = (centres - lo).astype(np.float32)
    lo = lo.astype(np.int64)
    np.add.at(w, (rows, np.clip(lo, 0, n_in - 1)), 1.0 - frac)
    np.add.at(w, (rows, np.clip(lo + 1, 0, n_in - 1)), frac)
    return w


def resizing_forward(x, height, width, interpolation="bilinear"):
    """Resize ``(batch, h, w, c)`` images to ``height`` x ``width`` (nearest or bilinear, no antialiasing)."""
    wh = resize_weights(x.shape[1], height, interpolation)
    ww = resize_weights(x.shape[2], width, interpolation)
    x = as_float(x)
    wh, ww = wh.astype(x.dtype), ww.astype(x.dtype)
    y = np.einsum("oh,bhwc->bowc", wh, x)
    y = np.einsum("pw,bowc->bopc", ww, y)
    return y, (wh, ww)


def resizing_backward(g, cache, height, width, interpolation="bilinear"):
    wh, ww = cache
    d = np.einsum("pw,bopc->bowc", ww, g)
    return (np.einsum("oh,bowc->bhwc", wh, d),), ()


def discretization_forward(x, bin_boundaries=(), output_mode="int"):
    """Index of the bin each value falls in: ``bins[i-1] <= x < bins[i]`` (``np.digitize``)."""
    ids = np.digitize(x, np.asarray(bin_boundaries, dtype=np.float32)).astype(np.int64)
    if output_mode == "int":
        return ids, None
    return category_encoding_forward(ids, len(bin_boundaries) + 1, output_mode)[0], None


def category_encoding_forward(x, num_tokens, output_mode="multi_hot"):
    """One-hot, multi-hot or count encoding of integer ids in ``[0, num_tokens)`` on the last axis."""
    ids = np.asarray(x).astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= num_tokens):
        bad = int(ids.max() if ids.max() >= num_tokens else ids.min())
        raise ValueError(f"token id {bad} is outside [0, {num_tokens}); raise num_tokens or fix the data.")
    if output_mode == "one_hot":
        if ids.shape[-1] == 1:
            ids = ids[..., 0]
        return np.eye(num_tokens, dtype=np.float32)[ids], None
    counts = np.zeros((*ids.shape[:-1], num_tokens), dtype=np.float32)
    flat = counts.reshape(-1, num_tokens)
    rows = np.repeat(np.arange(flat.shape[0]), ids.shape[-1])
    np.add.at(flat, (rows, ids.reshape(-1)), 1.0)
    if output_mode == "multi_hot":
        np.minimum(counts, 1.0, out=counts)
    return counts, None
