"""Convolutions over any number of spatial axes: regular (grouped), depthwise, separable and transposed.

Arrays are ``(batch, *spatial, channels)`` (``data_format="channels_first"`` moves the channels there and
back).  A regular convolution is im2col + GEMM: a strided view of the padded input lists every receptive
field, one copy makes the ``(rows, prod(kernel)*cin)`` column matrix and one matmul gives the output.  The
column matrix is the cache, so the kernel gradient is one more matmul; the input gradient is col2im, one
vectorised add per kernel offset.  Grouped convolution batches the GEMM over groups (``groups`` is read off
the kernel: ``cin // kernel.shape[-2]``).  Depthwise convolution has no useful GEMM and is a broadcast
multiply-add per kernel offset.

'same' padding is split like ``jax.lax`` 'SAME' (the extra pixel goes after), 'causal' pads
``dilation * (kernel - 1)`` before only, and transposed convolution pads like Keras on JAX.
"""
import math

import numpy as np


# ----- layout ------------------------------------------------------------------------------------------------
def conv_tuple(value, rank):
    """Keras's int-or-tuple arguments as a tuple of ``rank`` ints."""
    if np.ndim(value) == 0:
        return (int(value),) * rank
    return tuple(int(v) for v in value)


def conv_axis_padding(n, kernel, stride, dilation, padding):
    """(before, after) zeros of one spatial axis for 'valid', 'same' or 'causal'."""
    if padding == "same":
        out = (n - 1) // stride + 1
        total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - n, 0)
        return total // 2, total - total // 2
    if padding == "causal":
        return dilation * (kernel - 1), 0
    return 0, 0


def conv_layout(spatial, kernel, strides, dilation, padding):
    """``(pads, out)``: (before, after) padding and the output size of every spatial axis."""
    pads = tuple(conv_axis_padding(n, k, s, d, padding) for n, k, s, d in zip(spatial, kernel, strides, dilation))
    out = tuple((n + b + a - d * (k - 1) - 1) // s + 1
                for n, k, s, d, (b, a) in zip(spatial, kernel, strides, dilation, pads))
    return pads, out


def conv_pad(x, pads, value=0.0):
    """``x`` with ``pads`` around its spatial axes (``x`` itself when there is nothing to add)."""
    if not any(b or a for b, a in pads):
        return x
    return np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=value)


def conv_unpad(xp, pads):
    """The inside of a padded array: the inverse of ``conv_pad``."""
    return xp[(slice(None), *(slice(b, xp.shape[1 + i] - a) for i, (b, a) in enumerate(pads)))]


def conv_offset_index(offsets, strides, dilation, out):
    """Index of what kernel tap ``offsets`` sees at every output position: ``(batch, *out, ...)``."""
    return (slice(None), *(slice(o * d, o * d + s * (n - 1) + 1, s)
                           for o, s, d, n in zip(offsets, strides, dilation, out)))


def channels_last_in(x, data_format):
    """``(batch, channels, *spatial)`` as ``(batch, *spatial, channels)`` for channels_first (a view)."""
    return np.moveaxis(x, 1, -1) if data_format == "channels_first" else x


def channels_last_out(y, data_format):
    """The inverse of ``channels_last_in``."""
    return np.moveaxis(y, -1, 1) if data_format == "channels_first" else y


