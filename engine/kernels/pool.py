"""Pooling kernels on channels-last arrays ``(batch, height, width, channels)``, each beside a naive reference.

The fast kernels loop only over the offsets inside a pooling window (4 for a 2×2 pool); every step
is one vectorised NumPy operation over the whole batch, using strided views of the (padded) input.
The common non-overlapping case (strides == pool_size, no padding) takes a reshape-based path.
1-D pooling runs through the same kernels with a height-1 axis.

Max pooling routes the gradient to one element per window: the first maximum in row-major
window order, the same element the forward found (ties never split the gradient).
Average pooling with ``padding='same'`` divides by the number of real (non-padded) elements in
each window, as Keras does on JAX.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from engine.shapes import conv_output_length, same_padding

Pair = tuple[int, int]


class PoolGeometry(NamedTuple):
    """Everything the backward pass needs to know about how the forward windows were laid out."""

    in_shape: tuple[int, ...]   # (batch, h, w, c) of the unpadded input
    pool: Pair
    strides: Pair
    pads: tuple[Pair, Pair]     # ((top, bottom), (left, right))
    out_hw: Pair

    @property
    def non_overlapping(self) -> bool:
        """Windows tile the input exactly: strides == pool and no padding (the reshape fast path)."""
        return self.pool == self.strides and self.pads == ((0, 0), (0, 0))


def pool_geometry(shape: tuple[int, ...], pool: Pair, strides: Pair, padding: str) -> PoolGeometry:
    _, h, w, _ = shape
    out = (conv_output_length(h, pool[0], padding, strides[0]), conv_output_length(w, pool[1], padding, strides[1]))
    if padding == "same":
        pads = (same_padding(h, pool[0], strides[0]), same_padding(w, pool[1], strides[1]))
    else:
        pads = ((0, 0), (0, 0))
    return PoolGeometry(tuple(shape), tuple(pool), tuple(strides), pads, out)


def _pad(x: np.ndarray, geo: PoolGeometry, value: float) -> np.ndarray:
    if geo.pads == ((0, 0), (0, 0)):
        return x
    return np.pad(x, ((0, 0), *geo.pads, (0, 0)), constant_values=value)


def _window_slices(geo: PoolGeometry):
    """Yield ``(i, j, index)`` where ``index`` picks window offset (i, j) of every output pixel."""
    (ph, pw), (sh, sw), (ho, wo) = geo.pool, geo.strides, geo.out_hw
    for i in range(ph):
        for j in range(pw):
            yield i, j, (slice(None), slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))


def _tiles(x: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """View ``x`` as ``(batch, ho, ph, wo, pw, c)`` tiles (non-overlapping case only)."""
    b, _, _, c = x.shape
    (ph, pw), (ho, wo) = geo.pool, geo.out_hw
    return x[:, :ho * ph, :wo * pw].reshape(b, ho, ph, wo, pw, c)


def _reduce_tiles(t: np.ndarray, op) -> np.ndarray:
    """Combine ``(batch, ho, ph, wo, pw, c)`` tiles with ``op`` pairwise: rows first, then columns.

    Pairwise ufunc calls on contiguous slabs are ~4x faster than ``t.max(axis=(2, 4))``.
    """
    ph, pw = t.shape[2], t.shape[4]
    rows = op(t[:, :, 0], t[:, :, 1]) if ph > 1 else t[:, :, 0]
    for i in range(2, ph):
        op(rows, t[:, :, i], out=rows)
    out = op(rows[:, :, :, 0], rows[:, :, :, 1]) if pw > 1 else rows[:, :, :, 0].copy()
    for j in range(2, pw):
        op(out, rows[:, :, :, j], out=out)
    return out


# ----- max pooling ----------------------------------------------------------------------------------
def max_pool2d(x: np.ndarray, pool: Pair, strides: Pair, padding: str) -> tuple[np.ndarray, tuple]:
    """Max over each window; 'same' pads with -inf.  Returns ``(out (batch, ho, wo, c), cache)``."""
    geo = pool_geometry(x.shape, pool, strides, padding)
    if geo.non_overlapping:
        out = _reduce_tiles(_tiles(x, geo), np.maximum)
        return out, (x, out, geo)
    xp = _pad(x, geo, -np.inf)
    out = None
    for _, _, idx in _window_slices(geo):
        if out is None:
            out = xp[idx].copy()
        else:
            np.maximum(out, xp[idx], out=out)
    return out, (x, out, geo)


def max_pool2d_backward(g: np.ndarray, cache: tuple) -> np.ndarray:
    """Send each output gradient to the first maximum of its window (row-major), as the forward chose."""
    x, out, geo = cache
    if geo.non_overlapping:
        t = _tiles(x, geo)
        dx = np.zeros_like(x)
        dt = _tiles(dx, geo)  # a view into dx
        taken = np.zeros(out.shape, dtype=bool)
        for i in range(geo.pool[0]):
            for j in range(geo.pool[1]):
                hit = t[:, :, i, :, j] == out
                np.greater(hit, taken, out=hit)  # hit and not yet taken
                taken |= hit
                np.multiply(g, hit, out=dt[:, :, i, :, j])
        return dx
    xp = _pad(x, geo, -np.inf)
    dxp = np.zeros(xp.shape, dtype=g.dtype)
    taken = np.zeros(out.shape, dtype=bool)
    hit, share = np.empty(out.shape, dtype=bool), np.empty_like(g)  # reused buffers: no allocation per offset
    for _, _, idx in _window_slices(geo):
        np.equal(xp[idx], out, out=hit)
        np.greater(hit, taken, out=hit)  # hit and not yet taken
        taken |= hit
        np.multiply(g, hit, out=share)
        dxp[idx] += share
    return _crop(dxp, geo)


def _crop(xp: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    (t, b), (left, r) = geo.pads
    return xp[:, t:xp.shape[1] - b, left:xp.shape[2] - r]


# ----- average pooling ------------------------------------------------------------------------------
def _window_counts(geo: PoolGeometry, dtype) -> np.ndarray | float:
    """Real (non-padded) elements per window: ``(ho, wo, 1)`` for 'same', a scalar otherwise."""
    if geo.pads == ((0, 0), (0, 0)):
        return float(geo.pool[0] * geo.pool[1])
    counts = []
    for n, k, s, (before, _), n_out in zip(geo.in_shape[1:3], geo.pool, geo.strides, geo.pads, geo.out_hw):
        start = np.arange(n_out) * s - before
        counts.append(np.minimum(start + k, n) - np.maximum(start, 0))
    return (counts[0][:, None] * counts[1][None, :])[:, :, None].astype(dtype)


def avg_pool2d(x: np.ndarray, pool: Pair, strides: Pair, padding: str) -> tuple[np.ndarray, PoolGeometry]:
    """Mean over each window (real elements only).  Returns ``(out (batch, ho, wo, c), geometry)``."""
    geo = pool_geometry(x.shape, pool, strides, padding)
    counts = _window_counts(geo, x.dtype)
    if geo.non_overlapping:
        out = _reduce_tiles(_tiles(x, geo), np.add)
    else:
        xp = _pad(x, geo, 0)
        out = None
        for _, _, idx in _window_slices(geo):
            if out is None:
                out = xp[idx].copy()
            else:
                out += xp[idx]
    out /= counts
    return out, geo


def avg_pool2d_backward(g: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """Spread each output gradient evenly over the real elements of its window."""
    gs = g / _window_counts(geo, g.dtype)
    b, h, w, c = geo.in_shape
    if geo.non_overlapping:
        dx = np.zeros((b, h, w, c), dtype=g.dtype)
        _tiles(dx, geo)[...] = gs[:, :, None, :, None, :]
        return dx
    (t, bo), (left, r) = geo.pads
    dxp = np.zeros((b, h + t + bo, w + left + r, c), dtype=g.dtype)
    for _, _, idx in _window_slices(geo):
        dxp[idx] += gs
    return _crop(dxp, geo)


# ----- global pooling -------------------------------------------------------------------------------
def global_max_backward(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of ``x.max`` over all axes between batch and channels; one element (the first max) per channel.

    ``x`` is ``(batch, ..., channels)``; ``g`` is ``(batch, channels)``.
    """
    b, c = x.shape[0], x.shape[-1]
    flat = x.reshape(b, -1, c)
    arg = flat.argmax(axis=1)
    dx = np.zeros_like(flat, dtype=g.dtype)
    np.put_along_axis(dx, arg[:, None, :], g.reshape(b, 1, c), axis=1)
    return dx.reshape(x.shape)


