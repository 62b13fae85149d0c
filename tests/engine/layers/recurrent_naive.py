"""Naive recurrent references: Keras's cell formulas step by step from the raw weights, batch-major.

One input matmul per gate and step, per-gate dropout masks applied as Keras's implementation 1 does;
the tests assert that the shipped kernels (``engine.numerics.recurrent`` and ``engine.numerics.lstm``)
agree with these.
"""
import numpy as np

from engine.activations import get_activation


def _gate_inputs(x_t, h, kernel, recurrent_kernel, gates, in_masks, rec_masks):
    """Per-gate ``(x_t * m_in_g) @ W_g`` and ``(h * m_rec_g) @ U_g`` (Keras implementation 1)."""
    u = recurrent_kernel.shape[0]
    xs, hs = [], []
    for k in range(gates):
        blk = slice(k * u, (k + 1) * u)
        xm = x_t if in_masks is None else x_t * in_masks[k % len(in_masks)]
        hm = h if rec_masks is None else h * rec_masks[k]
        xs.append(xm @ kernel[:, blk])
        hs.append(hm @ recurrent_kernel[:, blk])
    return xs, hs, (h if rec_masks is None else h * rec_masks[-1])


def simple_rnn_naive(x, kernel, recurrent_kernel, bias, activation, in_masks=None, rec_masks=None):
    fn = get_activation(activation).fn
    h = np.zeros((x.shape[0], kernel.shape[1]), x.dtype)
    out = []
    for t in range(x.shape[1]):
        (xw,), (hu,), _ = _gate_inputs(x[:, t], h, kernel, recurrent_kernel, 1, in_masks, rec_masks)
        h = fn(xw + (0 if bias is None else bias) + hu)
        out.append(h)
    return np.stack(out, axis=1)


def lstm_naive(x, kernel, recurrent_kernel, bias, activation, recurrent_activation, in_masks=None,
               rec_masks=None):
    fn, rfn = get_activation(activation).fn, get_activation(recurrent_activation).fn
    u = recurrent_kernel.shape[0]
    b = np.zeros(4 * u) if bias is None else bias
    h = np.zeros((x.shape[0], u), x.dtype)
    c = np.zeros_like(h)
    out = []
    for t in range(x.shape[1]):
        xs, hs, _ = _gate_inputs(x[:, t], h, kernel, recurrent_kernel, 4, in_masks, rec_masks)
        i, f, cc, o = (xs[k] + hs[k] + b[k * u:(k + 1) * u] for k in range(4))
        c = rfn(f) * c + rfn(i) * fn(cc)
        h = rfn(o) * fn(c)
        out.append(h)
    return np.stack(out, axis=1)


def gru_naive(x, kernel, recurrent_kernel, bias, activation, recurrent_activation, reset_after=True,
              in_masks=None, rec_masks=None):
    fn, rfn = get_activation(activation).fn, get_activation(recurrent_activation).fn
    u = recurrent_kernel.shape[0]
    if bias is None:
        b_in, b_rec = np.zeros(3 * u), np.zeros(3 * u)
    elif reset_after:
        b_in, b_rec = bias[0], bias[1]
    else:
        b_in, b_rec = bias, np.zeros(3 * u)
    h = np.zeros((x.shape[0], u), x.dtype)
    out = []
    for t in range(x.shape[1]):
        xs, hs, h_h = _gate_inputs(x[:, t], h, kernel, recurrent_kernel, 3, in_masks, rec_masks)
        z = rfn(xs[0] + b_in[:u] + hs[0] + b_rec[:u])
        r = rfn(xs[1] + b_in[u:2 * u] + hs[1] + b_rec[u:2 * u])
        if reset_after:
            hh = fn(xs[2] + b_in[2 * u:] + r * (hs[2] + b_rec[2 * u:]))
        else:
            hh = fn(xs[2] + b_in[2 * u:] + (r * h_h) @ recurrent_kernel[:, 2 * u:])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, axis=1)