# ----- im2col / col2im ---------------------------------------------------------------------------------------
def conv_im2col(xp, kernel, strides, dilation, out, groups=1):
    """Column matrix ``(groups, batch*prod(out), prod(kernel)*cin/groups)`` of the padded input ``xp``.

    Columns are ordered ``(*kernel, c)``, like ``kernel.reshape(-1, filters)``.
    """
    n, c = xp.shape[0], xp.shape[-1]
    rows, taps = n * math.prod(out), math.prod(kernel)
    if c == 1:
        # One channel: copying each tap as a contiguous block and handing BLAS the transposed view is
        # twice as fast as the generic strided copy with its one-element rows.
        buf = np.empty((*kernel, n, *out), dtype=xp.dtype)
        x1 = xp[..., 0]
        for offsets in np.ndindex(*kernel):
            buf[offsets] = x1[conv_offset_index(offsets, strides, dilation, out)]
        return buf.reshape(1, taps, rows).transpose(0, 2, 1)
    cg = c // groups
    st = xp.strides
    view = np.lib.stride_tricks.as_strided(
        xp, shape=(groups, n, *out, *kernel, cg),
        strides=(cg * st[-1], st[0], *(s * st[1 + i] for i, s in enumerate(strides)),
                 *(d * st[1 + i] for i, d in enumerate(dilation)), st[-1]), writeable=False)
    return view.reshape(groups, rows, taps * cg)


