"""Recurrent layers: SimpleRNN, the Bidirectional wrapper and the time-loop helpers LSTM and GRU share.

Every layer projects the inputs of all time steps in one GEMM (``xp = x @ kernel + bias``, time-major
``(timesteps, batch, gates * units)``), so its time loop only does the recurrent matmul; the backward
gets the kernel and input gradients from the gradient of ``xp`` with one GEMM each, and the recurrent
kernel gradient with one GEMM after the loop.

Dropout follows Keras: masks drawn once per batch and shared by every time step; with recurrent
dropout each gate gets its own input and recurrent mask (Keras's implementation 1), so gate ``g``
sees ``(x * m_g) @ W_g`` and ``(h * r_g) @ U_g``.  A ``projection`` is the recurrent kernel ready for
the loop: ``(kernel, None, kernel.T)``, or per gate ``(U_g stacked, masks, U_g.T stacked)``.

``buffers`` (a dict, or None to allocate) lets a caller reuse inference work arrays between calls.
"""
import numpy as np

from engine.numerics.activations import sigmoid, tanh, tanh_grad


def rnn_buffer(buffers, name, shape, dtype):
    """A work array (contents undefined): fresh when ``buffers`` is None, else kept in that dict for reuse."""
    if buffers is None:
        return np.empty(shape, dtype=dtype)
    key = (name, tuple(shape), np.dtype(dtype).str)
    buf = buffers.get(key)
    if buf is None:
        if len(buffers) >= 32:          # shapes changed a lot (e.g. another model): start over
            buffers.clear()
        buf = buffers[key] = np.empty(shape, dtype=dtype)
    return buf


def rnn_fast_sigmoid(x):
    """Logistic via ``0.5 * tanh(x / 2) + 0.5``: no overflow, no masks, keeps the dtype."""
    y = np.tanh(x * 0.5)
    y *= 0.5
    y += 0.5
    return y


def rnn_hot_activation(fn):
    """The activation to run inside a time loop: sigmoid in its branch-free form, others unchanged."""
    return rnn_fast_sigmoid if fn is sigmoid else fn


def rnn_dropout_mask(rng, rate, shape, dtype):
    return ((rng.uniform(size=shape) < 1.0 - rate) / (1.0 - rate)).astype(dtype)


def rnn_dropout_masks(gates, x, units, dropout, recurrent_dropout, rng):
    """Keras's masks, fixed over time: ``(n, b, f)`` input (n = gates with recurrent dropout, else 1)
    and ``(gates, b, u)`` recurrent, each None when its rate is 0."""
    rng = rng if rng is not None else np.random.default_rng()
    batch, _, feats = x.shape
    n_in = gates if recurrent_dropout > 0 else 1
    in_masks = rnn_dropout_mask(rng, dropout, (n_in, batch, feats), x.dtype) if dropout > 0 else None
    rec_masks = (rnn_dropout_mask(rng, recurrent_dropout, (gates, batch, units), x.dtype)
                 if recurrent_dropout > 0 else None)
    return in_masks, rec_masks


def rnn_input_projection(x, kernel, bias, go_backwards, in_masks):
    """``(xt, xp)``: the time-major input ``(t, b, f)`` (reversed for go_backwards) and ``xt @ kernel + bias``."""
    xt = x.transpose(1, 0, 2)
    xt = np.ascontiguousarray(xt[::-1] if go_backwards else xt)
    steps, batch, feats = xt.shape
    if in_masks is None:
        xp = (xt.reshape(-1, feats) @ kernel).reshape(steps, batch, -1)
    else:                                   # one block of gate columns per input mask
        xp = np.empty((steps, batch, kernel.shape[1]), dtype=np.result_type(x, kernel))
        w = kernel.shape[1] // len(in_masks)
        for k, m in enumerate(in_masks):
            blk = slice(k * w, (k + 1) * w)
            xp[..., blk] = ((xt * m).reshape(-1, feats) @ kernel[:, blk]).reshape(steps, batch, -1)
    if bias is not None:
        xp += bias
    return xt, xp


def rnn_input_backward(d_xp, xt, kernel, in_masks, go_backwards):
    """``(dx (b, t, f), d_kernel, d_bias)`` from the gradient of the input projection ``(t, b, gw)``."""
    steps, batch, feats = xt.shape
    d2 = d_xp.reshape(steps * batch, -1)
    if in_masks is None:
        d_k = xt.reshape(-1, feats).T @ d2
        dx = (d2 @ kernel.T).reshape(steps, batch, feats)
    else:
        d_k = np.empty_like(kernel)
        dx = np.zeros_like(xt)
        w = kernel.shape[1] // len(in_masks)
        for k, m in enumerate(in_masks):
            blk = slice(k * w, (k + 1) * w)
            d_k[:, blk] = (xt * m).reshape(-1, feats).T @ d2[:, blk]
            dx += (d2[:, blk] @ kernel[:, blk].T).reshape(steps, batch, feats) * m
    if go_backwards:
        dx = dx[::-1]
    return np.ascontiguousarray(dx.transpose(1, 0, 2)), d_k, d2.sum(axis=0)


