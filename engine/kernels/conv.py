"""Convolution kernels on channels-last arrays ``(batch, height, width, channels)``, each beside a naive reference.

The fast kernels are im2col + GEMM: a strided view of the padded input lists every receptive field,
one copy turns it into the ``(rows, kh*kw*cin)`` column matrix and one matmul produces the output.
The column matrix is kept in the cache, so the kernel gradient in backward is one more matmul.
The input gradient is col2im: one matmul back to columns, then an add per kernel offset
(``kh*kw`` vectorised adds over the whole batch; no loop over batch or pixels).

Grouped convolution batches the GEMM over groups.  Depthwise convolution (one group per channel) has no
useful GEMM and is a broadcast multiply-add per kernel offset.  1-D convolution runs through the same
kernels with a height-1 axis.

'same' padding is split like ``jax.lax`` 'SAME' (the extra pixel goes after), causal padding is
``dilation * (kernel - 1)`` on the left only, and transposed convolution pads like Keras on JAX.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from engine.shapes import conv_output_length, deconv_output_length, same_padding

Pair = tuple[int, int]


class ConvGeometry(NamedTuple):
    """How the forward windows were laid out over the input; backward needs nothing else."""

    in_shape: tuple[int, int, int, int]   # (batch, h, w, cin) of the unpadded input
    kernel: Pair                           # (kh, kw)
    strides: Pair
    dilation: Pair
    pads: tuple[Pair, Pair]                # ((top, bottom), (left, right))
    out_hw: Pair
    groups: int = 1


def axis_padding(n: int, kernel: int, stride: int, dilation: int, padding: str) -> Pair:
    """(before, after) padding of one spatial axis for 'valid', 'same' or 'causal'."""
    if padding == "same":
        return same_padding(n, kernel, stride, dilation)
    if padding == "causal":
        return dilation * (kernel - 1), 0
    return 0, 0


def conv_geometry(in_shape: tuple[int, ...], kernel: Pair, strides: Pair = (1, 1), dilation: Pair = (1, 1),
                  padding: str = "valid", groups: int = 1) -> ConvGeometry:
    """Geometry of a 2-D convolution of an input of ``in_shape`` = ``(batch, h, w, cin)``."""
    _, h, w, _ = in_shape
    pads = tuple(axis_padding(n, k, s, d, padding) for n, k, s, d in zip((h, w), kernel, strides, dilation))
    causal_as_valid = "valid" if padding == "causal" else padding
    out = tuple(conv_output_length(n + sum(p) if padding == "causal" else n, k, causal_as_valid, s, d)
                for n, k, s, d, p in zip((h, w), kernel, strides, dilation, pads))
    return ConvGeometry(tuple(in_shape), tuple(kernel), tuple(strides), tuple(dilation), pads, out, groups)


def _pad(x: np.ndarray, pads: tuple[Pair, Pair]) -> np.ndarray:
    if pads == ((0, 0), (0, 0)):
        return x
    return np.pad(x, ((0, 0), *pads, (0, 0)))


def im2col(xp: np.ndarray, kernel: Pair, strides: Pair, dilation: Pair, out_hw: Pair, groups: int = 1) -> np.ndarray:
    """Column matrix ``(groups, batch*ho*wo, kh*kw*cin/groups)`` of the (already padded) input ``xp``.

    Column order within a row is ``(kh, kw, c)``, which matches ``kernel.reshape(kh*kw*cg, filters)``.
    """
    n, _, _, c = xp.shape
    cg = c // groups
    sn, sh, sw, sc = xp.strides
    (kh, kw), (s0, s1), (d0, d1), (ho, wo) = kernel, strides, dilation, out_hw
    if c == 1:
        # One channel (grayscale input): copy each kernel offset as a contiguous block, offset-major, and
        # hand BLAS the transposed view; twice as fast as the generic strided copy with its 1-element rows.
        buf = np.empty((kh, kw, n, ho, wo), dtype=xp.dtype)
        x3 = xp[..., 0]
        for i in range(kh):
            for j in range(kw):
                buf[i, j] = x3[:, i * d0:i * d0 + s0 * (ho - 1) + 1:s0, j * d1:j * d1 + s1 * (wo - 1) + 1:s1]
        return buf.reshape(1, kh * kw, n * ho * wo).transpose(0, 2, 1)
    view = as_strided(xp, shape=(groups, n, ho, wo, kh, kw, cg),
                      strides=(cg * sc, sn, s0 * sh, s1 * sw, d0 * sh, d1 * sw, sc), writeable=False)
    return view.reshape(groups, n * ho * wo, kh * kw * cg)


def col2im(cols: np.ndarray, padded_shape: tuple[int, ...], kernel: Pair, strides: Pair, dilation: Pair,
           out_hw: Pair) -> np.ndarray:
    """Adjoint of ``im2col``: sum columns ``(groups, batch*ho*wo, kh*kw*cg)`` back onto the padded input."""
    g = cols.shape[0]
    n, hp, wp, c = padded_shape
    (kh, kw), (s0, s1), (d0, d1), (ho, wo) = kernel, strides, dilation, out_hw
    cols = cols.reshape(g, n, ho, wo, kh, kw, c // g)
    out = np.zeros((n, hp, wp, g, c // g), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            src = cols[:, :, :, :, i, j, :]
            dst = out[:, i * d0:i * d0 + s0 * (ho - 1) + 1:s0, j * d1:j * d1 + s1 * (wo - 1) + 1:s1]
            dst += src.transpose(1, 2, 3, 0, 4) if g > 1 else src[0][:, :, :, None, :]
    return out.reshape(n, hp, wp, c)


def _grouped_kernel(kernel: np.ndarray, groups: int) -> np.ndarray:
    """``(kh, kw, cg, f)`` -> ``(groups, kh*kw*cg, f/groups)``; a view when ``groups == 1``."""
    kh, kw, cg, f = kernel.shape
    return kernel.reshape(kh * kw * cg, groups, f // groups).transpose(1, 0, 2)


def _gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched matmul over groups; a plain 2-D GEMM when there is one group."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return np.matmul(a, b)


def conv2d_forward(x: np.ndarray, kernel: np.ndarray, geo: ConvGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Convolution ``(batch, h, w, cin)`` * ``(kh, kw, cin/groups, f)`` -> ``(batch, ho, wo, f)``.

    Returns the output and the column matrix (keep it for ``conv2d_backward``).
    """
    cols = im2col(_pad(x, geo.pads), geo.kernel, geo.strides, geo.dilation, geo.out_hw, geo.groups)
    out = _gemm(cols, _grouped_kernel(kernel, geo.groups))          # (g, m, f/g)
    n, (ho, wo), f = x.shape[0], geo.out_hw, kernel.shape[-1]
    if geo.groups == 1:
        return out.reshape(n, ho, wo, f), cols
    return out.transpose(1, 0, 2).reshape(n, ho, wo, f), cols


