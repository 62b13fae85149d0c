"""GRU (Keras 3 gate order z, r, h): a fused kernel for Keras's default cell, a generic one for the rest.

Keras's default cell (tanh, sigmoid, reset_after=True) without dropout runs fused and feature-major like
the LSTM's (see ``engine.numerics.lstm``): per step one GEMM of the recurrent kernel with the state, whose
appended row of ones carries the recurrent bias; one ``tanh`` over the update and reset gates (halved,
so it gives their sigmoids) and one over the candidate, all in place on ``(units, batch)`` blocks.
Other activations, reset_after=False and dropout run the generic time-major loop.
"""
import numpy as np

from engine.numerics.activations import sigmoid, sigmoid_grad, tanh, tanh_grad
from engine.numerics.recurrent import (rnn_buffer, rnn_feature_major, rnn_hot_activation, rnn_input_backward,
                                       rnn_keep, rnn_masked_output, rnn_masked_output_grad, rnn_prepare,
                                       rnn_project, rnn_project_backward, rnn_project_kernel_grad, rnn_projection,
                                       rnn_split_grad, rnn_step_mask)


def gru_forward(x, kernel, recurrent_kernel, bias=None, activation=tanh, recurrent_activation=sigmoid,
                reset_after=True, return_sequences=False, go_backwards=False, dropout=0.0, recurrent_dropout=0.0,
                zero_output_for_mask=False, training=False, rng=None, buffers=None, mask=None, initial_state=None):
    """Keras GRU over ``x (b, t, f)``: ``z, r = recurrent_activation(.)``, ``h = z * h' + (1 - z) * hh``.

    reset_after=True (Keras 3 default, bias ``(2, 3u)``: input then recurrent bias):
    ``hh = activation(x_h + r * (h' @ U_h + rb_h))``; reset_after=False (bias ``(3u,)``):
    ``hh = activation(x_h + (r * h') @ U_h)``.  Inference of the default cell keeps no per-step cache.
    Steps where ``mask (b, t)`` is false keep the state (see ``rnn_step_mask``).
    """
    dropping = training and (dropout > 0 or recurrent_dropout > 0)
    if (activation is not tanh or recurrent_activation is not sigmoid or not reset_after or dropping
            or mask is not None or initial_state is not None):
        return gru_generic_forward(x, kernel, recurrent_kernel, bias, activation, recurrent_activation,
                                   reset_after, return_sequences, go_backwards, dropout, recurrent_dropout,
                                   training, rng, mask, zero_output_for_mask, initial_state)
    if training:
        return gru_fused_forward(x, kernel, recurrent_kernel, bias, return_sequences, go_backwards)
    steps, batch, u = x.shape[1], x.shape[0], recurrent_kernel.shape[0]
    xa = rnn_feature_major(x, bias is not None, go_backwards, buffers)
    rows = u + (bias is not None)                        # the states' row of ones carries the recurrent bias
    if return_sequences:
        hs = rnn_buffer(buffers, "gru_hs", (steps + 1, rows, batch), x.dtype)
        hs[:, u:] = 1
    else:                                                # two states in turn: h_{t-1} is dead after step t
        pair = rnn_buffer(buffers, "gru_h", (2, rows, batch), x.dtype)
        pair[:, u:] = 1
        hs = [pair[t % 2] for t in range(steps + 1)]
    hs[0][:u] = 0
    xp = rnn_buffer(buffers, "gru_xp", (steps, 3 * u, batch), x.dtype)
    gru_fused_loop(xa, kernel, recurrent_kernel, bias, xp, hs, None, buffers)
    out = hs[1:, :u].transpose(2, 0, 1) if return_sequences else hs[steps][:u].T
    return out.copy(), ("fused", x, None)                                  # hs may be a reused buffer


def gru_backward(g, cache, kernel, recurrent_kernel, bias=None, activation=tanh_grad,
                 recurrent_activation=sigmoid_grad, reset_after=True, return_sequences=False, go_backwards=False,
                 dropout=0.0, recurrent_dropout=0.0, zero_output_for_mask=False):
    if cache[0] == "generic":
        return gru_generic_backward(g, cache, kernel, recurrent_kernel, bias, activation, recurrent_activation,
                                    reset_after, return_sequences, go_backwards, zero_output_for_mask)
    if cache[2] is None:                                                # after inference: rerun with a cache
        cache = gru_fused_forward(cache[1], kernel, recurrent_kernel, bias, return_sequences, go_backwards)[1]
    return gru_fused_backward(g, cache, kernel, recurrent_kernel, bias, return_sequences, go_backwards)


