"""LSTM (Keras 3 gate order i, f, c, o): a fused kernel for Keras's default cell, a generic one for the rest.

Keras's default cell (tanh, sigmoid) without dropout runs fused and feature-major: every per-step array
is ``(units, batch)``, so each gate is a contiguous block of rows, the input projection of all steps
is one GEMM with the bias riding in it (a row of ones appended to the input), and one ``tanh`` over all
four gates serves the three sigmoid gates too (``sigmoid(z) = 0.5 * tanh(z / 2) + 0.5``, the halving
folded into the kernels).  Other activations and dropout run the generic time-major loop of
``engine.numerics.recurrent``.
"""
import numpy as np

from engine.numerics.activations import sigmoid, sigmoid_grad, tanh, tanh_grad
from engine.numerics.recurrent import (rnn_buffer, rnn_feature_major, rnn_hot_activation, rnn_input_backward,
                                       rnn_keep, rnn_masked_output, rnn_masked_output_grad, rnn_prepare,
                                       rnn_project, rnn_project_backward, rnn_project_kernel_grad, rnn_projection,
                                       rnn_split_grad, rnn_step_mask)


def lstm_forward(x, kernel, recurrent_kernel, bias=None, activation=tanh, recurrent_activation=sigmoid,
                 return_sequences=False, go_backwards=False, dropout=0.0, recurrent_dropout=0.0,
                 zero_output_for_mask=False, training=False, rng=None, buffers=None, mask=None, initial_state=None):
    """Keras LSTM over ``x (b, t, f)``: ``i, f, o = recurrent_activation(.)``, ``c = f*c' + i*activation(.)``,
    ``h = o*activation(c)``.  Inference of the default cell keeps no per-step cache (a backward reruns it).
    Steps where ``mask (b, t)`` is false keep both states (see ``rnn_step_mask``).
    """
    dropping = training and (dropout > 0 or recurrent_dropout > 0)
    if activation is not tanh or recurrent_activation is not sigmoid or dropping or mask is not None \
            or initial_state is not None:
        return lstm_generic_forward(x, kernel, recurrent_kernel, bias, activation, recurrent_activation,
                                    return_sequences, go_backwards, dropout, recurrent_dropout, training, rng,
                                    mask, zero_output_for_mask, initial_state)
    if training:
        return lstm_fused_forward(x, kernel, recurrent_kernel, bias, return_sequences, go_backwards)
    xa = rnn_feature_major(x, bias is not None, go_backwards, buffers)
    hs = lstm_fused_infer(xa, kernel, recurrent_kernel, bias, return_sequences, buffers)
    out = (hs.transpose(2, 0, 1) if return_sequences else hs.T).copy()    # hs may be a reused buffer
    return out, ("fused", x, None)


def lstm_backward(g, cache, kernel, recurrent_kernel, bias=None, activation=tanh_grad,
                  recurrent_activation=sigmoid_grad, return_sequences=False, go_backwards=False, dropout=0.0,
                  recurrent_dropout=0.0, zero_output_for_mask=False):
    if cache[0] == "generic":
        return lstm_generic_backward(g, cache, kernel, recurrent_kernel, bias, activation, recurrent_activation,
                                     return_sequences, go_backwards, zero_output_for_mask)
    if cache[2] is None:                                                # after inference: rerun with a cache
        cache = lstm_fused_forward(cache[1], kernel, recurrent_kernel, bias, return_sequences, go_backwards)[1]
    return lstm_fused_backward(g, cache, kernel, recurrent_kernel, bias, return_sequences, go_backwards)