def conv_col2im(cols, padded_shape, kernel, strides, dilation, out):
    """Adjoint of ``conv_im2col``: sum the columns ``(groups, rows, prod(kernel)*cg)`` back onto the input."""
    g = cols.shape[0]
    n, c = padded_shape[0], padded_shape[-1]
    rank = len(kernel)
    cols = cols.reshape(g, n, *out, *kernel, c // g)
    res = np.zeros((*padded_shape[:-1], g, c // g), dtype=cols.dtype)
    for offsets in np.ndindex(*kernel):
        src = cols[(slice(None),) * (2 + rank) + offsets]
        dst = res[conv_offset_index(offsets, strides, dilation, out)]
        dst += np.moveaxis(src, 0, -2) if g > 1 else src[0][..., None, :]
    return res.reshape(padded_shape)


def conv_group_kernel(kernel, groups):
    """``(*k, cg, f)`` -> ``(groups, prod(k)*cg, f/groups)``; a view when ``groups == 1``."""
    f = kernel.shape[-1]
    return kernel.reshape(-1, groups, f // groups).transpose(1, 0, 2)


def conv_gemm(a, b):
    """Matmul batched over groups; a plain 2-D GEMM when there is one group."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return np.matmul(a, b)


def conv_bias_activation(z, bias, activation):
    """``(z + bias, activation(z + bias))``; ``z`` is a fresh array and is updated in place."""
    if bias is not None:
        z += bias
    return z, (z if activation is None else activation(z))


def conv_pre_activation_grad(g, z, y, bias, activation):
    """``(dL/dz, bias gradient)`` from the output gradient."""
    if activation is not None:
        g = activation(z, y, g)
    return g, (None if bias is None else g.reshape(-1, g.shape[-1]).sum(axis=0))


# ----- regular (grouped) convolution -------------------------------------------------------------------------
def conv_forward(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, activation=None,
                 data_format="channels_last"):
    """Keras ``ConvND``: ``activation(conv(x, kernel) + bias)``.

    ``x`` is ``(batch, *spatial, cin)``, ``kernel`` ``(*kernel_size, cin/groups, filters)``.
    """
    x = channels_last_in(x, data_format)
    rank = x.ndim - 2
    size = kernel.shape[:rank]
    s, d = conv_tuple(strides, rank), conv_tuple(dilation_rate, rank)
    pads, out = conv_layout(x.shape[1:-1], size, s, d, padding)
    groups = x.shape[-1] // kernel.shape[-2]
    cols = conv_im2col(conv_pad(x, pads), size, s, d, out, groups)
    z = conv_gemm(cols, conv_group_kernel(kernel, groups))
    z = (z[0] if groups == 1 else z.transpose(1, 0, 2)).reshape(x.shape[0], *out, kernel.shape[-1])
    z, y = conv_bias_activation(z, bias, activation)
    return channels_last_out(y, data_format), (cols, x.shape, pads, s, d, out, z, y)


def conv_backward(g, cache, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, activation=None,
                  data_format="channels_last"):
    cols, in_shape, pads, s, d, out, z, y = cache
    g, db = conv_pre_activation_grad(channels_last_in(g, data_format), z, y, bias, activation)
    groups = in_shape[-1] // kernel.shape[-2]
    f = kernel.shape[-1]
    dy = g.reshape(-1, groups, f // groups).transpose(1, 0, 2)
    dk = conv_gemm(cols.transpose(0, 2, 1), dy).transpose(1, 0, 2).reshape(kernel.shape)
    dcols = conv_gemm(dy, conv_group_kernel(kernel, groups).transpose(0, 2, 1))
    padded = (in_shape[0], *(n + b + a for n, (b, a) in zip(in_shape[1:-1], pads)), in_shape[-1])
    dxp = conv_col2im(dcols, padded, kernel.shape[:len(out)], s, d, out)
    return (channels_last_out(conv_unpad(dxp, pads), data_format),), (dk, db)


# ----- depthwise and separable -------------------------------------------------------------------------------
def depthwise_conv_forward(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, activation=None,
                           data_format="channels_last"):
    """Keras ``DepthwiseConvND``: channel ``c`` meets only its own ``m`` filters; output channel ``c*m + j``.

    ``kernel`` is ``(*kernel_size, c, m)``.  One broadcast multiply-add per kernel tap over the whole batch is
    ~10x faster than a grouped GEMM with ``c`` tiny groups.
    """
    x = channels_last_in(x, data_format)
    rank = x.ndim - 2
    size, (c, m) = kernel.shape[:rank], kernel.shape[rank:]
    s, d = conv_tuple(strides, rank), conv_tuple(dilation_rate, rank)
    pads, out = conv_layout(x.shape[1:-1], size, s, d, padding)
    xp = conv_pad(x, pads)
    z = np.zeros((x.shape[0], *out, c, m), dtype=np.result_type(x, kernel))
    for offsets in np.ndindex(*size):
        z += xp[conv_offset_index(offsets, s, d, out)][..., None] * kernel[offsets]
    z, y = conv_bias_activation(z.reshape(x.shape[0], *out, c * m), bias, activation)
    return channels_last_out(y, data_format), (xp, pads, s, d, out, z, y)


def depthwise_conv_backward(g, cache, kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                            activation=None, data_format="channels_last"):
    xp, pads, s, d, out, z, y = cache
    g, db = conv_pre_activation_grad(channels_last_in(g, data_format), z, y, bias, activation)
    rank = len(out)
    size, (c, m) = kernel.shape[:rank], kernel.shape[rank:]
    g = g.reshape(*g.shape[:-1], c, m)
    dk = np.empty_like(kernel)
    dxp = np.zeros_like(xp)
    axes = "nxyz"[:rank + 1]
    for offsets in np.ndindex(*size):
        idx = conv_offset_index(offsets, s, d, out)
        dk[offsets] = np.einsum(f"{axes}c,{axes}cm->cm", xp[idx], g)
        dxp[idx] += np.einsum("...cm,cm->...c", g, kernel[offsets]) if m > 1 else g[..., 0] * kernel[offsets][:, 0]
    return (channels_last_out(conv_unpad(dxp, pads), data_format),), (dk, db)


def separable_conv_forward(x, depthwise_kernel, pointwise_kernel, bias=None, strides=1, padding="valid",
                           dilation_rate=1, activation=None, data_format="channels_last"):
    """Keras ``SeparableConvND``: a depthwise convolution, then a 1×…×1 pointwise one, bias and activation."""
    x = channels_last_in(x, data_format)
    dw, dcache = depthwise_conv_forward(x, depthwise_kernel, None, strides, padding, dilation_rate)
    pk = pointwise_kernel.reshape(pointwise_kernel.shape[-2:])
    z = (dw.reshape(-1, pk.shape[0]) @ pk).reshape(*dw.shape[:-1], pk.shape[1])
    z, y = conv_bias_activation(z, bias, activation)
    return channels_last_out(y, data_format), (dw, dcache, z, y)


def separable_conv_backward(g, cache, depthwise_kernel, pointwise_kernel, bias=None, strides=1, padding="valid",
                            dilation_rate=1, activation=None, data_format="channels_last"):
    dw, dcache, z, y = cache
    g, db = conv_pre_activation_grad(channels_last_in(g, data_format), z, y, bias, activation)
    pk = pointwise_kernel.reshape(pointwise_kernel.shape[-2:])
    g2 = g.reshape(-1, pk.shape[1])
    dpk = (dw.reshape(-1, pk.shape[0]).T @ g2).reshape(pointwise_kernel.shape)
    ddw = (g2 @ pk.T).reshape(dw.shape)
    (dx,), (ddk, _) = depthwise_conv_backward(ddw, dcache, depthwise_kernel, None, strides, padding, dilation_rate)
    return (channels_last_out(dx, data_format),), (ddk, dpk, db)


# ----- transposed convolution --------------------------------------------------------------------------------
def conv_transpose_axis(n, kernel, stride, dilation, padding, output_padding):
    """``(crop, out, full)`` of one axis: where the output starts in the full scatter, its size, the scatter's size.

    The padding is the one Keras hands ``jax.lax.conv_transpose`` (``backend_utils``).
    """
    k = (kernel - 1) * dilation + 1
    if padding == "valid":
        before = k - 1
    else:
        total = stride + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
        before = min(total // 2 + total % 2, k - 1)
    if output_padding is None:
        out = n * stride + (max(k - stride, 0) if padding == "valid" else 0)
    else:
        out = (n - 1) * stride + k - 2 * (0 if padding == "valid" else k // 2) + output_padding
    crop = k - 1 - before
    return crop, out, max((n - 1) * stride + k, crop + out)


def conv_transpose_forward(x, kernel, bias=None, strides=1, padding="valid", output_padding=None, dilation_rate=1,
                           activation=None, data_format="channels_last"):
    """Keras ``ConvNDTranspose``: every input position scatters ``x · kernel`` into the output (GEMM, col2im).

    ``kernel`` is ``(*kernel_size, filters, cin)``.
    """
    x = channels_last_in(x, data_format)
    rank = x.ndim - 2
    size, (f, c) = kernel.shape[:rank], kernel.shape[rank:]
    s, d = conv_tuple(strides, rank), conv_tuple(dilation_rate, rank)
    ops = (None,) * rank if output_padding is None else conv_tuple(output_padding, rank)
    crop, out, full = zip(*(conv_transpose_axis(n, k, si, di, padding, op)
                            for n, k, si, di, op in zip(x.shape[1:-1], size, s, d, ops)))
    cols = x.reshape(-1, c) @ kernel.reshape(-1, c).T
    scatter = conv_col2im(cols[None], (x.shape[0], *full, f), size, s, d, x.shape[1:-1])
    z = np.ascontiguousarray(scatter[(slice(None), *(slice(b, b + o) for b, o in zip(crop, out)))])
    z, y = conv_bias_activation(z, bias, activation)
    return channels_last_out(y, data_format), (x, crop, out, full, s, d, z, y)


def conv_transpose_backward(g, cache, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                            dilation_rate=1, activation=None, data_format="channels_last"):
    x, crop, out, full, s, d, z, y = cache
    g, db = conv_pre_activation_grad(channels_last_in(g, data_format), z, y, bias, activation)
    rank = x.ndim - 2
    c = kernel.shape[-1]
    dfull = np.zeros((x.shape[0], *full, kernel.shape[-2]), dtype=g.dtype)
    dfull[(slice(None), *(slice(b, b + o) for b, o in zip(crop, out)))] = g
    dcols = conv_im2col(dfull, kernel.shape[:rank], s, d, x.shape[1:-1])[0]
    dk = (dcols.T @ x.reshape(-1, c)).reshape(kernel.shape)
    dx = (dcols @ kernel.reshape(-1, c)).reshape(x.shape)
    return (channels_last_out(dx, data_format),), (dk, db)