# ----- generic cell (any activations, reset_after=False, dropout), time-major ------------------------------
def gru_generic_forward(x, kernel, recurrent_kernel, bias, activation, recurrent_activation, reset_after,
                        return_sequences, go_backwards, dropout=0.0, recurrent_dropout=0.0, training=False, rng=None,
                        mask=None, zero_output_for_mask=False, initial_state=None):
    u = recurrent_kernel.shape[0]
    in_bias = None if bias is None else (bias[0] if reset_after else bias)
    rec_bias = bias[1] if bias is not None and reset_after else None
    xt, xp, in_m, rec_m = rnn_prepare(x, kernel, recurrent_kernel, in_bias, 3, go_backwards, dropout,
                                      recurrent_dropout, training, rng)
    if reset_after:
        proj, m_h = rnn_projection(recurrent_kernel, rec_m), None
    else:                                                          # z, r project h'; the candidate's mask is on h'
        proj = rnn_projection(recurrent_kernel[:, :2 * u], None if rec_m is None else rec_m[:2])
        m_h = None if rec_m is None else rec_m[2]
    fn, rfn = rnn_hot_activation(activation), rnn_hot_activation(recurrent_activation)
    r_h = np.ascontiguousarray(recurrent_kernel[:, 2 * u:])
    steps, batch, _ = xp.shape
    sm = rnn_step_mask(mask, go_backwards)
    hs = np.zeros((steps + 1, batch, u), dtype=xp.dtype)
    if initial_state is not None:
        hs[0] = initial_state[0]
    pre = np.empty_like(xp)                                        # gate pre-activations z, r, h
    gates = np.empty_like(xp)                                      # z, r, hh
    inner = np.empty((steps, batch, u), dtype=xp.dtype)            # h' @ U_h + rb_h, or r * h'
    for t in range(steps):
        h, p, gt = hs[t], pre[t], gates[t]
        if reset_after:
            rnn_project(proj, h, p)
            if rec_bias is not None:
                p += rec_bias
            inner[t] = p[:, 2 * u:]
            p[:, :2 * u] += xp[t, :, :2 * u]
            gt[:, :u], gt[:, u:2 * u] = rfn(p[:, :u]), rfn(p[:, u:2 * u])   # per gate, as Keras
            p[:, 2 * u:] = xp[t, :, 2 * u:] + gt[:, u:2 * u] * inner[t]
        else:
            rnn_project(proj, h, p[:, :2 * u])
            p[:, :2 * u] += xp[t, :, :2 * u]
            gt[:, :u], gt[:, u:2 * u] = rfn(p[:, :u]), rfn(p[:, u:2 * u])   # per gate, as Keras
            np.multiply(gt[:, u:2 * u], h if m_h is None else h * m_h, out=inner[t])
            p[:, 2 * u:] = xp[t, :, 2 * u:] + inner[t] @ r_h
        gt[:, 2 * u:] = fn(p[:, 2 * u:])
        hs[t + 1] = rnn_keep(sm, t, gt[:, 2 * u:] + gt[:, :u] * (h - gt[:, 2 * u:]), h)
    out = rnn_masked_output(hs[1:], sm, return_sequences, zero_output_for_mask)
    return out, ("generic", xt, in_m, proj, m_h, r_h, hs, pre, gates, inner, sm, initial_state is not None)