# ----- generic cell (any activations, dropout), time-major -----------------------------------------------
def lstm_generic_forward(x, kernel, recurrent_kernel, bias, activation, recurrent_activation, return_sequences,
                         go_backwards, dropout=0.0, recurrent_dropout=0.0, training=False, rng=None, mask=None,
                         zero_output_for_mask=False, initial_state=None):
    xt, pre, in_m, rec_m = rnn_prepare(x, kernel, recurrent_kernel, bias, 4, go_backwards, dropout,
                                       recurrent_dropout, training, rng)
    proj = rnn_projection(recurrent_kernel, rec_m)
    fn, rfn = rnn_hot_activation(activation), rnn_hot_activation(recurrent_activation)
    steps, batch, four_u = pre.shape
    u = four_u // 4
    sm = rnn_step_mask(mask, go_backwards)
    hs = np.zeros((steps + 1, batch, u), dtype=pre.dtype)
    cs = np.zeros((steps + 1, batch, u), dtype=pre.dtype)
    if initial_state is not None:                                # (h_0, c_0)
        hs[0], cs[0] = initial_state
    c_raw = cs[1:] if sm is None else np.empty((steps, batch, u), dtype=pre.dtype)   # the cell before masking
    gates = np.empty_like(pre)
    tcs = np.empty((steps, batch, u), dtype=pre.dtype)
    step = np.empty((batch, four_u), dtype=pre.dtype)
    for t in range(steps):
        z, gt = pre[t], gates[t]                                 # pre was the input projection
        rnn_project(proj, hs[t], step)
        z += step
        gt[:, :u] = rfn(z[:, :u])                                 # per gate, as Keras (matters for softmax)
        gt[:, u:2 * u] = rfn(z[:, u:2 * u])
        gt[:, 2 * u:3 * u] = fn(z[:, 2 * u:3 * u])
        gt[:, 3 * u:] = rfn(z[:, 3 * u:])
        np.multiply(gt[:, u:2 * u], cs[t], out=c_raw[t])
        c_raw[t] += gt[:, :u] * gt[:, 2 * u:3 * u]
        tcs[t] = fn(c_raw[t])
        h_new = gt[:, 3 * u:] * tcs[t]
        cs[t + 1] = rnn_keep(sm, t, c_raw[t], cs[t])
        hs[t + 1] = rnn_keep(sm, t, h_new, hs[t])
    out = rnn_masked_output(hs[1:], sm, return_sequences, zero_output_for_mask)
    return out, ("generic", xt, in_m, proj, hs, cs, pre, gates, tcs, c_raw, sm, initial_state is not None)


def lstm_generic_backward(g, cache, kernel, recurrent_kernel, bias, activation, recurrent_activation,
                          return_sequences, go_backwards, zero_output_for_mask=False):
    _, xt, in_m, proj, hs, cs, pre, gates, tcs, c_raw, sm, stated = cache
    u = hs.shape[-1]
    d_hs = rnn_masked_output_grad(g, pre.shape[0], return_sequences, sm, zero_output_for_mask)
    d_pre = np.empty_like(pre)
    dh_next = np.zeros_like(hs[0])
    dc_next = np.zeros_like(hs[0])
    for t in range(pre.shape[0] - 1, -1, -1):
        z, gt, dz = pre[t], gates[t], d_pre[t]
        i, f, cc, o = gt[:, :u], gt[:, u:2 * u], gt[:, 2 * u:3 * u], gt[:, 3 * u:]
        dh, dh_kept = rnn_split_grad(sm, t, d_hs[t] + dh_next)
        dc_new, dc_kept = rnn_split_grad(sm, t, dc_next)
        dc = activation(c_raw[t], tcs[t], dh * o) + dc_new
        dz[:, :u] = recurrent_activation(z[:, :u], i, dc * cc)
        dz[:, u:2 * u] = recurrent_activation(z[:, u:2 * u], f, dc * cs[t])
        dz[:, 2 * u:3 * u] = activation(z[:, 2 * u:3 * u], cc, dc * i)
        dz[:, 3 * u:] = recurrent_activation(z[:, 3 * u:], o, dh * tcs[t])
        dc_next = dc * f + dc_kept
        dh_next = rnn_project_backward(proj, dz) + dh_kept
    d_r = rnn_project_kernel_grad(proj, hs[:-1], d_pre)
    dx, d_k, d_b = rnn_input_backward(d_pre, xt, kernel, in_m, go_backwards)
    return ((dx, dh_next, dc_next) if stated else (dx,)), (d_k, d_r, None if bias is None else d_b)