def conv2d_backward(grad_out: np.ndarray, cols: np.ndarray, kernel: np.ndarray, geo: ConvGeometry,
                    need_input_grad: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """Gradients ``(d input, d kernel)`` of ``conv2d_forward`` given ``d output`` and its column matrix."""
    g = geo.groups
    f = kernel.shape[-1]
    dy = grad_out.reshape(-1, g, f // g).transpose(1, 0, 2)           # (g, m, f/g)
    wk = _grouped_kernel(kernel, g)
    dk = _gemm(cols.transpose(0, 2, 1), dy)                              # (g, kh*kw*cg, f/g)
    dk = dk.transpose(1, 0, 2).reshape(kernel.shape)
    if not need_input_grad:
        return None, dk
    dcols = _gemm(dy, wk.transpose(0, 2, 1))                            # (g, m, kh*kw*cg)
    n, h, w, c = geo.in_shape
    (t, b), (left, r) = geo.pads
    dxp = col2im(dcols, (n, h + t + b, w + left + r, c), geo.kernel, geo.strides, geo.dilation, geo.out_hw)
    return dxp[:, t:t + h, left:left + w], dk


def conv2d_naive(x: np.ndarray, kernel: np.ndarray, strides: Pair = (1, 1), padding: str = "valid",
                 dilation: Pair = (1, 1), groups: int = 1) -> np.ndarray:
    """Reference convolution with explicit loops over output pixels, kernel offsets and groups."""
    geo = conv_geometry(x.shape, kernel.shape[:2], strides, dilation, padding, groups)
    xp = _pad(x, geo.pads)
    kh, kw, cg, f = kernel.shape
    fg = f // groups
    (ho, wo), (s0, s1), (d0, d1) = geo.out_hw, strides, dilation
    out = np.zeros((x.shape[0], ho, wo, f), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    pix = xp[:, i * s0 + a * d0, j * s1 + b * d1, :]
                    for g in range(groups):
                        out[:, i, j, g * fg:(g + 1) * fg] += (pix[:, g * cg:(g + 1) * cg]
                                                              @ kernel[a, b, :, g * fg:(g + 1) * fg])
    return out


# ----- depthwise: every input channel convolved with its own filters ------------------------------------------

def _window(xp: np.ndarray, i: int, j: int, geo: ConvGeometry) -> np.ndarray:
    """View of the padded input seen by kernel offset ``(i, j)`` at every output pixel: ``(batch, ho, wo, c)``."""
    (s0, s1), (d0, d1), (ho, wo) = geo.strides, geo.dilation, geo.out_hw
    return xp[:, i * d0:i * d0 + s0 * (ho - 1) + 1:s0, j * d1:j * d1 + s1 * (wo - 1) + 1:s1]


def depthwise_conv2d_forward(x: np.ndarray, kernel: np.ndarray, geo: ConvGeometry) -> tuple[np.ndarray, np.ndarray]:
    """``(batch, h, w, c)`` * ``(kh, kw, c, m)`` -> ``(batch, ho, wo, c*m)``; output channel ``c*m + j``.

    Each channel meets only its own filters, so there is no useful GEMM: one broadcast multiply-add per
    kernel offset over the whole batch is ~10x faster than a grouped GEMM with ``c`` tiny groups.
    Returns the output and the padded input (the cache for backward).
    """
    xp = _pad(x, geo.pads)
    kh, kw, c, m = kernel.shape
    n, (ho, wo) = x.shape[0], geo.out_hw
    out = np.zeros((n, ho, wo, c, m), dtype=np.result_type(x, kernel))
    for i in range(kh):
        for j in range(kw):
            out += _window(xp, i, j, geo)[..., None] * kernel[i, j]
    return out.reshape(n, ho, wo, c * m), xp


def depthwise_conv2d_backward(grad_out: np.ndarray, xp: np.ndarray, kernel: np.ndarray, geo: ConvGeometry,
                              need_input_grad: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """Gradients ``(d input, d kernel)`` of ``depthwise_conv2d_forward``, one step per kernel offset."""
    kh, kw, c, m = kernel.shape
    g = grad_out.reshape(*grad_out.shape[:3], c, m)
    dk = np.empty_like(kernel)
    dxp = np.zeros_like(xp) if need_input_grad else None
    for i in range(kh):
        for j in range(kw):
            win = _window(xp, i, j, geo)
            dk[i, j] = np.einsum("nhwc,nhwcm->cm", win, g)
            if dxp is not None:
                _window(dxp, i, j, geo)[...] += (np.einsum("nhwcm,cm->nhwc", g, kernel[i, j]) if m > 1
                                                 else g[..., 0] * kernel[i, j, :, 0])
    if dxp is None:
        return None, dk
    n, h, w, _ = geo.in_shape
    (t, _), (left, _) = geo.pads
    return dxp[:, t:t + h, left:left + w], dk


def depthwise_conv2d_naive(x: np.ndarray, kernel: np.ndarray, strides: Pair = (1, 1), padding: str = "valid",
                           dilation: Pair = (1, 1)) -> np.ndarray:
    """Reference depthwise convolution: every channel convolved with its own ``m`` filters, by loops."""
    geo = conv_geometry(x.shape, kernel.shape[:2], strides, dilation, padding)
    xp = _pad(x, geo.pads)
    kh, kw, c, m = kernel.shape
    (ho, wo), (s0, s1), (d0, d1) = geo.out_hw, strides, dilation
    out = np.zeros((x.shape[0], ho, wo, c, m), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            for a in range(kh):
                for b in range(kw):
                    for ch in range(c):
                        pix = xp[:, i * s0 + a * d0, j * s1 + b * d1, ch]
                        out[:, i, j, ch, :] += pix[:, None] * kernel[a, b, ch, :]
    return out.reshape(x.shape[0], ho, wo, c * m)


# ----- transposed convolution ----------------------------------------------------------------------------------

class TransposeGeometry(NamedTuple):
    """Layout of a transposed convolution: every input pixel scatters a ``kh×kw`` block into the output."""

    in_shape: tuple[int, int, int, int]   # (batch, h, w, cin)
    kernel: Pair
    strides: Pair
    dilation: Pair
    crop: Pair                             # (top, left) offset of the output inside the full scatter
    out_hw: Pair
    buf_hw: Pair                           # size of the scatter buffer


def transpose_padding(kernel: int, stride: int, dilation: int, padding: str, output_padding: int | None) -> Pair:
    """(left, right) padding ``jax.lax.conv_transpose`` receives from Keras (``backend_utils``)."""
    k = (kernel - 1) * dilation + 1
    if padding == "valid":
        op = max(k, stride) - k if output_padding is None else output_padding
        return k - 1, k - 1 + op
    pad_len = stride + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = min(pad_len // 2 + pad_len % 2, k - 1)
    return left, pad_len - left


def transpose_geometry(in_shape: tuple[int, ...], kernel: Pair, strides: Pair = (1, 1), dilation: Pair = (1, 1),
                       padding: str = "valid", output_padding: Pair | None = None) -> TransposeGeometry:
    _, h, w, _ = in_shape
    ops = output_padding or (None, None)
    crop, out, buf = [], [], []
    for n, k, s, d, op in zip((h, w), kernel, strides, dilation, ops):
        left, _ = transpose_padding(k, s, d, padding, op)
        keff = (k - 1) * d + 1
        o = deconv_output_length(n, k, padding, s, d, op)
        crop.append(keff - 1 - left)
        out.append(o)
        buf.append(max((n - 1) * s + keff, keff - 1 - left + o))
    return TransposeGeometry(tuple(in_shape), tuple(kernel), tuple(strides), tuple(dilation), tuple(crop),
                             tuple(out), tuple(buf))


def conv2d_transpose_forward(x: np.ndarray, kernel: np.ndarray, geo: TransposeGeometry) -> np.ndarray:
    """``(batch, h, w, cin)`` with kernel ``(kh, kw, f, cin)`` -> ``(batch, ho, wo, f)``: GEMM then col2im."""
    n, h, w, c = x.shape
    kh, kw, f, _ = kernel.shape
    cols = x.reshape(n * h * w, c) @ kernel.reshape(kh * kw * f, c).T     # (m, kh*kw*f)
    buf = col2im(cols[None], (n, *geo.buf_hw, f), geo.kernel, geo.strides, geo.dilation, (h, w))
    (t, left), (ho, wo) = geo.crop, geo.out_hw
    return buf[:, t:t + ho, left:left + wo]


def conv2d_transpose_backward(grad_out: np.ndarray, x: np.ndarray, kernel: np.ndarray, geo: TransposeGeometry,
                              need_input_grad: bool = True) -> tuple[np.ndarray | None, np.ndarray]:
    """Gradients ``(d input, d kernel)``: the output gradient gathered by im2col, then two GEMMs."""
    n, h, w, c = x.shape
    kh, kw, f, _ = kernel.shape
    (t, left), (ho, wo) = geo.crop, geo.out_hw
    dbuf = np.zeros((n, *geo.buf_hw, f), dtype=grad_out.dtype)
    dbuf[:, t:t + ho, left:left + wo] = grad_out
    dcols = im2col(dbuf, geo.kernel, geo.strides, geo.dilation, (h, w))[0]      # (m, kh*kw*f)
    k2 = kernel.reshape(kh * kw * f, c)
    dk = (dcols.T @ x.reshape(n * h * w, c)).reshape(kernel.shape)
    dx = (dcols @ k2).reshape(x.shape) if need_input_grad else None
    return dx, dk


def conv2d_transpose_naive(x: np.ndarray, kernel: np.ndarray, strides: Pair = (1, 1), padding: str = "valid",
                           dilation: Pair = (1, 1), output_padding: Pair | None = None) -> np.ndarray:
    """Reference transposed convolution: each input pixel scatters ``x·kernel`` by explicit loops."""
    geo = transpose_geometry(x.shape, kernel.shape[:2], strides, dilation, padding, output_padding)
    n, h, w, _ = x.shape
    kh, kw, f, _ = kernel.shape
    buf = np.zeros((n, *geo.buf_hw, f), dtype=x.dtype)
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for b in range(kw):
                    buf[:, i * strides[0] + a * dilation[0], j * strides[1] + b * dilation[1], :] += (
                        x[:, i, j, :] @ kernel[a, b].T)
    (t, left), (ho, wo) = geo.crop, geo.out_hw
    return buf[:, t:t + ho, left:left + wo]
