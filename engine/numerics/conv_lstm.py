"""Convolutional LSTM over 1, 2 or 3 spatial axes (Keras ``ConvLSTM1D/2D/3D``), built on ``conv.py``.

The LSTM of ``lstm.py`` with both matmuls replaced by convolutions (gate order i, f, c, o): the input
convolution (the layer's strides, padding and dilation) of every time step is one call over the
``(time * batch, ...)`` stack; the recurrent convolution of the state is 'same', stride 1, once per
step.  Dropout follows the other recurrent layers: masks drawn once per batch and fixed over time, one
input and one recurrent mask per gate, the gate's block of the kernel seeing the masked tensor.
"""
import numpy as np

from engine.numerics.activations import sigmoid, sigmoid_grad, tanh, tanh_grad
from engine.numerics.conv import conv_backward, conv_forward
from engine.numerics.recurrent import rnn_dropout_mask


def conv_lstm_gate_conv(x, kernel, masks, strides=1, padding="same", dilation_rate=1):
    """``conv(x, kernel)`` for the four gate blocks of the kernel; with masks, block ``g`` sees ``x * masks[g]``."""
    if masks is None:
        z, cache = conv_forward(x, kernel, None, strides, padding, dilation_rate)
        return z, [cache]
    width = kernel.shape[-1] // len(masks)
    outs, caches = [], []
    for g, m in enumerate(masks):
        z, cache = conv_forward(x * m, kernel[..., g * width:(g + 1) * width], None, strides, padding, dilation_rate)
        outs.append(z)
        caches.append(cache)
    return np.concatenate(outs, axis=-1), caches


def conv_lstm_gate_conv_backward(dz, caches, kernel, masks, strides=1, padding="same", dilation_rate=1):
    """``(dx, d_kernel)`` of ``conv_lstm_gate_conv``."""
    if masks is None:
        (dx,), (dk, _) = conv_backward(dz, caches[0], kernel, None, strides, padding, dilation_rate)
        return dx, dk
    width = kernel.shape[-1] // len(masks)
    dk = np.empty_like(kernel)
    dx = 0
    for g, m in enumerate(masks):
        blk = slice(g * width, (g + 1) * width)
        (dxg,), (dk[..., blk], _) = conv_backward(np.ascontiguousarray(dz[..., blk]), caches[g], kernel[..., blk],
                                                  None, strides, padding, dilation_rate)
        dx = dx + dxg * m
    return dx, dk


def conv_lstm_masks(rng, rate, shape, dtype):
    """Four dropout masks of ``shape`` (one per gate), or None when ``rate`` is 0."""
    if rate <= 0:
        return None
    rng = rng if rng is not None else np.random.default_rng()
    return [rnn_dropout_mask(rng, rate, shape, dtype) for _ in range(4)]


