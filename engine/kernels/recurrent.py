"""Recurrent kernels: the time loops of SimpleRNN, LSTM and GRU, forward and backward through time.

Every fast kernel takes the input projection of all time steps already computed in one matmul
(``xp = x @ kernel + input_bias``, time-major ``(timesteps, batch, gates * units)``), so its time loop
only does the recurrent matmul.  The backward kernels return the gradient of ``xp`` (from which the
caller gets the kernel and input gradients with one matmul each) and the recurrent kernel gradient,
accumulated with one matmul after the loop.

Beside them, ``*_naive`` references run the textbook cell step by step from the raw weights (one
input matmul per step, Keras's cell formulas); tests assert both agree.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from engine.activations import get_activation

Fn = Callable[[np.ndarray], np.ndarray]
Grad = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _fast_sigmoid(x: np.ndarray) -> np.ndarray:
    """Stable logistic via tanh: no masks, no overflow, keeps the dtype."""
    y = np.tanh(x * 0.5)
    y *= 0.5
    y += 0.5
    return y


def act_pair(name: str | None) -> tuple[Fn, Grad]:
    """``(fn, grad)`` of an activation, with a branch-free sigmoid for the gate hot path."""
    a = get_activation(name)
    return (_fast_sigmoid if a.name == "sigmoid" else a.fn), a.grad


# ----- SimpleRNN ---------------------------------------------------------------------------------------
def simple_rnn_forward(xp: np.ndarray, recurrent_kernel: np.ndarray, activation: str | None):
    """``h_t = act(xp_t + h_{t-1} @ R)``.  Returns ``(hs (t, b, u), cache)``."""
    recurrent_kernel = np.ascontiguousarray(recurrent_kernel)
    fn, _ = act_pair(activation)
    steps, batch, units = xp.shape
    hs = np.zeros((steps + 1, batch, units), dtype=xp.dtype)  # hs[0] = initial zero state
    pre = np.empty_like(xp)
    for t in range(steps):
        np.matmul(hs[t], recurrent_kernel, out=pre[t])
        pre[t] += xp[t]
        hs[t + 1] = fn(pre[t])
    return hs[1:], (hs, pre, activation)


def simple_rnn_backward(d_hs: np.ndarray, cache, recurrent_kernel: np.ndarray):
    """``d_hs`` is the loss gradient w.r.t. each step's output ``(t, b, u)``.  Returns ``(d_xp, d_R)``."""
    hs, pre, activation = cache
    _, grad = act_pair(activation)
    d_pre = np.empty_like(pre)
    d_next = np.zeros_like(hs[0])
    rt = np.ascontiguousarray(recurrent_kernel.T)
    for t in range(pre.shape[0] - 1, -1, -1):
        d_pre[t] = grad(pre[t], hs[t + 1], d_hs[t] + d_next)
        d_next = d_pre[t] @ rt
    u = hs.shape[-1]
    d_r = hs[:-1].reshape(-1, u).T @ d_pre.reshape(-1, u)
    return d_pre, d_r


# ----- LSTM (gate order i, f, c, o) --------------------------------------------------------------------
def lstm_forward(xp: np.ndarray, recurrent_kernel: np.ndarray, activation: str | None,
                 recurrent_activation: str | None):
    """Keras LSTM cell: ``i, f, o = ract(.)``, ``c = f*c' + i*act(.)``, ``h = o*act(c)``.

    ``xp`` is ``(t, b, 4u)`` with the bias included.  Returns ``(hs (t, b, u), cache)``.
    """
    recurrent_kernel = np.ascontiguousarray(recurrent_kernel)
    fn, _ = act_pair(activation)
    rfn, _ = act_pair(recurrent_activation)
    steps, batch, four_u = xp.shape
    u = four_u // 4
    hs = np.zeros((steps + 1, batch, u), dtype=xp.dtype)
    cs = np.zeros((steps + 1, batch, u), dtype=xp.dtype)
    pre = np.empty_like(xp)
    gates = np.empty_like(xp)
    tcs = np.empty((steps, batch, u), dtype=xp.dtype)
    for t in range(steps):
        z, g = pre[t], gates[t]
        np.matmul(hs[t], recurrent_kernel, out=z)
        z += xp[t]
        g[:, :2 * u] = rfn(z[:, :2 * u])
        g[:, 2 * u:3 * u] = fn(z[:, 2 * u:3 * u])
        g[:, 3 * u:] = rfn(z[:, 3 * u:])
        c = cs[t + 1]
        np.multiply(g[:, u:2 * u], cs[t], out=c)
        c += g[:, :u] * g[:, 2 * u:3 * u]
        tcs[t] = fn(c)
        np.multiply(g[:, 3 * u:], tcs[t], out=hs[t + 1])
    return hs[1:], (hs, cs, pre, gates, tcs, activation, recurrent_activation)