# ----- fused default cell (tanh, sigmoid), feature-major -------------------------------------------------
def lstm_gate_scale(units, dtype):
    """Column scale ``(4u,)`` halving the sigmoid gates i, f, o (exact), so one ``tanh`` serves all gates."""
    scale = np.full(4 * units, 0.5, dtype=dtype)
    scale[2 * units:3 * units] = 1
    return scale


def lstm_fused_weights(kernel, recurrent_kernel, bias, perm=None):
    """Transposed, gate-scaled kernels ``(4u, f [+ 1])`` (bias as the last column) and ``(4u, u)``."""
    scale = lstm_gate_scale(recurrent_kernel.shape[0], kernel.dtype)
    w = kernel if bias is None else np.concatenate([kernel, bias[None]])
    w, r = w * scale, recurrent_kernel * scale
    if perm is not None:
        w, r = w[:, perm], r[:, perm]
    return np.ascontiguousarray(w.T), np.ascontiguousarray(r.T)


def lstm_fused_forward(x, kernel, recurrent_kernel, bias, return_sequences, go_backwards):
    """Training forward of the default cell: output and the cache ``lstm_fused_backward`` needs."""
    feats = x.shape[2]
    xa = rnn_feature_major(x, bias is not None, go_backwards)
    steps, _, batch = xa.shape
    u = recurrent_kernel.shape[0]
    dt = xa.dtype
    w_t, rs_t = lstm_fused_weights(kernel, recurrent_kernel, bias)
    gates = np.matmul(w_t, xa)                                          # (t, 4u, b): the input projection
    hs = np.zeros((steps + 1, u, batch), dtype=dt)
    cs = np.zeros((steps + 1, u, batch), dtype=dt)
    tcs = np.empty((steps, u, batch), dtype=dt)
    ig = np.empty((u, batch), dtype=dt)
    g_in = np.empty((4 * u, batch), dtype=dt)
    half = dt.type(0.5)
    for t in range(steps):
        gt = gates[t]                                                    # gates overwrite the projection
        np.matmul(rs_t, hs[t], out=g_in)
        gt += g_in
        np.tanh(gt, out=gt)
        for blk in (gt[:2 * u], gt[3 * u:]):                             # i, f and o: sigmoid
            blk *= half
            blk += half
        np.multiply(gt[u:2 * u], cs[t], out=cs[t + 1])
        np.multiply(gt[:u], gt[2 * u:3 * u], out=ig)
        cs[t + 1] += ig
        np.tanh(cs[t + 1], out=tcs[t])
        np.multiply(gt[3 * u:], tcs[t], out=hs[t + 1])
    out = hs[1:].transpose(2, 0, 1) if return_sequences else hs[-1].T
    return np.ascontiguousarray(out), ("fused", xa[:, :feats], (hs, cs, gates, tcs))


def lstm_fused_infer(xa, kernel, recurrent_kernel, bias, return_sequences, buffers=None):
    """Inference of the default cell on ``xa`` from ``rnn_feature_major``: every step's ``h`` ``(t, u, b)``
    with return_sequences, else the last ``(u, b)`` (a reused buffer when ``buffers`` is given).

    The gate rows are reordered to i, f, o, c so one affine pass turns the sigmoid gates' ``tanh`` into
    sigmoids, and the cell state is updated in place.
    """
    steps, _, batch = xa.shape
    u = recurrent_kernel.shape[0]
    dt = xa.dtype
    perm = np.r_[0:2 * u, 3 * u:4 * u, 2 * u:3 * u]                     # i, f, o | c
    w_t, rs_t = lstm_fused_weights(kernel, recurrent_kernel, bias, perm)
    xp = rnn_buffer(buffers, "lstm_xp", (steps, 4 * u, batch), dt)
    np.matmul(w_t, xa, out=xp)
    g_in = rnn_buffer(buffers, "lstm_gin", (4 * u, batch), dt)
    c, tc, ig, h_prev = (rnn_buffer(buffers, f"lstm_{k}", (u, batch), dt) for k in ("c", "tc", "ig", "h0"))
    if return_sequences:
        hs = rnn_buffer(buffers, "lstm_hs", (steps, u, batch), dt)
    else:
        hs = [rnn_buffer(buffers, "lstm_h", (u, batch), dt)] * steps   # h_{t-1} is dead once projected
    h_prev.fill(0)
    c.fill(0)
    half = dt.type(0.5)
    for t in range(steps):
        gt = xp[t]
        np.matmul(rs_t, h_prev, out=g_in)
        gt += g_in
        np.tanh(gt, out=gt)
        gt[:3 * u] *= half
        gt[:3 * u] += half
        c *= gt[u:2 * u]
        np.multiply(gt[:u], gt[3 * u:], out=ig)
        c += ig
        np.tanh(c, out=tc)
        h_prev = hs[t]
        np.multiply(gt[2 * u:3 * u], tc, out=h_prev)
    return hs if return_sequences else h_prev