# ----- naive references (loops; for tests only) -----------------------------------------------------
def _naive_windows(shape, pool, strides, padding):
    """Yield ``(b, oh, ow, rows, cols)``: the in-bounds input rows/cols of each output pixel's window."""
    geo = pool_geometry(shape, pool, strides, padding)
    (top, _), (left, _) = geo.pads
    for b in range(shape[0]):
        for oh in range(geo.out_hw[0]):
            for ow in range(geo.out_hw[1]):
                h0, w0 = oh * strides[0] - top, ow * strides[1] - left
                rows = [r for r in range(h0, h0 + pool[0]) if 0 <= r < shape[1]]
                cols = [c for c in range(w0, w0 + pool[1]) if 0 <= c < shape[2]]
                yield b, oh, ow, rows, cols


def pool2d_naive(x: np.ndarray, pool: Pair, strides: Pair, padding: str, mode: str) -> np.ndarray:
    """Reference forward: 'max' or 'avg' over the real elements of each window, one pixel at a time."""
    geo = pool_geometry(x.shape, pool, strides, padding)
    out = np.zeros((x.shape[0], *geo.out_hw, x.shape[3]), dtype=x.dtype)
    for b, oh, ow, rows, cols in _naive_windows(x.shape, pool, strides, padding):
        for ch in range(x.shape[3]):
            vals = [x[b, r, c, ch] for r in rows for c in cols]
            out[b, oh, ow, ch] = max(vals) if mode == "max" else sum(vals) / len(vals)
    return out


def pool2d_backward_naive(g: np.ndarray, x: np.ndarray, pool: Pair, strides: Pair, padding: str,
                          mode: str) -> np.ndarray:
    """Reference backward: the first maximum (row-major) gets the gradient, or an even share for 'avg'."""
    dx = np.zeros(x.shape, dtype=g.dtype)
    for b, oh, ow, rows, cols in _naive_windows(x.shape, pool, strides, padding):
        cells = [(r, c) for r in rows for c in cols]
        for ch in range(x.shape[3]):
            if mode == "max":
                best = max(cells, key=lambda rc: (x[b, rc[0], rc[1], ch], -cells.index(rc)))
                dx[b, best[0], best[1], ch] += g[b, oh, ow, ch]
            else:
                for r, c in cells:
                    dx[b, r, c, ch] += g[b, oh, ow, ch] / len(cells)
    return dx


def global_max_backward_naive(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    b, c = x.shape[0], x.shape[-1]
    flat = x.reshape(b, -1, c)
    dx = np.zeros(flat.shape, dtype=g.dtype)
    for i in range(b):
        for ch in range(c):
            col = list(flat[i, :, ch])
            dx[i, col.index(max(col)), ch] = g[i, ch]
    return dx.reshape(x.shape)