def lstm_backward(d_hs: np.ndarray, cache, recurrent_kernel: np.ndarray):
    """Backward through time of ``lstm_forward``.  Returns ``(d_xp (t, b, 4u), d_R (u, 4u))``."""
    hs, cs, pre, gates, tcs, activation, recurrent_activation = cache
    _, grad = act_pair(activation)
    _, rgrad = act_pair(recurrent_activation)
    u = hs.shape[-1]
    d_pre = np.empty_like(pre)
    dh_next = np.zeros_like(hs[0])
    dc_next = np.zeros_like(hs[0])
    rt = np.ascontiguousarray(recurrent_kernel.T)
    for t in range(pre.shape[0] - 1, -1, -1):
        z, g, dz = pre[t], gates[t], d_pre[t]
        i, f, cc, o = g[:, :u], g[:, u:2 * u], g[:, 2 * u:3 * u], g[:, 3 * u:]
        dh = d_hs[t] + dh_next
        dc = grad(cs[t + 1], tcs[t], dh * o) + dc_next
        dz[:, :u] = rgrad(z[:, :u], i, dc * cc)
        dz[:, u:2 * u] = rgrad(z[:, u:2 * u], f, dc * cs[t])
        dz[:, 2 * u:3 * u] = grad(z[:, 2 * u:3 * u], cc, dc * i)
        dz[:, 3 * u:] = rgrad(z[:, 3 * u:], o, dh * tcs[t])
        dc_next = dc * f
        dh_next = dz @ rt
    d_r = hs[:-1].reshape(-1, u).T @ d_pre.reshape(-1, 4 * u)
    return d_pre, d_r


# ----- GRU (gate order z, r, h) ------------------------------------------------------------------------
def gru_forward(xp: np.ndarray, recurrent_kernel: np.ndarray, recurrent_bias: np.ndarray | None,
                activation: str | None, recurrent_activation: str | None, reset_after: bool = True):
    """Keras GRU cell: ``z, r = ract(.)``, ``h = z*h' + (1-z)*hh``.

    reset_after=True (Keras 3 default): ``hh = act(x_h + r * (h' @ R_h + rb_h))`` with the recurrent
    bias ``rb`` added to the whole recurrent projection; reset_after=False: ``hh = act(x_h + (r*h') @ R_h)``.
    ``xp`` is ``(t, b, 3u)`` with the input bias included.  Returns ``(hs (t, b, u), cache)``.
    """
    recurrent_kernel = np.ascontiguousarray(recurrent_kernel)
    fn, _ = act_pair(activation)
    rfn, _ = act_pair(recurrent_activation)
    steps, batch, three_u = xp.shape
    u = three_u // 3
    hs = np.zeros((steps + 1, batch, u), dtype=xp.dtype)
    pre = np.empty_like(xp)      # gate pre-activations z, r, h
    gates = np.empty_like(xp)    # z, r, hh
    inner = np.empty((steps, batch, u), dtype=xp.dtype)  # h' @ R_h + rb_h, or r * h'
    r_zr = np.ascontiguousarray(recurrent_kernel[:, :2 * u])
    r_h = np.ascontiguousarray(recurrent_kernel[:, 2 * u:])
    for t in range(steps):
        h, p, g = hs[t], pre[t], gates[t]
        if reset_after:
            np.matmul(h, recurrent_kernel, out=p)
            if recurrent_bias is not None:
                p += recurrent_bias
            inner[t] = p[:, 2 * u:]
            p[:, :2 * u] += xp[t, :, :2 * u]
            g[:, :2 * u] = rfn(p[:, :2 * u])
            p[:, 2 * u:] = xp[t, :, 2 * u:] + g[:, u:2 * u] * inner[t]
        else:
            np.matmul(h, r_zr, out=p[:, :2 * u])
            p[:, :2 * u] += xp[t, :, :2 * u]
            g[:, :2 * u] = rfn(p[:, :2 * u])
            np.multiply(g[:, u:2 * u], h, out=inner[t])
            p[:, 2 * u:] = xp[t, :, 2 * u:] + inner[t] @ r_h
        g[:, 2 * u:] = fn(p[:, 2 * u:])
        z = g[:, :u]
        hs[t + 1] = g[:, 2 * u:] + z * (h - g[:, 2 * u:])
    return hs[1:], (hs, pre, gates, inner, activation, recurrent_activation, reset_after)