def lstm_fused_backward(g, cache, kernel, recurrent_kernel, bias, return_sequences, go_backwards):
    """Backward of ``lstm_fused_forward``: the loop gives ``d_xp (4u, t*b)``, then one GEMM per gradient."""
    _, xt, (hs, cs, gates, tcs) = cache
    steps, feats, batch = xt.shape
    d_hs = np.ascontiguousarray(g.transpose(1, 2, 0) if return_sequences else g.T)
    d_xp = lstm_fused_time_loop(d_hs, hs, cs, gates, tcs, recurrent_kernel, not return_sequences)
    x2 = xt.transpose(0, 2, 1).reshape(steps * batch, feats)          # (t, b) rows like d_xp's columns
    d_k = x2.T @ d_xp.T
    d_r = hs[:-1].transpose(1, 0, 2).reshape(-1, steps * batch) @ d_xp.T
    dx = (kernel @ d_xp).reshape(feats, steps, batch)                    # (f, t, b)
    if go_backwards:
        dx = dx[:, ::-1]
    return (np.ascontiguousarray(dx.transpose(2, 1, 0)),), (d_k, d_r, None if bias is None else d_xp.sum(axis=1))


def lstm_fused_time_loop(d_hs, hs, cs, gates, tcs, recurrent_kernel, last_only):
    """Backward through time of the fused cell: ``d_xp (4u, t*b)`` from ``d_hs (t, u, b)`` (or the last
    step's ``(u, b)`` with ``last_only``).  Derivatives as in the activation table: sigmoid
    ``(g*y)*(1-y)``, tanh ``g*(1-y^2)``."""
    steps, four_u, batch = gates.shape
    u = four_u // 4
    dt = gates.dtype
    one = dt.type(1)
    r = np.ascontiguousarray(recurrent_kernel)
    d_xp = np.empty((four_u, steps, batch), dtype=dt)
    dz, deriv = np.empty((four_u, batch), dtype=dt), np.empty((four_u, batch), dtype=dt)
    dh, dc, tmp = (np.empty((u, batch), dtype=dt) for _ in range(3))
    dh_next, dc_next = np.zeros((u, batch), dtype=dt), np.zeros((u, batch), dtype=dt)
    for t in range(steps - 1, -1, -1):
        gt, tc = gates[t], tcs[t]
        i, f, cc, o = gt[:u], gt[u:2 * u], gt[2 * u:3 * u], gt[3 * u:]
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
            dz[blk] *= gt[blk]
            np.subtract(one, gt[blk], out=deriv[blk])
        np.multiply(cc, cc, out=deriv[2 * u:3 * u])                      # candidate: g*(1-y^2)
        np.subtract(one, deriv[2 * u:3 * u], out=deriv[2 * u:3 * u])
        dz *= deriv
        d_xp[:, t] = dz
        np.multiply(dc, f, out=dc_next)
        np.matmul(r, dz, out=dh_next)
    return d_xp.reshape(four_u, steps * batch)
