"""Recurrent kernels: the time loops of SimpleRNN, LSTM and GRU, forward and backward through time.

Every fast kernel takes the input projection of all time steps already computed in one matmul
(``xp = x @ kernel + input_bias``, time-major ``(timesteps, batch, gates * units)``), so its time loop
only does the recurrent matmul.  The backward kernels return the gradient of ``xp`` (from which the
caller gets the kernel and input gradients with one matmul each) and the recurrent kernel gradient,
accumulated with one matmul after the loop.

Recurrent dropout (Keras's implementation 1) is a ``RecurrentProjection`` with one mask per gate,
fixed over time: gate ``g`` sees ``(h * mask_g) @ R_g``.  Without masks it is one plain matmul.

Beside them, ``*_naive`` references run the textbook cell step by step from the raw weights (one
input matmul per step, Keras's cell formulas); tests assert both agree.
"""
from __future__ import annotations

import threading
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


class RecurrentProjection:
    """``h @ R`` for one step, or ``(h * mask_g) @ R_g`` per gate block when recurrent dropout is on.

    ``masks`` is ``(gates, batch, units)`` (already scaled by ``1 / (1 - rate)``) or None.
    """

    def __init__(self, recurrent_kernel: np.ndarray, masks: np.ndarray | None = None) -> None:
        self.r = np.ascontiguousarray(recurrent_kernel)
        self.masks = masks
        u, width = self.r.shape
        if masks is not None:
            self.n = masks.shape[0]
            self.rg = np.ascontiguousarray(self.r.reshape(u, self.n, width // self.n).transpose(1, 0, 2))
            self.rgt = np.ascontiguousarray(self.rg.transpose(0, 2, 1))
        else:
            self.rt = np.ascontiguousarray(self.r.T)

    def forward(self, h: np.ndarray, out: np.ndarray) -> None:
        if self.masks is None:
            np.matmul(h, self.r, out=out)
        else:
            out[:] = np.matmul(h[None] * self.masks, self.rg).transpose(1, 0, 2).reshape(out.shape)

    def backward(self, d: np.ndarray) -> np.ndarray:
        """Gradient w.r.t. ``h`` of the step's projection, given its gradient ``d (batch, width)``."""
        if self.masks is None:
            return d @ self.rt
        dg = d.reshape(d.shape[0], self.n, -1).transpose(1, 0, 2)
        return (np.matmul(dg, self.rgt) * self.masks).sum(axis=0)

    def kernel_grad(self, h_all: np.ndarray, d_all: np.ndarray) -> np.ndarray:
        """``dR`` from all steps' inputs ``(t, b, u)`` and projection gradients ``(t, b, width)``, after the loop."""
        u, width = self.r.shape
        if self.masks is None:
            return h_all.reshape(-1, u).T @ d_all.reshape(-1, width)
        w = width // self.n
        out = np.empty_like(self.r)
        for k in range(self.n):
            out[:, k * w:(k + 1) * w] = ((h_all * self.masks[k]).reshape(-1, u).T
                                         @ d_all[..., k * w:(k + 1) * w].reshape(-1, w))
        return out


# ----- SimpleRNN ---------------------------------------------------------------------------------------
def simple_rnn_forward(xp: np.ndarray, recurrent_kernel: np.ndarray, activation: str | None,
                       rec_masks: np.ndarray | None = None):
    """``h_t = act(xp_t + h_{t-1} @ R)``.  Returns ``(hs (t, b, u), cache)``."""
    proj = RecurrentProjection(recurrent_kernel, rec_masks)
    fn, _ = act_pair(activation)
    steps, batch, units = xp.shape
    hs = np.zeros((steps + 1, batch, units), dtype=xp.dtype)  # hs[0] = initial zero state
    pre = np.empty_like(xp)
    for t in range(steps):
        proj.forward(hs[t], pre[t])
        pre[t] += xp[t]
        hs[t + 1] = fn(pre[t])
    return hs[1:], (hs, pre, activation, proj)


def simple_rnn_backward(d_hs: np.ndarray, cache):
    """``d_hs`` is the loss gradient w.r.t. each step's output ``(t, b, u)``.  Returns ``(d_xp, d_R)``."""
    hs, pre, activation, proj = cache
    _, grad = act_pair(activation)
    d_pre = np.empty_like(pre)
    d_next = np.zeros_like(hs[0])
    for t in range(pre.shape[0] - 1, -1, -1):
        d_pre[t] = grad(pre[t], hs[t + 1], d_hs[t] + d_next)
        d_next = proj.backward(d_pre[t])
    return d_pre, proj.kernel_grad(hs[:-1], d_pre)


# ----- LSTM (gate order i, f, c, o) --------------------------------------------------------------------
def lstm_forward(xp: np.ndarray, recurrent_kernel: np.ndarray, activation: str | None,
                 recurrent_activation: str | None, rec_masks: np.ndarray | None = None):
    """Keras LSTM cell: ``i, f, o = ract(.)``, ``c = f*c' + i*act(.)``, ``h = o*act(c)``.

    ``xp`` is ``(t, b, 4u)`` with the bias included.  Returns ``(hs (t, b, u), cache)``.
    """
    proj = RecurrentProjection(recurrent_kernel, rec_masks)
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
        proj.forward(hs[t], z)
        z += xp[t]
        g[:, :2 * u] = rfn(z[:, :2 * u])
        g[:, 2 * u:3 * u] = fn(z[:, 2 * u:3 * u])
        g[:, 3 * u:] = rfn(z[:, 3 * u:])
        c = cs[t + 1]
        np.multiply(g[:, u:2 * u], cs[t], out=c)
        c += g[:, :u] * g[:, 2 * u:3 * u]
        tcs[t] = fn(c)
        np.multiply(g[:, 3 * u:], tcs[t], out=hs[t + 1])
    return hs[1:], (hs, cs, pre, gates, tcs, activation, recurrent_activation, proj)


def lstm_backward(d_hs: np.ndarray, cache):
    """Backward through time of ``lstm_forward``.  Returns ``(d_xp (t, b, 4u), d_R (u, 4u))``."""
    hs, cs, pre, gates, tcs, activation, recurrent_activation, proj = cache
    _, grad = act_pair(activation)
    _, rgrad = act_pair(recurrent_activation)
    u = hs.shape[-1]
    d_pre = np.empty_like(pre)
    dh_next = np.zeros_like(hs[0])
    dc_next = np.zeros_like(hs[0])
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
        dh_next = proj.backward(dz)
    return d_pre, proj.kernel_grad(hs[:-1], d_pre)


# ----- LSTM, fused tanh/sigmoid cell in feature-major layout -------------------------------------------
def lstm_gate_scale(units: int, dtype) -> np.ndarray:
    """Column scale ``(4u,)`` halving the sigmoid gates i, f, o: ``sigmoid(z) = 0.5 * tanh(z / 2) + 0.5``.

    Halving is exact, so folding it into the kernels lets one ``tanh`` over all four gates replace three
    sigmoids and a tanh, with the same values as ``_fast_sigmoid``.
    """
    scale = np.full(4 * units, 0.5, dtype=dtype)
    scale[2 * units:3 * units] = 1
    return scale


def lstm_fused_forward(x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None):
    """Keras's default LSTM cell (tanh, sigmoid) on feature-major arrays; no dropout.

    ``x`` is ``(t, features, batch)``, or ``(t, features + 1, batch)`` whose last feature row is all ones
    when ``bias`` is given (the bias then rides in the input GEMM instead of a pass over its output).
    Every per-step array is ``(units, batch)``-shaped, so each gate is a contiguous block of rows: per step
    one matmul ``R'^T @ h``, one add of the projected input, one ``tanh`` over all gates and contiguous
    in-place ops (no temporaries).  Returns ``(hs (t + 1, u, b) with hs[0] = 0, cache)``.
    """
    steps, _, batch = x.shape
    u = recurrent_kernel.shape[0]
    dt = x.dtype
    scale = lstm_gate_scale(u, dt)
    w = kernel if bias is None else np.concatenate([kernel, bias[None]])
    xp = np.matmul(np.ascontiguousarray((w * scale).T), x)               # (t, 4u, b), one GEMM per step
    rs_t = np.ascontiguousarray((recurrent_kernel * scale).T)            # (4u, u)
    hs = np.zeros((steps + 1, u, batch), dtype=dt)
    cs = np.zeros((steps + 1, u, batch), dtype=dt)
    gates, tcs = xp, np.empty((steps, u, batch), dtype=dt)               # gates overwrite xp step by step
    ig = np.empty((u, batch), dtype=dt)
    half = dt.type(0.5)
    g_in = np.empty((4 * u, batch), dtype=dt)
    for t in range(steps):
        g = gates[t]
        np.matmul(rs_t, hs[t], out=g_in)
        g += g_in
        np.tanh(g, out=g)
        for blk in (g[:2 * u], g[3 * u:]):                              # i, f and o: sigmoid
            blk *= half
            blk += half
        np.multiply(g[u:2 * u], cs[t], out=cs[t + 1])
        np.multiply(g[:u], g[2 * u:3 * u], out=ig)
        cs[t + 1] += ig
        np.tanh(cs[t + 1], out=tcs[t])
        np.multiply(g[3 * u:], tcs[t], out=hs[t + 1])
    return hs, (hs, cs, gates, tcs)


_SCRATCH = threading.local()


def scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A per-thread work array reused across calls (contents undefined); never hand it out in a result.

    Inference reuses the same few arrays call after call, so it skips the allocation and the first-touch
    page faults of fresh multi-megabyte arrays.  Training allocates fresh: its caches must outlive the call.
    """
    pool = getattr(_SCRATCH, "pool", None)
    if pool is None:
        pool = _SCRATCH.pool = {}
    key = (name, shape, np.dtype(dtype))
    buf = pool.get(key)
    if buf is None:
        if len(pool) >= 32:                  # shapes changed a lot (e.g. a new model): start over
            pool.clear()
        buf = pool[key] = np.empty(shape, dtype=dtype)
    return buf


def lstm_fused_infer(x: np.ndarray, kernel: np.ndarray, recurrent_kernel: np.ndarray, bias: np.ndarray | None,
                     sequences: bool) -> np.ndarray:
    """Inference-only ``lstm_fused_forward``: the same values, no cache, scratch arrays reused across calls.

    The gate rows are reordered to i, f, o, c so one affine pass turns the three sigmoid gates' ``tanh``
    into sigmoids, and the cell state is updated in place.  Returns a scratch array (copy it before the
    next call): every step's ``h`` ``(t, u, b)`` when ``sequences``, else the last one ``(u, b)``.
    """
    steps, _, batch = x.shape
    u = recurrent_kernel.shape[0]
    dt = x.dtype
    perm = np.r_[0:2 * u, 3 * u:4 * u, 2 * u:3 * u]                      # i, f, o | c
    scale = lstm_gate_scale(u, dt)
    w = kernel if bias is None else np.concatenate([kernel, bias[None]])
    xp = scratch("lstm_xp", (steps, 4 * u, batch), dt)
    np.matmul(np.ascontiguousarray((w * scale)[:, perm].T), x, out=xp)
    rs_t = np.ascontiguousarray((recurrent_kernel * scale)[:, perm].T)
    g_in = scratch("lstm_gin", (4 * u, batch), dt)
    c, tc, ig = (scratch(f"lstm_{k}", (u, batch), dt) for k in ("c", "tc", "ig"))
    if sequences:
        hs = scratch("lstm_hs", (steps, u, batch), dt)
    else:
        h = scratch("lstm_h", (u, batch), dt)
        hs = [h] * steps                                                 # h_{t-1} is dead once projected
    h_prev = scratch("lstm_h0", (u, batch), dt)
    h_prev.fill(0)
    c.fill(0)
    half = dt.type(0.5)
    for t in range(steps):
        g = xp[t]
        np.matmul(rs_t, h_prev, out=g_in)
        g += g_in
        np.tanh(g, out=g)
        g[:3 * u] *= half
        g[:3 * u] += half
        c *= g[u:2 * u]
        np.multiply(g[:u], g[3 * u:], out=ig)
        c += ig
        np.tanh(c, out=tc)
        h_prev = hs[t]
        np.multiply(g[2 * u:3 * u], tc, out=h_prev)
    return hs if sequences else h_prev


def lstm_fused_backward(d_hs: np.ndarray, cache, recurrent_kernel: np.ndarray, last_only: bool = False):
    """Backward of ``lstm_fused_forward``: ``(d_xp (4u, t*b), d_R (u, 4u))``.

    ``d_hs`` is ``(t, u, b)``, or ``(u, b)`` for the last step only with ``last_only``.  The formulas (and
    their rounding) are those of the activation table: sigmoid ``(g*y)*(1-y)``, tanh ``g*(1-y^2)``.
    """
    hs, cs, gates, tcs = cache
    steps, four_u, batch = gates.shape
    u = four_u // 4
    dt = gates.dtype
    one = dt.type(1)
    r = np.ascontiguousarray(recurrent_kernel)
    d_xp = np.empty((four_u, steps, batch), dtype=dt)
    dz = np.empty((four_u, batch), dtype=dt)
    deriv = np.empty((four_u, batch), dtype=dt)
    dh, dc, tmp = (np.empty((u, batch), dtype=dt) for _ in range(3))
    dh_next = np.zeros((u, batch), dtype=dt)
    dc_next = np.zeros((u, batch), dtype=dt)
    for t in range(steps - 1, -1, -1):
        g, tc = gates[t], tcs[t]
        i, f, cc, o = g[:u], g[u:2 * u], g[2 * u:3 * u], g[3 * u:]
        if not last_only:
            np.add(d_hs[t], dh_next, out=dh)
        elif t == steps - 1:
            np.add(d_hs, dh_next, out=dh)
        else:
            dh, dh_next = dh_next, dh
        np.multiply(dh, o, out=dc)                                       # dc = (dh*o)*(1-tc^2) + dc_next
        np.multiply(tc, tc, out=tmp)
        np.subtract(one, tmp, out=tmp)
        dc *= tmp
        dc += dc_next
        np.multiply(dc, cc, out=dz[:u])
        np.multiply(dc, cs[t], out=dz[u:2 * u])
        np.multiply(dc, i, out=dz[2 * u:3 * u])
        np.multiply(dh, tc, out=dz[3 * u:])
        for blk in (slice(0, 2 * u), slice(3 * u, 4 * u)):              # sigmoid gates: (g*y)*(1-y)
            dz[blk] *= g[blk]
            np.subtract(one, g[blk], out=deriv[blk])
        np.multiply(cc, cc, out=deriv[2 * u:3 * u])                      # candidate: g*(1-y^2)
        np.subtract(one, deriv[2 * u:3 * u], out=deriv[2 * u:3 * u])
        dz *= deriv
        d_xp[:, t] = dz
        np.multiply(dc, f, out=dc_next)
        np.matmul(r, dz, out=dh_next)
    d_xp2 = d_xp.reshape(four_u, steps * batch)
    h_prev = hs[:-1].transpose(1, 0, 2).reshape(u, steps * batch)
    return d_xp2, h_prev @ d_xp2.T


# ----- GRU (gate order z, r, h) ------------------------------------------------------------------------
def gru_forward(xp: np.ndarray, recurrent_kernel: np.ndarray, recurrent_bias: np.ndarray | None,
                activation: str | None, recurrent_activation: str | None, reset_after: bool = True,
                rec_masks: np.ndarray | None = None):
    """Keras GRU cell: ``z, r = ract(.)``, ``h = z*h' + (1-z)*hh``.

    reset_after=True (Keras 3 default): ``hh = act(x_h + r * (h' @ R_h + rb_h))`` with the recurrent
    bias ``rb`` added to the whole recurrent projection; reset_after=False: ``hh = act(x_h + (r*h') @ R_h)``.
    ``xp`` is ``(t, b, 3u)`` with the input bias included.  Returns ``(hs (t, b, u), cache)``.
    """
    fn, _ = act_pair(activation)
    rfn, _ = act_pair(recurrent_activation)
    steps, batch, three_u = xp.shape
    u = three_u // 3
    hs = np.zeros((steps + 1, batch, u), dtype=xp.dtype)
    pre = np.empty_like(xp)      # gate pre-activations z, r, h
    gates = np.empty_like(xp)    # z, r, hh
    inner = np.empty((steps, batch, u), dtype=xp.dtype)  # h' @ R_h + rb_h, or r * h'
    if reset_after:
        proj = RecurrentProjection(recurrent_kernel, rec_masks)
        m_h, r_h = None, None
    else:
        proj = RecurrentProjection(recurrent_kernel[:, :2 * u], None if rec_masks is None else rec_masks[:2])
        m_h = None if rec_masks is None else rec_masks[2]
        r_h = np.ascontiguousarray(recurrent_kernel[:, 2 * u:])
    for t in range(steps):
        h, p, g = hs[t], pre[t], gates[t]
        if reset_after:
            proj.forward(h, p)
            if recurrent_bias is not None:
                p += recurrent_bias
            inner[t] = p[:, 2 * u:]
            p[:, :2 * u] += xp[t, :, :2 * u]
            g[:, :2 * u] = rfn(p[:, :2 * u])
            p[:, 2 * u:] = xp[t, :, 2 * u:] + g[:, u:2 * u] * inner[t]
        else:
            proj.forward(h, p[:, :2 * u])
            p[:, :2 * u] += xp[t, :, :2 * u]
            g[:, :2 * u] = rfn(p[:, :2 * u])
            np.multiply(g[:, u:2 * u], h if m_h is None else h * m_h, out=inner[t])
            p[:, 2 * u:] = xp[t, :, 2 * u:] + inner[t] @ r_h
        g[:, 2 * u:] = fn(p[:, 2 * u:])
        z = g[:, :u]
        hs[t + 1] = g[:, 2 * u:] + z * (h - g[:, 2 * u:])
    return hs[1:], (hs, pre, gates, inner, activation, recurrent_activation, reset_after, proj, m_h, r_h)


def gru_backward(d_hs: np.ndarray, cache):
    """Backward of ``gru_forward``.  Returns ``(d_xp (t, b, 3u), d_R (u, 3u), d_recurrent_bias (3u,))``.

    ``d_recurrent_bias`` is None when reset_after=False (there is no separate recurrent bias).
    """
    hs, pre, gates, inner, activation, recurrent_activation, reset_after, proj, m_h, r_h = cache
    _, grad = act_pair(activation)
    _, rgrad = act_pair(recurrent_activation)
    u = hs.shape[-1]
    d_pre = np.empty_like(pre)   # gradient of the input projection xp
    d_rec = np.empty_like(pre)   # gradient of the recurrent projection (reset_after) / of r*h' @ R_h
    dh_next = np.zeros_like(hs[0])
    rt_h = None if r_h is None else np.ascontiguousarray(r_h.T)
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
            dh_prev += proj.backward(dr)
        else:
            d_rh = dp[:, 2 * u:] @ rt_h
            dp[:, u:2 * u] = rgrad(p[:, u:2 * u], r, d_rh * (h if m_h is None else h * m_h))
            dr[:] = dp
            d_rh *= r
            dh_prev += (d_rh if m_h is None else d_rh * m_h) + proj.backward(dp[:, :2 * u])
        dh_next = dh_prev
    if reset_after:
        return d_pre, proj.kernel_grad(hs[:-1], d_rec), d_rec.reshape(-1, 3 * u).sum(axis=0)
    d_r = np.empty((u, 3 * u), dtype=pre.dtype)
    d_r[:, :2 * u] = proj.kernel_grad(hs[:-1], d_rec[..., :2 * u])
    d_r[:, 2 * u:] = inner.reshape(-1, u).T @ d_rec[..., 2 * u:].reshape(-1, u)
    return d_pre, d_r, None


# ----- naive references (batch-major x, raw weights, Keras's per-gate cell formulas step by step) ---------
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