def conv_lstm_forward(x, kernel, recurrent_kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                      activation=tanh, recurrent_activation=sigmoid, return_sequences=False, go_backwards=False,
                      dropout=0.0, recurrent_dropout=0.0, training=False, rng=None):
    """Keras ConvLSTM over ``x (batch, time, *spatial, channels)``: ``i, f, o = recurrent_activation(.)``,
    ``c = f*c' + i*activation(.)``, ``h = o*activation(c)``, each ``(.)`` = conv(x_t) + conv_same(h') + bias."""
    batch, steps = x.shape[:2]
    xt = np.moveaxis(x, 1, 0)
    xt = np.ascontiguousarray(xt[::-1] if go_backwards else xt)
    in_m = conv_lstm_masks(rng, dropout, x[:, 0].shape, x.dtype) if training else None
    tiled = None if in_m is None else [np.broadcast_to(m, xt.shape).reshape(-1, *m.shape[1:]) for m in in_m]
    flat = xt.reshape(steps * batch, *x.shape[2:])
    xp, in_caches = conv_lstm_gate_conv(flat, kernel, tiled, strides, padding, dilation_rate)
    if bias is not None:
        xp += bias
    pre = xp.reshape(steps, batch, *xp.shape[1:])
    f4 = pre.shape[-1]
    u = f4 // 4
    hs = np.zeros((steps + 1, *pre.shape[1:-1], u), dtype=pre.dtype)
    cs = np.zeros_like(hs)
    rec_m = conv_lstm_masks(rng, recurrent_dropout, hs[0].shape, x.dtype) if training else None
    gates, tcs, rec_caches = np.empty_like(pre), np.empty_like(hs[1:]), []
    for t in range(steps):
        r, cache = conv_lstm_gate_conv(hs[t], recurrent_kernel, rec_m)
        rec_caches.append(cache)
        z, gt = pre[t], gates[t]
        z += r
        gt[..., :2 * u] = recurrent_activation(z[..., :2 * u])
        gt[..., 2 * u:3 * u] = activation(z[..., 2 * u:3 * u])
        gt[..., 3 * u:] = recurrent_activation(z[..., 3 * u:])
        cs[t + 1] = gt[..., u:2 * u] * cs[t] + gt[..., :u] * gt[..., 2 * u:3 * u]
        tcs[t] = activation(cs[t + 1])
        hs[t + 1] = gt[..., 3 * u:] * tcs[t]
    out = np.moveaxis(hs[1:], 0, 1) if return_sequences else hs[-1]
    return np.ascontiguousarray(out), (in_caches, tiled, rec_caches, rec_m, hs, cs, pre, gates, tcs, x.shape)


def conv_lstm_backward(g, cache, kernel, recurrent_kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                       activation=tanh_grad, recurrent_activation=sigmoid_grad, return_sequences=False,
                       go_backwards=False, dropout=0.0, recurrent_dropout=0.0):
    in_caches, tiled, rec_caches, rec_m, hs, cs, pre, gates, tcs, x_shape = cache
    steps, u = pre.shape[0], hs.shape[-1]
    if return_sequences:
        d_hs = np.moveaxis(g, 1, 0)
    else:
        d_hs = np.zeros_like(hs[1:])
        d_hs[-1] = g
    d_pre = np.empty_like(pre)
    d_rk = np.zeros_like(recurrent_kernel)
    dh_next = np.zeros_like(hs[0])
    dc_next = np.zeros_like(hs[0])
    for t in range(steps - 1, -1, -1):
        z, gt, dz = pre[t], gates[t], d_pre[t]
        i, f, cc, o = gt[..., :u], gt[..., u:2 * u], gt[..., 2 * u:3 * u], gt[..., 3 * u:]
        dh = d_hs[t] + dh_next
        dc = activation(cs[t + 1], tcs[t], dh * o) + dc_next
        dz[..., :u] = recurrent_activation(z[..., :u], i, dc * cc)
        dz[..., u:2 * u] = recurrent_activation(z[..., u:2 * u], f, dc * cs[t])
        dz[..., 2 * u:3 * u] = activation(z[..., 2 * u:3 * u], cc, dc * i)
        dz[..., 3 * u:] = recurrent_activation(z[..., 3 * u:], o, dh * tcs[t])
        dc_next = dc * f
        dh_next, dk = conv_lstm_gate_conv_backward(dz, rec_caches[t], recurrent_kernel, rec_m)
        d_rk += dk
    flat = d_pre.reshape(-1, *d_pre.shape[2:])
    dx, d_k = conv_lstm_gate_conv_backward(flat, in_caches, kernel, tiled, strides, padding, dilation_rate)
    dx = dx.reshape(steps, x_shape[0], *x_shape[2:])
    if go_backwards:
        dx = dx[::-1]
    d_b = None if bias is None else flat.reshape(-1, flat.shape[-1]).sum(axis=0)
    return (np.ascontiguousarray(np.moveaxis(dx, 0, 1)),), (d_k, d_rk, d_b)