def gru_backward(d_hs: np.ndarray, cache, recurrent_kernel: np.ndarray):
    """Backward of ``gru_forward``.  Returns ``(d_xp (t, b, 3u), d_R (u, 3u), d_recurrent_bias (3u,))``.

    ``d_recurrent_bias`` is None when reset_after=False (there is no separate recurrent bias).
    """
    hs, pre, gates, inner, activation, recurrent_activation, reset_after = cache
    _, grad = act_pair(activation)
    _, rgrad = act_pair(recurrent_activation)
    u = hs.shape[-1]
    d_pre = np.empty_like(pre)   # gradient of the input projection xp
    d_rec = np.empty_like(pre)   # gradient of the recurrent projection (reset_after) / of r*h' @ R_h
    dh_next = np.zeros_like(hs[0])
    rt = np.ascontiguousarray(recurrent_kernel.T)
    rt_zr = np.ascontiguousarray(recurrent_kernel[:, :2 * u].T)
    rt_h = np.ascontiguousarray(recurrent_kernel[:, 2 * u:].T)
    for t in range(pre.shape[0] - 1, -1, -1):
        h, p, g, dp, dr = hs[t], pre[t], gates[t], d_pre[t], d_rec[t]
        z, r, hh = g[:, :u], g[:, u:2 * u], g[:, 2 * u:]
        dh = d_hs[t] + dh_next
        dp[:, 2 * u:] = grad(p[:, 2 * u:], hh, dh * (1 - z))
        dp[:, :u] = rgrad(p[:, :u], z, dh * (h - hh))
        dh_prev = dh * z
        if reset_after:
            dp[:, u:2 * u] = rgrad(p[:, u:2 * u], r, dp[:, 2 * u:] * inner[t])
            dr[:, :2 * u] = dp[:, :2 * u]
            dr[:, 2 * u:] = dp[:, 2 * u:] * r
            dh_prev += dr @ rt
        else:
            d_rh = dp[:, 2 * u:] @ rt_h
            dp[:, u:2 * u] = rgrad(p[:, u:2 * u], r, d_rh * h)
            dr[:, :2 * u] = dp[:, :2 * u]
            dr[:, 2 * u:] = dp[:, 2 * u:]
            dh_prev += d_rh * r + dp[:, :2 * u] @ rt_zr
        dh_next = dh_prev
    h_prev = hs[:-1].reshape(-1, u)
    d_rec2 = d_rec.reshape(-1, 3 * u)
    if reset_after:
        return d_pre, h_prev.T @ d_rec2, d_rec2.sum(axis=0)
    d_r = np.empty_like(recurrent_kernel)
    d_r[:, :2 * u] = h_prev.T @ d_rec2[:, :2 * u]
    d_r[:, 2 * u:] = inner.reshape(-1, u).T @ d_rec2[:, 2 * u:]
    return d_pre, d_r, None


# ----- naive references (batch-major x, raw weights, one input matmul per step) -------------------------
def simple_rnn_naive(x, kernel, recurrent_kernel, bias, activation):
    fn = get_activation(activation).fn
    h = np.zeros((x.shape[0], kernel.shape[1]), x.dtype)
    out = []
    for t in range(x.shape[1]):
        h = fn(x[:, t] @ kernel + (0 if bias is None else bias) + h @ recurrent_kernel)
        out.append(h)
    return np.stack(out, axis=1)


def lstm_naive(x, kernel, recurrent_kernel, bias, activation, recurrent_activation):
    fn, rfn = get_activation(activation).fn, get_activation(recurrent_activation).fn
    u = recurrent_kernel.shape[0]
    h = np.zeros((x.shape[0], u), x.dtype)
    c = np.zeros_like(h)
    out = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + (0 if bias is None else bias)
        i, f, cc, o = (z[:, k * u:(k + 1) * u] for k in range(4))
        c = rfn(f) * c + rfn(i) * fn(cc)
        h = rfn(o) * fn(c)
        out.append(h)
    return np.stack(out, axis=1)


def gru_naive(x, kernel, recurrent_kernel, bias, activation, recurrent_activation, reset_after=True):
    fn, rfn = get_activation(activation).fn, get_activation(recurrent_activation).fn
    u = recurrent_kernel.shape[0]
    if bias is None:
        b_in, b_rec = 0, 0
    elif reset_after:
        b_in, b_rec = bias[0], bias[1]
    else:
        b_in, b_rec = bias, 0
    h = np.zeros((x.shape[0], u), x.dtype)
    out = []
    for t in range(x.shape[1]):
        xz = x[:, t] @ kernel + b_in
        if reset_after:
            m = h @ recurrent_kernel + b_rec
            z = rfn(xz[:, :u] + m[:, :u])
            r = rfn(xz[:, u:2 * u] + m[:, u:2 * u])
            hh = fn(xz[:, 2 * u:] + r * m[:, 2 * u:])
        else:
            z = rfn(xz[:, :u] + h @ recurrent_kernel[:, :u])
            r = rfn(xz[:, u:2 * u] + h @ recurrent_kernel[:, u:2 * u])
            hh = fn(xz[:, 2 * u:] + (r * h) @ recurrent_kernel[:, 2 * u:])
        h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, axis=1)