def rnn_feature_major(x, ones, go_backwards, buffers=None):
    """``(t, f [+ a row of ones], b)`` copy of ``x (b, t, f)``, reversed in time for go_backwards."""
    batch, steps, feats = x.shape
    xa = rnn_buffer(buffers, "rnn_x", (steps, feats + ones, batch), x.dtype)
    xa[:, :feats] = x.transpose(1, 2, 0)[::-1] if go_backwards else x.transpose(1, 2, 0)
    xa[:, feats:] = 1
    return xa


def rnn_output(hs, return_sequences):
    """The layer output from every step's state ``hs (t, b, u)``: all of it batch-major, or the last step."""
    return np.ascontiguousarray(hs.transpose(1, 0, 2) if return_sequences else hs[-1])


def rnn_output_grad(g, steps, return_sequences):
    """The gradient of every step's state ``(t, b, u)`` from the gradient of the layer output."""
    if return_sequences:
        return np.ascontiguousarray(g.transpose(1, 0, 2))
    d_hs = np.zeros((steps, *g.shape), dtype=g.dtype)
    d_hs[-1] = g
    return d_hs


def rnn_projection(recurrent_kernel, masks):
    """The recurrent kernel ready for the time loop (see the module docstring)."""
    r = np.ascontiguousarray(recurrent_kernel)
    if masks is None:
        return r, None, np.ascontiguousarray(r.T)
    n = masks.shape[0]
    u, width = r.shape
    rg = np.ascontiguousarray(r.reshape(u, n, width // n).transpose(1, 0, 2))
    return rg, masks, np.ascontiguousarray(rg.transpose(0, 2, 1))


def rnn_project(proj, h, out):
    """``out = h @ U`` for one step (``(h * r_g) @ U_g`` per gate block with recurrent dropout)."""
    r, masks, _ = proj
    if masks is None:
        np.matmul(h, r, out=out)
    else:
        out[:] = np.matmul(h[None] * masks, r).transpose(1, 0, 2).reshape(out.shape)


def rnn_project_backward(proj, d):
    """Gradient w.r.t. ``h`` of one step's projection, given its gradient ``d (batch, width)``."""
    _, masks, rt = proj
    if masks is None:
        return d @ rt
    dg = d.reshape(d.shape[0], masks.shape[0], -1).transpose(1, 0, 2)
    return (np.matmul(dg, rt) * masks).sum(axis=0)


def rnn_project_kernel_grad(proj, h_all, d_all):
    """``dU`` from all steps' states ``(t, b, u)`` and projection gradients ``(t, b, width)``."""
    r, masks, _ = proj
    if masks is None:
        return h_all.reshape(-1, r.shape[0]).T @ d_all.reshape(-1, r.shape[1])
    n, u, w = r.shape
    out = np.empty((u, n * w), dtype=r.dtype)
    for k in range(n):
        out[:, k * w:(k + 1) * w] = ((h_all * masks[k]).reshape(-1, u).T
                                     @ d_all[..., k * w:(k + 1) * w].reshape(-1, w))
    return out


def rnn_prepare(x, kernel, recurrent_kernel, bias, gates, go_backwards, dropout, recurrent_dropout, training,
                rng):
    """Masks (training only) and the input projection: ``(xt, xp, in_masks, recurrent_masks)``."""
    in_m = rec_m = None
    if training and (dropout > 0 or recurrent_dropout > 0):
        in_m, rec_m = rnn_dropout_masks(gates, x, recurrent_kernel.shape[0], dropout, recurrent_dropout, rng)
    xt, xp = rnn_input_projection(x, kernel, bias, go_backwards, in_m)
    return xt, xp, in_m, rec_m


# ----- SimpleRNN ---------------------------------------------------------------------------------------
def simple_rnn_forward(x, kernel, recurrent_kernel, bias=None, activation=tanh, return_sequences=False,
                       go_backwards=False, dropout=0.0, recurrent_dropout=0.0, training=False, rng=None,
                       buffers=None, initial_state=None):
    """``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)`` over ``x (b, t, f)``, from
    ``h_0 = 0`` or from ``initial_state = (h_0,)``."""
    xt, pre, in_m, rec_m = rnn_prepare(x, kernel, recurrent_kernel, bias, 1, go_backwards, dropout,
                                       recurrent_dropout, training, rng)
    proj = rnn_projection(recurrent_kernel, rec_m)
    fn = rnn_hot_activation(activation)
    steps, batch, units = pre.shape
    hs = np.zeros((steps + 1, batch, units), dtype=pre.dtype)     # hs[0] = initial zero state
    if initial_state is not None:
        hs[0] = initial_state[0]
    step = np.empty((batch, units), dtype=pre.dtype)
    for t in range(steps):
        rnn_project(proj, hs[t], step)
        pre[t] += step                                           # pre was the input projection
        hs[t + 1] = fn(pre[t])
    return rnn_output(hs[1:], return_sequences), (xt, in_m, proj, hs, pre, initial_state is not None)


def simple_rnn_backward(g, cache, kernel, recurrent_kernel, bias=None, activation=tanh_grad,
                        return_sequences=False, go_backwards=False, dropout=0.0, recurrent_dropout=0.0):
    xt, in_m, proj, hs, pre, stated = cache
    d_hs = rnn_output_grad(g, pre.shape[0], return_sequences)
    d_pre = np.empty_like(pre)
    d_next = np.zeros_like(hs[0])
    for t in range(pre.shape[0] - 1, -1, -1):
        d_pre[t] = activation(pre[t], hs[t + 1], d_hs[t] + d_next)
        d_next = rnn_project_backward(proj, d_pre[t])
    d_r = rnn_project_kernel_grad(proj, hs[:-1], d_pre)
    dx, d_k, d_b = rnn_input_backward(d_pre, xt, kernel, in_m, go_backwards)
    return ((dx, d_next) if stated else (dx,)), (d_k, d_r, None if bias is None else d_b)


def rnn_initial_state_forward(x, *states_and_weights, layer, layer_args=None, n_states=1, training=False, rng=None,
                              buffers=None):
    """A recurrent layer's forward started from given states: ``states_and_weights`` are the ``n_states``
    state inputs (h, or h and c) and then the layer's weights.  Its backward is the layer's own, which
    returns the states' gradients after the input's."""
    states, weights = states_and_weights[:n_states], states_and_weights[n_states:]
    return layer(x, *weights, **(layer_args or {}), training=training, rng=rng, buffers=buffers,
                 initial_state=states)


def rnn_initial_state_backward(g, cache, *weights, layer, layer_args=None, n_states=1):
    """The layer's backward: gradients of the input, then of the ``n_states`` initial states."""
    return layer(g, cache, *weights, **(layer_args or {}))


# ----- Bidirectional -----------------------------------------------------------------------------------
def bidirectional_forward(x, forward_kernel, forward_recurrent_kernel, forward_bias, backward_kernel,
                          backward_recurrent_kernel, backward_bias=None, *, forward_layer, backward_layer,
                          forward_args=None, backward_args=None, merge_mode="concat", training=False, rng=None,
                          buffers=None):
    """Runs ``forward_layer`` and ``backward_layer`` (a recurrent forward going backwards) and merges them.

    The backward layer's sequence output is flipped back to the input's time order before merging.
    """
    y, f_cache = forward_layer(x, forward_kernel, forward_recurrent_kernel, forward_bias, **(forward_args or {}),
                               training=training, rng=rng, buffers=buffers)
    y_rev, b_cache = backward_layer(x, backward_kernel, backward_recurrent_kernel, backward_bias,
                                    **(backward_args or {}), training=training, rng=rng, buffers=buffers)
    if y_rev.ndim == 3:
        y_rev = y_rev[:, ::-1]
    if merge_mode == "concat":
        out = np.concatenate([y, y_rev], axis=-1)
    elif merge_mode == "sum":
        out = y + y_rev
    elif merge_mode == "ave":
        out = (y + y_rev) / 2
    else:
        out = y * y_rev
    return out, (f_cache, b_cache, y, y_rev)


def bidirectional_backward(g, cache, forward_kernel, forward_recurrent_kernel, forward_bias, backward_kernel,
                           backward_recurrent_kernel, backward_bias=None, *, forward_layer, backward_layer,
                           forward_args=None, backward_args=None, merge_mode="concat"):
    f_cache, b_cache, y, y_rev = cache
    if merge_mode == "concat":
        g_f, g_b = g[..., :y.shape[-1]], g[..., y.shape[-1]:]
    elif merge_mode == "sum":
        g_f = g_b = g
    elif merge_mode == "ave":
        g_f = g_b = g / 2
    else:
        g_f, g_b = g * y_rev, g * y
    if y_rev.ndim == 3:
        g_b = g_b[:, ::-1]
    (dx_f,), w_f = forward_layer(np.ascontiguousarray(g_f), f_cache, forward_kernel, forward_recurrent_kernel,
                                 forward_bias, **(forward_args or {}))
    (dx_b,), w_b = backward_layer(np.ascontiguousarray(g_b), b_cache, backward_kernel, backward_recurrent_kernel,
                                  backward_bias, **(backward_args or {}))
    return (dx_f + dx_b,), (*w_f, *w_b)