def gru_generic_backward(g, cache, kernel, recurrent_kernel, bias, activation, recurrent_activation, reset_after,
                         return_sequences, go_backwards, zero_output_for_mask=False):
    _, xt, in_m, proj, m_h, r_h, hs, pre, gates, inner, sm, stated = cache
    u = hs.shape[-1]
    d_hs = rnn_masked_output_grad(g, pre.shape[0], return_sequences, sm, zero_output_for_mask)
    d_pre = np.empty_like(pre)    # gradient of the input projection
    d_rec = np.empty_like(pre)    # gradient of the recurrent projection (reset_after) / of (r*h') @ U_h
    dh_next = np.zeros_like(hs[0])
    rt_h = np.ascontiguousarray(r_h.T)
    for t in range(pre.shape[0] - 1, -1, -1):
        h, p, gt, dp, dr = hs[t], pre[t], gates[t], d_pre[t], d_rec[t]
        z, r, hh = gt[:, :u], gt[:, u:2 * u], gt[:, 2 * u:]
        dh, dh_kept = rnn_split_grad(sm, t, d_hs[t] + dh_next)
        dp[:, 2 * u:] = activation(p[:, 2 * u:], hh, dh * (1 - z))
        dp[:, :u] = recurrent_activation(p[:, :u], z, dh * (h - hh))
        dh_prev = dh * z
        if reset_after:
            dp[:, u:2 * u] = recurrent_activation(p[:, u:2 * u], r, dp[:, 2 * u:] * inner[t])
            dr[:, :2 * u] = dp[:, :2 * u]
            dr[:, 2 * u:] = dp[:, 2 * u:] * r
            dh_prev += rnn_project_backward(proj, dr)
        else:
            d_rh = dp[:, 2 * u:] @ rt_h
            dp[:, u:2 * u] = recurrent_activation(p[:, u:2 * u], r, d_rh * (h if m_h is None else h * m_h))
            dr[:] = dp
            d_rh *= r
            dh_prev += (d_rh if m_h is None else d_rh * m_h) + rnn_project_backward(proj, dp[:, :2 * u])
        dh_next = dh_prev + dh_kept
    dx, d_k, d_b = rnn_input_backward(d_pre, xt, kernel, in_m, go_backwards)
    if reset_after:
        d_r = rnn_project_kernel_grad(proj, hs[:-1], d_rec)
        d_bias = np.stack([d_b, d_rec.reshape(-1, 3 * u).sum(axis=0)])
    else:
        d_r = np.empty((u, 3 * u), dtype=pre.dtype)
        d_r[:, :2 * u] = rnn_project_kernel_grad(proj, hs[:-1], d_rec[..., :2 * u])
        d_r[:, 2 * u:] = inner.reshape(-1, u).T @ d_rec[..., 2 * u:].reshape(-1, u)
        d_bias = d_b
    return ((dx, dh_next) if stated else (dx,)), (d_k, d_r, None if bias is None else d_bias)


# ----- fused default cell (tanh, sigmoid, reset_after=True), feature-major --------------------------------
def gru_fused_weights(kernel, recurrent_kernel, bias):
    """Transposed kernels ``(3u, f [+ 1])`` and ``(3u, u [+ 1])``, biases as last columns, the update and
    reset gates halved (``sigmoid(z) = 0.5 * tanh(z / 2) + 0.5``; halving is exact)."""
    u = recurrent_kernel.shape[0]
    scale = np.full(3 * u, 0.5, dtype=kernel.dtype)
    scale[2 * u:] = 1
    w, r = kernel, recurrent_kernel
    if bias is not None:
        w, r = np.concatenate([kernel, bias[0][None]]), np.concatenate([recurrent_kernel, bias[1][None]])
    return np.ascontiguousarray((w * scale).T), np.ascontiguousarray((r * scale).T)


def gru_fused_loop(xa, kernel, recurrent_kernel, bias, xp, hs, inner, buffers=None):
    """The time loop of the default cell.  ``xa (t, f [+ 1], b)`` from ``rnn_feature_major``; ``xp (t, 3u, b)``
    receives the input projection, then the gates z, r, hh step by step; ``hs[t] (u [+ 1], b)`` are the
    states (their row of ones, with a bias, set by the caller); ``inner[t]`` (when not None) keeps
    ``h' @ U_h + rb_h`` for the backward."""
    u = recurrent_kernel.shape[0]
    batch = xa.shape[2]
    dt = xa.dtype
    w_t, rs_t = gru_fused_weights(kernel, recurrent_kernel, bias)
    np.matmul(w_t, xa, out=xp)
    g_in = rnn_buffer(buffers, "gru_gin", (3 * u, batch), dt)
    tmp = rnn_buffer(buffers, "gru_tmp", (u, batch), dt)
    half = dt.type(0.5)
    for t in range(xp.shape[0]):
        gt, h, h_new = xp[t], hs[t], hs[t + 1]
        np.matmul(rs_t, h, out=g_in)
        zr = gt[:2 * u]
        zr += g_in[:2 * u]
        np.tanh(zr, out=zr)
        zr *= half
        zr += half
        if inner is not None:
            inner[t] = g_in[2 * u:]
        hh = gt[2 * u:]
        np.multiply(gt[u:2 * u], g_in[2 * u:], out=tmp)
        hh += tmp
        np.tanh(hh, out=hh)
        np.subtract(h[:u], hh, out=tmp)                                   # h = hh + z * (h' - hh)
        tmp *= gt[:u]
        np.add(hh, tmp, out=h_new[:u])


