"""Naive loop references for the convolution and pooling numerics, any number of spatial axes.

Written for clarity, not speed: explicit loops over output positions and kernel taps, padding computed
from Keras's rules here rather than taken from the code under test.  Arrays are channels-last.
"""
from __future__ import annotations

import numpy as np


def _tuple(v, rank):
    return (v,) * rank if np.ndim(v) == 0 else tuple(v)


def _pads(n, k, s, d, padding):
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        return total // 2, total - total // 2
    if padding == "causal":
        return d * (k - 1), 0
    return 0, 0


def _layout(x, size, s, d, padding, value=0.0):
    rank = x.ndim - 2
    pads = [_pads(x.shape[1 + i], size[i], s[i], d[i], padding) for i in range(rank)]
    xp = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=value)
    out = [(xp.shape[1 + i] - d[i] * (size[i] - 1) - 1) // s[i] + 1 for i in range(rank)]
    return xp, pads, out


def conv_naive(x, kernel, strides=1, padding="valid", dilation=1):
    """Grouped convolution by loops; ``kernel`` is ``(*size, cin/groups, filters)``."""
    rank = x.ndim - 2
    size, (cg, f) = kernel.shape[:rank], kernel.shape[rank:]
    s, d = _tuple(strides, rank), _tuple(dilation, rank)
    groups = x.shape[-1] // cg
    fg = f // groups
    xp, _, out = _layout(x, size, s, d, padding)
    y = np.zeros((x.shape[0], *out, f), dtype=x.dtype)
    for o in np.ndindex(*out):
        for k in np.ndindex(*size):
            pix = xp[(slice(None), *(o[i] * s[i] + k[i] * d[i] for i in range(rank)))]
            for g in range(groups):
                y[(slice(None), *o, slice(g * fg, (g + 1) * fg))] += (pix[:, g * cg:(g + 1) * cg]
                                                                     @ kernel[k][:, g * fg:(g + 1) * fg])
    return y


def depthwise_conv_naive(x, kernel, strides=1, padding="valid", dilation=1):
    """Every channel convolved with its own ``m`` filters, by loops; output channel ``c*m + j``."""
    rank = x.ndim - 2
    size, (c, m) = kernel.shape[:rank], kernel.shape[rank:]
    s, d = _tuple(strides, rank), _tuple(dilation, rank)
    xp, _, out = _layout(x, size, s, d, padding)
    y = np.zeros((x.shape[0], *out, c, m), dtype=x.dtype)
    for o in np.ndindex(*out):
        for k in np.ndindex(*size):
            pix = xp[(slice(None), *(o[i] * s[i] + k[i] * d[i] for i in range(rank)))]
            for ch in range(c):
                y[(slice(None), *o, ch)] += pix[:, ch, None] * kernel[k][ch]
    return y.reshape(x.shape[0], *out, c * m)


def conv_transpose_naive(x, kernel, strides=1, padding="valid", dilation=1, output_padding=None):
    """Each input position scatters ``x · kernel`` (kernel ``(*size, filters, cin)``), then Keras's crop."""
    rank = x.ndim - 2
    size, f = kernel.shape[:rank], kernel.shape[rank]
    s, d = _tuple(strides, rank), _tuple(dilation, rank)
    ops = (None,) * rank if output_padding is None else _tuple(output_padding, rank)
    keff = [(k - 1) * di + 1 for k, di in zip(size, d)]
    full = [(n - 1) * si + k for n, si, k in zip(x.shape[1:-1], s, keff)]
    outs, crops = [], []
    for n, k, si, op in zip(x.shape[1:-1], keff, s, ops):
        if op is None:
            o = n * si + (max(k - si, 0) if padding == "valid" else 0)
        else:
            o = (n - 1) * si + k - 2 * (0 if padding == "valid" else k // 2) + op
        if padding == "valid":
            before = k - 1
        else:
            total = si + k - 2 if op is None else k + k % 2 - 2 + op
            before = min(total // 2 + total % 2, k - 1)
        outs.append(o)
        crops.append(k - 1 - before)
    buf = np.zeros((x.shape[0], *[max(a, c + o) for a, c, o in zip(full, crops, outs)], f), dtype=x.dtype)
    for p in np.ndindex(*x.shape[1:-1]):
        for k in np.ndindex(*size):
            pos = tuple(p[i] * s[i] + k[i] * d[i] for i in range(rank))
            buf[(slice(None), *pos)] += x[(slice(None), *p)] @ kernel[k].T
    return buf[(slice(None), *(slice(c, c + o) for c, o in zip(crops, outs)))]


def _pool_windows(shape, pool, strides, padding):
    """Yield ``(b, out_index, cells)``: the in-bounds input positions of each output's window, row-major."""
    rank = len(shape) - 2
    pads = [_pads(shape[1 + i], pool[i], strides[i], 1, padding) for i in range(rank)]
    out = [(shape[1 + i] + sum(pads[i]) - pool[i]) // strides[i] + 1 for i in range(rank)]
    for b in range(shape[0]):
        for o in np.ndindex(*out):
            start = [o[i] * strides[i] - pads[i][0] for i in range(rank)]
            cells = [tuple(start[i] + k[i] for i in range(rank)) for k in np.ndindex(*pool)]
            yield b, o, [c for c in cells if all(0 <= c[i] < shape[1 + i] for i in range(rank))], out


def pool_naive(x, pool, strides, padding, mode):
    """'max' or 'avg' over the real elements of each window, one output at a time."""
    rank = x.ndim - 2
    pool = _tuple(pool, rank)
    strides = pool if strides is None else _tuple(strides, rank)
    y = None
    for b, o, cells, out in _pool_windows(x.shape, pool, strides, padding):
        if y is None:
            y = np.zeros((x.shape[0], *out, x.shape[-1]), dtype=x.dtype)
        for ch in range(x.shape[-1]):
            vals = [x[(b, *c, ch)] for c in cells]
            y[(b, *o, ch)] = max(vals) if mode == "max" else sum(vals) / len(vals)
    return y


def pool_backward_naive(g, x, pool, strides, padding, mode):
    """The first maximum (row-major) of each window gets the gradient, or an even share for 'avg'."""
    rank = x.ndim - 2
    pool = _tuple(pool, rank)
    strides = pool if strides is None else _tuple(strides, rank)
    dx = np.zeros(x.shape, dtype=g.dtype)
    for b, o, cells, _ in _pool_windows(x.shape, pool, strides, padding):
        for ch in range(x.shape[-1]):
            if mode == "max":
                vals = [x[(b, *c, ch)] for c in cells]
                best = cells[vals.index(max(vals))]
                dx[(b, *best, ch)] += g[(b, *o, ch)]
            else:
                for c in cells:
                    dx[(b, *c, ch)] += g[(b, *o, ch)] / len(cells)
    return dx


def global_max_backward_naive(g, x):
    """The gradient of each channel goes to its first maximum over all spatial positions."""
    b, c = x.shape[0], x.shape[-1]
    flat = x.reshape(b, -1, c)
    dx = np.zeros(flat.shape, dtype=g.dtype)
    for i in range(b):
        for ch in range(c):
            col = list(flat[i, :, ch])
            dx[i, col.index(max(col)), ch] = g[i, ch]
    return dx.reshape(x.shape)