def gru_fused_forward(x, kernel, recurrent_kernel, bias, return_sequences, go_backwards):
    """Training forward of the default cell: output and the cache ``gru_fused_backward`` needs."""
    batch, steps, feats = x.shape
    u = recurrent_kernel.shape[0]
    xa = rnn_feature_major(x, bias is not None, go_backwards)
    hs = np.empty((steps + 1, u + (bias is not None), batch), dtype=x.dtype)
    hs[0, :u] = 0
    hs[:, u:] = 1
    gates = np.empty((steps, 3 * u, batch), dtype=x.dtype)
    inner = np.empty((steps, u, batch), dtype=x.dtype)
    gru_fused_loop(xa, kernel, recurrent_kernel, bias, gates, hs, inner)
    out = hs[1:, :u].transpose(2, 0, 1) if return_sequences else hs[-1, :u].T
    return np.ascontiguousarray(out), ("fused", xa[:, :feats], (hs, gates, inner))


def gru_fused_backward(g, cache, kernel, recurrent_kernel, bias, return_sequences, go_backwards):
    """Backward of ``gru_fused_forward``: the time loop gives the gradients of the input and recurrent
    projections, then one GEMM per weight gradient (the states' row of ones gives the recurrent bias's)."""
    _, xt, (hs, gates, inner) = cache
    steps, feats, batch = xt.shape
    u = recurrent_kernel.shape[0]
    d_hs = np.ascontiguousarray(g.transpose(1, 2, 0) if return_sequences else g.T)
    d_xp, d_rec = gru_fused_time_loop(d_hs, hs, gates, inner, recurrent_kernel, not return_sequences)
    x2 = xt.transpose(0, 2, 1).reshape(steps * batch, feats)          # (t, b) rows like d_xp's columns
    d_k = x2.T @ d_xp.T
    d_r = hs[:-1].transpose(1, 0, 2).reshape(-1, steps * batch) @ d_rec.T      # (u [+ 1], 3u)
    dx = (kernel @ d_xp).reshape(feats, steps, batch)
    if go_backwards:
        dx = dx[:, ::-1]
    d_bias = None if bias is None else np.stack([d_xp.sum(axis=1), d_r[u]])
    return (np.ascontiguousarray(dx.transpose(2, 1, 0)),), (d_k, np.ascontiguousarray(d_r[:u]), d_bias)


def gru_fused_time_loop(d_hs, hs, gates, inner, recurrent_kernel, last_only):
    """Backward through time of the fused cell: ``(d_xp, d_rec)``, each ``(3u, t*b)``, the gradients of the
    input and the recurrent projection, from ``d_hs (t, u, b)`` (or the last step's ``(u, b)``)."""
    steps, three_u, batch = gates.shape
    u = three_u // 3
    dt = gates.dtype
    one = dt.type(1)
    r = np.ascontiguousarray(recurrent_kernel)
    d_xp = np.empty((three_u, steps, batch), dtype=dt)
    d_rec = np.empty((three_u, steps, batch), dtype=dt)
    dz, dr = np.empty((three_u, batch), dtype=dt), np.empty((three_u, batch), dtype=dt)
    dh, tmp = np.empty((u, batch), dtype=dt), np.empty((u, batch), dtype=dt)
    dh_next = np.zeros((u, batch), dtype=dt)
    for t in range(steps - 1, -1, -1):
        gt = gates[t]
        z, rg, hh = gt[:u], gt[u:2 * u], gt[2 * u:]
        if not last_only:
            np.add(d_hs[t], dh_next, out=dh)
        elif t == steps - 1:
            np.add(d_hs, dh_next, out=dh)
        else:
            np.copyto(dh, dh_next)
        d_hh, d_z, d_r = dz[2 * u:], dz[:u], dz[u:2 * u]
        np.subtract(one, z, out=tmp)                                       # candidate: (dh*(1-z))*(1-hh^2)
        np.multiply(dh, tmp, out=d_hh)
        np.multiply(hh, hh, out=tmp)
        np.subtract(one, tmp, out=tmp)
        d_hh *= tmp
        np.subtract(hs[t][:u], hh, out=d_z)                                # update: (dh*(h'-hh))*z*(1-z)
        d_z *= dh
        d_z *= z
        np.subtract(one, z, out=tmp)
        d_z *= tmp
        np.multiply(d_hh, inner[t], out=d_r)                               # reset: (d_hh*inner)*r*(1-r)
        d_r *= rg
        np.subtract(one, rg, out=tmp)
        d_r *= tmp
        dr[:2 * u] = dz[:2 * u]
        np.multiply(d_hh, rg, out=dr[2 * u:])
        d_xp[:, t] = dz
        d_rec[:, t] = dr
        np.matmul(r, dr, out=dh_next)
        np.multiply(dh, z, out=tmp)
        dh_next += tmp
    return d_xp.reshape(three_u, steps * batch), d_rec.reshape(three_u, steps * batch)
